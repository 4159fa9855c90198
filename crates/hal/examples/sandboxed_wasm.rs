//! The same IREE program as `iree_shared_object`, compiled for wasm32 (`fixtures/wasm/add.wasm`,
//! IREE 3.13's `system-wasm-wasm_32` build of `fixtures/mlir/add.mlir`), run sandboxed on
//! wasmtime by the `wasm` loader.
//!
//! It shows two things:
//! 1. the kernel runs and gives IREE's results, bit for bit (`fixtures/expected/add.f32`);
//! 2. a kernel cannot reach beyond its bindings. A compiled kernel trusts the workgroup count
//!    it is given; dispatched over buffers too small for it, the native build would read and
//!    write whatever memory lies past them. In the sandbox the first access past a binding
//!    traps: the dispatch fails with an error naming the kernel and the trap, nothing else is
//!    touched, and the device, the executable and the buffers stay usable.
//!
//! ```sh
//! cargo run -p hal --example sandboxed_wasm --features loader-wasm
//! ```
//!
//! Needs the feature `loader-wasm` (not a default: wasmtime takes minutes to build) and
//! `local-sync`.

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use hal::{
    Buffer, BufferParams, BufferRef, CommandBufferParams, Device, Executable, ExecutableParams,
    StatusCode, Workgroups,
};

/// Elements of each tensor in the compiled program.
const LEN: usize = 1_048_576;
/// Elements each workgroup adds (the compiled program's tiling: 256 workgroups for `LEN`).
const PER_WORKGROUP: usize = 4096;

/// Dispatches export 0 over `bindings` with `workgroups` workgroups and waits for it: the
/// submission's result, which is where a kernel's trap arrives.
fn dispatch(
    device: &Device,
    executable: &Executable,
    workgroups: u32,
    bindings: &[&Buffer],
) -> hal::Result<()> {
    let refs: Vec<BufferRef<'_>> = bindings.iter().map(|b| BufferRef::whole(b)).collect();
    let mut commands = device.create_command_buffer(CommandBufferParams::one_shot_inline())?;
    commands.begin()?;
    commands.dispatch(
        executable,
        0,
        Workgroups::Static([workgroups, 1, 1]),
        &[],
        &refs,
    )?;
    commands.end()?;
    let done = device.create_semaphore(0)?;
    device.queue_execute(&[], &[done.at(1)], &commands, &[])?;
    done.wait(1, Duration::from_secs(30))
}

/// A buffer holding `values`.
fn buffer_with(device: &Device, values: &[f32]) -> Result<Buffer> {
    let buffer = device.allocate_buffer(BufferParams::default(), (values.len() * 4) as u64)?;
    buffer.write_elements(0, values)?;
    Ok(buffer)
}

fn main() -> Result<()> {
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let data = std::fs::read(fixtures.join("wasm/add.wasm")).context("reading add.wasm")?;
    let format = hal::infer_format(&data).context("no linked loader recognises add.wasm")?;
    ensure!(format == "system-wasm-wasm_32", "inferred {format}");

    let device = hal::create_device("local-sync")?;
    // The module is checked (its imports, memory and data segments) and compiled once here.
    let executable = device
        .create_executable_cache()?
        .prepare_executable(&ExecutableParams::new(&format, &data))?;
    println!(
        "add.wasm: format {format}, export '{}'",
        executable.export(0)?.name
    );

    // 1. The whole program, with iree-run-module's inputs. The buffers are not copied into the
    //    sandbox: while bound, their pages are mapped into the instance's private memory.
    let a: Vec<f32> = (0..LEN).map(|i| (i % 251) as f32 * 0.25 - 31.0).collect();
    let b: Vec<f32> = (0..LEN).map(|i| (i % 127) as f32 * 0.5 - 16.0).collect();
    let (lhs, rhs) = (buffer_with(&device, &a)?, buffer_with(&device, &b)?);
    let out = buffer_with(&device, &vec![0.0; LEN])?;
    dispatch(
        &device,
        &executable,
        (LEN / PER_WORKGROUP) as u32,
        &[&lhs, &rhs, &out],
    )?;
    let mut got = vec![0u8; LEN * 4];
    out.read(0, &mut got)?;
    ensure!(
        got == std::fs::read(fixtures.join("expected/add.f32"))?,
        "the wasm32 build's output differs from iree-run-module's"
    );
    println!("{LEN} sums in the sandbox, bit for bit iree-run-module's");

    // 2. Buffers for 4 workgroups, a dispatch of 8: workgroups 4..8 read past the end of their
    //    bindings. Each binding's window in the sandbox is followed by an inaccessible guard
    //    page, so the first such read traps.
    let small = 4 * PER_WORKGROUP;
    let small_a = buffer_with(&device, &a[..small])?;
    let small_b = buffer_with(&device, &b[..small])?;
    let small_out = buffer_with(&device, &vec![0.0; small])?;
    let error = dispatch(&device, &executable, 8, &[&small_a, &small_b, &small_out])
        .err()
        .context("a dispatch past its bindings succeeded")?;
    ensure!(
        error.code() == StatusCode::Aborted
            && error.to_string().contains("out of bounds memory access"),
        "unexpected error: {error}"
    );
    println!("reading past a binding: {error}");
    // The buffers around the failed dispatch are intact...
    ensure!(lhs.read_elements::<f32>(0, LEN)? == a, "lhs changed");
    ensure!(
        small_a.read_elements::<f32>(0, small)? == a[..small],
        "an input changed"
    );

    // ... and the same device and executable run the right dispatch over the small buffers.
    dispatch(&device, &executable, 4, &[&small_a, &small_b, &small_out])?;
    let sums = small_out.read_elements::<f32>(0, small)?;
    ensure!(
        sums.iter()
            .zip(a.iter().zip(&b))
            .all(|(s, (x, y))| *s == x + y),
        "the dispatch after the trap gave wrong sums"
    );
    println!("the device runs on after the trap: {small} sums checked");
    Ok(())
}
