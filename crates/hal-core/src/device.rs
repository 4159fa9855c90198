//! Devices: the handle a driver creates, with its identity, its allocator, and the objects made
//! on it (command buffers, semaphores, events, executable caches). Its queue calls build on it in
//! `device_queue.rs`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::allocator::Allocator;
use crate::buffer::Buffer;
use crate::command_buffer::CommandBuffer;
use crate::command_buffer_impl::CommandBufferImpl;
use crate::command_buffer_params::CommandBufferParams;
use crate::event::Event;
use crate::executable_cache::ExecutableCache;
use crate::memory::{BufferParams, DeviceSize};
use crate::queue::QueueOperation;
use crate::semaphore::{Semaphore, Timepoint, WaitMode};
use crate::status::Result;
use crate::timeout::Timeout;

/// What a device reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable numeric id within the driver.
    pub id: u64,
    /// Human-readable name.
    pub name: String,
    /// The path used to select it in a URI (`driver://path`); may be empty.
    pub path: String,
}

/// What drivers implement for devices. Every call arrives validated.
pub trait DeviceImpl: Send + Sync + 'static {
    /// The device's identity.
    fn info(&self) -> &DeviceInfo;
    /// The name of the driver that created it.
    fn driver_name(&self) -> &str;
    /// The device's allocator.
    fn allocator(&self) -> Allocator;
    /// Executable formats the device can load.
    fn executable_formats(&self) -> Vec<String>;
    /// How many workgroups of one dispatch may run at once.
    fn dispatch_concurrency(&self) -> u32;
    /// Creates a command buffer (params validated).
    fn create_command_buffer(
        &self,
        params: &CommandBufferParams,
    ) -> Result<Box<dyn CommandBufferImpl>>;
    /// Creates a semaphore with an initial value.
    fn create_semaphore(&self, initial_value: u64) -> Result<Semaphore>;
    /// Creates an event.
    fn create_event(&self) -> Result<Event>;
    /// Creates an executable cache.
    fn create_executable_cache(&self) -> Result<ExecutableCache>;
    /// Queues one operation. Failures of the work go to the signal semaphores; an `Err` here
    /// means the operation was not accepted.
    fn queue_submit(&self, operation: QueueOperation) -> Result<()>;
    /// Makes sure queued work will make progress (a no-op where it always does).
    fn queue_flush(&self) -> Result<()> {
        Ok(())
    }
    /// Waits on several timepoints.
    fn wait_semaphores(
        &self,
        mode: WaitMode,
        timepoints: &[Timepoint],
        timeout: Timeout,
    ) -> Result<()>;
    /// For drivers that downcast their own devices.
    fn as_any(&self) -> &dyn Any;
}

/// A handle to a device.
#[derive(Clone)]
pub struct Device(Arc<dyn DeviceImpl>);

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("driver", &self.0.driver_name())
            .field("info", self.0.info())
            .finish()
    }
}

impl Device {
    /// Wraps a driver's device.
    pub fn new(inner: Arc<dyn DeviceImpl>) -> Device {
        Device(inner)
    }

    /// The driver's device.
    pub fn inner(&self) -> &Arc<dyn DeviceImpl> {
        &self.0
    }

    /// The device's identity.
    pub fn info(&self) -> &DeviceInfo {
        self.0.info()
    }

    /// The device id.
    pub fn id(&self) -> u64 {
        self.0.info().id
    }

    /// The name of the driver that created the device.
    pub fn driver_name(&self) -> &str {
        self.0.driver_name()
    }

    /// The device's allocator.
    pub fn allocator(&self) -> Allocator {
        self.0.allocator()
    }

    /// Executable formats the device can load.
    pub fn executable_formats(&self) -> Vec<String> {
        self.0.executable_formats()
    }

    /// How many workgroups of one dispatch may run at once (1 for local-sync).
    pub fn dispatch_concurrency(&self) -> u32 {
        self.0.dispatch_concurrency()
    }

    /// Creates a command buffer.
    pub fn create_command_buffer(&self, params: CommandBufferParams) -> Result<CommandBuffer> {
        params.validate()?;
        Ok(CommandBuffer::new(
            self.0.create_command_buffer(&params)?,
            params,
        ))
    }

    /// Creates a timeline semaphore starting at `initial_value`.
    pub fn create_semaphore(&self, initial_value: u64) -> Result<Semaphore> {
        self.0.create_semaphore(initial_value)
    }

    /// Creates an event for command buffers.
    pub fn create_event(&self) -> Result<Event> {
        self.0.create_event()
    }

    /// Creates an executable cache.
    pub fn create_executable_cache(&self) -> Result<ExecutableCache> {
        self.0.create_executable_cache()
    }

    /// Allocates a buffer with the device's allocator.
    pub fn allocate_buffer(&self, params: BufferParams, size: DeviceSize) -> Result<Buffer> {
        self.allocator().allocate_buffer(params, size)
    }

    /// Waits until all (or any) of `timepoints` are reached, one fails, or the timeout expires
    /// (`DEADLINE_EXCEEDED`). An empty list succeeds at once.
    pub fn wait_semaphores(
        &self,
        mode: WaitMode,
        timepoints: &[Timepoint],
        timeout: impl Into<Timeout>,
    ) -> Result<()> {
        if timepoints.is_empty() {
            return Ok(());
        }
        self.0.wait_semaphores(mode, timepoints, timeout.into())
    }
}
