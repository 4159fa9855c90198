//! What drivers implement for command buffers ([`CommandBufferImpl`]), what they receive (a
//! validated [`Dispatch`]) and what they hand to a queue execute ([`Submission`]). Every call
//! arrives validated by the `CommandBuffer` handle.

use std::any::Any;
use std::sync::Arc;

use crate::buffer_ref::BufferRef;
use crate::event::Event;
use crate::executable::Executable;
use crate::fill_pattern::FillPattern;
use crate::status::{Result, Status};
use crate::workgroups::Workgroups;

/// A validated dispatch, as drivers receive it.
#[derive(Clone, Copy, Debug)]
pub struct Dispatch<'a> {
    /// The executable.
    pub executable: &'a Executable,
    /// The export's ordinal.
    pub ordinal: u32,
    /// The workgroup counts.
    pub workgroups: Workgroups<'a>,
    /// Push constants (exactly the export's count).
    pub constants: &'a [u32],
    /// Bindings (exactly the export's count).
    pub bindings: &'a [BufferRef<'a>],
    /// Bytes of workgroup local memory to provide on top of the export's static local memory
    /// (validated: at most [`MAX_DYNAMIC_LOCAL_MEMORY`], and the sum fits in a `u32`).
    ///
    /// [`MAX_DYNAMIC_LOCAL_MEMORY`]: crate::dispatch_options::MAX_DYNAMIC_LOCAL_MEMORY
    pub dynamic_local_memory: u32,
}

/// What a queue execute receives from a driver's command buffer, and what the queued operation
/// holds until it runs (cloning shares the recorded commands).
#[derive(Clone)]
pub enum Submission {
    /// The commands already ran while recorded; `Some` holds the failure that stopped them.
    Executed(Option<Status>),
    /// Recorded commands to run at submit; the driver downcasts them.
    Deferred(Arc<dyn Any + Send + Sync>),
}

/// What drivers implement for command buffers. Every call arrives validated.
pub trait CommandBufferImpl: Send + Sync + 'static {
    /// Starts recording.
    fn begin(&mut self) -> Result<()>;
    /// Finishes recording.
    fn end(&mut self) -> Result<()>;
    /// Orders everything before against everything after.
    fn execution_barrier(&mut self) -> Result<()>;
    /// Signals an event once prior work completes.
    fn signal_event(&mut self, event: &Event) -> Result<()>;
    /// Resets an event once prior work completes.
    fn reset_event(&mut self, event: &Event) -> Result<()>;
    /// Waits for events before later work starts.
    fn wait_events(&mut self, events: &[Event]) -> Result<()>;
    /// Fills a range with a pattern (offset and length aligned to it).
    fn fill(&mut self, target: BufferRef<'_>, pattern: FillPattern) -> Result<()>;
    /// Writes `source` at the target (its length equals `source.len()` or is whole).
    fn update(&mut self, source: &[u8], target: BufferRef<'_>) -> Result<()>;
    /// Copies `source`'s range to `target` (same length, or the target's is whole).
    fn copy(&mut self, source: BufferRef<'_>, target: BufferRef<'_>) -> Result<()>;
    /// Dispatches a kernel.
    fn dispatch(&mut self, dispatch: &Dispatch<'_>) -> Result<()>;
    /// What a queue execute should run.
    fn submission(&self) -> Submission;
    /// For drivers that downcast their own command buffers.
    fn as_any(&self) -> &dyn Any;
}
