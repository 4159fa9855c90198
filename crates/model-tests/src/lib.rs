//! # model-tests: nothing lost, nothing crashes
//!
//! Evidence that the runtime computes what its semantics say, on every driver configuration ×
//! executable format × memory kind, and that faults fail exactly the work that depends on them.
//!
//! - [`program`]: programs as plain data (allocations, views, semaphores, command buffers, steps),
//!   printable as Rust for regression tests.
//! - [`build`]: a proptest strategy of raw choices and the builder that makes them well-ordered
//!   programs (so failures shrink to minimal valid programs).
//! - [`order`]: the well-ordering rules that make a program's result deterministic, checked
//!   independently of the builder.
//! - [`model`]: the reference interpreter (bytes, semaphores, host calls, failure propagation).
//! - [`kernels`]: the kernels' exact semantics (f32 bit-exact, denormals flushed as the runtime
//!   runs kernels).
//! - [`exec`]: runs a program on a device through the public API and compares.
//! - [`stats`]: what was checked, for the summary lines.
//!
//! The tests: `tests/model.rs` (random programs on every driver × format), `tests/regressions.rs`
//! (minimal programs kept from failures), `tests/faults.rs` (fault injection with a counting
//! global allocator).

pub mod build;
pub mod exec;
mod fault_kernels;
pub mod kernels;
pub mod model;
pub mod order;
pub mod program;
pub mod stats;

pub use fault_kernels::model_faults_library_query;

// Keep the drivers' and loaders' link-time registrations in every test program.
use cts_fixtures as _;
use driver_sync as _;
use driver_task as _;
use loader_static as _;
use loader_wasm as _;

/// Every executable format the cts fixtures provide.
pub fn formats() -> Vec<cts::Format> {
    cts_fixtures::formats()
}
