//! Options of a local-task device, from URI parameters or set directly.

use std::sync::Arc;
use std::time::Duration;

use hal_core::{DeviceParams, ParameterInfo, Result, Status};
use hal_local::{registered_loaders, select_loaders, ExecutableLoader, ImportProvider, NoImports};

/// Where worker threads run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    /// Wherever the OS schedules them.
    None,
    /// Worker `i` pinned to CPU `i mod cores`.
    Cores,
}

/// How to build a local-task device.
#[derive(Clone)]
pub struct TaskDeviceOptions {
    /// Worker threads (default: the available cores).
    pub workers: usize,
    /// Thread placement (default: none).
    pub affinity: Affinity,
    /// How long an idle worker spins before it parks (default 50 µs): longer spins lower the
    /// latency of back-to-back submissions and cost CPU time while idle.
    pub spin: Duration,
    /// Whether threads waiting on the device's semaphores run ready work themselves instead of
    /// only sleeping (default true): the lowest latency for small submissions.
    pub help_wait: bool,
    /// Executable loaders (default: every linked loader).
    pub loaders: Vec<Arc<dyn ExecutableLoader>>,
    /// Host functions kernels may import (default: none).
    pub imports: Arc<dyn ImportProvider>,
    /// The most bytes of buffer memory the device's allocator keeps live at once (default:
    /// unlimited); an allocation past it is `RESOURCE_EXHAUSTED`.
    pub memory_limit: Option<u64>,
}

impl Default for TaskDeviceOptions {
    fn default() -> TaskDeviceOptions {
        TaskDeviceOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            affinity: Affinity::None,
            spin: Duration::from_micros(50),
            help_wait: true,
            loaders: registered_loaders(),
            imports: Arc::new(NoImports),
            memory_limit: None,
        }
    }
}

/// URI parameters of local-task devices.
pub const PARAMETERS: &[ParameterInfo] = &[
    ParameterInfo {
        name: "workers",
        description: "worker threads, 1 to 256 (default: available cores)",
    },
    ParameterInfo {
        name: "affinity",
        description: "none | cores: pin worker i to CPU i mod cores (default none)",
    },
    ParameterInfo {
        name: "spin_us",
        description: "microseconds an idle worker spins before parking, 0 to 1000000 (default 50)",
    },
    ParameterInfo {
        name: "help_wait",
        description: "true/false: waiting threads run ready work themselves (default true)",
    },
    ParameterInfo {
        name: "loaders",
        description:
            "comma-separated executable loader names to enable (default: every linked loader)",
    },
    ParameterInfo {
        name: "memory_limit",
        description: "bytes of buffer memory the allocator keeps live at once (default unlimited)",
    },
];

impl TaskDeviceOptions {
    /// Defaults overridden by URI parameters; each bad value is an error naming it.
    pub fn from_params(params: &DeviceParams) -> Result<TaskDeviceOptions> {
        let mut options = TaskDeviceOptions::default();
        if let Some(workers) = params.get_u64("workers", 1, 256)? {
            options.workers = workers as usize;
        }
        if let Some(affinity) = params.get("affinity") {
            options.affinity = match affinity {
                "none" => Affinity::None,
                "cores" => Affinity::Cores,
                other => {
                    return Err(Status::invalid_argument(format!(
                        "parameter 'affinity' value '{other}' is not 'none' or 'cores'"
                    )))
                }
            };
        }
        if let Some(spin) = params.get_u64("spin_us", 0, 1_000_000)? {
            options.spin = Duration::from_micros(spin);
        }
        if let Some(help) = params.get_bool("help_wait")? {
            options.help_wait = help;
        }
        if let Some(list) = params.get("loaders") {
            options.loaders = select_loaders(list, &options.loaders)?;
        }
        options.memory_limit = params.get_u64("memory_limit", 0, u64::MAX)?;
        Ok(options)
    }
}
