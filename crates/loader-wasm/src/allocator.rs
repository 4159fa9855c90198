//! The arena as the memory of the local drivers' heap buffers.

use std::ptr::NonNull;

use hal_local::{HostMemorySource, MemorySourceRegistration};

use crate::arena::{arena, Block};

/// Hands out arena blocks for heap buffers; `None` (the heap is used, and such buffers are
/// copied per dispatch) once the arena is full.
pub struct ArenaSource;

impl HostMemorySource for ArenaSource {
    fn allocate(&self, size: usize) -> Option<NonNull<u8>> {
        let block = arena().allocate(size).ok()?;
        NonNull::new(block.into_raw())
    }

    unsafe fn free(&self, ptr: NonNull<u8>, size: usize) {
        // SAFETY: per the caller, `ptr` came from `allocate(size)` and is freed once.
        drop(unsafe { Block::from_raw(ptr.as_ptr(), size) });
    }
}

hal_local::inventory::submit! {
    MemorySourceRegistration { name: "wasm-arena", source: &ArenaSource }
}
