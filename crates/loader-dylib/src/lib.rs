//! # loader-dylib: kernel libraries in ELF shared objects
//!
//! Registers the loader `dylib` for IREE's formats `system-elf-x86_64` (an ordinary shared
//! object: `iree-compile --iree-llvmcpu-link-embedded=false`, or a Rust `cdylib` such as
//! `cdylib-kernels`) and `embedded-elf-x86_64` (IREE's default: a self-contained shared object
//! without interpreter or libc, which the system loader maps as well).
//!
//! Before anything is mapped, [`check_shared_object`] reads the bytes with `object` and refuses,
//! with an error that says why, anything that is not an x86_64 ELF64 shared object exporting
//! `iree_hal_executable_library_query` with every header, segment and section inside the file,
//! and anything the system loader would read, write or call outside the segments it maps
//! (dynamic entries, hash and symbol tables, relocations, init and fini functions; see
//! [`check_shared_object`]). Machine code and data are not checked: a library is native code
//! the process trusts.
//! Data that does not start with the ELF magic is not this loader's (the cache tries the next).
//! Libraries are then mapped with `libloading` from an anonymous in-memory file (one per load,
//! so two loads of the same bytes never share a mapping) or from a path ([`DylibLoader::load_file`]),
//! queried with version 6, verified, and given their imports and this CPU's feature bits.

mod check;
mod dynamic;
mod image;
mod loader;
mod malformed;
mod relocations;
mod symbols;
mod versions;

pub use check::{check_shared_object, is_elf, LibraryFacts, QUERY_SYMBOL};
pub use loader::{DylibLoader, EMBEDDED_ELF_FORMAT, SYSTEM_ELF_FORMAT};

hal_local::inventory::submit! {
    hal_local::LoaderRegistration {
        name: "dylib",
        create: || std::sync::Arc::new(DylibLoader::new()),
    }
}
