//! A graph of queue operations on `local-task`, ordered by nothing but timeline semaphores:
//!
//! ```text
//!                         ┌─ dispatch y1 = x * 2 ─┐
//! start ─ update x ───────┤                       ├─ dispatch z = y1 + y2 ─ copy z → result
//!                         └─ dispatch y2 = x * 3 ─┘
//! ```
//!
//! Every operation is enqueued before anything it waits for has been signalled, and in reverse
//! order (the last one first): queue operations run when their waits are reached, not in the
//! order they were submitted. The two middle dispatches wait for the same semaphore (fan-out) and
//! may run at once on the workers; the sum waits for both (fan-in). Nothing runs until the host
//! signals `start`; then the host waits once, for the last semaphore, and checks the result.
//!
//! ```sh
//! cargo run -p hal --example task_semaphore_dag
//! ```
//!
//! Needs the features `local-task` and `loader-static` (both defaults).

use std::time::Duration;

use anyhow::{ensure, Result};
use hal::loader_static::{kernel_library, KernelResult, Workgroup};
use hal::{BufferParams, BufferRef, ExecutableParams, Workgroups};

/// Elements per workgroup (the 256-byte output tiles declared below).
const TILE: usize = 64;
/// Elements per buffer.
const LEN: usize = 64 * TILE;

/// `out = in * factor`, `factor` the bits of an f32 push constant.
fn scale(workgroup: &Workgroup<'_>) -> KernelResult {
    let factor = f32::from_bits(workgroup.constants()[0]);
    let input = workgroup.read::<f32>(0)?;
    let start = workgroup.linear_id() as usize * TILE;
    for (out, x) in workgroup.tile::<f32>(1)?.iter_mut().zip(&input[start..]) {
        *out = x * factor;
    }
    Ok(())
}

/// `out = a + b`.
fn add(workgroup: &Workgroup<'_>) -> KernelResult {
    let (a, b) = (workgroup.read::<f32>(0)?, workgroup.read::<f32>(1)?);
    let start = workgroup.linear_id() as usize * TILE;
    let out = workgroup.tile::<f32>(2)?;
    for ((out, a), b) in out.iter_mut().zip(&a[start..]).zip(&b[start..]) {
        *out = a + b;
    }
    Ok(())
}

kernel_library! {
    /// The example library's query function.
    pub fn dag_library_query;
    library = "dag";
    executable_constants = 0;
    export "scale" => scale { constants: 1, bindings: [Read, Write(Tile::Bytes(256))] }
    export "add" => add { constants: 0, bindings: [Read, Read, Write(Tile::Bytes(256))] }
}

fn main() -> Result<()> {
    let device = hal::create_device("local-task://?workers=2")?;
    let executable = device
        .create_executable_cache()?
        .prepare_executable(&ExecutableParams::new("static", b"dag"))?;
    let (scale, add) = (
        executable.lookup_export("scale")?,
        executable.lookup_export("add")?,
    );
    let workgroups = Workgroups::Static([(LEN / TILE) as u32, 1, 1]);

    let bytes = (LEN * 4) as u64;
    let buffer = || device.allocate_buffer(BufferParams::default(), bytes);
    let (x, y1, y2, z, result) = (buffer()?, buffer()?, buffer()?, buffer()?, buffer()?);

    // One semaphore per edge source; each is signalled to 1 by the operation that owns it.
    let semaphore = || device.create_semaphore(0);
    let (start, updated, left, right, summed, copied) = (
        semaphore()?,
        semaphore()?,
        semaphore()?,
        semaphore()?,
        semaphore()?,
        semaphore()?,
    );

    // Enqueued last-first. None of these calls blocks: local-task parks each operation until its
    // waits are reached.
    device.queue_copy(&[summed.at(1)], &[copied.at(1)], &z, 0, &result, 0, bytes)?;
    // Fan-in: the sum waits for both branches.
    device.queue_dispatch(
        &[left.at(1), right.at(1)],
        &[summed.at(1)],
        &executable,
        add,
        workgroups,
        &[],
        &[
            BufferRef::whole(&y1),
            BufferRef::whole(&y2),
            BufferRef::whole(&z),
        ],
    )?;
    // Fan-out: both branches wait for the update only; they read the same buffer and write
    // different ones, so they may run at the same time.
    for (factor, output, signal) in [(2.0f32, &y1, &left), (3.0, &y2, &right)] {
        device.queue_dispatch(
            &[updated.at(1)],
            &[signal.at(1)],
            &executable,
            scale,
            workgroups,
            &[factor.to_bits()],
            &[BufferRef::whole(&x), BufferRef::whole(output)],
        )?;
    }
    // The source: the input, written by the queue. `queue_update` copies the bytes now, so the
    // vector could be dropped at once.
    let xs: Vec<f32> = (0..LEN).map(|i| i as f32 - 1000.0).collect();
    let input: Vec<u8> = xs.iter().flat_map(|v| v.to_le_bytes()).collect();
    device.queue_update(&[start.at(1)], &[updated.at(1)], &input, &x, 0)?;

    // Everything is queued and nothing has run: it all hangs from `start`.
    std::thread::sleep(Duration::from_millis(20));
    ensure!(
        copied.query()? == 0 && updated.query()? == 0,
        "work ran early"
    );
    println!("5 operations queued; none has run");

    // Release the graph from the host, then wait once, at its end. A failure anywhere in the
    // graph would fail every semaphore downstream of it, and so this wait.
    start.signal(1)?;
    copied.wait(1, Duration::from_secs(5))?;

    let got = result.read_elements::<f32>(0, LEN)?;
    for (i, (&got, &x)) in got.iter().zip(&xs).enumerate() {
        ensure!(got == x * 5.0, "result[{i}] = {got}, expected {}", x * 5.0);
    }
    println!(
        "after start: {LEN} elements of 2x + 3x, result[0] = {} (all checked)",
        got[0]
    );
    Ok(())
}
