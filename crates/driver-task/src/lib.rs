//! # driver-task: the `local-task` driver
//!
//! A pool of worker threads runs queue work asynchronously; no queue call blocks the caller.
//!
//! - A queue operation waits on its semaphores through timepoint callbacks
//!   ([`hal_local::when_reached`]) and starts when the last wait resolves, on whichever thread
//!   resolved it; ordering comes only from semaphores. A failed wait or failed work fails the
//!   signal semaphores with the first error; the device stays usable.
//! - A command buffer runs region by region (commands between barriers): each region's tiles —
//!   dispatch workgroups, 64 KiB slices of fills, copies and updates — are claimed by workers
//!   with atomics, several per claim on large grids, so independent dispatches of a region run
//!   concurrently; the region's last finisher opens the next (`regions.rs`). Semaphores are
//!   signalled as soon as the work completes; resources are released after.
//! - Threads that wait on the device's semaphores run ready work themselves instead of only
//!   sleeping (option `help_wait`), which is what makes small submissions fast: waking a parked
//!   worker costs more than the work. Idle workers spin briefly (`spin_us`), then park.
//! - Kernels get per-worker local memory, `max_concurrency` = the threads that may run one
//!   dispatch's workgroups (the workers, plus one helping waiter when `help_wait` is on), and the
//!   executing worker's CPU as processor id; workers run with denormals flushed to zero.
//!
//! Everything else is hal-local's [`hal_local::LocalDevice`]; this crate supplies its
//! [`hal_local::QueueExecutor`] ([`TaskDevice`], the pool) and its options. URI parameters: see
//! [`PARAMETERS`].

mod device;
mod execution;
mod options;
mod plan;
mod pool;
mod region_uses;
// The scheduler's ordering primitives are public only to the loom model checks
// (`tests/loom_task.rs`, built with `--cfg loom`); they are not the driver's API.
#[cfg(loom)]
pub mod regions;
#[cfg(not(loom))]
mod regions;
#[cfg(loom)]
pub mod sleep;
#[cfg(not(loom))]
mod sleep;
mod tiled_work;

pub use device::TaskDevice;
pub use hal_local::LOCAL_DEVICE_PATH as DEVICE_PATH;
pub use options::{Affinity, TaskDeviceOptions, PARAMETERS};

/// The registered driver name.
pub const DRIVER_NAME: &str = "local-task";

/// The local-task driver: one device, the host CPU's cores (`local-task://host`).
pub const DRIVER: hal_local::LocalDriver = hal_local::LocalDriver {
    name: DRIVER_NAME,
    device_name: "host CPU (worker pool)",
    parameters: PARAMETERS,
    create_device: |info, params| TaskDevice::create(info, TaskDeviceOptions::from_params(params)?),
};

hal_core::inventory::submit! {
    hal_core::DriverRegistration {
        name: DRIVER_NAME,
        description: "a worker pool; submissions never block; tiles claimed across cores",
        create: || Ok(std::sync::Arc::new(DRIVER)),
    }
}
