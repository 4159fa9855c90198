//! The sample workload: an elementwise add of 1,048,576 floats and a 512×512×512 f32 matmul
//! (Rust kernels linked into the tool), run on a device and checked against a reference
//! computed on the host, with median timings.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use hal::{BufferParams, BufferRef, Device, Executable, ExecutableParams, Workgroups};
use sample_kernels::{
    matmul_constants, ADD_ELEMENTS_PER_WORKGROUP, LIBRARY_NAME, MATMUL_ROWS_PER_WORKGROUP,
};

const ADD_ELEMENTS: usize = 1 << 20;
const MATMUL_SIZE: u32 = 512;
const WAIT: Duration = Duration::from_secs(60);

/// Deterministic inputs in [-1, 1).
fn inputs(count: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Runs `dispatch` `repetitions` times and returns the median wall time.
fn time(repetitions: usize, mut dispatch: impl FnMut() -> Result<()>) -> Result<Duration> {
    dispatch()?; // warm-up
    let mut samples = Vec::with_capacity(repetitions);
    for _ in 0..repetitions {
        let start = Instant::now();
        dispatch()?;
        samples.push(start.elapsed());
    }
    samples.sort();
    Ok(samples[samples.len() / 2])
}

fn dispatch_and_wait(
    device: &Device,
    executable: &Executable,
    export: u32,
    count: u32,
    constants: &[u32],
    bindings: &[BufferRef<'_>],
) -> Result<()> {
    let done = device.create_semaphore(0)?;
    device.queue_dispatch(
        &[],
        &[done.at(1)],
        executable,
        export,
        Workgroups::Static([count, 1, 1]),
        constants,
        bindings,
    )?;
    done.wait(1, WAIT)?;
    Ok(())
}

fn run_add(device: &Device, executable: &Executable, repetitions: usize) -> Result<Duration> {
    let export = executable.lookup_export("add")?;
    let (a, b) = (inputs(ADD_ELEMENTS, 1), inputs(ADD_ELEMENTS, 2));
    let bytes = (ADD_ELEMENTS * 4) as u64;
    let [a_buffer, b_buffer, out] =
        [0, 1, 2].map(|_| device.allocate_buffer(BufferParams::default(), bytes));
    let (a_buffer, b_buffer, out) = (a_buffer?, b_buffer?, out?);
    a_buffer.write_elements(0, &a)?;
    b_buffer.write_elements(0, &b)?;
    let workgroups = (ADD_ELEMENTS / ADD_ELEMENTS_PER_WORKGROUP) as u32;
    let bindings = [
        BufferRef::whole(&a_buffer),
        BufferRef::whole(&b_buffer),
        BufferRef::whole(&out),
    ];
    let median = time(repetitions, || {
        dispatch_and_wait(device, executable, export, workgroups, &[], &bindings)
    })?;
    let result = out.read_elements::<f32>(0, ADD_ELEMENTS)?;
    for (i, ((x, y), r)) in a.iter().zip(&b).zip(&result).enumerate() {
        ensure!(x + y == *r, "add element {i}: {x} + {y} gave {r}");
    }
    Ok(median)
}

fn run_matmul(device: &Device, executable: &Executable, repetitions: usize) -> Result<Duration> {
    let export = executable.lookup_export("matmul")?;
    let n = MATMUL_SIZE as usize;
    let (a, b) = (inputs(n * n, 3), inputs(n * n, 4));
    let bytes = (n * n * 4) as u64;
    let a_buffer = device.allocate_buffer(BufferParams::default(), bytes)?;
    let b_buffer = device.allocate_buffer(BufferParams::default(), bytes)?;
    let out = device.allocate_buffer(BufferParams::default(), bytes)?;
    a_buffer.write_elements(0, &a)?;
    b_buffer.write_elements(0, &b)?;
    let (constants, workgroups) = matmul_constants(
        MATMUL_SIZE,
        MATMUL_SIZE,
        MATMUL_SIZE,
        MATMUL_ROWS_PER_WORKGROUP,
    );
    let bindings = [
        BufferRef::whole(&a_buffer),
        BufferRef::whole(&b_buffer),
        BufferRef::whole(&out),
    ];
    let median = time(repetitions, || {
        dispatch_and_wait(
            device, executable, export, workgroups, &constants, &bindings,
        )
    })?;
    let result = out.read_elements::<f32>(0, n * n)?;
    // Reference in f64 on a sample of rows (every 7th), tolerance relative to the row's scale.
    for row in (0..n).step_by(7) {
        for col in 0..n {
            let expected: f64 = (0..n)
                .map(|p| f64::from(a[row * n + p]) * f64::from(b[p * n + col]))
                .sum();
            let got = f64::from(result[row * n + col]);
            ensure!(
                (got - expected).abs() <= 1e-3,
                "matmul C[{row}][{col}] = {got}, expected {expected}"
            );
        }
    }
    Ok(median)
}

/// Runs the sample workload on the device at `uri` and prints a line per kernel.
pub fn run_on(uri: &str, repetitions: usize) -> Result<()> {
    let device = hal::create_device(uri)?;
    let cache = device.create_executable_cache()?;
    let executable = cache
        .prepare_executable(&ExecutableParams::new("static", LIBRARY_NAME.as_bytes()))
        .with_context(|| format!("preparing the sample kernels on {uri}"))?;
    let add =
        run_add(&device, &executable, repetitions).with_context(|| format!("add on {uri}"))?;
    let bytes = (ADD_ELEMENTS * 4 * 3) as f64;
    println!(
        "{uri:<12} add    1048576 f32       median {:>9.3} ms  {:>7.1} GB/s     ok",
        add.as_secs_f64() * 1e3,
        bytes / add.as_secs_f64() / 1e9
    );
    let matmul = run_matmul(&device, &executable, repetitions)
        .with_context(|| format!("matmul on {uri}"))?;
    let flops = 2.0 * f64::from(MATMUL_SIZE).powi(3);
    println!(
        "{uri:<12} matmul 512x512x512 f32 median {:>9.3} ms  {:>7.1} GFLOP/s  ok",
        matmul.as_secs_f64() * 1e3,
        flops / matmul.as_secs_f64() / 1e9
    );
    Ok(())
}
