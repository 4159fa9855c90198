//! How kernels that are not native functions run: a [`WorkgroupRunner`] runs the workgroups of
//! an export it is told the ordinal of, with a per-dispatch [`DispatchSession`] for what the
//! threads running one dispatch share.

use std::ffi::c_void;

use hal_core::Result;

use crate::library::ExportEntry;
use crate::local_memory::LocalMemory;
use crate::workgroup_batch::WorkgroupBatch;

/// What a [`WorkgroupRunner`] set up for one dispatch in [`WorkgroupRunner::begin_dispatch`]:
/// finished once, after the dispatch's last workgroup ran (or the dispatch failed), on whichever
/// thread completes the dispatch. Dropping it without [`DispatchSession::finish`] (the dispatch
/// never ran) undoes the setup without writing anything back.
pub trait DispatchSession: Send + Sync {
    /// Ends the dispatch: writes staged bindings back to their buffers and frees the staging.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Runs the workgroups of exports that are not native functions: a kernel in a sandbox
/// (WebAssembly) or any other backend. An executable built with a runner hands it every run of
/// workgroups the drivers' workgroup loop is asked for, so drivers dispatch every kind of kernel
/// the same way.
///
/// Each call names the export it is for by its [`ExportEntry`], whose
/// [`ordinal`](ExportEntry::ordinal) is the export's place in the executable: the runner is told
/// which of its kernels to run and never has to work it out. Drivers set each dispatch up with
/// [`WorkgroupRunner::begin_dispatch`] once, before any of its workgroups run, and finish the
/// session it returns once after the last; in between, any number of threads may call
/// [`WorkgroupRunner::run_workgroups`] for disjoint ranges of workgroups.
pub trait WorkgroupRunner: Send + Sync + 'static {
    /// Sets up one dispatch of `export` before any of its workgroups runs. A runner whose
    /// kernels cannot reach some bindings where they are (a sandbox that sees only its own
    /// memory) may replace those pointers in `binding_ptrs` with staged copies that every thread
    /// running the dispatch shares, to be written back by the returned session. The default sets
    /// up nothing.
    ///
    /// # Safety
    /// Each pointer in `binding_ptrs` is valid for reads and writes of the length at the same
    /// index of `binding_lengths` until the returned session is finished or dropped, and no host
    /// reference to that memory is alive meanwhile.
    unsafe fn begin_dispatch(
        &self,
        export: &ExportEntry,
        binding_ptrs: &mut [*mut c_void],
        binding_lengths: &[usize],
    ) -> Result<Option<Box<dyn DispatchSession>>> {
        let _ = (export, binding_ptrs, binding_lengths);
        Ok(None)
    }

    /// Runs the workgroups of `batch` (x fastest, then y, then z; see
    /// [`WorkgroupBatch::ids`]), stopping at the first failure; a failure names the export.
    /// Each workgroup gets at least `batch.local_memory_size` bytes of local memory (the
    /// export's static local memory plus the dispatch's dynamic local memory), which the runner
    /// provides where its kernels can reach it (`local_memory` is the calling thread's, for
    /// runners whose kernels can use host memory).
    ///
    /// # Safety
    /// `batch.state` was built by [`dispatch_state`](fn@crate::dispatch_state) for
    /// `batch.export`, and every binding pointer in it is valid for reads and writes of its
    /// length for the whole call, with no host reference to that memory alive. Other workers may
    /// run other workgroups of the same dispatch concurrently.
    unsafe fn run_workgroups(
        &self,
        batch: &WorkgroupBatch<'_>,
        local_memory: &mut LocalMemory,
    ) -> Result<()>;
}
