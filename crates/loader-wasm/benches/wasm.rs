//! IREE 3.13's wasm32 SIMD add (1M f32) and 512x512 matmul through loader-wasm, against the same
//! programs compiled natively for a generic x86-64 CPU with SSE4.2 (128-bit SIMD, like simd128),
//! both dispatched on `local-sync`; and the wasm add with device buffers (pool memory shown in the
//! instance through windows: no copies) against imported host memory (copied in and out per
//! dispatch); and both wasm programs loaded without budget checks (`set_budget_checks(false)`),
//! which shows what the epoch checks in every loop cost. Ends with the ratios, then the same
//! wasm and native programs on `local-task` (each worker thread with its own instance and
//! windows).
//!
//! The native libraries (fixtures/wasm/native, `system-elf-x86_64`) are opened with dlopen and
//! wrapped by hal-local's `LocalExecutable`, so both sides go through the same driver path.

use std::ffi::{c_void, CString};
use std::time::{Duration, Instant};

use criterion::Criterion;
use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBufferParams, Device, Executable, ExecutableParams,
    Workgroups,
};

use driver_sync as _;
use driver_task as _;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/wasm");

struct Library(*mut c_void);
// SAFETY: a dlopen handle may be used and closed from any thread.
unsafe impl Send for Library {}
// SAFETY: as above.
unsafe impl Sync for Library {}
impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: the handle came from dlopen and is closed once, after the executable is gone.
        unsafe { libc::dlclose(self.0) };
    }
}

fn native(name: &str) -> Executable {
    let path = CString::new(format!("{FIXTURES}/native/{name}.sse42.so")).unwrap();
    // SAFETY: the library is an IREE system-elf executable: no initialisers with side effects.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!handle.is_null(), "dlopen {path:?} failed");
    let symbol = c"iree_hal_executable_library_query";
    // SAFETY: a valid handle and symbol name.
    let query = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
    assert!(!query.is_null());
    // SAFETY: the symbol is the library's query function, which follows the ABI; the library
    // stays loaded while the executable (its owner) lives.
    unsafe {
        let query: hal_local::abi::QueryFn = std::mem::transmute(query);
        hal_local::LocalExecutable::load(
            query,
            Box::new(Library(handle)),
            &[],
            &hal_local::NoImports,
        )
    }
    .unwrap()
}

fn wasm(device: &Device, name: &str) -> Executable {
    let data = std::fs::read(format!("{FIXTURES}/{name}.wasm")).unwrap();
    device
        .create_executable_cache()
        .unwrap()
        .prepare_executable(&ExecutableParams::new(loader_wasm::FORMAT, &data))
        .unwrap()
}

fn buffer(device: &Device, values: &[f32]) -> Buffer {
    let buffer = device
        .allocate_buffer(
            BufferParams::default(),
            std::mem::size_of_val(values) as u64,
        )
        .unwrap();
    buffer.write_elements(0, values).unwrap();
    buffer
}

fn imported(device: &Device, values: &mut [f32]) -> Buffer {
    // SAFETY: the benchmark keeps `values` alive and untouched while the buffer lives.
    unsafe {
        device.allocator().import_host_memory(
            BufferParams::default(),
            values.as_mut_ptr().cast(),
            std::mem::size_of_val(values),
            None,
        )
    }
    .unwrap()
}

fn dispatch(device: &Device, executable: &Executable, count: u32, buffers: &[&Buffer]) {
    let mut commands = device
        .create_command_buffer(CommandBufferParams::one_shot_inline())
        .unwrap();
    commands.begin().unwrap();
    let refs: Vec<BufferRef> = buffers.iter().map(|b| BufferRef::whole(b)).collect();
    commands
        .dispatch(executable, 0, Workgroups::Static([count, 1, 1]), &[], &refs)
        .unwrap();
    commands.end().unwrap();
    let done = device.create_semaphore(0).unwrap();
    device
        .queue_execute(&[], &[done.at(1)], &commands, &[])
        .unwrap();
    done.wait(1, Duration::from_secs(60)).unwrap();
}

/// Median wall time of `runs` calls.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let device = hal_core::create_device("local-sync").unwrap();
    let n = 1_048_576usize;
    let a: Vec<f32> = (0..n).map(|i| (i % 251) as f32 * 0.25 - 31.0).collect();
    let b: Vec<f32> = (0..n).map(|i| (i % 127) as f32 * 0.5 - 16.0).collect();
    let m: Vec<f32> = (0..512 * 512)
        .map(|j| ((j * 7) % 97) as f32 / 16.0 - 3.0)
        .collect();
    let add = (
        buffer(&device, &a),
        buffer(&device, &b),
        buffer(&device, &a),
    );
    let mm = (
        buffer(&device, &m),
        buffer(&device, &m),
        buffer(&device, &m),
    );
    let (mut ha, mut hb, mut ho) = (a.clone(), b.clone(), a.clone());
    let host = (
        imported(&device, &mut ha),
        imported(&device, &mut hb),
        imported(&device, &mut ho),
    );
    let (wasm_add, wasm_matmul) = (wasm(&device, "add"), wasm(&device, "matmul"));
    let (native_add, native_matmul) = (native("add"), native("matmul"));
    loader_wasm::set_budget_checks(false);
    let (unchecked_add, unchecked_matmul) = (wasm(&device, "add"), wasm(&device, "matmul"));
    loader_wasm::set_budget_checks(true);

    type Case<'a> = (&'static str, &'a Executable, u32, [&'a Buffer; 3]);
    let cases: [Case<'_>; 7] = [
        ("add/wasm", &wasm_add, 256, [&add.0, &add.1, &add.2]),
        (
            "add/native-sse4.2",
            &native_add,
            256,
            [&add.0, &add.1, &add.2],
        ),
        (
            "add/wasm-copy-in-out",
            &wasm_add,
            256,
            [&host.0, &host.1, &host.2],
        ),
        ("matmul/wasm", &wasm_matmul, 64, [&mm.0, &mm.1, &mm.2]),
        (
            "matmul/native-sse4.2",
            &native_matmul,
            64,
            [&mm.0, &mm.1, &mm.2],
        ),
        (
            "add/wasm-unchecked",
            &unchecked_add,
            256,
            [&add.0, &add.1, &add.2],
        ),
        (
            "matmul/wasm-unchecked",
            &unchecked_matmul,
            64,
            [&mm.0, &mm.1, &mm.2],
        ),
    ];

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for (name, executable, count, buffers) in &cases {
        criterion.bench_function(name, |bench| {
            bench.iter(|| dispatch(&device, executable, *count, buffers))
        });
    }
    criterion.final_summary();

    let times: Vec<Duration> = cases
        .iter()
        .map(|(_, executable, count, buffers)| {
            median(31, || dispatch(&device, executable, *count, buffers))
        })
        .collect();
    println!("\nmedian of 31 dispatches on local-sync (one thread):");
    for ((name, ..), time) in cases.iter().zip(&times) {
        println!("  {name:<24} {:>10.3} ms", time.as_secs_f64() * 1e3);
    }
    let ratio = |x: usize, y: usize| times[x].as_secs_f64() / times[y].as_secs_f64();
    println!("ratios (target for wasm / native: <= 1.5):");
    println!("  add    wasm / native-sse4.2        {:.2}", ratio(0, 1));
    println!("  matmul wasm / native-sse4.2        {:.2}", ratio(3, 4));
    println!("  add    copy-in-out / zero-copy     {:.2}", ratio(2, 0));
    println!("without budget checks:");
    println!("  add    wasm / native-sse4.2        {:.2}", ratio(5, 1));
    println!("  matmul wasm / native-sse4.2        {:.2}", ratio(6, 4));
    let stats = loader_wasm::copy_statistics();
    println!(
        "copies: {} bindings copied ({} MiB moved), {} passed in place ({} windows mapped)",
        stats.copied_bindings,
        stats.copied_bytes >> 20,
        stats.zero_copy_bindings,
        stats.windows_mapped
    );

    multi_worker();
}

/// The wasm and native add and matmul on `local-task` with two workers.
fn multi_worker() {
    let device = hal_core::create_device("local-task://?workers=2").unwrap();
    let n = 1_048_576usize;
    let a: Vec<f32> = (0..n).map(|i| (i % 251) as f32 * 0.25 - 31.0).collect();
    let m: Vec<f32> = (0..512 * 512)
        .map(|j| ((j * 7) % 97) as f32 / 16.0 - 3.0)
        .collect();
    let add = [
        buffer(&device, &a),
        buffer(&device, &a),
        buffer(&device, &a),
    ];
    let mm = [
        buffer(&device, &m),
        buffer(&device, &m),
        buffer(&device, &m),
    ];
    let cases = [
        ("add/wasm", wasm(&device, "add"), 256, &add),
        ("add/native-sse4.2", native("add"), 256, &add),
        ("matmul/wasm", wasm(&device, "matmul"), 64, &mm),
        ("matmul/native-sse4.2", native("matmul"), 64, &mm),
    ];
    println!("\nmedian of 31 dispatches on local-task (2 workers):");
    let times: Vec<Duration> = cases
        .iter()
        .map(|(name, executable, count, [x, y, z])| {
            let time = median(31, || dispatch(&device, executable, *count, &[x, y, z]));
            println!("  {name:<24} {:>10.3} ms", time.as_secs_f64() * 1e3);
            time
        })
        .collect();
    let ratio = |x: usize, y: usize| times[x].as_secs_f64() / times[y].as_secs_f64();
    println!("  add    wasm / native-sse4.2        {:.2}", ratio(0, 1));
    println!("  matmul wasm / native-sse4.2        {:.2}", ratio(2, 3));
}
