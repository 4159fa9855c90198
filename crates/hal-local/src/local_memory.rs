//! Workgroup local memory on the host: 64-byte aligned scratch, grown on demand and reused by
//! every dispatch a thread runs.

use std::cell::RefCell;
use std::ffi::c_void;

/// Scratch memory for workgroups, 64-byte aligned, grown on demand and reused.
#[derive(Default)]
pub struct LocalMemory {
    blocks: Vec<Block>,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; 64]);

impl LocalMemory {
    /// Memory of at least `bytes` bytes (null when 0), and its usable size.
    pub fn ensure(&mut self, bytes: u32) -> (*mut c_void, u32) {
        if bytes == 0 {
            return (std::ptr::null_mut(), 0);
        }
        let needed = (bytes as usize).div_ceil(64);
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block([0; 64]));
        }
        let size = u32::try_from(self.blocks.len() * 64).unwrap_or(u32::MAX);
        (self.blocks.as_mut_ptr().cast(), size)
    }
}

thread_local! {
    static THREAD_LOCAL_MEMORY: RefCell<LocalMemory> = RefCell::new(LocalMemory::default());
}

/// Runs `f` with this thread's reusable local memory (or a fresh one if it is in use, as when a
/// kernel's import re-enters the runtime).
pub fn with_thread_local_memory<R>(f: impl FnOnce(&mut LocalMemory) -> R) -> R {
    THREAD_LOCAL_MEMORY.with(|cell| match cell.try_borrow_mut() {
        Ok(mut memory) => f(&mut memory),
        Err(_) => f(&mut LocalMemory::default()),
    })
}
