//! One instance's address space: a private 32-bit WebAssembly linear memory in which only what
//! the instance owns (its data, stack and scratch) and the bindings of the dispatch it is running
//! are accessible.
//!
//! The space reserves 4 GiB of host address space plus a 2 GiB guard, all inaccessible
//! (`PROT_NONE`, no memory committed), and is the instance's linear memory: wasm address `a` is
//! host byte `base + a`. Compiled code elides bounds checks, since any 32-bit address plus any
//! static offset lands inside the reservation, and wasmtime turns a fault there into a trap.
//! Pages become accessible in two ways, each followed by at least one inaccessible guard page:
//! - [`AddressSpace::commit`]: private zeroed pages (module data, shadow stack, ABI scratch, local
//!   memory);
//! - [`AddressSpace::map_window`]: a shared mapping of pages of the buffer
//!   [`crate::memory_pool`], which shows a device buffer (or a staged copy of other memory) in
//!   place, without a copy.
//!
//! The first 64 KiB are never handed out, so wasm address 0 traps.

use std::sync::Arc;

use hal_core::{Result, Status, StatusCode};
use parking_lot::Mutex;

use crate::memory_pool::{Location, PAGE};
use crate::page_ranges::{round_up, PageRanges};

/// Bytes of the wasm32 address space.
pub(crate) const MEMORY_BYTES: usize = 1 << 32;
/// Inaccessible bytes after it, where static offsets of any access land.
pub(crate) const GUARD_BYTES: usize = 2 << 30;
/// Addresses below this are never handed out.
const NULL_REGION: usize = 64 * 1024;

/// A reserved linear memory; unmapped when the last owner (the store's memory, blocks, windows)
/// drops.
pub(crate) struct AddressSpace {
    base: *mut u8,
    free: Mutex<PageRanges>,
}

// SAFETY: `base` is a reservation the space owns until it drops; the free list is behind a mutex.
unsafe impl Send for AddressSpace {}
// SAFETY: as above.
unsafe impl Sync for AddressSpace {}

fn exhausted(what: &str, len: usize) -> Status {
    Status::new(
        StatusCode::ResourceExhausted,
        format!("a wasm instance's 4 GiB memory has no room for {what} of {len} bytes"),
    )
}

impl AddressSpace {
    /// Reserves a new space.
    pub(crate) fn reserve() -> Result<Arc<AddressSpace>> {
        let total = MEMORY_BYTES + GUARD_BYTES;
        // SAFETY: an anonymous private PROT_NONE mapping at an address the kernel picks touches no
        // existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Status::new(
                StatusCode::ResourceExhausted,
                format!(
                    "cannot reserve 6 GiB of address space for a wasm instance: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
        Ok(Arc::new(AddressSpace {
            base: base.cast(),
            free: Mutex::new(PageRanges::new(NULL_REGION, MEMORY_BYTES - NULL_REGION)),
        }))
    }

    /// Host address of wasm address 0.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base
    }

    /// Hands out `len` bytes of addresses plus a guard page.
    fn take(&self, what: &str, len: usize) -> Result<usize> {
        let span = len.checked_add(PAGE).ok_or_else(|| exhausted(what, len))?;
        self.free
            .lock()
            .take(span)
            .ok_or_else(|| exhausted(what, len))
    }

    /// Commits `len` zeroed private bytes (rounded up to pages; at least one page).
    pub(crate) fn commit(self: &Arc<Self>, len: usize) -> Result<Block> {
        let pages = round_up(len.max(1), PAGE).ok_or_else(|| exhausted("a block", len))?;
        let offset = self.take("a block", pages)?;
        // SAFETY: the pages lie inside the reservation and belong to no other block or window.
        let result = unsafe {
            libc::mprotect(
                self.base.add(offset).cast(),
                pages,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if result != 0 {
            self.free.lock().give(offset, pages + PAGE);
            return Err(Status::new(
                StatusCode::ResourceExhausted,
                format!(
                    "cannot commit {pages} bytes of a wasm instance's memory: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
        Ok(Block {
            space: Arc::clone(self),
            offset,
            len: pages,
        })
    }

    /// Shows `len` bytes of the pool segment file `fd` from `at.offset` (both page multiples,
    /// `len` > 0) at a fresh address of this space.
    pub(crate) fn map_window(
        self: &Arc<Self>,
        fd: libc::c_int,
        at: Location,
        len: usize,
    ) -> Result<Window> {
        let file_offset = at.offset;
        let offset = self.take("a binding window", len)?;
        // SAFETY: the target lies inside the reservation and belongs to no block or window, so
        // replacing it (MAP_FIXED) affects nothing else; the source is the pool's own file.
        // MAP_POPULATE maps the pages now, in one call, instead of one fault per page.
        let mapped = unsafe {
            libc::mmap(
                self.base.add(offset).cast(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_FIXED | libc::MAP_POPULATE,
                fd,
                file_offset as libc::off_t,
            )
        };
        if mapped == libc::MAP_FAILED {
            let error = std::io::Error::last_os_error();
            self.unmap(offset, len);
            return Err(Status::new(
                StatusCode::ResourceExhausted,
                format!("cannot map a {len}-byte binding into a wasm instance's memory: {error}"),
            ));
        }
        // SAFETY: advice on the window just mapped. As with the pool's view, a `fork` child must
        // not share the parent's buffer pages; failure only loses that protection.
        unsafe { libc::madvise(self.base.add(offset).cast(), len, libc::MADV_DONTFORK) };
        Ok(Window {
            space: Arc::clone(self),
            offset,
            len,
            at,
        })
    }

    /// Makes `[offset, offset + len)` inaccessible again and returns it (and its guard page).
    fn unmap(&self, offset: usize, len: usize) {
        // SAFETY: the range lies inside the reservation and belonged to the window being dropped;
        // a fresh PROT_NONE private mapping replaces its shared pages.
        let result = unsafe {
            libc::mmap(
                self.base.add(offset).cast(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if result == libc::MAP_FAILED {
            // The window's pages would stay visible: never hand the addresses out again.
            return;
        }
        self.free.lock().give(offset, len + PAGE);
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        // SAFETY: the whole reservation is ours and nothing refers to it any more (every block,
        // window and the store's memory held a reference).
        unsafe { libc::munmap(self.base.cast(), MEMORY_BYTES + GUARD_BYTES) };
    }
}

/// Committed private pages of a space; made inaccessible and returned when dropped.
pub(crate) struct Block {
    space: Arc<AddressSpace>,
    offset: usize,
    len: usize,
}

impl Block {
    /// Wasm address of the first byte.
    pub(crate) fn offset(&self) -> u32 {
        self.offset as u32
    }

    /// Usable bytes (a whole number of pages).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes `bytes` at `at` bytes into the block: bounds-checked, so a layout computed from
    /// untrusted counts can never write past the block (into a guard page or another block).
    ///
    /// Sound without `unsafe` at the call site because of how spaces are used: the wasm code of a
    /// space runs only on the thread that owns its blocks, inside store calls during which the
    /// host does not touch the blocks (modules import no host functions), and no Rust reference
    /// to a block's bytes outlives [`Block::bytes`]'s borrow of the block.
    pub(crate) fn write(&mut self, at: usize, bytes: &[u8]) -> Result<()> {
        let end = at.checked_add(bytes.len()).filter(|&end| end <= self.len);
        if end.is_none() {
            return Err(Status::new(
                StatusCode::Internal,
                format!(
                    "a write of {} bytes at offset {at} of a {}-byte block of a wasm instance's memory was refused",
                    bytes.len(),
                    self.len
                ),
            ));
        }
        // SAFETY: `[at, at + len)` lies in the block, which is committed read-write; nothing else
        // accesses it now (see above).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.space.base.add(self.offset + at),
                bytes.len(),
            )
        };
        Ok(())
    }

    /// Writes a little-endian `u32` (wasm's byte order) at `at`; see [`Block::write`].
    #[inline]
    pub(crate) fn write_u32(&mut self, at: usize, value: u32) -> Result<()> {
        self.write(at, &value.to_le_bytes())
    }

    /// The block's bytes, for reading what wasm code wrote.
    ///
    /// # Safety
    /// No wasm code of this space runs while the slice is used.
    pub(crate) unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: the block is committed and readable; per the caller nothing writes it.
        unsafe { std::slice::from_raw_parts(self.space.base.add(self.offset), self.len) }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: the pages belong to this block and nothing host-side refers to them any more.
        // MADV_DONTNEED on private anonymous pages makes them read as zero next time; PROT_NONE
        // makes them trap for wasm code again.
        unsafe {
            let ptr = self.space.base.add(self.offset).cast();
            libc::madvise(ptr, self.len, libc::MADV_DONTNEED);
            libc::mprotect(ptr, self.len, libc::PROT_NONE);
        }
        self.space.free.lock().give(self.offset, self.len + PAGE);
    }
}

/// Pages of the pool shown in a space; unmapped when dropped.
pub(crate) struct Window {
    space: Arc<AddressSpace>,
    offset: usize,
    len: usize,
    at: Location,
}

impl Window {
    /// Wasm address of the first byte.
    pub(crate) fn offset(&self) -> u32 {
        self.offset as u32
    }

    /// Whether the window shows exactly the pool pages `len` bytes from `at`.
    #[inline]
    pub(crate) fn shows(&self, at: Location, len: usize) -> bool {
        self.at == at && self.len == len
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        self.space.unmap(self.offset, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_read_zero_and_windows_alias_the_pool() {
        let space = AddressSpace::reserve().unwrap();
        let mut block = space.commit(10).unwrap();
        assert_eq!(block.len(), PAGE);
        // Writes are checked against the block's end.
        block.write_u32(PAGE - 4, 9).unwrap();
        assert!(block.write_u32(PAGE - 3, 9).is_err());
        assert!(block.write(usize::MAX, &[1]).is_err());
        block.write_u32(PAGE - 4, 0).unwrap();
        assert!(block.offset() as usize >= NULL_REGION);
        // SAFETY: no wasm code runs in this space.
        assert!(unsafe { block.bytes() }.iter().all(|&b| b == 0));

        let pool = crate::memory_pool::memory_pool().expect("the pool is available");
        let buffer = pool.allocate(2 * PAGE).unwrap();
        // SAFETY: the allocation is ours and two pages long.
        unsafe { buffer.as_ptr().add(PAGE + 5).write(42) };
        let at = pool.locate(buffer.as_ptr(), 2 * PAGE).unwrap();
        let fd = pool.fd(at.segment).unwrap();
        let window = space.map_window(fd, at, 2 * PAGE).unwrap();
        assert!(window.shows(at, 2 * PAGE));
        let shown = space
            .base()
            .wrapping_add(window.offset() as usize + PAGE + 5);
        // SAFETY: the window maps the buffer's pages, which are readable.
        assert_eq!(unsafe { shown.read() }, 42);
        drop(window);
        // SAFETY: the allocation is freed once and nothing uses it.
        unsafe { pool.free(buffer, 2 * PAGE) };
    }
}
