//! Executing one dispatch on the calling thread: resolve binding pointers, run every workgroup.

use std::ffi::c_void;
use std::mem::MaybeUninit;

use hal_core::{workgroup_total, Result, Status, MAX_BINDING_COUNT};

use crate::binding_views::BindingViews;
use crate::device_scope::DeviceScope;
use crate::dispatch_state::{dispatch_state, local_memory_size, DispatchArgs};
use crate::library::ExportEntry;
use crate::local_executable::LocalExecutable;
use crate::local_memory::with_thread_local_memory;
use crate::resolved_command::DispatchBindings;
use crate::workgroup_batch::WorkgroupBatch;
use crate::workgroup_loop::run_workgroups;

const MAX_BINDINGS: usize = MAX_BINDING_COUNT as usize;

/// Binding pointers and lengths resolved for one dispatch, kept on the stack.
pub struct ResolvedBindings {
    ptrs: [MaybeUninit<*mut c_void>; MAX_BINDINGS],
    lengths: [MaybeUninit<usize>; MAX_BINDINGS],
    count: usize,
}

impl Default for ResolvedBindings {
    #[inline(always)]
    fn default() -> Self {
        ResolvedBindings {
            ptrs: [const { MaybeUninit::uninit() }; MAX_BINDINGS],
            lengths: [const { MaybeUninit::uninit() }; MAX_BINDINGS],
            count: 0,
        }
    }
}

impl ResolvedBindings {
    /// Resolves `bindings` through `scope` into `self` (filled in place: the arrays are 1 KiB,
    /// and moving them per dispatch showed up in profiles), acquiring their allocations and
    /// claiming each range as the kernel uses it (`views`).
    #[inline]
    pub fn fill(
        &mut self,
        scope: &mut DeviceScope,
        bindings: &DispatchBindings<'_>,
        views: BindingViews,
    ) -> Result<()> {
        if bindings.len() > MAX_BINDINGS {
            return Err(Status::invalid_argument(format!(
                "{} bindings exceed the limit of {MAX_BINDINGS}",
                bindings.len()
            )));
        }
        self.count = 0;
        bindings.try_for_each(|index, binding| {
            self.ptrs[index].write(scope.binding_pointer(&binding, views.use_of(index))?);
            self.lengths[index].write(binding.length as usize);
            self.count += 1;
            Ok(())
        })
    }

    /// The pointers.
    #[inline]
    pub fn ptrs(&self) -> &[*mut c_void] {
        // SAFETY: the first `count` entries were written in `resolve`.
        unsafe { std::slice::from_raw_parts(self.ptrs.as_ptr().cast(), self.count) }
    }

    /// The pointers, mutable for staged copies (see [`WorkgroupRunner::begin_dispatch`]), and
    /// the lengths.
    ///
    /// [`WorkgroupRunner::begin_dispatch`]: crate::WorkgroupRunner::begin_dispatch
    #[inline]
    pub fn parts_mut(&mut self) -> (&mut [*mut c_void], &[usize]) {
        // SAFETY: the first `count` entries of both arrays were written in `resolve`.
        unsafe {
            (
                std::slice::from_raw_parts_mut(self.ptrs.as_mut_ptr().cast(), self.count),
                std::slice::from_raw_parts(self.lengths.as_ptr().cast(), self.count),
            )
        }
    }

    /// The lengths.
    #[inline]
    pub fn lengths(&self) -> &[usize] {
        // SAFETY: the first `count` entries were written in `resolve`.
        unsafe { std::slice::from_raw_parts(self.lengths.as_ptr().cast(), self.count) }
    }
}

/// Runs every workgroup of a dispatch on this thread, each with the export's static local
/// memory plus `dynamic_local_memory` bytes. `bindings` must have been resolved through `scope`,
/// which must still hold their allocations; an executable whose runner stages bindings (see
/// [`crate::WorkgroupRunner::begin_dispatch`]) may repoint them for the dispatch.
#[inline]
pub fn dispatch_inline(
    executable: &LocalExecutable,
    export: &ExportEntry,
    workgroup_count: [u32; 3],
    constants: &[u32],
    bindings: &mut ResolvedBindings,
    processor_id: u32,
    dynamic_local_memory: u32,
) -> Result<()> {
    let _span = tracing::trace_span!(
        "dispatch",
        export = export.info.name.as_str(),
        workgroups = ?workgroup_count
    )
    .entered();
    let (ptrs, lengths) = bindings.parts_mut();
    // SAFETY: the binding pointers come from a scope that holds device access to their
    // allocations for the whole call (the caller's obligation), so they are valid and no host
    // mapping aliases them until the session is finished below.
    let session = unsafe { executable.begin_dispatch(export, ptrs, lengths) }?;
    let args = DispatchArgs {
        export,
        workgroup_count,
        constants,
        binding_ptrs: bindings.ptrs(),
        binding_lengths: bindings.lengths(),
        max_concurrency: 1,
    };
    let result = dispatch_state(&args).and_then(|state| {
        let total = workgroup_total(workgroup_count)?;
        with_thread_local_memory(|memory| {
            // SAFETY: the state was built from these args; binding pointers are valid as above
            // (or staged copies the session keeps alive).
            unsafe {
                run_workgroups(
                    executable,
                    &WorkgroupBatch {
                        export,
                        state: &state,
                        first: 0,
                        count: total,
                        processor_id,
                        local_memory_size: local_memory_size(export, dynamic_local_memory),
                    },
                    memory,
                )
            }
        })
    });
    match session {
        None => result,
        // The staged bindings are written back whatever the kernel did, as in-place bindings
        // would keep whatever it wrote; the dispatch's own failure comes first.
        Some(session) => result.and(session.finish()),
    }
}
