//! The local-sync device.

use std::any::Any;
use std::sync::Arc;

use hal_core::{
    Allocator, CommandBufferImpl, CommandBufferMode, CommandBufferParams, Device, DeviceImpl,
    DeviceInfo, Event, ExecutableCache, QueueOperation, Result, Semaphore, Timeout, Timepoint,
    WaitMode,
};
use hal_local::{
    loader_formats, wait_timepoints, DeferredCommandBuffer, ExecutableLoader, HeapAllocator,
    ImportProvider, InlineCommandBuffer, LocalEvent, LocalExecutableCache, LocalSemaphore,
    NoImports,
};

use crate::queue;

/// How to build a local-sync device.
#[derive(Clone)]
pub struct SyncDeviceOptions {
    /// The executable loaders the device's caches use.
    pub loaders: Vec<Arc<dyn ExecutableLoader>>,
    /// Host functions kernels may import.
    pub imports: Arc<dyn ImportProvider>,
    /// Whether one-shot command buffers that allow it execute while recorded (default true).
    /// With `false` every command buffer is recorded and replayed at submit.
    pub inline_execution: bool,
    /// The most bytes of buffer memory the device's allocator keeps live at once (default:
    /// unlimited); an allocation past it is `RESOURCE_EXHAUSTED`.
    pub memory_limit: Option<u64>,
}

impl Default for SyncDeviceOptions {
    /// Every loader linked into the program, no imports, inline execution on.
    fn default() -> SyncDeviceOptions {
        SyncDeviceOptions {
            loaders: hal_local::registered_loaders(),
            imports: Arc::new(NoImports),
            inline_execution: true,
            memory_limit: None,
        }
    }
}

/// A device that executes everything on the threads that call it.
pub struct SyncDevice {
    info: DeviceInfo,
    allocator: Allocator,
    options: SyncDeviceOptions,
}

impl SyncDevice {
    /// Creates a device with explicit options (for embedders that bypass the registry).
    pub fn create(info: DeviceInfo, options: SyncDeviceOptions) -> Device {
        Device::new(Arc::new(SyncDevice {
            info,
            allocator: Allocator::new(Arc::new(HeapAllocator::with_limit(
                options.memory_limit.unwrap_or(u64::MAX),
            ))),
            options,
        }))
    }
}

impl DeviceImpl for SyncDevice {
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
        1
    }

    fn create_command_buffer(
        &self,
        params: &CommandBufferParams,
    ) -> Result<Box<dyn CommandBufferImpl>> {
        let inline = self.options.inline_execution
            && params
                .mode
                .contains(CommandBufferMode::ONE_SHOT | CommandBufferMode::ALLOW_INLINE_EXECUTION)
            && params.binding_capacity == 0;
        Ok(if inline {
            Box::new(InlineCommandBuffer::new())
        } else {
            Box::new(DeferredCommandBuffer::new())
        })
    }

    fn create_semaphore(&self, initial_value: u64) -> Result<Semaphore> {
        Ok(LocalSemaphore::create(initial_value))
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
        queue::submit(operation)
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
