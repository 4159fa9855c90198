//! How a kernel reaches its bindings, which decides what concurrent device work may do to them
//! (see [`hal_core::RangeUse`]).
//!
//! Native and WebAssembly kernels are opaque: the runtime cannot tell which bindings they read or
//! write, so their bindings are claimed as [`RangeUse::OPAQUE`] (may write). A kernel written in safe Rust (loader-static's `kernel_library!`)
//! sees its bindings as shared slices and exclusive tiles; its library registers each entry
//! point here, by function address, with the bindings it writes, so whichever loader loads it,
//! its dispatches claim those ranges as references and unordered work that would race with them
//! is refused.

use std::collections::HashMap;
use std::sync::OnceLock;

use hal_core::RangeUse;

use crate::abi::DispatchFn;

/// How one export's kernel reaches its bindings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BindingViews {
    /// Raw memory that the kernel (native or sandboxed code) may read or write.
    #[default]
    Opaque,
    /// Safe Rust references: the bindings in `writable` (bit i = binding i) as exclusive
    /// `&mut` tiles, the others as shared `&` slices.
    References {
        /// Bindings viewed as exclusive references.
        writable: u64,
    },
}

impl BindingViews {
    /// How the kernel uses binding `index`.
    #[inline]
    pub fn use_of(self, index: usize) -> RangeUse {
        match self {
            BindingViews::Opaque => RangeUse::OPAQUE,
            BindingViews::References { writable } if index < 64 && writable >> index & 1 == 1 => {
                RangeUse::EXCLUSIVE_REFERENCE
            }
            BindingViews::References { .. } => RangeUse::SHARED_REFERENCE,
        }
    }

    /// The views of the kernel whose entry point is `function`: the registered references, or
    /// opaque.
    pub fn of(function: DispatchFn) -> BindingViews {
        static BY_ADDRESS: OnceLock<HashMap<usize, u64>> = OnceLock::new();
        let registered = BY_ADDRESS.get_or_init(|| {
            inventory::iter::<ReferenceKernelRegistration>
                .into_iter()
                .map(|r| (r.function as usize, r.writable))
                .collect()
        });
        registered
            .get(&(function as usize))
            .map_or(BindingViews::Opaque, |&writable| BindingViews::References {
                writable,
            })
    }
}

/// An entry point whose kernel sees its bindings as Rust references, registered at link time
/// (by loader-static's `kernel_library!`).
pub struct ReferenceKernelRegistration {
    /// The entry point.
    pub function: DispatchFn,
    /// The bindings it views as exclusive references (bit i = binding i); the others it views
    /// as shared references.
    pub writable: u64,
}

inventory::collect!(ReferenceKernelRegistration);
