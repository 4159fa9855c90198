//! How a run's bindings reach the kernel: pool pages shown in the instance's memory through
//! windows, without copies. Bindings outside the pool never get here: the runner's
//! `begin_dispatch` stages them in pool memory once per dispatch (see [`crate::staging`]).
//!
//! Before each run the instance's windows are made to match the run's bindings exactly: windows
//! showing the same pages as the previous run are kept (no system call in the steady state of a
//! program that binds the same buffers again), the rest are unmapped, and missing ones are mapped.
//! So a kernel can reach only the pages of the buffers bound to the run it is part of, never
//! another buffer of the process, another thread's instance or the host. Windows cover whole
//! pages: bytes of the same buffer that share a page with a binding's first or last byte are
//! reachable too (pool buffers are page-aligned, so those bytes are never another buffer's).

use std::sync::atomic::Ordering;

use hal_core::{Result, Status, StatusCode};
use hal_local::abi::DispatchStateV0;

use super::ThreadInstance;
use crate::copy_counters::WINDOWS_MAPPED;
use crate::errors::status;
use crate::memory_pool::{memory_pool, Location, PAGE};
use crate::page_ranges::round_up;

/// The pool pages a binding lies in (`len` bytes from `at`), and its offset from their start.
#[derive(Clone, Copy)]
struct Pages {
    at: Location,
    len: usize,
    within: usize,
}

#[inline]
fn pages_of(ptr: *const u8, len: usize) -> Option<Pages> {
    let found = memory_pool()?.locate(ptr, len)?;
    let start = found.offset / PAGE * PAGE;
    let end = round_up(found.offset + len, PAGE)?;
    Some(Pages {
        at: Location {
            segment: found.segment,
            offset: start,
        },
        len: end - start,
        within: found.offset - start,
    })
}

impl ThreadInstance {
    /// Shows the run's bindings through windows and writes their wasm addresses and lengths into
    /// the scratch. A binding outside the pool is an error: the dispatch was not begun through
    /// the runner's `begin_dispatch`, which stages such bindings.
    ///
    /// # Safety
    /// As `WorkgroupRunner::run_workgroups`: the state's binding arrays are valid.
    pub(super) unsafe fn place_bindings(
        &mut self,
        name: &str,
        state: &DispatchStateV0,
    ) -> Result<()> {
        let count = usize::from(state.binding_count);
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
                    .position(|w| w.shows(pages.at, pages.len))
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
            } else {
                let pages = pages_of(ptr, len).ok_or_else(|| {
                    status(
                        StatusCode::Internal,
                        format!(
                            "binding {i} of '{name}' ({len} bytes at {ptr:p}) is not in the loader's memory pool: \
                             the dispatch did not begin through the runner's begin_dispatch, which stages such bindings"
                        ),
                    )
                })?;
                self.window_for(pages).map_err(|s: Status| {
                    s.with_context(format!("while showing binding {i} of '{name}'"))
                })? + pages.within as u32
            };
            self.scratch.set_binding(i, wasm, len32)?;
        }
        Ok(())
    }

    /// The wasm address of a window showing `pages`: the one kept from an earlier run or placed
    /// for an earlier binding of this run, or a new one.
    fn window_for(&mut self, pages: Pages) -> Result<u32> {
        if let Some(window) = self.windows.iter().find(|w| w.shows(pages.at, pages.len)) {
            return Ok(window.offset());
        }
        let fd = memory_pool()
            .and_then(|pool| pool.fd(pages.at.segment))
            .expect("the binding lies in the pool");
        let window = self.space.map_window(fd, pages.at, pages.len)?;
        WINDOWS_MAPPED.fetch_add(1, Ordering::Relaxed);
        let offset = window.offset();
        self.windows.push(window);
        Ok(offset)
    }
}
