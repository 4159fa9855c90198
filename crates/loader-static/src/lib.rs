//! # loader-static: kernels linked into the program
//!
//! The `static` format's executable data is a library name. Libraries are registered at link
//! time — by [`kernel_library!`] for kernels written in Rust, or [`register_static_library!`] for
//! a linked query function such as one from `iree-compile --iree-llvmcpu-link-static` — or handed
//! to [`StaticLibraryLoader::with_libraries`] explicitly.
//!
//! Kernels written in Rust use [`Workgroup`] views that stay sound when the workgroups of one
//! dispatch run on several threads (see [`kernel`]).

pub mod kernel;
mod kernel_library;
mod loader;
mod tables;

pub use bytemuck::Pod;
pub use hal_core::ExportFlags;
pub use hal_local::abi;
pub use hal_local::ReferenceKernelRegistration;
pub use kernel::{
    invoke, read_only_bindings, writable_bindings, Access, KernelError, KernelResult,
    KernelSignature, Tile, Workgroup,
};
pub use loader::{StaticLibraryLoader, StaticLibraryRegistration, STATIC_FORMAT};
pub use tables::{ExportDecl, LibraryTables};

/// Re-exported for the macros.
pub use hal_local::inventory;

/// Registers a linked library query function with the `static` loader.
///
/// The function must follow the executable-library ABI, and its tables must live for the
/// program; registering anything else is undefined behaviour when the library is loaded, which
/// is why this macro requires an `unsafe` token: `register_static_library!(unsafe my_query)`.
#[macro_export]
macro_rules! register_static_library {
    (unsafe $query:path) => {
        $crate::inventory::submit! {
            $crate::StaticLibraryRegistration { query: $query }
        }
    };
}

hal_local::inventory::submit! {
    hal_local::LoaderRegistration {
        name: "static",
        create: || std::sync::Arc::new(StaticLibraryLoader::from_registry()),
    }
}
