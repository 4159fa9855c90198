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
//! URI parameters: see [`PARAMETERS`]. Embedders can also build a device directly with
//! [`SyncDevice::create`] and explicit [`SyncDeviceOptions`].

mod device;
mod driver;
mod queue;

pub use device::{SyncDevice, SyncDeviceOptions};
pub use driver::{SyncDriver, DEVICE_PATH, PARAMETERS};

/// The registered driver name.
pub const DRIVER_NAME: &str = "local-sync";

hal_core::inventory::submit! {
    hal_core::DriverRegistration {
        name: DRIVER_NAME,
        description: "executes on the calling thread; parks work until its waits are signalled",
        create: || Ok(std::sync::Arc::new(SyncDriver)),
    }
}
