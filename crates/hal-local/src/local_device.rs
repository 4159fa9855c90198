//! The one local device, generic over how its driver runs queue work; its options, from URI
//! parameters or set directly; and the one-device driver that creates it.

use std::any::Any;
use std::sync::Arc;

use hal_core::{
    Allocator, CommandBufferImpl, CommandBufferParams, Device, DeviceImpl, DeviceInfo,
    DeviceParams, DriverImpl, Event, ExecutableCache, ParameterInfo, QueueOperation, QueueWork,
    Result, Semaphore, Status, Timeout, Timepoint, WaitMode,
};

use crate::event::LocalEvent;
use crate::executable_cache::LocalExecutableCache;
use crate::heap_allocator::{HeapAllocator, HostMemorySource};
use crate::imports::{ImportProvider, NoImports};
use crate::loader::{loader_formats, registered_loaders, select_loaders, ExecutableLoader};
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

/// The path of a local driver's only device in URIs (`local-sync://host`).
pub const LOCAL_DEVICE_PATH: &str = "host";

/// A CPU driver: one device (id 0, path [`LOCAL_DEVICE_PATH`]), the host CPU.
#[derive(Clone, Copy, Debug)]
pub struct LocalDriver {
    /// The registered driver name.
    pub name: &'static str,
    /// The device's human-readable name.
    pub device_name: &'static str,
    /// The URI parameters its devices accept.
    pub parameters: &'static [ParameterInfo],
    /// Creates the device from its info and URI parameters (only known ones reach it).
    pub create_device: fn(DeviceInfo, &DeviceParams) -> Result<Device>,
}

impl DriverImpl for LocalDriver {
    fn name(&self) -> &str {
        self.name
    }

    fn parameters(&self) -> &'static [ParameterInfo] {
        self.parameters
    }

    fn enumerate_devices(&self) -> Result<Vec<DeviceInfo>> {
        Ok(vec![DeviceInfo {
            id: 0,
            name: self.device_name.to_string(),
            path: LOCAL_DEVICE_PATH.to_string(),
        }])
    }

    fn create_device(&self, info: &DeviceInfo, params: &DeviceParams) -> Result<Device> {
        (self.create_device)(info.clone(), params)
    }
}

/// Where a local device's buffer memory comes from (URI parameter `memory=loaders|heap`); its
/// allocator reports the outcome ([`crate::HeapAllocator::memory`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MemorySource {
    /// The default: the memory offered by the first of the device's loaders that offers any
    /// ([`ExecutableLoader::memory_source`]; the wasm loader's pool, so its kernels see buffers
    /// without copies), else the process heap.
    #[default]
    Loaders,
    /// The process heap, whatever the loaders offer (wasm kernels get per-dispatch copies).
    Heap,
}

/// The options every local device shares; each driver's options add their own.
#[derive(Clone)]
pub struct LocalDeviceOptions {
    /// The executable loaders the device's caches use (default: every linked loader).
    pub loaders: Vec<Arc<dyn ExecutableLoader>>,
    /// Host functions kernels may import (default: none).
    pub imports: Arc<dyn ImportProvider>,
    /// The most bytes of buffer memory the device's allocator keeps live at once (default:
    /// unlimited); an allocation past it is `RESOURCE_EXHAUSTED`.
    pub memory_limit: Option<u64>,
    /// Where buffer memory comes from (default: what the loaders offer, else the heap).
    pub memory: MemorySource,
}

impl Default for LocalDeviceOptions {
    /// Every linked loader, no imports, no memory limit, the loaders' memory.
    fn default() -> LocalDeviceOptions {
        LocalDeviceOptions {
            loaders: registered_loaders(),
            imports: Arc::new(NoImports),
            memory_limit: None,
            memory: MemorySource::default(),
        }
    }
}

/// A `const` [`ParameterInfo`], for drivers' parameter tables.
pub const fn parameter(name: &'static str, description: &'static str) -> ParameterInfo {
    ParameterInfo { name, description }
}

/// The URI parameters every local device accepts ([`LocalDeviceOptions::from_params`]); a
/// driver lists them with its own through [`crate::with_common_parameters!`].
pub const COMMON_PARAMETERS: [ParameterInfo; 3] = [
    parameter(
        "loaders",
        "comma-separated executable loader names to enable (default: every linked loader)",
    ),
    parameter(
        "memory_limit",
        "bytes of buffer memory the allocator keeps live at once (default unlimited)",
    ),
    parameter(
        "memory",
        "loaders | heap: buffer memory from the first enabled loader that offers some (wasm: its \
        pool, so kernels see buffers without copies), else the heap; or always the heap \
        (default loaders)",
    ),
];

/// A driver's URI parameters as a `&'static [ParameterInfo]`: [`COMMON_PARAMETERS`], then its
/// own given as arguments. (Destructured, so a common parameter added later cannot be missed.)
#[macro_export]
macro_rules! with_common_parameters {
    ($($own:expr),* $(,)?) => {
        &{
            let [loaders, memory_limit, memory] = $crate::COMMON_PARAMETERS;
            [loaders, memory_limit, memory, $($own),*]
        }
    };
}

/// Lets a driver's options type with a `common: LocalDeviceOptions` field be used as the common
/// options (`options.loaders`, `options.memory_limit = ...`).
#[macro_export]
macro_rules! deref_common_options {
    ($options:ty) => {
        impl ::std::ops::Deref for $options {
            type Target = $crate::LocalDeviceOptions;
            fn deref(&self) -> &$crate::LocalDeviceOptions {
                &self.common
            }
        }
        impl ::std::ops::DerefMut for $options {
            fn deref_mut(&mut self) -> &mut $crate::LocalDeviceOptions {
                &mut self.common
            }
        }
    };
}

impl LocalDeviceOptions {
    /// Defaults overridden by the [`COMMON_PARAMETERS`] in `params` (others are not read here);
    /// a bad value is an error naming it.
    pub fn from_params(params: &DeviceParams) -> Result<LocalDeviceOptions> {
        let mut options = LocalDeviceOptions::default();
        if let Some(list) = params.get("loaders") {
            options.loaders = select_loaders(list, &options.loaders)?;
        }
        options.memory_limit = params.get_u64("memory_limit", 0, u64::MAX)?;
        let memories = [
            ("loaders", MemorySource::Loaders),
            ("heap", MemorySource::Heap),
        ];
        options.memory = param_choice(params, "memory", &memories)?.unwrap_or(options.memory);
        Ok(options)
    }

    /// The source of buffer memory these options choose; `None` for the process heap.
    pub fn host_memory(&self) -> Option<Arc<dyn HostMemorySource>> {
        match self.memory {
            MemorySource::Loaders => self.loaders.iter().find_map(|l| l.memory_source()),
            MemorySource::Heap => None,
        }
    }
}

/// URI parameter `key` as one of the named `choices`; another value is `INVALID_ARGUMENT` naming
/// it and the choices.
pub fn param_choice<T: Copy>(
    params: &DeviceParams,
    key: &str,
    choices: &[(&str, T)],
) -> Result<Option<T>> {
    let Some(value) = params.get(key) else {
        return Ok(None);
    };
    let chosen = choices.iter().find(|(name, _)| *name == value);
    chosen.map(|&(_, choice)| Some(choice)).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        Status::invalid_argument(format!(
            "parameter '{key}' value '{value}' is not one of {names:?}"
        ))
    })
}
