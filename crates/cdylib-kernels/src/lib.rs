//! # cdylib-kernels: the conformance kernels as a shared library
//!
//! Built as a `cdylib`, this crate is an ordinary ELF shared object (format `system-elf-x86_64`)
//! whose only entry point is `iree_hal_executable_library_query`, the symbol IREE's system
//! libraries export. It forwards to the `cts_kernels` library of `cts-kernels`, so the kernels,
//! export names and semantics are exactly those of the `static` format.
//!
//! loader-dylib's tests build it with `cargo build -p cdylib-kernels` and load the `.so` from the
//! target directory; [`LIBRARY_FILE_NAME`] is its file name there.

use hal_local::abi::{EnvironmentV0, LibraryHeader};

/// The file name Cargo gives the built shared library (`target/<profile>/libcdylib_kernels.so`).
pub const LIBRARY_FILE_NAME: &str = "libcdylib_kernels.so";

/// The library query every IREE system library exports: returns the `cts_kernels` library for
/// version 6 and null otherwise.
///
/// # Safety
/// `environment` must be null or point to a valid environment (the forwarded query does not read
/// it); the caller follows the executable-library ABI.
#[no_mangle]
pub unsafe extern "C" fn iree_hal_executable_library_query(
    max_version: u32,
    environment: *const EnvironmentV0,
) -> *const *const LibraryHeader {
    // SAFETY: forwarded verbatim under the same contract.
    unsafe { cts_kernels::cts_kernels_library_query(max_version, environment) }
}
