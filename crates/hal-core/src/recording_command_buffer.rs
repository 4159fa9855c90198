//! A stand-in driver command buffer for hal-core's tests: it accepts every command and notes the
//! dispatches it receives, so the handle's validation can be tested without a driver.

use std::any::Any;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::buffer_ref::BufferRef;
use crate::command_buffer_impl::{CommandBufferImpl, Dispatch, Submission};
use crate::event::Event;
use crate::fill_pattern::FillPattern;
use crate::status::Result;

/// What the recording command buffer saw of one accepted dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SeenDispatch {
    pub ordinal: u32,
    pub bindings: usize,
    pub dynamic_local_memory: u32,
}

/// A command buffer that accepts everything and notes the dispatches it receives.
#[derive(Default)]
pub(crate) struct RecordingCommandBuffer {
    pub dispatches: Arc<Mutex<Vec<SeenDispatch>>>,
}

impl CommandBufferImpl for RecordingCommandBuffer {
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }
    fn end(&mut self) -> Result<()> {
        Ok(())
    }
    fn execution_barrier(&mut self) -> Result<()> {
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
    fn fill(&mut self, _target: BufferRef<'_>, _pattern: FillPattern) -> Result<()> {
        Ok(())
    }
    fn update(&mut self, _source: &[u8], _target: BufferRef<'_>) -> Result<()> {
        Ok(())
    }
    fn copy(&mut self, _source: BufferRef<'_>, _target: BufferRef<'_>) -> Result<()> {
        Ok(())
    }
    fn dispatch(&mut self, dispatch: &Dispatch<'_>) -> Result<()> {
        self.dispatches.lock().push(SeenDispatch {
            ordinal: dispatch.ordinal,
            bindings: dispatch.bindings.len(),
            dynamic_local_memory: dispatch.dynamic_local_memory,
        });
        Ok(())
    }
    fn submission(&self) -> Submission {
        Submission::Executed(None)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
