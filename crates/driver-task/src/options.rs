//! Options of a local-task device, from URI parameters or set directly.

use std::time::Duration;

use hal_core::{DeviceParams, ParameterInfo, Result};
use hal_local::LocalDeviceOptions;

/// Where worker threads run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    /// Wherever the OS schedules them.
    None,
    /// Worker `i` pinned to CPU `i mod cores`.
    Cores,
}

/// How to build a local-task device: the common local-device options (reached through `Deref`:
/// `options.loaders`, `options.memory_limit`, ...) and the worker pool's.
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
    /// Loaders, imports, memory limit and memory source.
    pub common: LocalDeviceOptions,
}

impl Default for TaskDeviceOptions {
    fn default() -> TaskDeviceOptions {
        TaskDeviceOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            affinity: Affinity::None,
            spin: Duration::from_micros(50),
            help_wait: true,
            common: LocalDeviceOptions::default(),
        }
    }
}

hal_local::deref_common_options!(TaskDeviceOptions);

/// URI parameters of local-task devices: the common ones, then the worker pool's.
pub const PARAMETERS: &[ParameterInfo] = hal_local::with_common_parameters!(
    ParameterInfo::new(
        "workers",
        "worker threads, 1 to 256 (default: available cores)"
    ),
    ParameterInfo::new(
        "affinity",
        "none | cores: pin worker i to CPU i mod cores (default none)"
    ),
    ParameterInfo::new(
        "spin_us",
        "microseconds an idle worker spins before parking, 0 to 1000000 (default 50)"
    ),
    ParameterInfo::new(
        "help_wait",
        "true/false: waiting threads run ready work themselves (default true)"
    ),
);

impl TaskDeviceOptions {
    /// Defaults overridden by URI parameters ([`PARAMETERS`]); a bad value is an error naming it.
    pub fn from_params(params: &DeviceParams) -> Result<TaskDeviceOptions> {
        let mut options = TaskDeviceOptions {
            common: LocalDeviceOptions::from_params(params)?,
            ..TaskDeviceOptions::default()
        };
        if let Some(workers) = params.get_u64("workers", 1, 256)? {
            options.workers = workers as usize;
        }
        let affinities = [("none", Affinity::None), ("cores", Affinity::Cores)];
        options.affinity = params
            .get_choice("affinity", &affinities)?
            .unwrap_or(options.affinity);
        if let Some(spin) = params.get_u64("spin_us", 0, 1_000_000)? {
            options.spin = Duration::from_micros(spin);
        }
        if let Some(help) = params.get_bool("help_wait")? {
            options.help_wait = help;
        }
        Ok(options)
    }
}
