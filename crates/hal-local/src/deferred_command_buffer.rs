//! The deferred command buffer: records commands into a [`RecordedProgram`] for submit, with
//! binding tables.
//!
//! Recording copies everything a command needs (buffer handles, constants, update bytes) into
//! the program, frozen at `end` and shared by every submission, so a reusable buffer is recorded
//! once and run with a different binding table each time.

use std::any::Any;
use std::sync::Arc;

use hal_core::{
    BufferRef, CommandBufferImpl, Dispatch, Event, FillPattern, Result, Status, Submission,
};

use crate::local_export::LocalExport;
use crate::recorded_program::{Command, RecordedProgram};

/// A command buffer that records for replay.
#[derive(Default)]
pub struct DeferredCommandBuffer {
    recording: RecordedProgram,
    finished: Option<Arc<RecordedProgram>>,
}

impl DeferredCommandBuffer {
    /// A new, empty deferred command buffer.
    pub fn new() -> DeferredCommandBuffer {
        DeferredCommandBuffer::default()
    }

    /// The recorded program, once ended.
    pub fn recorded(&self) -> Option<&Arc<RecordedProgram>> {
        self.finished.as_ref()
    }

    fn push(&mut self, command: Command) -> Result<()> {
        self.recording.commands.push(command);
        Ok(())
    }
}

impl CommandBufferImpl for DeferredCommandBuffer {
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        let mut program = std::mem::take(&mut self.recording);
        program.commands.shrink_to_fit();
        self.finished = Some(Arc::new(program));
        Ok(())
    }

    fn execution_barrier(&mut self) -> Result<()> {
        self.push(Command::Barrier)
    }

    fn signal_event(&mut self, event: &Event) -> Result<()> {
        self.push(Command::SignalEvent(event.clone()))
    }

    fn reset_event(&mut self, event: &Event) -> Result<()> {
        self.push(Command::ResetEvent(event.clone()))
    }

    fn wait_events(&mut self, events: &[Event]) -> Result<()> {
        self.push(Command::WaitEvents(events.to_vec()))
    }

    fn fill(&mut self, target: BufferRef<'_>, pattern: FillPattern) -> Result<()> {
        self.push(Command::Fill {
            target: target.to_recorded(),
            pattern,
        })
    }

    fn update(&mut self, source: &[u8], target: BufferRef<'_>) -> Result<()> {
        let start = self.recording.data.len();
        self.recording.data.extend_from_slice(source);
        let data = start..self.recording.data.len();
        self.push(Command::Update {
            data,
            target: target.to_recorded(),
        })
    }

    fn copy(&mut self, source: BufferRef<'_>, target: BufferRef<'_>) -> Result<()> {
        self.push(Command::Copy {
            source: source.to_recorded(),
            target: target.to_recorded(),
        })
    }

    fn dispatch(&mut self, dispatch: &Dispatch<'_>) -> Result<()> {
        let export = LocalExport::new(dispatch.executable, dispatch.ordinal)?;
        let program = &mut self.recording;
        let constants_start = program.constants.len();
        program.constants.extend_from_slice(dispatch.constants);
        let bindings_start = program.bindings.len();
        program
            .bindings
            .extend(dispatch.bindings.iter().map(BufferRef::to_recorded));
        let workgroups = dispatch
            .workgroups
            .try_map(|parameters| Ok(parameters.to_recorded()))?;
        let command = Command::Dispatch {
            export,
            workgroups,
            constants: constants_start..program.constants.len(),
            bindings: bindings_start..program.bindings.len(),
            dynamic_local_memory: dispatch.dynamic_local_memory,
        };
        self.push(command)
    }

    fn submission(&self) -> Submission {
        match &self.finished {
            Some(program) => Submission::Deferred(program.clone()),
            None => Submission::Executed(Some(Status::failed_precondition(
                "command buffer was not ended",
            ))),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
