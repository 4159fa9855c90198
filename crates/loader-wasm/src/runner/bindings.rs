//! How a run's bindings reach the kernel: pool pages shown in the instance's memory through
//! windows (no copy), anything else staged (copied in before the run and out after it).
//!
//! Before each run the instance's windows are made to match the run's bindings exactly: windows
//! showing the same pages as the previous run are kept (no system call in the steady state of a
//! program that binds the same buffers again), the rest are unmapped, and missing ones are mapped.
//! So a kernel can reach only the pages of the buffers bound to the run it is part of, never
//! another buffer of the process, another thread's instance or the host. Windows cover whole
//! pages: bytes of the same buffer that share a page with a binding's first or last byte are
//! reachable too (pool buffers are page-aligned, so those bytes are never another buffer's).

use std::sync::atomic::{AtomicU8, Ordering};

use hal_core::{Result, Status, StatusCode};
use hal_local::abi::DispatchStateV0;

use super::{
    status, Worker, BINDING_LENGTHS, BINDING_PTRS, COPIED_BINDINGS, COPIED_BYTES, WINDOWS_MAPPED,
    ZERO_COPY_BINDINGS,
};
use crate::page_ranges::round_up;
use crate::pool::{pool, PAGE};

/// A binding outside the pool, staged for one run.
pub(super) struct Staged {
    index: usize,
    host: *mut u8,
    /// Where the kernel sees it (offset into the staging block until placed).
    wasm: u32,
    len: usize,
    /// The host bytes as copied in, when other threads may write other parts of the buffer.
    snapshot: Option<Vec<u8>>,
}

/// The pool pages `[start, start + len)` a binding lies in, and its offset from `start`.
#[derive(Clone, Copy)]
struct Pages {
    start: usize,
    len: usize,
    within: usize,
}

fn pages_of(ptr: *const u8, len: usize) -> Option<Pages> {
    let offset = pool()?.locate(ptr, len)?;
    let start = offset / PAGE * PAGE;
    let end = round_up(offset + len, PAGE)?;
    Some(Pages {
        start,
        len: end - start,
        within: offset - start,
    })
}

impl Worker {
    /// Writes the run's binding pointers and lengths into the scratch block, showing pool
    /// bindings through windows and staging the others; returns the staged ones for
    /// [`Worker::unstage`].
    ///
    /// # Safety
    /// As `WorkgroupRunner::run_workgroups`: the state's binding arrays are valid and each binding
    /// is valid for reads and writes of its length for the run.
    pub(super) unsafe fn place_bindings(
        &mut self,
        name: &str,
        state: &DispatchStateV0,
    ) -> Result<Vec<Staged>> {
        let count = usize::from(state.binding_count);
        let scratch = self.scratch.offset() as usize;
        let binding = |i: usize| {
            // SAFETY: the state has `binding_count` pointers and lengths.
            unsafe {
                (
                    (*state.binding_ptrs.add(i)).cast::<u8>(),
                    *state.binding_lengths.add(i),
                )
            }
        };
        // Unmap the windows this run does not bind before the kernel can see them. There is one
        // window per distinct page range of the last run's bindings, so at most 64 (hal-core's
        // binding limit); should there ever be more, all are dropped and remapped.
        if self.windows.len() > 64 {
            self.windows.clear();
        }
        let mut used = 0u64;
        for i in 0..count {
            let (ptr, len) = binding(i);
            if let Some(pages) = (len > 0).then(|| pages_of(ptr, len)).flatten() {
                if let Some(j) = self
                    .windows
                    .iter()
                    .position(|w| w.shows(pages.start, pages.len))
                {
                    used |= 1 << j;
                }
            }
        }
        let mut j = 0;
        self.windows.retain(|_| {
            let keep = used & (1 << j) != 0;
            j += 1;
            keep
        });
        let mut staged = Vec::new();
        let mut staging_bytes = 0usize;
        for i in 0..count {
            let (ptr, len) = binding(i);
            let len32 = u32::try_from(len).map_err(|_| {
                status(
                    StatusCode::OutOfRange,
                    format!(
                        "binding {i} of '{name}' is {len} bytes; wasm32 kernels address at most 4 GiB"
                    ),
                )
            })?;
            let wasm = if len == 0 {
                // Nothing to show: the null address, which traps if touched.
                0
            } else if let Some(pages) = pages_of(ptr, len) {
                ZERO_COPY_BINDINGS.fetch_add(1, Ordering::Relaxed);
                self.window_for(pages).map_err(|s: Status| {
                    s.with_context(format!("while showing binding {i} of '{name}'"))
                })? + pages.within as u32
            } else {
                staged.push(Staged {
                    index: i,
                    host: ptr,
                    wasm: staging_bytes as u32,
                    len,
                    snapshot: None,
                });
                staging_bytes += len.div_ceil(64) * 64;
                0
            };
            // SAFETY: the binding arrays lie in the scratch block; no wasm code runs.
            unsafe {
                self.space.put(scratch + BINDING_PTRS + 4 * i, wasm);
                self.space.put(scratch + BINDING_LENGTHS + 4 * i, len32);
            }
        }
        if staged.is_empty() {
            return Ok(staged);
        }
        if self
            .staging
            .as_ref()
            .is_none_or(|b| b.len() < staging_bytes)
        {
            self.staging = None;
            self.staging = Some(self.space.commit(staging_bytes)?);
        }
        let staging = self.staging.as_ref().expect("committed above").offset();
        let concurrent = state.max_concurrency > 1;
        for s in &mut staged {
            s.wasm += staging;
            // SAFETY: the binding pointer array lies in the scratch block; no wasm code runs.
            unsafe { self.space.put(scratch + BINDING_PTRS + 4 * s.index, s.wasm) };
            let target = self.space.base().wrapping_add(s.wasm as usize);
            // SAFETY: the source is valid for reads of `len` (caller's contract); the target is
            // `len` bytes of this worker's staging block.
            unsafe { copy_in(s, target, concurrent) };
            COPIED_BINDINGS.fetch_add(1, Ordering::Relaxed);
            COPIED_BYTES.fetch_add(s.len as u64, Ordering::Relaxed);
        }
        Ok(staged)
    }

    /// The wasm address of a window showing `pages`: the one kept from an earlier run or placed
    /// for an earlier binding of this run, or a new one.
    fn window_for(&mut self, pages: Pages) -> Result<u32> {
        if let Some(window) = self
            .windows
            .iter()
            .find(|w| w.shows(pages.start, pages.len))
        {
            return Ok(window.offset());
        }
        let pool = pool().expect("the binding lies in the pool");
        let window = self.space.map_window(pool.fd(), pages.start, pages.len)?;
        WINDOWS_MAPPED.fetch_add(1, Ordering::Relaxed);
        let offset = window.offset();
        self.windows.push(window);
        Ok(offset)
    }

    /// Copies staged bindings back to their buffers and clears the staging memory, so no later
    /// run of this instance sees their bytes.
    ///
    /// # Safety
    /// As [`Worker::place_bindings`], which returned `staged`; no wasm code runs.
    pub(super) unsafe fn unstage(&mut self, staged: &[Staged]) {
        for s in staged {
            let source = self.space.base().wrapping_add(s.wasm as usize);
            // SAFETY: the host side is valid for writes of `len` (caller's contract); the source
            // is `len` bytes of this worker's staging block.
            unsafe {
                copy_out(s, source);
                source.write_bytes(0, s.len);
            }
            COPIED_BYTES.fetch_add(s.len as u64, Ordering::Relaxed);
        }
    }
}

/// Copies a staged binding to `target`. With other workers possibly writing other parts of the
/// same buffer, the host bytes are read one relaxed atomic byte at a time and a snapshot is kept
/// so only bytes this run changed are written back.
///
/// # Safety
/// `s.host` is valid for reads of `s.len` bytes; `target` is `s.len` writable bytes owned by this
/// worker.
unsafe fn copy_in(s: &mut Staged, target: *mut u8, concurrent: bool) {
    if concurrent {
        let mut snapshot = vec![0u8; s.len];
        for (i, byte) in snapshot.iter_mut().enumerate() {
            // SAFETY: in bounds per the contract; AtomicU8 has u8's layout.
            *byte = unsafe { (*s.host.add(i).cast::<AtomicU8>()).load(Ordering::Relaxed) };
        }
        // SAFETY: the target is this worker's staging memory.
        unsafe { std::ptr::copy_nonoverlapping(snapshot.as_ptr(), target, s.len) };
        s.snapshot = Some(snapshot);
    } else {
        // SAFETY: per the contract; the ranges do not overlap (one is the worker's own).
        unsafe { std::ptr::copy_nonoverlapping(s.host, target, s.len) };
    }
}

/// Copies a staged binding back out of `source` (only changed bytes when a snapshot was kept).
///
/// # Safety
/// As [`copy_in`], with `s.host` valid for writes and `source` readable.
unsafe fn copy_out(s: &Staged, source: *const u8) {
    match &s.snapshot {
        Some(snapshot) => {
            for (i, &before) in snapshot.iter().enumerate() {
                // SAFETY: in bounds of the staging block.
                let after = unsafe { source.add(i).read() };
                if after != before {
                    // SAFETY: in bounds per the contract; AtomicU8 has u8's layout.
                    unsafe { (*s.host.add(i).cast::<AtomicU8>()).store(after, Ordering::Relaxed) };
                }
            }
        }
        // SAFETY: per the contract.
        None => unsafe { std::ptr::copy_nonoverlapping(source, s.host, s.len) },
    }
}
