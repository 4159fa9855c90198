//! Bindings outside the pool, staged once per dispatch.
//!
//! A kernel sees only its instance's memory, into which pool pages can be mapped; a binding whose
//! memory is not in the pool (imported host memory, or a heap buffer the pool could not hold) is
//! copied into pool memory before the dispatch and back after it. This happens once per dispatch,
//! in the runner's `begin_dispatch`, before any workgroup runs: the staged copy replaces the
//! binding's pointer, so every thread that runs workgroups of the dispatch shows the *same* copy
//! through a window like any pool buffer, and the session writes it back once, after the last
//! workgroup. Bindings whose host ranges overlap (two bindings of one buffer) share one copy of
//! the merged range, so a kernel's writes through one are seen through the other, as they would
//! be in place, and no unchanged copy is written back over them.
//!
//! Other work may run at the same time as the dispatch on other parts of the same host memory
//! (another dispatch of the same region, on other threads). So the write-back stores only the
//! bytes the dispatch changed (compared with a snapshot taken when the copy was made), and host
//! memory is read and written with relaxed atomic accesses (8-byte words where the host is
//! aligned, single bytes at the edges and for words only partly changed, as the atomic-memcpy
//! proposal P1478 does): bytes the dispatch did not change are never written, and bytes others
//! write meanwhile are never read with a data race.
//!
//! Copies are pool memory kept between dispatches (up to [`CACHE_BYTES`]): a program that binds
//! the same host buffers again reuses the same copies, whose pages stay resident and whose
//! windows the instances keep, instead of faulting in fresh pages and mapping new windows each
//! time. A reused copy is overwritten by the new bytes, and what its windows could show besides
//! them (the rest of the first and last page) is cleared; its snapshot lies in pages after the
//! copy's, which no window shows.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use hal_core::{Result, Status, StatusCode};
use hal_local::DispatchSession;
use parking_lot::Mutex;

use crate::copy_counters::{COPIED_BINDINGS, COPIED_BYTES, ZERO_COPY_BINDINGS};
use crate::memory_pool::{memory_pool, PAGE};
use crate::page_ranges::round_up;

/// Bytes of copies kept for reuse after their dispatch.
const CACHE_BYTES: usize = 64 << 20;
/// Copies kept for reuse.
const CACHE_ENTRIES: usize = 16;

/// A pool allocation holding a copy and its snapshot.
struct Allocation {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: pool memory owned by whoever holds the allocation.
unsafe impl Send for Allocation {}

/// Copies whose dispatch is over, for reuse.
static CACHE: Mutex<Vec<Allocation>> = Mutex::new(Vec::new());

/// An allocation of at least `len` bytes: the smallest cached one that fits, or a new one.
fn take(len: usize) -> Option<Allocation> {
    {
        let mut cache = CACHE.lock();
        let best = (0..cache.len())
            .filter(|&i| cache[i].len >= len)
            .min_by_key(|&i| cache[i].len);
        if let Some(i) = best {
            return Some(cache.swap_remove(i));
        }
    }
    let len = round_up(len, PAGE)?;
    let ptr = memory_pool()?.allocate(len)?;
    Some(Allocation { ptr, len })
}

/// Keeps `allocation` for reuse, or frees it if the cache is full.
fn give(allocation: Allocation) {
    let mut cache = CACHE.lock();
    let cached: usize = cache.iter().map(|a| a.len).sum();
    if cache.len() < CACHE_ENTRIES && cached + allocation.len <= CACHE_BYTES {
        cache.push(allocation);
        return;
    }
    drop(cache);
    let pool = memory_pool().expect("copies come from the pool");
    // SAFETY: the allocation came from `allocate(len)` (`len` is page-rounded) and is freed once;
    // its dispatch is over, so nothing uses it.
    unsafe { pool.free(allocation.ptr, allocation.len) };
}

/// One merged host range and its copy in the pool.
struct Staged {
    host: *mut u8,
    len: usize,
    /// Holds the copy, `lead` bytes in (so it has the host range's alignment within a page),
    /// and from `snapshot` bytes in (a page multiple past the copy's pages) the bytes as copied
    /// in.
    allocation: Allocation,
    lead: usize,
    snapshot: usize,
}

impl Staged {
    fn copy(&self) -> *mut u8 {
        // SAFETY: the allocation has `lead + len` bytes of copy.
        unsafe { self.allocation.ptr.as_ptr().add(self.lead) }
    }

    fn snapshot(&self) -> *mut u8 {
        // SAFETY: the allocation has `len` bytes of snapshot from `snapshot`.
        unsafe { self.allocation.ptr.as_ptr().add(self.snapshot) }
    }
}

/// The staged ranges of one dispatch; written back by [`DispatchSession::finish`], their copies
/// released when dropped.
pub(crate) struct Session {
    staged: Vec<Staged>,
}

// SAFETY: the host pointers stay valid until the session is finished or dropped (the contract of
// `begin_dispatch`) and are accessed only atomically; the copies are the session's own pool
// memory, which kernels stop touching before `finish` (the drivers call it after the dispatch's
// last workgroup).
unsafe impl Send for Session {}
// SAFETY: as above; the session has no `&self` methods that touch memory.
unsafe impl Sync for Session {}

/// Counts pool bindings as shown in place, and stages the others: their pointers in `ptrs` are
/// replaced with pool copies. `None` when nothing needed staging.
///
/// # Safety
/// As `WorkgroupRunner::begin_dispatch`: each pointer is valid for reads and writes of its
/// length until the session is finished or dropped.
pub(crate) unsafe fn stage(ptrs: &mut [*mut c_void], lengths: &[usize]) -> Result<Option<Session>> {
    let pool = memory_pool();
    let mut outside = Vec::new();
    for (i, (&ptr, &len)) in ptrs.iter().zip(lengths).enumerate() {
        if len == 0 {
            continue;
        }
        if pool.is_some_and(|p| p.locate(ptr.cast(), len).is_some()) {
            ZERO_COPY_BINDINGS.fetch_add(1, Ordering::Relaxed);
        } else {
            let start = ptr as usize;
            let end = start.checked_add(len).ok_or_else(|| {
                Status::out_of_range(format!(
                    "binding {i} of {len} bytes wraps the address space"
                ))
            })?;
            outside.push((start, end, i));
        }
    }
    if outside.is_empty() {
        return Ok(None);
    }
    if pool.is_none() {
        return Err(Status::new(
            StatusCode::Unavailable,
            "wasm kernels see bindings only through the loader's memory pool, which the system refused",
        ));
    }
    // Merge overlapping ranges, so bindings of the same bytes share one copy.
    outside.sort_unstable();
    let mut session = Session { staged: Vec::new() };
    let mut group = 0;
    while group < outside.len() {
        let start = outside[group].0;
        let mut end = outside[group].1;
        let mut next = group + 1;
        while next < outside.len() && outside[next].0 < end {
            end = end.max(outside[next].1);
            next += 1;
        }
        let len = end - start;
        let lead = start % PAGE;
        let no_room = || {
            Status::resource_exhausted(format!(
                "the loader's memory pool has no room for a {len}-byte copy of a binding"
            ))
        };
        let copy_pages = round_up(lead + len, PAGE).ok_or_else(no_room)?;
        let allocation = take(copy_pages + len).ok_or_else(no_room)?;
        let staged = Staged {
            host: start as *mut u8,
            len,
            allocation,
            lead,
            snapshot: copy_pages,
        };
        // SAFETY: the allocation is this session's: `copy_pages` bytes of copy (the first
        // `lead` and the last `copy_pages - lead - len` bytes are cleared, the rest is
        // overwritten) and `len` bytes of snapshot.
        unsafe {
            let base = staged.allocation.ptr.as_ptr();
            base.write_bytes(0, lead);
            base.add(lead + len).write_bytes(0, copy_pages - lead - len);
            read_host(
                staged.host,
                std::slice::from_raw_parts_mut(staged.copy(), len),
                std::slice::from_raw_parts_mut(staged.snapshot(), len),
            );
        }
        COPIED_BYTES.fetch_add(len as u64, Ordering::Relaxed);
        for &(binding_start, _, i) in &outside[group..next] {
            // SAFETY: the binding lies inside the merged range, so inside the copy.
            ptrs[i] = unsafe { staged.copy().add(binding_start - start) }.cast();
            COPIED_BINDINGS.fetch_add(1, Ordering::Relaxed);
        }
        session.staged.push(staged);
        group = next;
    }
    Ok(Some(session))
}

impl DispatchSession for Session {
    fn finish(self: Box<Self>) -> Result<()> {
        for s in &self.staged {
            // SAFETY: the copy and snapshot are `len` bytes each of the session's pool memory,
            // which no kernel touches any more; the host range is valid for writes until the
            // session ends (the contract of `begin_dispatch`).
            unsafe {
                let copy = std::slice::from_raw_parts(s.copy(), s.len);
                let snapshot = std::slice::from_raw_parts(s.snapshot(), s.len);
                write_back(s.host, copy, snapshot);
            }
            COPIED_BYTES.fetch_add(s.len as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for s in self.staged.drain(..) {
            give(s.allocation);
        }
    }
}

/// How many bytes of `host` come before its first 8-aligned byte, at most `len`.
fn head_of(host: *const u8, len: usize) -> usize {
    host.align_offset(8).min(len)
}

/// Reads `copy.len()` bytes of host memory at `host` into `copy` and `snapshot`.
///
/// # Safety
/// `host` is valid for reads of `copy.len()` bytes (possibly written concurrently by others, only
/// atomically or by foreign code); `snapshot` is as long as `copy`.
unsafe fn read_host(host: *const u8, copy: &mut [u8], snapshot: &mut [u8]) {
    let len = copy.len();
    let head = head_of(host, len);
    let words = (len - head) / 8;
    let byte = |i: usize| {
        // SAFETY: `i < len`, in bounds per the contract; AtomicU8 has u8's layout.
        unsafe { (*host.add(i).cast::<AtomicU8>()).load(Ordering::Relaxed) }
    };
    for i in (0..head).chain(head + 8 * words..len) {
        let b = byte(i);
        copy[i] = b;
        snapshot[i] = b;
    }
    for w in 0..words {
        let at = head + 8 * w;
        // SAFETY: 8 bytes in bounds per the contract, 8-aligned (`head` aligns `host`).
        let word = unsafe { AtomicU64::from_ptr(host.add(at).cast_mut().cast()) }
            .load(Ordering::Relaxed)
            .to_ne_bytes();
        copy[at..at + 8].copy_from_slice(&word);
        snapshot[at..at + 8].copy_from_slice(&word);
    }
}

/// Stores into host memory at `host` the bytes of `copy` that differ from `snapshot`.
///
/// # Safety
/// `host` is valid for writes of `copy.len()` bytes (others may access other bytes of it
/// concurrently, only atomically or by foreign code); `snapshot` is as long as `copy`.
unsafe fn write_back(host: *mut u8, copy: &[u8], snapshot: &[u8]) {
    let len = copy.len();
    let head = head_of(host, len);
    let words = (len - head) / 8;
    let store = |i: usize, value: u8| {
        // SAFETY: `i < len`, in bounds per the contract; AtomicU8 has u8's layout.
        unsafe { (*host.add(i).cast::<AtomicU8>()).store(value, Ordering::Relaxed) }
    };
    for i in (0..head).chain(head + 8 * words..len) {
        if copy[i] != snapshot[i] {
            store(i, copy[i]);
        }
    }
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    for w in 0..words {
        let at = head + 8 * w;
        let after = u64::from_ne_bytes(copy[at..at + 8].try_into().expect("8 bytes"));
        let before = u64::from_ne_bytes(snapshot[at..at + 8].try_into().expect("8 bytes"));
        let changed = after ^ before;
        if changed == 0 {
            continue;
        }
        let some_byte_unchanged = changed.wrapping_sub(ONES) & !changed & HIGHS != 0;
        if some_byte_unchanged {
            for k in 0..8 {
                if copy[at + k] != snapshot[at + k] {
                    store(at + k, copy[at + k]);
                }
            }
        } else {
            // SAFETY: 8 bytes in bounds per the contract, 8-aligned.
            unsafe { AtomicU64::from_ptr(host.add(at).cast()) }.store(after, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_bindings_share_one_copy_and_only_changes_go_back() {
        let mut host: Vec<u8> = (0..200).collect();
        let base = host.as_mut_ptr();
        // Two bindings overlapping by half, and one of its own.
        // SAFETY: all in bounds of `host`.
        let mut ptrs: Vec<*mut c_void> =
            unsafe { vec![base.cast(), base.add(50).cast(), base.add(150).cast()] };
        let lengths = [100, 100, 10];
        // SAFETY: the ranges are valid for reads and writes until the session is done, and
        // `host` is not touched meanwhile.
        let session = unsafe { stage(&mut ptrs, &lengths) }.unwrap().unwrap();
        assert_eq!(session.staged.len(), 2, "[0, 150) merged, [150, 160) alone");
        // SAFETY: both pointers are into the first copy, 50 bytes apart.
        unsafe {
            assert_eq!(ptrs[1].cast::<u8>().offset_from(ptrs[0].cast::<u8>()), 50);
            assert_eq!(ptrs[0] as usize % PAGE, base as usize % PAGE);
            // A write through the second binding shows through the first.
            ptrs[1].cast::<u8>().write(7);
            assert_eq!(ptrs[0].cast::<u8>().add(50).read(), 7);
        }
        // Meanwhile another writer changes a byte the dispatch did not: it survives.
        // SAFETY: in bounds; the session only reads and writes changed bytes atomically.
        unsafe { base.add(10).write(99) };
        Box::new(session).finish().unwrap();
        assert_eq!(host[50], 7);
        assert_eq!(host[10], 99);
        assert_eq!(host[11], 11);
    }

    #[test]
    fn only_changed_bytes_are_written_back_at_any_alignment() {
        for start in 0..8 {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 40] {
                let mut memory = [0u8; 64];
                let host = memory[start..].as_mut_ptr();
                let mut copy = vec![0u8; len];
                let mut snapshot = vec![0u8; len];
                for (i, byte) in memory.iter_mut().enumerate() {
                    *byte = i as u8;
                }
                // SAFETY: `len` bytes from `start` are in bounds of `memory`.
                unsafe { read_host(host, &mut copy, &mut snapshot) };
                assert_eq!(copy, memory[start..start + len]);
                assert_eq!(snapshot, copy);
                // The kernel changes every third byte, and whole words; meanwhile another
                // writer changes the bytes it did not touch.
                for (i, byte) in copy.iter_mut().enumerate() {
                    if i % 3 == 0 || (16..24).contains(&i) {
                        *byte = 0xF0 | i as u8;
                    }
                }
                for byte in &mut memory[start..start + len] {
                    *byte = byte.wrapping_add(100);
                }
                // SAFETY: as above.
                unsafe { write_back(memory[start..].as_mut_ptr(), &copy, &snapshot) };
                for i in 0..len {
                    let expected = if copy[i] != snapshot[i] {
                        copy[i]
                    } else {
                        (start + i) as u8 + 100
                    };
                    assert_eq!(
                        memory[start + i],
                        expected,
                        "start {start} len {len} byte {i}"
                    );
                }
                assert_eq!(
                    memory[start + len..],
                    (start + len..64).map(|i| i as u8).collect::<Vec<_>>()[..]
                );
            }
        }
    }
}
