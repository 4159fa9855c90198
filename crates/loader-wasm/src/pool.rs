//! The pool: the memory of every device buffer the local drivers allocate while this loader is
//! linked, kept in one memory file so the pages of a buffer can be mapped into the linear memory
//! of the instance that runs a kernel bound to it, without copying them.
//!
//! At first use the pool creates an anonymous memory file (`memfd`) of [`POOL_BYTES`], sparse, and
//! maps all of it once, shared, as the host's view. An allocation is a page-aligned range of the
//! file; the host reaches it through the view, an instance through a window (see
//! [`crate::address_space`]). Freeing punches the range out of the file, which returns its memory
//! to the system, unmaps its pages from every window that still shows them and makes it read as
//! zero when handed out again. The view is excluded from `fork` children (`MADV_DONTFORK`), so a
//! child never writes into the parent's buffers through shared pages.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::page_ranges::{round_up, PageRanges};

/// Bytes of the memory file and of the host's view of it: address space only, memory is used as
/// buffers touch it.
pub(crate) const POOL_BYTES: usize = 256 << 30;
/// Host page size.
pub(crate) const PAGE: usize = 4096;

/// The process-wide pool of buffer memory.
pub(crate) struct Pool {
    file: OwnedFd,
    view: NonNull<u8>,
    free: Mutex<PageRanges>,
}

// SAFETY: `view` is a fixed shared mapping owned by the pool for the life of the process; the free
// list is behind a mutex.
unsafe impl Send for Pool {}
// SAFETY: as above.
unsafe impl Sync for Pool {}

/// The pool, created on first use; `None` if the system refused the memory file or the mapping (the
/// drivers then allocate from the heap and kernels get copies).
pub(crate) fn pool() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<Pool>> = OnceLock::new();
    POOL.get_or_init(|| Pool::create().ok()).as_ref()
}

impl Pool {
    fn create() -> std::io::Result<Pool> {
        // SAFETY: the name is NUL-terminated; the flags are valid.
        let fd = unsafe { libc::memfd_create(c"loader-wasm-pool".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns.
        let file = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sizing our own memory file; it stays sparse.
        if unsafe { libc::ftruncate(file.as_raw_fd(), POOL_BYTES as libc::off_t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a new shared mapping of our file at an address the kernel picks touches no
        // existing memory.
        let view = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                POOL_BYTES,
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
        unsafe { libc::madvise(view, POOL_BYTES, libc::MADV_DONTFORK) };
        Ok(Pool {
            file,
            view: NonNull::new(view.cast()).expect("mmap returned null"),
            free: Mutex::new(PageRanges::new(0, POOL_BYTES)),
        })
    }

    /// The memory file, for mapping windows.
    pub(crate) fn fd(&self) -> libc::c_int {
        self.file.as_raw_fd()
    }

    /// `size` zeroed bytes (rounded up to pages; at least one), page-aligned, or `None` when the
    /// pool has no room.
    pub(crate) fn allocate(&self, size: usize) -> Option<NonNull<u8>> {
        let len = round_up(size.max(1), PAGE)?;
        let offset = self.free.lock().take(len)?;
        // SAFETY: the range lies inside the view.
        NonNull::new(unsafe { self.view.as_ptr().add(offset) })
    }

    /// Frees an allocation.
    ///
    /// # Safety
    /// `ptr` came from [`Pool::allocate`] with `size`, is freed once, and nothing reads or writes
    /// it any more.
    pub(crate) unsafe fn free(&self, ptr: NonNull<u8>, size: usize) {
        let offset = ptr.as_ptr() as usize - self.view.as_ptr() as usize;
        let len = round_up(size.max(1), PAGE).expect("the size fit when allocated");
        // SAFETY: punching out our own file's range: its pages are released (and unmapped from
        // every window still showing them) and read as zero from now on. Per the caller nothing
        // uses them.
        let punched = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
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
        self.free.lock().give(offset, len);
    }

    /// The file offset of `[ptr, ptr + len)` if the range lies in the pool.
    #[inline]
    pub(crate) fn locate(&self, ptr: *const u8, len: usize) -> Option<usize> {
        let offset = (ptr as usize).checked_sub(self.view.as_ptr() as usize)?;
        (offset.checked_add(len)? <= POOL_BYTES).then_some(offset)
    }
}
