//! # driver-sync: the `local-sync` driver
//!
//! Executes on the threads that call it; no worker threads.
//!
//! - One-shot command buffers that allow inline execution run each command while it is
//!   recorded; every other command buffer is recorded and replayed at submit.
//! - A queue operation whose waits are all reached runs at once on the submitting thread.
//!   Otherwise it is parked on its wait semaphores and runs on the thread whose signal satisfies
//!   its last wait — so one thread can enqueue work before signalling what it waits for, which
//!   IREE's local-sync cannot do.
//! - A failing kernel fails the operation's signal semaphores and everything waiting on them;
//!   the device stays usable.
//!
//! Everything else is hal-local's [`hal_local::LocalDevice`]; this crate supplies its
//! [`hal_local::QueueExecutor`] ([`SyncDevice`]). URI parameters: see [`PARAMETERS`].
//! Embedders can also build a device directly with [`SyncDevice::create`] and explicit
//! [`SyncDeviceOptions`].

mod device;

pub use device::{SyncDevice, SyncDeviceOptions, PARAMETERS};
pub use hal_local::LOCAL_DEVICE_PATH as DEVICE_PATH;

/// The registered driver name.
pub const DRIVER_NAME: &str = "local-sync";

/// The local-sync driver: one device, the host CPU (`local-sync://host`).
pub const DRIVER: hal_local::LocalDriver = hal_local::LocalDriver {
    name: DRIVER_NAME,
    device_name: "host CPU (synchronous)",
    parameters: PARAMETERS,
    create_device: |info, params| {
        Ok(SyncDevice::create(
            info,
            SyncDeviceOptions::from_params(params)?,
        ))
    },
};

hal_core::inventory::submit! {
    hal_core::DriverRegistration {
        name: DRIVER_NAME,
        description: "executes on the calling thread; parks work until its waits are signalled",
        create: || Ok(std::sync::Arc::new(DRIVER)),
    }
}
