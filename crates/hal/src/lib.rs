#![doc = include_str!("../../../README.md")]
//!
//! ---
//!
//! This crate re-exports [`hal_core`]'s API. Each enabled feature links one driver or loader
//! crate, re-exported below: that reference is what keeps the crate's link-time registrations
//! in the program (a crate that is only a dependency is dropped, registrations and all).
//! `tests/features.rs` builds programs with several feature sets to prove it.

pub use hal_core::*;

#[cfg(feature = "local-sync")]
pub use driver_sync;

#[cfg(feature = "local-task")]
pub use driver_task;

#[cfg(feature = "loader-static")]
pub use loader_static;

#[cfg(feature = "loader-dylib")]
pub use loader_dylib;

#[cfg(feature = "loader-wasm")]
pub use loader_wasm;

/// Names of the executable loaders linked into this program, sorted.
pub fn registered_loader_names() -> Vec<String> {
    hal_local::registered_loaders()
        .iter()
        .map(|l| l.name().to_string())
        .collect()
}

/// Executable formats some linked loader can load, sorted.
pub fn registered_formats() -> Vec<String> {
    hal_local::loader_formats(&hal_local::registered_loaders())
}

/// The executable format of `data`, as the first linked loader that recognises it says
/// (`None` when none does).
pub fn infer_format(data: &[u8]) -> Option<String> {
    hal_local::registered_loaders()
        .iter()
        .find_map(|loader| loader.infer_format(data))
}

/// Names of the drivers linked into this program, sorted.
pub fn registered_driver_names() -> Vec<String> {
    hal_core::registered_drivers()
        .iter()
        .map(|r| r.name.to_string())
        .collect()
}
