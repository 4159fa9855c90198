//! A reusable command buffer recorded once against binding-table slots, then submitted several
//! times on the multi-core driver `local-task`, each submission binding its own buffers.
//!
//! This is how IREE runs a compiled program: the command buffer is recorded once per program,
//! the buffers change with every call. The recorded commands name slots (`BufferRef::slot`), and
//! each `queue_execute` passes a binding table that maps slots to buffers. Slot numbers may have
//! gaps: slot 1 is used by nothing here and is left empty (`None`) in every table.
//!
//! ```sh
//! cargo run -p hal --example reusable_binding_tables
//! ```
//!
//! Needs the features `local-task` and `loader-static` (both defaults).

use std::time::Duration;

use anyhow::{ensure, Result};
use hal::loader_static::{kernel_library, KernelResult, Workgroup};
use hal::{
    Buffer, BufferParams, BufferRef, CommandBufferParams, ExecutableParams, StatusCode, WaitMode,
    Workgroups,
};

/// Elements per workgroup (the 256-byte output tile declared below).
const TILE: usize = 64;
/// Elements per buffer.
const LEN: usize = 32 * TILE;
/// Bytes per buffer.
const BYTES: u64 = (LEN * 4) as u64;

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

kernel_library! {
    /// The example library's query function.
    pub fn tables_library_query;
    library = "tables";
    executable_constants = 0;
    export "scale" => scale { constants: 1, bindings: [Read, Write(Tile::Bytes(256))] }
}

/// The buffers one submission binds: slot 0 (input), 2 (intermediate) and 3 (output).
struct Call {
    input: Buffer,
    middle: Buffer,
    output: Buffer,
    values: Vec<f32>,
}

fn main() -> Result<()> {
    // `workers=2`: this machine's two cores; without it, one worker per core.
    let device = hal::create_device("local-task://?workers=2")?;
    let executable = device
        .create_executable_cache()?
        .prepare_executable(&ExecutableParams::new("static", b"tables"))?;
    let scale = executable.lookup_export("scale")?;
    let workgroups = Workgroups::Static([(LEN / TILE) as u32, 1, 1]);

    // Recorded once, with room for 4 slots: slot 0 → ×2 → slot 2 → ×10 → slot 3. The commands
    // hold slot numbers and byte ranges, no buffers; the runtime remembers how each slot is used
    // (length, dispatch or transfer) and checks every table against that at submission.
    let mut commands = device.create_command_buffer(CommandBufferParams::reusable(4))?;
    commands.begin()?;
    commands.dispatch(
        &executable,
        scale,
        workgroups,
        &[2.0f32.to_bits()],
        &[BufferRef::slot(0, 0, BYTES), BufferRef::slot(2, 0, BYTES)],
    )?;
    // The second dispatch reads what the first wrote: without a barrier, local-task could run
    // both at once.
    commands.execution_barrier()?;
    commands.dispatch(
        &executable,
        scale,
        workgroups,
        &[10.0f32.to_bits()],
        &[BufferRef::slot(2, 0, BYTES), BufferRef::slot(3, 0, BYTES)],
    )?;
    commands.end()?;

    // Three calls, each with its own buffers and inputs.
    let mut calls = Vec::new();
    for call in 0..3 {
        let values: Vec<f32> = (0..LEN).map(|i| (call * 1000 + i) as f32).collect();
        let input = device.allocate_buffer(BufferParams::default(), BYTES)?;
        input.write_elements(0, &values)?;
        calls.push(Call {
            input,
            middle: device.allocate_buffer(BufferParams::default(), BYTES)?,
            output: device.allocate_buffer(BufferParams::default(), BYTES)?,
            values,
        });
    }

    // Submitted three times without waiting in between: the submissions share no buffers, so
    // nothing needs to order them, and local-task may run them side by side. A reusable command
    // buffer may be in flight several times at once; each submission signals its own semaphore.
    let mut done = Vec::new();
    for call in &calls {
        let table = [
            Some(BufferRef::whole(&call.input)),
            None, // slot 1: used by no command, so it may stay empty
            Some(BufferRef::whole(&call.middle)),
            Some(BufferRef::whole(&call.output)),
        ];
        let semaphore = device.create_semaphore(0)?;
        device.queue_execute(&[], &[semaphore.at(1)], &commands, &table)?;
        done.push(semaphore);
    }

    // A table that leaves a used slot empty is refused by the call itself, naming the slot;
    // a refused call has no effect (nothing runs, nothing is signalled).
    let refused = device
        .queue_execute(
            &[],
            &[],
            &commands,
            &[Some(BufferRef::whole(&calls[0].input)), None, None, None],
        )
        .expect_err("slot 2 is used");
    ensure!(refused.code() == StatusCode::InvalidArgument, "{refused}");
    println!("refused as it should be: {refused}");

    // One host wait for all three submissions.
    let timepoints: Vec<_> = done.iter().map(|s| s.at(1)).collect();
    device.wait_semaphores(WaitMode::All, &timepoints, Duration::from_secs(5))?;

    for (index, call) in calls.iter().enumerate() {
        let got = call.output.read_elements::<f32>(0, LEN)?;
        for (i, (&got, &x)) in got.iter().zip(&call.values).enumerate() {
            ensure!(
                got == x * 20.0,
                "call {index}: out[{i}] = {got}, expected {}",
                x * 20.0
            );
        }
        println!(
            "call {index}: {LEN} elements scaled by 20, out[1] = {} (all checked)",
            got[1]
        );
    }
    Ok(())
}
