//! The local-task device: hal-local's [`LocalDevice`] with work run on a worker pool.

use std::sync::Arc;

use hal_core::{CommandBufferImpl, CommandBufferParams, Device, DeviceInfo, QueueWork, Result};
use hal_local::{DeferredCommandBuffer, LocalDevice, QueueExecutor, QueueSignals, WaitHelper};

use crate::execution::Execution;
use crate::options::TaskDeviceOptions;
use crate::pool::{Pool, PoolHelper};

/// What local-task adds to a [`LocalDevice`]: a pool of worker threads that runs queue work, so
/// no queue call blocks. The device is a `LocalDevice<TaskDevice>`; the pool stops with it.
pub struct TaskDevice {
    pool: Pool<Execution>,
    workers: usize,
    help_wait: bool,
}

impl TaskDevice {
    /// Creates a device with explicit options (for embedders that bypass the registry); fails if
    /// a worker thread cannot be started.
    pub fn create(info: DeviceInfo, options: TaskDeviceOptions) -> Result<Device> {
        let executor = TaskDevice {
            pool: Pool::start(&options)?,
            workers: options.workers,
            help_wait: options.help_wait,
        };
        Ok(LocalDevice::create(info, options.common, executor))
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }
}

impl QueueExecutor for TaskDevice {
    const DRIVER_NAME: &'static str = crate::DRIVER_NAME;

    fn dispatch_concurrency(&self) -> u32 {
        self.workers as u32
    }

    /// Always recorded: the pool runs the program region by region at submit, so reusable
    /// buffers and binding tables need nothing extra.
    fn command_buffer(&self, _params: &CommandBufferParams) -> Box<dyn CommandBufferImpl> {
        Box::new(DeferredCommandBuffer::new())
    }

    /// Starts an execution on the pool (holding the pool's shared state, not the device).
    fn runner(&self) -> impl FnOnce(QueueWork, QueueSignals) + Send + 'static {
        let pool = self.pool.shared().clone();
        move |work, signals| Execution::start(&pool, work, signals)
    }

    /// With `help_wait`, waiters run the pool's ready work before they block.
    fn wait_helper(&self) -> Option<Arc<dyn WaitHelper>> {
        self.help_wait
            .then(|| Arc::new(PoolHelper(Arc::downgrade(self.pool.shared()))) as _)
    }
}
