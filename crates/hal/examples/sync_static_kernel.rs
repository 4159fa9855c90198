//! The smallest whole program: a kernel written in safe Rust, linked into this binary and found
//! by the `static` loader, run on the synchronous driver `local-sync`.
//!
//! It allocates three buffers, records a one-shot command buffer (a fill, a barrier, a dispatch),
//! submits it, waits for its semaphore and checks every output element.
//!
//! ```sh
//! cargo run -p hal --example sync_static_kernel
//! ```
//!
//! Needs the features `local-sync` and `loader-static` (both defaults); a program that wants only
//! these depends on `hal = { ..., default-features = false, features = ["local-sync",
//! "loader-static"] }`.

use std::time::Duration;

use anyhow::{ensure, Result};
use hal::loader_static::{kernel_library, KernelResult, Workgroup};
use hal::{
    BufferParams, BufferRef, CommandBufferParams, ExecutableParams, FillPattern, Workgroups,
};

/// Elements each workgroup computes: its output tile is 64 f32 = 256 bytes (declared below).
const TILE: usize = 64;
/// Elements in each buffer: 16 workgroups' worth.
const LEN: usize = 16 * TILE;

/// `out = a * x + y` over one tile, `a` passed as the bits of an f32 push constant.
///
/// Read-only bindings are shared slices of the whole buffer (`read`); a writable binding is only
/// this workgroup's own tile (`tile`), so workgroups running on several threads never hold
/// overlapping `&mut` slices. Errors (`?`) fail the dispatch and its signal semaphores.
fn axpy(workgroup: &Workgroup<'_>) -> KernelResult {
    let a = f32::from_bits(workgroup.constants()[0]);
    let x = workgroup.read::<f32>(0)?;
    let y = workgroup.read::<f32>(1)?;
    let start = workgroup.linear_id() as usize * TILE;
    let out = workgroup.tile::<f32>(2)?;
    for ((out, x), y) in out.iter_mut().zip(&x[start..]).zip(&y[start..]) {
        *out = a * x + y;
    }
    Ok(())
}

// The library: a query function with IREE's executable-library ABI (the same tables an
// IREE-compiled library has) plus a link-time registration under the name "example", which is
// what `ExecutableParams::new("static", b"example")` asks the static loader for.
kernel_library! {
    /// The example library's query function.
    pub fn example_library_query;
    library = "example";
    executable_constants = 0;
    export "axpy" => axpy { constants: 1, bindings: [Read, Read, Write(Tile::Bytes(256))] }
}

fn main() -> Result<()> {
    // Drivers are picked at run time by name or URI; `local-sync` runs work on the thread that
    // submits it (or on the thread whose signal releases it).
    let device = hal::create_device("local-sync")?;
    let executable = device
        .create_executable_cache()?
        .prepare_executable(&ExecutableParams::new("static", b"example"))?;
    // Exports are dispatched by ordinal; look it up by name once.
    let axpy = executable.lookup_export("axpy")?;

    let bytes = (LEN * 4) as u64;
    let x = device.allocate_buffer(BufferParams::default(), bytes)?;
    let y = device.allocate_buffer(BufferParams::default(), bytes)?;
    let out = device.allocate_buffer(BufferParams::default(), bytes)?;
    let xs: Vec<f32> = (0..LEN).map(|i| i as f32).collect();
    x.write_elements(0, &xs)?;

    // A one-shot command buffer: recorded, submitted once. With inline execution allowed,
    // local-sync may run the commands while they are submitted instead of storing them.
    let mut commands = device.create_command_buffer(CommandBufferParams::one_shot_inline())?;
    commands.begin()?;
    // y = 0.5 everywhere, written by the device.
    commands.fill(BufferRef::whole(&y), FillPattern::U32(0.5f32.to_bits()))?;
    // Commands without a barrier between them may run in any order (or at once, on local-task):
    // the dispatch reads y, so it must come after the fill.
    commands.execution_barrier()?;
    commands.dispatch(
        &executable,
        axpy,
        Workgroups::Static([(LEN / TILE) as u32, 1, 1]),
        &[3.0f32.to_bits()],
        &[
            BufferRef::whole(&x),
            BufferRef::whole(&y),
            BufferRef::whole(&out),
        ],
    )?;
    commands.end()?;

    // Queue work is ordered only by timeline semaphores: this submission waits for nothing and
    // signals `done` to 1 when its commands have finished (or fails it with their error).
    let done = device.create_semaphore(0)?;
    device.queue_execute(&[], &[done.at(1)], &commands, &[])?;
    done.wait(1, Duration::from_secs(5))?;

    let got = out.read_elements::<f32>(0, LEN)?;
    for (i, (&got, &x)) in got.iter().zip(&xs).enumerate() {
        let want = 3.0 * x + 0.5;
        ensure!(got == want, "out[{i}] = {got}, expected {want}");
    }
    println!(
        "axpy on local-sync: {LEN} elements in {} workgroups, out[{}] = {} (all checked)",
        LEN / TILE,
        LEN - 1,
        got[LEN - 1]
    );
    Ok(())
}
