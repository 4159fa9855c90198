//! The pool as the memory of the local devices' heap buffers, offered by the wasm loader
//! ([`hal_local::ExecutableLoader::memory_source`]).

use std::ptr::NonNull;

use hal_local::HostMemorySource;

use crate::memory_pool::memory_pool;

/// Hands out pool memory for heap buffers, so kernels see them without copies; `None` (the heap
/// is used, and such buffers are copied per dispatch) when the pool is full or unavailable.
pub struct PoolSource;

impl HostMemorySource for PoolSource {
    fn name(&self) -> &str {
        "wasm-pool"
    }

    fn allocate(&self, size: usize) -> Option<NonNull<u8>> {
        memory_pool()?.allocate(size)
    }

    unsafe fn free(&self, ptr: NonNull<u8>, size: usize) {
        let pool = memory_pool().expect("the pool allocated this memory");
        // SAFETY: per the caller, `ptr` came from `allocate(size)` and is freed once.
        unsafe { pool.free(ptr, size) };
    }
}
