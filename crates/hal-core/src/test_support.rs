//! Stand-ins for driver objects, so hal-core's validation can be tested without a driver: heap
//! buffers, an executable with chosen exports, a command buffer and a device that record what
//! reaches them.

use std::any::Any;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::access_gate::AccessGate;
use crate::allocator::Allocator;
use crate::buffer::{Buffer, BufferStorage};
use crate::buffer_ref::BufferRef;
use crate::command_buffer::{CommandBufferImpl, CommandBufferParams, Dispatch, Submission};
use crate::device::{Device, DeviceImpl, DeviceInfo};
use crate::event::Event;
use crate::executable::{Executable, ExecutableImpl, ExecutableInfo, ExportInfo};
use crate::executable_cache::ExecutableCache;
use crate::fill_pattern::FillPattern;
use crate::memory::{BufferParams, BufferUsage, DeviceSize};
use crate::queue::QueueOperation;
use crate::semaphore::{Semaphore, Timepoint, WaitMode};
use crate::status::{Result, Status};
use crate::timeout::Timeout;

struct HeapStorage {
    gate: AccessGate,
    bytes: Box<[u8]>,
}

impl BufferStorage for HeapStorage {
    fn allocation_size(&self) -> DeviceSize {
        self.bytes.len() as DeviceSize
    }
    fn gate(&self) -> &AccessGate {
        &self.gate
    }
    fn host_ptr(&self) -> *mut u8 {
        self.bytes.as_ptr().cast_mut()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A zeroed `size`-byte buffer with every usage.
pub(crate) fn buffer(size: usize) -> Buffer {
    let storage = HeapStorage {
        gate: AccessGate::committed(),
        bytes: vec![0; size].into(),
    };
    Buffer::from_storage(
        Arc::new(storage),
        0,
        size as DeviceSize,
        BufferParams::with_usage(BufferUsage::all()).canonicalize(),
    )
    .expect("a whole-storage buffer")
}

struct NoExecutable;

impl ExecutableImpl for NoExecutable {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An export named `name` with `constants` push constants and `bindings` bindings, no flags.
pub(crate) fn export(name: &str, constants: u32, bindings: u32) -> ExportInfo {
    ExportInfo::new(name, constants, bindings)
}

/// An executable of library `test` with `exports`, whose driver object does nothing.
pub(crate) fn executable(exports: Vec<ExportInfo>) -> Result<Executable> {
    let info = ExecutableInfo {
        library_name: "test".to_string(),
        constant_count: 0,
    };
    Executable::new(info, exports, Arc::new(NoExecutable))
}

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

/// A device whose queue keeps every operation it accepts instead of running it.
pub(crate) struct RecordingDevice {
    pub info: DeviceInfo,
    pub operations: Mutex<Vec<QueueOperation>>,
    pub command_buffer_dispatches: Arc<Mutex<Vec<SeenDispatch>>>,
}

impl RecordingDevice {
    /// A device with an empty queue, and its handle.
    pub(crate) fn create() -> (Arc<RecordingDevice>, Device) {
        let device = Arc::new(RecordingDevice {
            info: DeviceInfo {
                id: 0,
                name: "recording".to_string(),
                path: String::new(),
            },
            operations: Mutex::new(Vec::new()),
            command_buffer_dispatches: Arc::default(),
        });
        (device.clone(), Device::new(device))
    }
}

fn not_here<T>() -> Result<T> {
    Err(Status::unimplemented("not part of the recording device"))
}

impl DeviceImpl for RecordingDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn driver_name(&self) -> &str {
        "recording"
    }
    fn allocator(&self) -> Allocator {
        unimplemented!("the recording device has no allocator")
    }
    fn executable_formats(&self) -> Vec<String> {
        Vec::new()
    }
    fn dispatch_concurrency(&self) -> u32 {
        1
    }
    fn create_command_buffer(
        &self,
        _params: &CommandBufferParams,
    ) -> Result<Box<dyn CommandBufferImpl>> {
        Ok(Box::new(RecordingCommandBuffer {
            dispatches: self.command_buffer_dispatches.clone(),
        }))
    }
    fn create_semaphore(&self, _initial_value: u64) -> Result<Semaphore> {
        not_here()
    }
    fn create_event(&self) -> Result<Event> {
        not_here()
    }
    fn create_executable_cache(&self) -> Result<ExecutableCache> {
        not_here()
    }
    fn queue_submit(&self, operation: QueueOperation) -> Result<()> {
        self.operations.lock().push(operation);
        Ok(())
    }
    fn wait_semaphores(
        &self,
        _mode: WaitMode,
        _timepoints: &[Timepoint],
        _timeout: Timeout,
    ) -> Result<()> {
        not_here()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
