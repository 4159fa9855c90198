//! The local-task device.

use std::any::Any;
use std::sync::Arc;

use hal_core::{
    Allocator, CommandBufferImpl, CommandBufferParams, Device, DeviceImpl, DeviceInfo, Event,
    ExecutableCache, QueueOperation, Result, Semaphore, Timeout, Timepoint, WaitMode,
};
use hal_local::{
    loader_formats, run_or_defer, wait_timepoints, when_reached, DeferredCommandBuffer,
    HeapAllocator, LocalEvent, LocalExecutableCache, LocalSemaphore, QueueSignals,
};

use crate::execution::Execution;
use crate::options::TaskDeviceOptions;
use crate::pool::{Pool, PoolHelper};

/// A device whose queue runs work on a pool of worker threads; no queue call blocks.
pub struct TaskDevice {
    info: DeviceInfo,
    allocator: Allocator,
    options: TaskDeviceOptions,
    pool: Pool,
}

impl TaskDevice {
    /// Creates a device with explicit options (for embedders that bypass the registry).
    pub fn create(info: DeviceInfo, options: TaskDeviceOptions) -> Result<Device> {
        let pool = Pool::start(&options)?;
        Ok(Device::new(Arc::new(TaskDevice {
            info,
            allocator: Allocator::new(Arc::new(HeapAllocator::with_limit(
                options.memory_limit.unwrap_or(u64::MAX),
            ))),
            options,
            pool,
        })))
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.options.workers
    }
}

impl DeviceImpl for TaskDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn driver_name(&self) -> &str {
        crate::DRIVER_NAME
    }

    fn allocator(&self) -> Allocator {
        self.allocator.clone()
    }

    fn executable_formats(&self) -> Vec<String> {
        loader_formats(&self.options.loaders)
    }

    fn dispatch_concurrency(&self) -> u32 {
        self.options.workers as u32
    }

    fn create_command_buffer(
        &self,
        _params: &CommandBufferParams,
    ) -> Result<Box<dyn CommandBufferImpl>> {
        // Always recorded: the pool runs the program region by region at submit, so reusable
        // buffers and binding tables need nothing extra.
        Ok(Box::new(DeferredCommandBuffer::new()))
    }

    fn create_semaphore(&self, initial_value: u64) -> Result<Semaphore> {
        Ok(Semaphore::new(if self.options.help_wait {
            LocalSemaphore::with_helper(
                initial_value,
                Arc::new(PoolHelper(Arc::downgrade(self.pool.shared()))),
            )
        } else {
            LocalSemaphore::new(initial_value)
        }))
    }

    fn create_event(&self) -> Result<Event> {
        Ok(LocalEvent::create())
    }

    fn create_executable_cache(&self) -> Result<ExecutableCache> {
        Ok(ExecutableCache::new(Arc::new(LocalExecutableCache::new(
            self.options.loaders.clone(),
            self.options.imports.clone(),
        ))))
    }

    fn queue_submit(&self, operation: QueueOperation) -> Result<()> {
        let QueueOperation {
            waits,
            signals,
            work,
        } = operation;
        let signals = QueueSignals::new(signals)?;
        let pool = self.pool.shared().clone();
        when_reached(
            &waits,
            signals,
            // Deferred while this thread is already completing work, so a long chain of parked
            // operations released by one signal runs in a loop, not in nested calls.
            Box::new(move |resolved, signals| {
                run_or_defer(move || match resolved {
                    Ok(()) => Execution::start(&pool, work, signals),
                    Err(status) => {
                        drop(work);
                        signals.complete(Err(status));
                    }
                })
            }),
        )
    }

    fn wait_semaphores(
        &self,
        mode: WaitMode,
        timepoints: &[Timepoint],
        timeout: Timeout,
    ) -> Result<()> {
        wait_timepoints(mode, timepoints, timeout)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
