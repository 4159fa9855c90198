//! Running resolved commands on the calling thread: how local-sync, the inline command buffer
//! and local-sync's queue apply the one command form ([`ResolvedCommand`]).

use hal_core::{BindingTableEntry, Result, WorkgroupCount};

use crate::device_scope::DeviceScope;
use crate::inline_dispatch::{dispatch_inline, ResolvedBindings};
use crate::recorded_program::RecordedProgram;
use crate::resolved_command::{ResolvedCommand, ResolvedDispatch};
use crate::transfer::{self, read_workgroup_counts};

/// Runs `command` to completion on this thread, holding device access through `scope`, as
/// processor `processor_id`.
#[inline]
pub fn run_command(
    command: &ResolvedCommand<'_>,
    scope: &mut DeviceScope,
    processor_id: u32,
) -> Result<()> {
    match command {
        ResolvedCommand::Fill(fill) => transfer::fill(scope, &fill.target, fill.pattern),
        ResolvedCommand::Update(update) => transfer::update(scope, update.data, &update.target),
        ResolvedCommand::Copy(copy) => transfer::copy(scope, &copy.source, &copy.target),
        ResolvedCommand::Dispatch(dispatch) => run_dispatch(dispatch, scope, processor_id),
    }
}

/// Runs `dispatch` to completion on this thread (as [`run_command`] does), for callers that
/// hold a dispatch alone.
#[inline]
pub fn run_dispatch(
    dispatch: &ResolvedDispatch<'_>,
    scope: &mut DeviceScope,
    processor_id: u32,
) -> Result<()> {
    // Matched here rather than through `counts()`: a `Result<[u32; 3]>` written and read back
    // on this path stalled store forwarding, costing more than the rest of the set-up.
    let counts = match &dispatch.workgroups {
        WorkgroupCount::Static(counts) => *counts,
        WorkgroupCount::Indirect(parameters) => read_workgroup_counts(scope, parameters)?,
    };
    let mut bindings = ResolvedBindings::default();
    bindings.fill(scope, &dispatch.bindings, dispatch.export.views)?;
    dispatch_inline(
        dispatch.local,
        dispatch.export,
        counts,
        dispatch.constants,
        &mut bindings,
        processor_id,
        dispatch.dynamic_local_memory,
    )
}

/// Runs the whole of `program` on this thread in order, with `table` for its slots. Stops at
/// the first failure.
pub fn run_program(
    program: &RecordedProgram,
    table: &[Option<BindingTableEntry>],
    scope: &mut DeviceScope,
    processor_id: u32,
) -> Result<()> {
    let _span = tracing::trace_span!("command_buffer", commands = program.commands.len()).entered();
    // Once for the whole program instead of around every dispatch: nothing but runtime code
    // and kernels runs until it returns.
    let _fpu = crate::cpu::DenormalsFlushed::new();
    for command in &program.commands {
        if let Some(resolved) = program.resolve(command, table)? {
            run_command(&resolved, scope, processor_id)?;
        }
    }
    Ok(())
}
