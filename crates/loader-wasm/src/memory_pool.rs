//! The memory pool: the memory of the device buffers of every local device that takes its memory
//! from this loader ([`crate::PoolSource`], the default when the loader is enabled on the
//! device), and of the staging copies of other bindings (see [`crate::staging`]), kept
//! in memory files so the pages of a buffer can be mapped into the linear memory of the instance
//! that runs a kernel bound to it, without copying them.
//!
//! The pool is a list of *segments*. A segment is an anonymous memory file (`memfd`), sparse,
//! mapped whole and shared as the host's view. The first segment is made at first use; when no
//! segment has room for an allocation, another is added ([`SEGMENT_BYTES`], or the allocation's
//! size if larger), up to [`MAX_SEGMENTS`]. So one huge allocation takes a segment of its own
//! instead of pushing every later buffer of the process out of the pool (into copies).
//!
//! An allocation is a page-aligned range of one segment; the host reaches it through the view, an
//! instance through a window (see [`crate::address_space`]). Freeing punches the range out of the
//! file, which returns its memory to the system, unmaps its pages from every window that still
//! shows them and makes it read as zero when handed out again.
//!
//! Except for small ones: programs allocate and free the same sizes over and over (IREE's
//! programs do it on every call), and punching a range out and faulting fresh zero pages in
//! again costs system calls and a fault per page each time. A freed allocation of at most
//! [`RECYCLE_MAX_BYTES`] is kept (up to [`RECYCLE_BUDGET_BYTES`] in all) and handed out again for
//! the same size, zeroed through the host's view. Windows of other instances may still show its
//! pages, but no kernel reaches them: before each run an instance's windows are made to match the
//! run's bindings exactly ([`crate::thread_instance`]), and no wasm code runs between runs. Views
//! are excluded from `fork` children (`MADV_DONTFORK`), so a child never writes into the parent's
//! buffers through shared pages. Segments are never removed: their views stay valid for the life
//! of the process.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::page_ranges::{round_up, PageRanges};

/// Bytes of a segment's memory file and of its view: address space only, memory is used as
/// buffers touch it.
pub(crate) const SEGMENT_BYTES: usize = 256 << 30;
/// The most segments: 16 TiB of address space at the default segment size (x86-64 user space is
/// 128 TiB).
pub(crate) const MAX_SEGMENTS: usize = 64;
/// Host page size.
pub(crate) const PAGE: usize = 4096;
/// The largest freed allocation kept for reuse; larger ones are punched out at once.
pub(crate) const RECYCLE_MAX_BYTES: usize = 4 << 20;
/// The most bytes kept for reuse in all; beyond it frees punch their range out.
pub(crate) const RECYCLE_BUDGET_BYTES: usize = 64 << 20;

/// Freed allocations kept for reuse, by length.
#[derive(Default)]
struct Recycled {
    by_len: std::collections::HashMap<usize, Vec<usize>>,
    bytes: usize,
}

/// One memory file and the host's view of it.
struct Segment {
    file: OwnedFd,
    view: NonNull<u8>,
    len: usize,
    free: Mutex<PageRanges>,
}

/// Where a range of the pool lies: its segment and the byte offset in that segment's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    /// Index of the segment.
    pub(crate) segment: usize,
    /// Byte offset in the segment's memory file.
    pub(crate) offset: usize,
}

/// The pool of buffer memory: segments added as needed.
pub(crate) struct MemoryPool {
    segments: [OnceLock<Segment>; MAX_SEGMENTS],
    /// Segments made so far; `segments[..count]` are all set.
    count: AtomicUsize,
    /// Held while a segment is added, so two threads that find the pool full add one between
    /// them.
    grow: Mutex<()>,
    /// Size of segments added for allocations that fit one.
    segment_bytes: usize,
    /// Small freed allocations kept for reuse (see the module documentation).
    recycled: Mutex<Recycled>,
}

// SAFETY: every view is a fixed shared mapping owned by its segment for the life of the pool; the
// free lists are behind mutexes.
unsafe impl Send for MemoryPool {}
// SAFETY: as above.
unsafe impl Sync for MemoryPool {}

/// The process-wide pool, created on first use; `None` if the system refused the first memory
/// file or its mapping (the drivers then allocate from the heap, and wasm kernels cannot see those
/// buffers).
pub(crate) fn memory_pool() -> Option<&'static MemoryPool> {
    static POOL: OnceLock<Option<MemoryPool>> = OnceLock::new();
    POOL.get_or_init(|| MemoryPool::new(SEGMENT_BYTES).ok())
        .as_ref()
}

impl Segment {
    fn create(len: usize) -> std::io::Result<Segment> {
        // SAFETY: the name is NUL-terminated; the flags are valid.
        let fd = unsafe { libc::memfd_create(c"loader-wasm-pool".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns.
        let file = unsafe { OwnedFd::from_raw_fd(fd) };
        let size = libc::off_t::try_from(len)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: sizing our own memory file; it stays sparse.
        if unsafe { libc::ftruncate(file.as_raw_fd(), size) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a new shared mapping of our file at an address the kernel picks touches no
        // existing memory.
        let view = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                file.as_raw_fd(),
                0,
            )
        };
        if view == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: advice on the mapping just made. Failure only means a fork child would share the
        // pages, which the pool documents.
        unsafe { libc::madvise(view, len, libc::MADV_DONTFORK) };
        Ok(Segment {
            file,
            view: NonNull::new(view.cast()).expect("mmap returned null"),
            len,
            free: Mutex::new(PageRanges::new(0, len)),
        })
    }

    fn take(&self, len: usize) -> Option<NonNull<u8>> {
        let offset = self.free.lock().take(len)?;
        // SAFETY: the range lies inside the view.
        NonNull::new(unsafe { self.view.as_ptr().add(offset) })
    }

    fn offset_of(&self, ptr: *const u8) -> Option<usize> {
        let offset = (ptr as usize).checked_sub(self.view.as_ptr() as usize)?;
        (offset < self.len).then_some(offset)
    }
}

impl MemoryPool {
    /// A pool whose first segment (and every later one that an allocation fits) is
    /// `segment_bytes` long (a page multiple).
    pub(crate) fn new(segment_bytes: usize) -> std::io::Result<MemoryPool> {
        let pool = MemoryPool {
            segments: [const { OnceLock::new() }; MAX_SEGMENTS],
            count: AtomicUsize::new(0),
            grow: Mutex::new(()),
            segment_bytes,
            recycled: Mutex::new(Recycled::default()),
        };
        let _ = pool.segments[0].set(Segment::create(segment_bytes)?);
        pool.count.store(1, Ordering::Release);
        Ok(pool)
    }

    /// The segments made so far.
    #[inline]
    fn segments(&self) -> impl Iterator<Item = &Segment> {
        let count = self.count.load(Ordering::Acquire);
        self.segments[..count].iter().filter_map(OnceLock::get)
    }

    /// The memory file of `segment`, for mapping windows.
    pub(crate) fn fd(&self, segment: usize) -> Option<libc::c_int> {
        self.segments
            .get(segment)?
            .get()
            .map(|s| s.file.as_raw_fd())
    }

    /// How many segments the pool has.
    #[cfg(test)]
    pub(crate) fn segment_count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// `size` zeroed bytes (rounded up to pages; at least one), page-aligned, or `None` when no
    /// segment has room and no segment can be added.
    pub(crate) fn allocate(&self, size: usize) -> Option<NonNull<u8>> {
        let len = round_up(size.max(1), PAGE)?;
        if let Some(ptr) = self.reuse(len) {
            return Some(ptr);
        }
        if let Some(ptr) = self.segments().find_map(|s| s.take(len)) {
            return Some(ptr);
        }
        let _grow = self.grow.lock();
        // Another thread may have added a segment meanwhile.
        if let Some(ptr) = self.segments().find_map(|s| s.take(len)) {
            return Some(ptr);
        }
        let count = self.count.load(Ordering::Acquire);
        if count == MAX_SEGMENTS {
            return None;
        }
        let segment = Segment::create(len.max(self.segment_bytes)).ok()?;
        let ptr = segment.take(len);
        let _ = self.segments[count].set(segment);
        self.count.store(count + 1, Ordering::Release);
        ptr
    }

    /// Frees an allocation.
    ///
    /// # Safety
    /// `ptr` came from [`MemoryPool::allocate`] with `size`, is freed once, and nothing reads or
    /// writes it any more.
    pub(crate) unsafe fn free(&self, ptr: NonNull<u8>, size: usize) {
        let len = round_up(size.max(1), PAGE).expect("the size fit when allocated");
        if len <= RECYCLE_MAX_BYTES {
            let mut recycled = self.recycled.lock();
            if recycled.bytes + len <= RECYCLE_BUDGET_BYTES {
                recycled.bytes += len;
                recycled
                    .by_len
                    .entry(len)
                    .or_default()
                    .push(ptr.as_ptr() as usize);
                return;
            }
        }
        let Some((segment, offset)) = self
            .segments()
            .find_map(|s| s.offset_of(ptr.as_ptr()).map(|o| (s, o)))
        else {
            return;
        };
        // SAFETY: punching out our own file's range: its pages are released (and unmapped from
        // every window still showing them) and read as zero from now on. Per the caller nothing
        // uses them.
        let punched = unsafe {
            libc::fallocate(
                segment.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                offset as libc::off_t,
                len as libc::off_t,
            )
        };
        if punched != 0 {
            // Without the hole the pages would not read as zero when handed out again: keep the
            // range out of circulation rather than break the zeroing promise.
            return;
        }
        segment.free.lock().give(offset, len);
    }

    /// A kept allocation of exactly `len` bytes, zeroed, if there is one.
    fn reuse(&self, len: usize) -> Option<NonNull<u8>> {
        if len > RECYCLE_MAX_BYTES {
            return None;
        }
        let address = {
            let mut recycled = self.recycled.lock();
            let address = recycled.by_len.get_mut(&len)?.pop()?;
            recycled.bytes -= len;
            address
        };
        let ptr = NonNull::new(address as *mut u8)?;
        // SAFETY: a freed pool allocation of `len` bytes, now handed out again and so owned by
        // this call alone; the host's view maps it read-write.
        unsafe { ptr.as_ptr().write_bytes(0, len) };
        Some(ptr)
    }

    /// Where `[ptr, ptr + len)` lies if the whole range is in one segment of the pool.
    #[inline]
    pub(crate) fn locate(&self, ptr: *const u8, len: usize) -> Option<Location> {
        self.segments().enumerate().find_map(|(segment, s)| {
            let offset = s.offset_of(ptr)?;
            (offset.checked_add(len)? <= s.len).then_some(Location { segment, offset })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_allocation_gets_a_segment_and_later_ones_still_fit() {
        let pool = MemoryPool::new(16 * PAGE).unwrap();
        let small = pool.allocate(PAGE).unwrap();
        // Larger than what is left of the first segment, and than a whole segment.
        let huge = pool.allocate(64 * PAGE).unwrap();
        assert_eq!(pool.segment_count(), 2);
        // The first segment still serves small allocations.
        let next = pool.allocate(PAGE).unwrap();
        assert_eq!(pool.locate(next.as_ptr(), PAGE).unwrap().segment, 0);
        let at = pool.locate(huge.as_ptr(), 64 * PAGE).unwrap();
        assert_eq!((at.segment, at.offset), (1, 0));
        assert_eq!(
            pool.locate(huge.as_ptr(), 64 * PAGE + 1),
            None,
            "past its segment"
        );
        // Once the first segment is full, a third one is added.
        let rest = pool.allocate(14 * PAGE).unwrap();
        let overflow = pool.allocate(PAGE).unwrap();
        assert_eq!(pool.locate(overflow.as_ptr(), PAGE).unwrap().segment, 2);
        // SAFETY: each allocation is freed once with its size and is not used any more.
        unsafe {
            // Freed memory reads as zero when handed out again (kept for reuse, and zeroed).
            small.as_ptr().write(7);
            pool.free(small, PAGE);
            let again = pool.allocate(PAGE).unwrap();
            assert_eq!(again, small);
            assert_eq!(again.as_ptr().read(), 0);
            for (ptr, len) in [
                (again, PAGE),
                (huge, 64 * PAGE),
                (next, PAGE),
                (rest, 14 * PAGE),
                (overflow, PAGE),
            ] {
                pool.free(ptr, len);
            }
        }
    }

    #[test]
    fn small_frees_are_reused_zeroed_and_the_budget_is_kept() {
        let pool = MemoryPool::new(RECYCLE_BUDGET_BYTES + 64 * PAGE).unwrap();
        // SAFETY: each allocation is freed once with its size and is not used after.
        unsafe {
            let first = pool.allocate(3 * PAGE).unwrap();
            first.as_ptr().write_bytes(0xAB, 3 * PAGE);
            pool.free(first, 3 * PAGE);
            // Another size does not take it; the same size does, zeroed.
            let other = pool.allocate(2 * PAGE).unwrap();
            assert_ne!(other, first);
            let again = pool.allocate(3 * PAGE - 5).unwrap();
            assert_eq!(again, first);
            assert!((0..3 * PAGE).all(|i| again.as_ptr().add(i).read() == 0));
            pool.free(again, 3 * PAGE);
            pool.free(other, 2 * PAGE);
            assert_eq!(pool.recycled.lock().bytes, 5 * PAGE);
            // Larger allocations are punched out at once.
            let large = pool.allocate(RECYCLE_MAX_BYTES + PAGE).unwrap();
            pool.free(large, RECYCLE_MAX_BYTES + PAGE);
            assert_eq!(pool.recycled.lock().bytes, 5 * PAGE);
            // Past the budget, frees punch too.
            let many: Vec<_> = (0..RECYCLE_BUDGET_BYTES / RECYCLE_MAX_BYTES + 1)
                .map(|_| pool.allocate(RECYCLE_MAX_BYTES).unwrap())
                .collect();
            for ptr in many {
                pool.free(ptr, RECYCLE_MAX_BYTES);
            }
            assert!(pool.recycled.lock().bytes <= RECYCLE_BUDGET_BYTES);
        }
    }
}
