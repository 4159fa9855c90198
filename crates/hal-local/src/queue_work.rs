//! Running a queue operation's work on the calling thread.

use hal_core::{
    BindingTableEntry, QueueWork, QueueWorkgroups, ResolvedRef, Result, Status, SubmissionHandle,
};

use crate::cpu::current_processor_id;
use crate::deferred_command_buffer::RecordedCommands;
use crate::device_scope::DeviceScope;
use crate::inline_dispatch::{dispatch_inline, ResolvedBindings};
use crate::local_executable::LocalExecutable;
use crate::ready_queue::run_nested;
use crate::transfer;

fn range(entry: &BindingTableEntry) -> ResolvedRef<'_> {
    ResolvedRef {
        buffer: &entry.buffer,
        offset: entry.offset,
        length: entry.length,
    }
}

/// Runs `work` to completion on this thread. Device access to buffers is released before this
/// returns, so the caller can signal completion right after. A host call is taken out of `work`
/// (it runs once); everything else stays in `work` for the caller to drop after signalling.
pub fn execute_work(work: &mut QueueWork) -> Result<()> {
    let _span = tracing::trace_span!("queue_operation", work = work.name()).entered();
    let mut scope = DeviceScope::new();
    let result = match work {
        QueueWork::Barrier => Ok(()),
        QueueWork::Execute {
            submission: SubmissionHandle::Executed(failure),
            ..
        } => match failure {
            Some(status) => Err(status.clone()),
            None => Ok(()),
        },
        QueueWork::Execute {
            submission: SubmissionHandle::Deferred(program),
            binding_table,
        } => {
            let program = program.downcast_ref::<RecordedCommands>().ok_or_else(|| {
                Status::invalid_argument("command buffer was not recorded by a local CPU driver")
            })?;
            let _span =
                tracing::trace_span!("command_buffer", commands = program.commands.len()).entered();
            program.replay(binding_table, &mut scope, current_processor_id())
        }
        QueueWork::Fill { target, pattern } => transfer::fill(&mut scope, &range(target), *pattern),
        QueueWork::Update { data, target } => transfer::update(&mut scope, data, &range(target)),
        QueueWork::Copy { source, target } => {
            transfer::copy(&mut scope, &range(source), &range(target))
        }
        QueueWork::Dispatch {
            executable,
            ordinal,
            workgroups,
            constants,
            bindings,
            dynamic_local_memory,
        } => (|| {
            let local = LocalExecutable::from_handle(executable)?;
            let counts = match workgroups {
                QueueWorkgroups::Static(counts) => *counts,
                QueueWorkgroups::Indirect(parameters) => {
                    transfer::read_workgroup_counts(&mut scope, &range(parameters))?
                }
            };
            let export = local.export(*ordinal)?;
            let mut resolved = ResolvedBindings::default();
            resolved.fill(
                &mut scope,
                bindings.iter().map(|b| Ok(range(b))),
                export.views,
            )?;
            dispatch_inline(
                local,
                export,
                counts,
                constants,
                &mut resolved,
                current_processor_id(),
                *dynamic_local_memory,
            )
        })(),
        QueueWork::Alloca { buffer } => buffer.storage().commit(),
        QueueWork::Dealloca { buffer } => buffer.storage().decommit(),
        QueueWork::HostCall { .. } => match std::mem::replace(work, QueueWork::Barrier) {
            QueueWork::HostCall { call } => run_nested(call),
            _ => unreachable!("matched a host call above"),
        },
    };
    drop(scope);
    result
}
