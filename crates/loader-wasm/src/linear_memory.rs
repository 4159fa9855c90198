//! Wasmtime's view of an [`AddressSpace`]: the engine's memory creator gives each store the space
//! its thread's instance reserved, so the instance can commit and map pages in the memory its
//! kernels see.

use std::cell::RefCell;
use std::sync::Arc;

use crate::address_space::{AddressSpace, GUARD_BYTES, MEMORY_BYTES};

thread_local! {
    /// The space the next memory created on this thread is to be.
    static NEXT_SPACE: RefCell<Option<Arc<AddressSpace>>> = const { RefCell::new(None) };
}

/// Runs `create` (which instantiates a module defining a memory) with `space` as the memory the
/// engine creates for it.
pub(crate) fn with_space<R>(space: &Arc<AddressSpace>, create: impl FnOnce() -> R) -> R {
    NEXT_SPACE.with(|next| *next.borrow_mut() = Some(Arc::clone(space)));
    let result = create();
    NEXT_SPACE.with(|next| next.borrow_mut().take());
    result
}

/// A store's linear memory: a whole address space.
struct SpaceMemory(Arc<AddressSpace>);

// SAFETY: the memory is the space's page-aligned reservation, which lives as long as this object
// (it holds a reference), never moves, and is followed by `GUARD_BYTES` of inaccessible address
// space.
unsafe impl wasmtime::LinearMemory for SpaceMemory {
    fn byte_size(&self) -> usize {
        MEMORY_BYTES
    }

    fn byte_capacity(&self) -> usize {
        MEMORY_BYTES
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if new_size <= MEMORY_BYTES {
            Ok(())
        } else {
            wasmtime::bail!("a wasm instance's memory cannot grow past 4 GiB")
        }
    }

    fn as_ptr(&self) -> *mut u8 {
        self.0.base()
    }
}

/// Gives each memory the space handed over by [`with_space`], or a fresh space of its own.
pub(crate) struct SpaceMemoryCreator;

// SAFETY: every memory returned is a space's reservation: `MEMORY_BYTES` addressable plus
// `GUARD_BYTES` of guard, which covers what the engine is configured to expect.
unsafe impl wasmtime::MemoryCreator for SpaceMemoryCreator {
    fn new_memory(
        &self,
        _ty: wasmtime::MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> std::result::Result<Box<dyn wasmtime::LinearMemory>, String> {
        if minimum > MEMORY_BYTES || maximum.is_some_and(|m| m < MEMORY_BYTES) {
            return Err(format!(
                "a wasm instance's memory is 4 GiB; asked for {minimum}..{maximum:?} bytes"
            ));
        }
        if reserved_size_in_bytes.is_some_and(|r| r > MEMORY_BYTES)
            || guard_size_in_bytes > GUARD_BYTES
        {
            return Err(format!(
                "a wasm instance's memory reserves 4 GiB + {GUARD_BYTES} guard bytes; asked for {reserved_size_in_bytes:?} + {guard_size_in_bytes}"
            ));
        }
        let space = match NEXT_SPACE.with(|next| next.borrow_mut().take()) {
            Some(space) => space,
            None => AddressSpace::reserve().map_err(|status| status.to_string())?,
        };
        Ok(Box::new(SpaceMemory(space)))
    }
}
