//! The one local device, generic over how its driver runs queue work ([`QueueExecutor`]).

use std::any::Any;
use std::sync::Arc;

use hal_core::{
    Allocator, CommandBufferImpl, CommandBufferParams, Device, DeviceImpl, DeviceInfo, Event,
    ExecutableCache, QueueOperation, QueueWork, Result, Semaphore, Timeout, Timepoint, WaitMode,
};

use crate::event::LocalEvent;
use crate::executable_cache::LocalExecutableCache;
use crate::heap_allocator::HeapAllocator;
use crate::loader::loader_formats;
use crate::local_device_options::LocalDeviceOptions;
use crate::multi_wait::wait_timepoints;
use crate::queue_signals::QueueSignals;
use crate::ready_queue::run_or_defer;
use crate::semaphore::{LocalSemaphore, WaitHelper};
use crate::wait_list::when_reached;

/// What a CPU driver's device does its own way: the command buffers it records and how it runs
/// queue work whose waits are reached. Everything else is [`LocalDevice`]'s.
pub trait QueueExecutor: Send + Sync + 'static {
    /// The name of the driver whose devices these are.
    const DRIVER_NAME: &'static str;

    /// How many workgroups of one dispatch may run at once.
    fn dispatch_concurrency(&self) -> u32;

    /// The command buffer that records (or runs) commands for `params` (already validated).
    fn command_buffer(&self, params: &CommandBufferParams) -> Box<dyn CommandBufferImpl>;

    /// Runs an operation whose waits are all reached (on the thread that reached the last one)
    /// and completes its signals. Holds only what running needs: parked work keeps no device.
    fn runner(&self) -> impl FnOnce(QueueWork, QueueSignals) + Send + 'static;

    /// What threads waiting on the device's semaphores run before they block (default: none).
    fn wait_helper(&self) -> Option<Arc<dyn WaitHelper>> {
        None
    }
}

/// A CPU device: identity, allocator, executable caches, events, semaphores and waits. A queue
/// operation is parked on its waits ([`when_reached`]); then `E`'s runner takes it, or a failed
/// wait fails its signals, through [`run_or_defer`] so that a long chain of parked work released
/// by one signal runs in a loop, not in nested calls.
pub struct LocalDevice<E: QueueExecutor> {
    info: DeviceInfo,
    allocator: Allocator,
    options: LocalDeviceOptions,
    /// Last, so that it (a worker pool) is dropped after everything else.
    executor: E,
}

impl<E: QueueExecutor> LocalDevice<E> {
    /// A device with `options` (buffers from [`LocalDeviceOptions::host_memory`]) whose queue
    /// work `executor` runs.
    pub fn create(info: DeviceInfo, options: LocalDeviceOptions, executor: E) -> Device {
        let allocator = HeapAllocator::with_memory(
            options.memory_limit.unwrap_or(u64::MAX),
            options.host_memory(),
        );
        Device::new(Arc::new(LocalDevice {
            info,
            allocator: Allocator::new(Arc::new(allocator)),
            options,
            executor,
        }))
    }

    /// The driver's part of the device.
    pub fn executor(&self) -> &E {
        &self.executor
    }
}

impl<E: QueueExecutor> DeviceImpl for LocalDevice<E> {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn driver_name(&self) -> &str {
        E::DRIVER_NAME
    }

    fn allocator(&self) -> Allocator {
        self.allocator.clone()
    }

    fn executable_formats(&self) -> Vec<String> {
        loader_formats(&self.options.loaders)
    }

    fn dispatch_concurrency(&self) -> u32 {
        self.executor.dispatch_concurrency()
    }

    fn create_command_buffer(
        &self,
        params: &CommandBufferParams,
    ) -> Result<Box<dyn CommandBufferImpl>> {
        Ok(self.executor.command_buffer(params))
    }

    fn create_semaphore(&self, initial_value: u64) -> Result<Semaphore> {
        Ok(Semaphore::new(match self.executor.wait_helper() {
            Some(helper) => LocalSemaphore::with_helper(initial_value, helper),
            None => LocalSemaphore::new(initial_value),
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
        let run = self.executor.runner();
        when_reached(
            &waits,
            signals,
            Box::new(move |resolved, signals| {
                run_or_defer(move || match resolved {
                    Ok(()) => run(work, signals),
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
