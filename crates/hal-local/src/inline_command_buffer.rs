//! The inline command buffer: executes each command while it is recorded.
//!
//! Used for one-shot buffers that allow inline execution. Validation errors are returned at once
//! (hal-core checks them before the call); a failure while *executing* — a kernel returning
//! non-zero, a buffer the host has mapped — is kept, later commands are skipped, and the failure
//! is reported when the buffer is submitted, exactly as if it had been replayed then.

use std::any::Any;

use hal_core::{
    BufferRef, CommandBufferImpl, Dispatch, Event, FillPattern, Result, Status, Submission,
    Workgroups,
};

use crate::cpu::current_processor_id;
use crate::device_scope::DeviceScope;
use crate::inline_dispatch::{dispatch_inline, ResolvedBindings};
use crate::local_executable::LocalExecutable;
use crate::transfer;

/// A command buffer that runs commands on the recording thread.
#[derive(Default)]
pub struct InlineCommandBuffer {
    scope: DeviceScope,
    failure: Option<Status>,
    processor_id: Option<u32>,
}

impl InlineCommandBuffer {
    /// A new, empty inline command buffer.
    pub fn new() -> InlineCommandBuffer {
        InlineCommandBuffer::default()
    }

    #[inline]
    fn run(&mut self, command: impl FnOnce(&mut DeviceScope, u32) -> Result<()>) -> Result<()> {
        if self.failure.is_some() {
            return Ok(());
        }
        let processor_id = *self.processor_id.get_or_insert_with(current_processor_id);
        if let Err(status) = command(&mut self.scope, processor_id) {
            self.failure = Some(status);
        }
        Ok(())
    }
}

impl CommandBufferImpl for InlineCommandBuffer {
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        self.scope.release();
        Ok(())
    }

    fn execution_barrier(&mut self) -> Result<()> {
        // Commands already run in order.
        Ok(())
    }

    fn signal_event(&mut self, _event: &Event) -> Result<()> {
        Ok(())
    }

    fn reset_event(&mut self, _event: &Event) -> Result<()> {
        Ok(())
    }

    fn wait_events(&mut self, _events: &[Event]) -> Result<()> {
        Ok(())
    }

    fn fill(&mut self, target: BufferRef<'_>, pattern: FillPattern) -> Result<()> {
        self.run(|scope, _| transfer::fill(scope, &target.resolve(&[])?, pattern))
    }

    fn update(&mut self, source: &[u8], target: BufferRef<'_>) -> Result<()> {
        self.run(|scope, _| transfer::update(scope, source, &target.resolve(&[])?))
    }

    fn copy(&mut self, source: BufferRef<'_>, target: BufferRef<'_>) -> Result<()> {
        self.run(|scope, _| transfer::copy(scope, &source.resolve(&[])?, &target.resolve(&[])?))
    }

    fn dispatch(&mut self, dispatch: &Dispatch<'_>) -> Result<()> {
        let executable = LocalExecutable::from_handle(dispatch.executable)?;
        let export = executable.export(dispatch.ordinal)?;
        self.run(|scope, processor_id| {
            let counts = match dispatch.workgroups {
                Workgroups::Static(counts) => counts,
                Workgroups::Indirect(parameters) => {
                    transfer::read_workgroup_counts(scope, &parameters.resolve(&[])?)?
                }
            };
            let mut bindings = ResolvedBindings::default();
            bindings.fill(
                scope,
                dispatch.bindings.iter().map(|b| b.resolve(&[])),
                export.views,
            )?;
            dispatch_inline(
                executable,
                export,
                counts,
                dispatch.constants,
                &mut bindings,
                processor_id,
                dispatch.dynamic_local_memory,
            )
        })
    }

    fn submission(&self) -> Submission {
        Submission::Executed(self.failure.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
