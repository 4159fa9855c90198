//! # cts: the conformance test suite of the HAL
//!
//! A library of cases that run against any [`hal_core::Device`]. Each driver crate instantiates
//! the suite from a test target with `harness = false`:
//!
//! ```ignore
//! use driver_sync as _; // keep the driver's registration linked
//! fn main() {
//!     cts::main(cts::Backend { name: "local-sync", uri: "local-sync", /* … */ }, &[/* formats */])
//! }
//! ```
//!
//! The suite knows nothing of drivers or loaders: it creates devices by URI and prepares the test
//! executables from the bytes each [`Format`] provides. Case ids are `suite/case`,
//! `suite/case/<format>` for cases that need an executable, and end in `/direct` or `/table` for
//! cases that run once with buffers referenced directly and once through a binding table.
//! See `shared/cts/CASES.md` for what is covered.

mod case;
mod check;
mod ctx;
mod runner;
mod suites;

/// A capability a backend may lack; cases that need one a backend does not list are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// Queue work may be enqueued before its waits are signalled (and runs once they are).
    AsyncQueue,
    /// Command buffers may reference binding-table slots resolved at submit.
    Indirect,
    /// Command buffers support events.
    Events,
    /// Buffers can be mapped and accessed by the host.
    Mapping,
    /// Queues can call host functions.
    HostCalls,
    /// Several host threads may use the device at once.
    Threads,
}

impl Tag {
    /// The tag's name as CASES.md spells it, for example `async_queue`.
    pub fn name(self) -> &'static str {
        match self {
            Tag::AsyncQueue => "async_queue",
            Tag::Indirect => "indirect",
            Tag::Events => "events",
            Tag::Mapping => "mapping",
            Tag::HostCalls => "host_calls",
            Tag::Threads => "threads",
        }
    }
}

/// The test executables every format provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestLibrary {
    /// The library of kernels without executable constants (`abs`, `write_constants`,
    /// `scale_offset`, `negate`, `double`, `workgroup_ids`, `visit`, `fail`, `tiny`,
    /// `copy_via_local_memory`).
    Kernels,
    /// The library with two executable constants and the exports `executable_constants` and
    /// `local_memory_size` (one page of static local memory, export flag `SEQUENTIAL`, binding
    /// 0 read-only; writes the local memory size each workgroup got to element k of binding 1).
    Specialized,
}

/// What a backend under test is and supports.
#[derive(Clone, Copy, Debug)]
pub struct Backend {
    /// The driver name, for example `local-sync`.
    pub name: &'static str,
    /// The device URI every case creates its device from, for example `local-sync`.
    pub uri: &'static str,
    /// The capabilities the backend supports.
    pub tags: &'static [Tag],
    /// Cases (by id prefix) the backend can never run, with the reason; they are skipped.
    pub unsupported: &'static [(&'static str, &'static str)],
    /// Cases (by id prefix) known to fail, with the reason; a pass is reported as XPASS and
    /// counts as a failure, so the list stays honest.
    pub expected_failures: &'static [(&'static str, &'static str)],
}

/// An executable format compiled into the test binary.
#[derive(Clone, Copy, Debug)]
pub struct Format {
    /// The executable format string, for example `static`.
    pub name: &'static str,
    /// The executable data of a test library, for `ExecutableParams::data`.
    pub library: fn(TestLibrary) -> Vec<u8>,
    /// Malformed data, each with a description, that must fail to prepare with a clear error.
    pub malformed: fn() -> Vec<(String, Vec<u8>)>,
    /// Executable cases (by id prefix, without the `/<format>` suffix, for example
    /// `dispatch/scale_offset`) this format's kernels cannot express, with the reason; they are
    /// skipped for this format only. Keep it empty unless the format's compiler truly cannot.
    pub unsupported: &'static [(&'static str, &'static str)],
}

/// Parses the command line, runs every selected case, prints the results and exits the process
/// with status 0 if and only if nothing failed.
///
/// Flags: `--format NAME` (executable cases of that format only), `--filter SUBSTRING` (or a bare
/// argument, as libtest takes it), `--skip SUBSTRING`, `--exact`, `--report PATH` (one TSV line
/// per case: driver, format, suite, case id, status, detail; relative to the current directory,
/// which under `cargo test` is the package's), `--list`. Other libtest flags are accepted and
/// ignored. Executable cases run once per format; cases that need no executable run once.
///
/// Every case gets a fresh device and runs under `catch_unwind` (a panic is a failure); a
/// watchdog ends the process if one case runs longer than 60 s (`CTS_WATCHDOG_SECS` overrides).
pub fn main(backend: Backend, formats: &[Format]) -> ! {
    runner::main(backend, formats)
}
