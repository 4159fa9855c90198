//! Running a queue operation's work on the calling thread.

use hal_core::{QueueWork, Result, Status, Submission};

use crate::cpu::current_processor_id;
use crate::device_scope::DeviceScope;
use crate::ready_queue::run_nested;
use crate::recorded_program::RecordedProgram;
use crate::resolved_command::ResolvedCommand;
use crate::run_command::{run_command, run_program};

/// Runs `work` to completion on this thread. Device access to buffers is released before this
/// returns, so the caller can signal completion right after. A host call is taken out of `work`
/// (it runs once); everything else stays in `work` for the caller to drop after signalling.
pub fn execute_work(work: &mut QueueWork) -> Result<()> {
    let _span = tracing::trace_span!("queue_operation", work = work.name()).entered();
    let mut scope = DeviceScope::new();
    if let Some(command) = ResolvedCommand::of_queue_work(work)? {
        return run_command(&command, &mut scope, current_processor_id());
    }
    let result = match work {
        QueueWork::Barrier => Ok(()),
        QueueWork::Execute {
            submission: Submission::Executed(failure),
            ..
        } => match failure {
            Some(status) => Err(status.clone()),
            None => Ok(()),
        },
        QueueWork::Execute {
            submission: Submission::Deferred(program),
            binding_table,
        } => match program.downcast_ref::<RecordedProgram>() {
            Some(program) => {
                run_program(program, binding_table, &mut scope, current_processor_id())
            }
            None => Err(not_local()),
        },
        QueueWork::Alloca { buffer } => buffer.storage().commit(),
        QueueWork::Dealloca { buffer } => buffer.storage().decommit(),
        QueueWork::HostCall { .. } => match std::mem::replace(work, QueueWork::Barrier) {
            QueueWork::HostCall { call } => run_nested(call),
            _ => unreachable!("matched a host call above"),
        },
        QueueWork::Fill { .. }
        | QueueWork::Update { .. }
        | QueueWork::Copy { .. }
        | QueueWork::Dispatch { .. } => unreachable!("commands are run above"),
    };
    drop(scope);
    result
}

/// The error for a command buffer recorded by another driver.
#[cold]
pub fn not_local() -> Status {
    Status::invalid_argument("command buffer was not recorded by a local CPU driver")
}
