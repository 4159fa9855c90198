//! The arena: one 32-bit WebAssembly address space shared by every instance in the process.
//!
//! At first use the arena reserves 4 GiB of address space plus a 2 GiB guard, all inaccessible
//! (`PROT_NONE`, no memory committed). Every wasmtime store's linear memory is a view of this one
//! reservation (the engine's memory creator returns it for every memory a module defines, and each
//! store instantiates a one-memory module to get it), so a byte at wasm address `a` is the host
//! byte at `base + a` in every instance. Pages become readable and writable only when [`Arena::allocate`]
//! hands them out, and every allocation is followed by at least one inaccessible guard page; the
//! first 64 KiB are never handed out, so wasm address 0 traps. A kernel that touches a page not
//! allocated (out of its binding into a guard page, far past the end of memory, a null pointer)
//! faults, and wasmtime turns the fault into a trap because the address is inside the memory's
//! reservation. Compiled code elides bounds checks: any 32-bit address plus any static offset
//! lands inside the reservation and its guard.

use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::OnceLock;

use hal_core::{Result, Status, StatusCode};
use parking_lot::Mutex;

/// Bytes of the wasm32 address space.
pub(crate) const MEMORY_BYTES: usize = 1 << 32;
/// Inaccessible bytes after it, where static offsets of any access land.
pub(crate) const GUARD_BYTES: usize = 2 << 30;
/// Host page size the arena allocates in.
pub(crate) const PAGE: usize = 4096;
/// Addresses below this are never handed out.
const NULL_REGION: usize = 64 * 1024;

/// The process-wide address space.
pub struct Arena {
    base: NonNull<u8>,
    /// Free page ranges: start offset → length in bytes.
    free: Mutex<BTreeMap<usize, usize>>,
}

// SAFETY: `base` is a fixed reservation owned by the arena for the life of the process; the free
// list is behind a mutex.
unsafe impl Send for Arena {}
// SAFETY: as above.
unsafe impl Sync for Arena {}

/// A range of committed arena pages; decommitted and returned to the arena when dropped.
#[derive(Debug)]
pub struct Block {
    offset: usize,
    len: usize,
}

impl Block {
    /// Wasm address of the first byte.
    pub fn offset(&self) -> u32 {
        self.offset as u32
    }
    /// Usable bytes (a whole number of pages).
    pub fn len(&self) -> usize {
        self.len
    }
    /// Never: a block has at least one page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Host address of the first byte.
    pub fn host_ptr(&self) -> *mut u8 {
        // SAFETY: the block lies inside the reservation.
        unsafe { arena().base.as_ptr().add(self.offset) }
    }
}

impl Block {
    /// Gives up ownership, returning the host address.
    pub fn into_raw(self) -> *mut u8 {
        let ptr = self.host_ptr();
        std::mem::forget(self);
        ptr
    }

    /// Takes back a block given up by [`Block::into_raw`].
    ///
    /// # Safety
    /// `ptr` came from `into_raw` of a block allocated for `len` bytes, and is taken back once.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Block {
        let offset = ptr as usize - arena().base() as usize;
        Block {
            offset,
            len: round_up(len.max(1), PAGE).expect("the length fit at allocation"),
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        arena().release(self.offset, self.len);
    }
}

/// The arena, reserved on first use.
pub fn arena() -> &'static Arena {
    static ARENA: OnceLock<Arena> = OnceLock::new();
    ARENA.get_or_init(|| Arena::reserve().expect("cannot reserve the 6 GiB wasm arena"))
}

fn round_up(value: usize, to: usize) -> Option<usize> {
    value.checked_add(to - 1).map(|v| v / to * to)
}

impl Arena {
    fn reserve() -> std::io::Result<Arena> {
        let total = MEMORY_BYTES + GUARD_BYTES;
        // SAFETY: an anonymous private PROT_NONE mapping at an address the kernel picks touches no
        // existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let mut free = BTreeMap::new();
        free.insert(NULL_REGION, MEMORY_BYTES - NULL_REGION);
        Ok(Arena {
            base: NonNull::new(ptr.cast()).expect("mmap returned null"),
            free: Mutex::new(free),
        })
    }

    /// Host address of wasm address 0.
    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The wasm address of `[ptr, ptr + len)` if the range lies in the arena.
    #[inline]
    pub fn wasm_offset(&self, ptr: *const u8, len: usize) -> Option<u32> {
        let offset = (ptr as usize).checked_sub(self.base.as_ptr() as usize)?;
        let end = offset.checked_add(len)?;
        (end <= MEMORY_BYTES).then_some(offset as u32)
    }

    /// Commits `len` zeroed bytes (rounded up to pages; at least one page) followed by a guard
    /// page.
    pub fn allocate(&self, len: usize) -> Result<Block> {
        let exhausted = || {
            Status::new(
                StatusCode::ResourceExhausted,
                format!("the 4 GiB wasm arena has no room for {len} bytes"),
            )
        };
        let pages = round_up(len.max(1), PAGE).ok_or_else(exhausted)?;
        let span = pages + PAGE;
        let offset = {
            let mut free = self.free.lock();
            let (&start, &size) = free
                .iter()
                .find(|(_, &size)| size >= span)
                .ok_or_else(exhausted)?;
            free.remove(&start);
            if size > span {
                free.insert(start + span, size - span);
            }
            start
        };
        // SAFETY: the pages lie inside the reservation and belong to no other block.
        let result = unsafe {
            libc::mprotect(
                self.base.as_ptr().add(offset).cast(),
                pages,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if result != 0 {
            self.release_range(offset, span);
            return Err(Status::new(
                StatusCode::ResourceExhausted,
                format!(
                    "cannot commit {pages} bytes of the wasm arena: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
        Ok(Block { offset, len: pages })
    }

    fn release(&self, offset: usize, len: usize) {
        // SAFETY: the pages belonged to the block being dropped; nothing host-side refers to them
        // any more. MADV_DONTNEED on a private anonymous mapping makes them read as zero next
        // time, and PROT_NONE makes them trap for wasm code again.
        unsafe {
            let ptr = self.base.as_ptr().add(offset).cast();
            libc::madvise(ptr, len, libc::MADV_DONTNEED);
            libc::mprotect(ptr, len, libc::PROT_NONE);
        }
        self.release_range(offset, len + PAGE);
    }

    fn release_range(&self, mut offset: usize, mut len: usize) {
        let mut free = self.free.lock();
        if let Some((&next, &next_len)) = free.range(offset + len..).next() {
            if next == offset + len {
                free.remove(&next);
                len += next_len;
            }
        }
        if let Some((&previous, &previous_len)) = free.range(..offset).next_back() {
            if previous + previous_len == offset {
                free.remove(&previous);
                offset = previous;
                len += previous_len;
            }
        }
        free.insert(offset, len);
    }
}

/// The linear memory of one store: the whole arena.
struct ArenaMemory;

// SAFETY: the memory is the arena's page-aligned reservation, which lives as long as the process,
// never moves and is followed by `GUARD_BYTES` of inaccessible address space.
unsafe impl wasmtime::LinearMemory for ArenaMemory {
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
            wasmtime::bail!("the wasm arena cannot grow past 4 GiB")
        }
    }

    fn as_ptr(&self) -> *mut u8 {
        arena().base()
    }
}

/// Gives every store the arena as its memory.
pub(crate) struct ArenaMemoryCreator;

// SAFETY: every memory returned is the arena reservation: `MEMORY_BYTES` addressable plus
// `GUARD_BYTES` of guard, which covers what the engine is configured to expect.
unsafe impl wasmtime::MemoryCreator for ArenaMemoryCreator {
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
                "the wasm arena is a 4 GiB memory; asked for {minimum}..{maximum:?} bytes"
            ));
        }
        if reserved_size_in_bytes.is_some_and(|r| r > MEMORY_BYTES)
            || guard_size_in_bytes > GUARD_BYTES
        {
            return Err(format!(
                "the wasm arena reserves 4 GiB + {GUARD_BYTES} guard bytes; asked for {reserved_size_in_bytes:?} + {guard_size_in_bytes}"
            ));
        }
        Ok(Box::new(ArenaMemory))
    }
}
