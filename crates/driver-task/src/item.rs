//! The tiled pieces of work a region holds, resolved to raw pointers when the region opens.

use std::ffi::c_void;

use hal_core::{Executable, FillPattern, Result, Status};
use hal_local::abi::DispatchStateV0;
use hal_local::{run_workgroups, DispatchSession, LocalExecutable, LocalMemory};
use parking_lot::Mutex;

use crate::regions::Tiled;

/// Bytes of a fill, copy or update per tile.
pub const TRANSFER_TILE: usize = 64 * 1024;

/// A host function run once (alloca, dealloca, host call).
pub type Once = Box<dyn FnOnce() -> Result<()> + Send>;

/// Where a worker runs tiles.
pub struct WorkerContext<'a> {
    /// The worker's local memory for kernels.
    pub local_memory: &'a mut LocalMemory,
    /// The CPU the worker runs on.
    pub processor_id: u32,
}

/// A dispatch ready to run: its dispatch state points into the boxes it owns.
pub struct DispatchItem {
    pub(crate) executable: Executable,
    pub(crate) ordinal: u32,
    pub(crate) state: DispatchStateV0,
    pub(crate) workgroups: u64,
    /// Bytes of local memory each workgroup gets: static plus dynamic.
    pub(crate) local_memory_size: u32,
    pub(crate) _constants: Box<[u32]>,
    pub(crate) _binding_ptrs: Box<[*mut c_void]>,
    pub(crate) _binding_lengths: Box<[usize]>,
    /// What the executable's runner set up for the dispatch (staged bindings), finished once
    /// when the dispatch's region completes.
    pub(crate) session: Mutex<Option<Box<dyn DispatchSession>>>,
}

/// One tiled piece of work.
pub enum Item {
    /// Workgroups of a dispatch, one tile each.
    Dispatch(DispatchItem),
    /// A fill of `len` bytes.
    Fill {
        /// Target.
        ptr: *mut u8,
        /// Bytes.
        len: usize,
        /// Pattern (the tile size is a multiple of every pattern width).
        pattern: FillPattern,
    },
    /// A copy of `len` bytes between non-overlapping ranges.
    Copy {
        /// Source.
        from: *const u8,
        /// Target.
        to: *mut u8,
        /// Bytes.
        len: usize,
    },
    /// Host work run once.
    Once(Mutex<Option<Once>>),
}

// SAFETY: the raw pointers point into buffer memory the execution holds device access to (so
// no host mapping aliases it and it stays allocated) or into boxes this item owns; tiles of one
// item touch disjoint bytes, and items of one region may run on any thread by the HAL's rules.
unsafe impl Send for Item {}
// SAFETY: as above; running a tile needs only `&Item`, and `Once` is behind a mutex.
unsafe impl Sync for Item {}

impl Tiled for Item {
    fn tiles(&self) -> u64 {
        match self {
            Item::Dispatch(dispatch) => dispatch.workgroups,
            Item::Fill { len, .. } | Item::Copy { len, .. } => len.div_ceil(TRANSFER_TILE) as u64,
            Item::Once(_) => 1,
        }
    }
}

fn slice(tile: u64, count: u64, len: usize) -> (usize, usize) {
    let start = (tile as usize) * TRANSFER_TILE;
    let end = ((tile + count) as usize * TRANSFER_TILE).min(len);
    (start, end - start)
}

impl Item {
    /// Ends the item once all its tiles ran (or its execution failed): a dispatch's runner
    /// session writes staged bindings back.
    pub fn finish(&self) -> Result<()> {
        match self {
            Item::Dispatch(dispatch) => match dispatch.session.lock().take() {
                Some(session) => session.finish(),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Runs tiles `[tile, tile + count)` of this item.
    pub fn run(&self, tile: u64, count: u64, context: &mut WorkerContext<'_>) -> Result<()> {
        match self {
            Item::Dispatch(dispatch) => {
                let executable = LocalExecutable::from_handle(&dispatch.executable)?;
                let export = executable.export(dispatch.ordinal)?;
                // SAFETY: the state was built by `dispatch_state` for this export, its binding
                // pointers are valid for their lengths while the execution holds device access,
                // and the worker's local memory is its own.
                unsafe {
                    run_workgroups(
                        executable,
                        export,
                        &dispatch.state,
                        tile,
                        count,
                        context.processor_id,
                        context.local_memory,
                        dispatch.local_memory_size,
                    )
                }
            }
            Item::Fill { ptr, len, pattern } => {
                let (start, bytes) = slice(tile, count, *len);
                // SAFETY: [start, start + bytes) lies in the target range, held by the
                // execution; tiles are disjoint, so no other thread writes these bytes.
                let target = unsafe { ptr.add(start) };
                match *pattern {
                    // SAFETY: as above.
                    FillPattern::U8(value) => unsafe {
                        std::ptr::write_bytes(target, value, bytes)
                    },
                    _ => {
                        let word = pattern.repeated_word();
                        let width = pattern.width() as usize;
                        for offset in (0..bytes).step_by(width) {
                            // SAFETY: as above; `bytes` is a multiple of the width (tile starts
                            // are multiples of 64 KiB and the fill length of the width).
                            unsafe {
                                std::ptr::copy_nonoverlapping(
                                    word.as_ptr(),
                                    target.add(offset),
                                    width,
                                )
                            };
                        }
                    }
                }
                Ok(())
            }
            Item::Copy { from, to, len } => {
                let (start, bytes) = slice(tile, count, *len);
                // SAFETY: both ranges are held by the execution and do not overlap (checked when
                // planned); tiles are disjoint.
                unsafe { std::ptr::copy_nonoverlapping(from.add(start), to.add(start), bytes) };
                Ok(())
            }
            Item::Once(work) => match work.lock().take() {
                Some(work) => work(),
                None => Err(Status::internal("a run-once item ran twice")),
            },
        }
    }
}

impl Item {
    /// What the item is, for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Dispatch(_) => "dispatch",
            Item::Fill { .. } => "fill",
            Item::Copy { .. } => "copy",
            Item::Once(_) => "host",
        }
    }
}
