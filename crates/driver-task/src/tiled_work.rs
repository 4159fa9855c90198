//! Tiled work: the pieces a region holds (a dispatch's workgroups, slices of a transfer, host
//! work run once), with raw pointers taken when the region opens.

use std::ffi::c_void;

use hal_core::{FillPattern, Result, Status};
use hal_local::abi::DispatchStateV0;
use hal_local::{run_workgroups, DispatchSession, LocalExport, ResolvedDispatch, WorkgroupBatch};
use parking_lot::Mutex;

use crate::pool::WorkerContext;
use crate::regions::Tiled;

/// Bytes of a fill, copy or update per tile.
pub const TRANSFER_TILE: usize = 64 * 1024;

/// Host work run once, as one tile (alloca, dealloca, host call).
pub type HostWork = Box<dyn FnOnce() -> Result<()> + Send>;

/// A dispatch ready to run: its dispatch state points into the boxes it owns.
pub struct TiledDispatch {
    /// The export run, downcast and looked up once when planned.
    export: LocalExport,
    state: DispatchStateV0,
    workgroups: u64,
    /// Bytes of local memory each workgroup gets: static plus dynamic.
    local_memory_size: u32,
    _constants: Box<[u32]>,
    _binding_ptrs: Box<[*mut c_void]>,
    _binding_lengths: Box<[usize]>,
    /// What the executable's runner set up for the dispatch (staged bindings), finished once
    /// when the dispatch's region completes.
    session: Mutex<Option<Box<dyn DispatchSession>>>,
}

impl TiledDispatch {
    /// A dispatch of `dispatch` whose `state` points into `constants`, `binding_ptrs` and
    /// `binding_lengths` (kept here for as long as the state is used).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dispatch: &ResolvedDispatch<'_>,
        state: DispatchStateV0,
        workgroups: u64,
        local_memory_size: u32,
        constants: Box<[u32]>,
        binding_ptrs: Box<[*mut c_void]>,
        binding_lengths: Box<[usize]>,
        session: Option<Box<dyn DispatchSession>>,
    ) -> TiledDispatch {
        TiledDispatch {
            export: dispatch.to_export(),
            state,
            workgroups,
            local_memory_size,
            _constants: constants,
            _binding_ptrs: binding_ptrs,
            _binding_lengths: binding_lengths,
            session: Mutex::new(session),
        }
    }
}

/// One tiled piece of work.
pub enum TiledWork {
    /// Workgroups of a dispatch, one tile each.
    Dispatch(TiledDispatch),
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
    Host(Mutex<Option<HostWork>>),
}

// SAFETY: the raw pointers point into buffer memory the execution holds device access to (so
// no host mapping aliases it and it stays allocated) or into boxes this item owns; tiles of one
// item touch disjoint bytes, and items of one region may run on any thread by the HAL's rules.
unsafe impl Send for TiledWork {}
// SAFETY: as above; running a tile needs only `&TiledWork`, and host work is behind a mutex.
unsafe impl Sync for TiledWork {}

impl Tiled for TiledWork {
    fn tiles(&self) -> u64 {
        match self {
            TiledWork::Dispatch(dispatch) => dispatch.workgroups,
            TiledWork::Fill { len, .. } | TiledWork::Copy { len, .. } => {
                len.div_ceil(TRANSFER_TILE) as u64
            }
            TiledWork::Host(_) => 1,
        }
    }
}

fn slice(tile: u64, count: u64, len: usize) -> (usize, usize) {
    let start = (tile as usize) * TRANSFER_TILE;
    let end = ((tile + count) as usize * TRANSFER_TILE).min(len);
    (start, end - start)
}

impl TiledWork {
    /// Ends the item once all its tiles ran (or its execution failed): a dispatch's runner
    /// session writes staged bindings back.
    pub fn finish(&self) -> Result<()> {
        match self {
            TiledWork::Dispatch(dispatch) => match dispatch.session.lock().take() {
                Some(session) => session.finish(),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Runs tiles `[tile, tile + count)` of this item.
    pub fn run(&self, tile: u64, count: u64, context: &mut WorkerContext<'_>) -> Result<()> {
        match self {
            TiledWork::Dispatch(dispatch) => {
                // SAFETY: the state was built by `dispatch_state` for this export, its binding
                // pointers are valid for their lengths while the execution holds device access,
                // and the worker's local memory is its own.
                unsafe {
                    run_workgroups(
                        dispatch.export.local(),
                        &WorkgroupBatch {
                            export: dispatch.export.entry(),
                            state: &dispatch.state,
                            first: tile,
                            count,
                            processor_id: context.processor_id,
                            local_memory_size: dispatch.local_memory_size,
                        },
                        context.local_memory,
                    )
                }
            }
            TiledWork::Fill { ptr, len, pattern } => {
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
            TiledWork::Copy { from, to, len } => {
                let (start, bytes) = slice(tile, count, *len);
                // SAFETY: both ranges are held by the execution and do not overlap (checked when
                // planned); tiles are disjoint.
                unsafe { std::ptr::copy_nonoverlapping(from.add(start), to.add(start), bytes) };
                Ok(())
            }
            TiledWork::Host(work) => match work.lock().take() {
                Some(work) => work(),
                None => Err(Status::internal("host work ran twice")),
            },
        }
    }
}

impl TiledWork {
    /// What the item is, for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            TiledWork::Dispatch(_) => "dispatch",
            TiledWork::Fill { .. } => "fill",
            TiledWork::Copy { .. } => "copy",
            TiledWork::Host(_) => "host",
        }
    }
}
