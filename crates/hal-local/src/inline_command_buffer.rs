//! The inline command buffer: executes each command while it is recorded.
//!
//! Used for one-shot buffers that allow inline execution. Validation errors are returned at once
//! (hal-core checks them before the call); a failure while *executing* — a kernel returning
//! non-zero, a buffer the host has mapped — is kept, later commands are skipped, and the failure
//! is reported when the buffer is submitted, exactly as if it had been replayed then.

use std::any::Any;

use hal_core::{
    BufferRef, CommandBufferImpl, Dispatch, Event, FillPattern, Result, Status, Submission,
};

use crate::cpu::current_processor_id;
use crate::device_scope::DeviceScope;
use crate::resolved_command::{DispatchBindings, ResolvedCommand, ResolvedDispatch};
use crate::run_command::{run_command, run_dispatch};

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

    /// Resolves a command (a failure is the command's, kept like a kernel's) and runs it.
    #[inline]
    fn run<'a>(&mut self, resolve: impl FnOnce() -> Result<ResolvedCommand<'a>>) -> Result<()> {
        self.run_with(|scope, processor_id| run_command(&resolve()?, scope, processor_id))
    }

    /// Runs `command` unless an earlier command failed, keeping its failure for the submit.
    #[inline]
    fn run_with(
        &mut self,
        command: impl FnOnce(&mut DeviceScope, u32) -> Result<()>,
    ) -> Result<()> {
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
        self.run(|| ResolvedCommand::fill(target.resolve(&[])?, pattern))
    }

    fn update(&mut self, source: &[u8], target: BufferRef<'_>) -> Result<()> {
        self.run(|| ResolvedCommand::update(source, target.resolve(&[])?))
    }

    fn copy(&mut self, source: BufferRef<'_>, target: BufferRef<'_>) -> Result<()> {
        self.run(|| ResolvedCommand::copy(source.resolve(&[])?, target.resolve(&[])?))
    }

    fn dispatch(&mut self, dispatch: &Dispatch<'_>) -> Result<()> {
        // An executable of another driver is the caller's error, returned now rather than kept
        // as the command's failure (the references were checked by hal-core while recording).
        let workgroups = dispatch
            .workgroups
            .try_map(|parameters| parameters.resolve(&[]))?;
        let resolved = ResolvedDispatch::new(
            dispatch.executable,
            dispatch.ordinal,
            workgroups,
            dispatch.constants,
            DispatchBindings::Recording(dispatch.bindings),
            dispatch.dynamic_local_memory,
        )?;
        self.run_with(|scope, processor_id| run_dispatch(&resolved, scope, processor_id))
    }

    fn submission(&self) -> Submission {
        Submission::Executed(self.failure.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
