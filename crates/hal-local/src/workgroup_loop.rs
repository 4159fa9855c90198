//! Running the workgroups of one dispatch: building the dispatch state and calling the kernel
//! once per workgroup id, with local memory and flushed denormals.

use std::cell::RefCell;
use std::ffi::c_void;

use hal_core::{workgroup_total, Result, Status, MAX_BINDING_COUNT};

use crate::abi::{DispatchStateV0, WorkgroupStateV0};
use crate::cpu::DenormalsFlushed;
use crate::library::ExportEntry;
use crate::local_executable::LocalExecutable;

/// Everything a dispatch passes to its kernel, with binding pointers already resolved.
#[derive(Clone, Copy, Debug)]
pub struct DispatchArgs<'a> {
    /// The export.
    pub export: &'a ExportEntry,
    /// Workgroup counts.
    pub workgroup_count: [u32; 3],
    /// Push constants.
    pub constants: &'a [u32],
    /// Binding base pointers (buffer memory + binding offset).
    pub binding_ptrs: &'a [*mut c_void],
    /// Binding lengths in bytes.
    pub binding_lengths: &'a [usize],
    /// How many workgroups may run at once (1 for inline execution).
    pub max_concurrency: u8,
}

/// Checks the counts and builds the dispatch state shared by every workgroup.
#[inline]
pub fn dispatch_state(args: &DispatchArgs<'_>) -> Result<DispatchStateV0> {
    let export = args.export;
    // Every path to a kernel comes through here: static counts were checked when recorded, but
    // indirect ones are only known now.
    workgroup_total(args.workgroup_count)?;
    let [x, y, z] = args.workgroup_count;
    let z = z as u16; // Checked against MAX_WORKGROUP_COUNT_Z above.
    if args.binding_ptrs.len() > MAX_BINDING_COUNT as usize
        || args.binding_ptrs.len() != args.binding_lengths.len()
    {
        return Err(Status::invalid_argument(format!(
            "dispatch has {} binding pointers and {} lengths",
            args.binding_ptrs.len(),
            args.binding_lengths.len()
        )));
    }
    let [size_x, size_y, size_z] = export.info.workgroup_size;
    Ok(DispatchStateV0 {
        workgroup_size_x: size_x,
        workgroup_size_y: size_y,
        workgroup_size_z: size_z as u16,
        constant_count: args.constants.len() as u16,
        workgroup_count_x: x,
        workgroup_count_y: y,
        workgroup_count_z: z,
        max_concurrency: args.max_concurrency.max(1),
        binding_count: args.binding_ptrs.len() as u8,
        constants: args.constants.as_ptr(),
        binding_ptrs: args.binding_ptrs.as_ptr(),
        binding_lengths: args.binding_lengths.as_ptr(),
    })
}

/// Scratch memory for workgroups, 64-byte aligned, grown on demand and reused.
#[derive(Default)]
pub struct LocalMemory {
    blocks: Vec<Block>,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; 64]);

impl LocalMemory {
    /// Memory of at least `bytes` bytes (null when 0), and its usable size.
    pub fn ensure(&mut self, bytes: u32) -> (*mut c_void, u32) {
        if bytes == 0 {
            return (std::ptr::null_mut(), 0);
        }
        let needed = (bytes as usize).div_ceil(64);
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block([0; 64]));
        }
        let size = u32::try_from(self.blocks.len() * 64).unwrap_or(u32::MAX);
        (self.blocks.as_mut_ptr().cast(), size)
    }
}

thread_local! {
    static THREAD_LOCAL_MEMORY: RefCell<LocalMemory> = RefCell::new(LocalMemory::default());
}

/// Runs `f` with this thread's reusable local memory (or a fresh one if it is in use, as when a
/// kernel's import re-enters the runtime).
pub fn with_thread_local_memory<R>(f: impl FnOnce(&mut LocalMemory) -> R) -> R {
    THREAD_LOCAL_MEMORY.with(|cell| match cell.try_borrow_mut() {
        Ok(mut memory) => f(&mut memory),
        Err(_) => f(&mut LocalMemory::default()),
    })
}

/// What a [`WorkgroupRunner`] set up for one dispatch in [`WorkgroupRunner::begin_dispatch`]:
/// finished once, after the dispatch's last workgroup ran (or the dispatch failed), on whichever
/// thread completes the dispatch. Dropping it without [`DispatchSession::finish`] (the dispatch
/// never ran) undoes the setup without writing anything back.
pub trait DispatchSession: Send + Sync {
    /// Ends the dispatch: writes staged bindings back to their buffers and frees the staging.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Runs the workgroups of exports that are not native functions: a kernel in a sandbox (WebAssembly)
/// or any other backend. A [`LocalExecutable`] made by [`LocalExecutable::with_runner`] hands
/// every [`run_workgroups`] call to its runner, so drivers dispatch every kind of kernel through
/// that one function.
///
/// Drivers call [`LocalExecutable::begin_dispatch`] once per dispatch before any of its workgroups
/// run and finish the session it returns once after the last; in between, any number of threads
/// may call [`WorkgroupRunner::run_workgroups`] for disjoint ranges of workgroups.
pub trait WorkgroupRunner: Send + Sync + 'static {
    /// Sets up one dispatch of export `ordinal` before any of its workgroups runs. A runner whose
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
        ordinal: u32,
        binding_ptrs: &mut [*mut c_void],
        binding_lengths: &[usize],
    ) -> Result<Option<Box<dyn DispatchSession>>> {
        let _ = (ordinal, binding_ptrs, binding_lengths);
        Ok(None)
    }

    /// Runs workgroups with linear ids `[first, first + count)` of export `ordinal` (x fastest,
    /// then y, then z), stopping at the first failure; a failure names the export. Each
    /// workgroup gets at least `local_memory_size` bytes of local memory (the export's static
    /// local memory plus the dispatch's dynamic local memory), which the runner provides where
    /// its kernels can reach it (`local_memory` is the calling thread's, for runners whose
    /// kernels can use host memory).
    ///
    /// # Safety
    /// As [`run_workgroups`]: `state` was built by [`dispatch_state`] for `export`, and every
    /// binding pointer in it is valid for reads and writes of its length for the whole call, with
    /// no host reference to that memory alive. Other workers may run other workgroups of the same
    /// dispatch concurrently.
    #[allow(clippy::too_many_arguments)]
    unsafe fn run_workgroups(
        &self,
        ordinal: u32,
        export: &ExportEntry,
        state: &DispatchStateV0,
        first: u64,
        count: u64,
        processor_id: u32,
        local_memory: &mut LocalMemory,
        local_memory_size: u32,
    ) -> Result<()>;
}

/// The runner path, out of line so the native loop stays as it was.
///
/// # Safety
/// As [`run_workgroups`].
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn run_with_runner(
    executable: &LocalExecutable,
    export: &ExportEntry,
    state: &DispatchStateV0,
    first: u64,
    count: u64,
    processor_id: u32,
    local_memory: &mut LocalMemory,
    local_memory_size: u32,
) -> Result<()> {
    let runner = executable
        .runner()
        .ok_or_else(|| Status::internal("the executable has no workgroup runner"))?;
    let ordinal = executable.ordinal_of(export)?;
    // Every kernel runs with denormals flushed, whatever runs it and on whichever thread (local-task
    // workers always flush; a local-sync caller may not): the same inputs give the same results
    // on every driver.
    let _fpu = DenormalsFlushed::new();
    // SAFETY: forwarded from the caller.
    unsafe {
        runner.run_workgroups(
            ordinal,
            export,
            state,
            first,
            count,
            processor_id,
            local_memory,
            local_memory_size,
        )
    }
}

/// The bytes of local memory each workgroup of a dispatch of `export` gets: the export's static
/// local memory plus the dispatch's `dynamic` local memory (hal-core checked that the sum fits;
/// it saturates rather than wraps if a caller did not).
#[inline(always)]
pub fn local_memory_size(export: &ExportEntry, dynamic: u32) -> u32 {
    export.info.local_memory_size.saturating_add(dynamic)
}

/// Runs workgroups with linear ids `[first, first + count)` of a dispatch (x fastest, then y,
/// then z), stopping at the first failure, each with at least `local_memory_size` bytes of
/// local memory (see [`local_memory_size`]), taken from `local_memory`. Executables with a
/// [`WorkgroupRunner`] are handed to it.
///
/// # Safety
/// `state` must come from [`dispatch_state`] for `export` of `executable`, and every binding
/// pointer must be valid for reads and writes of its length for the whole call, with no host
/// reference to that memory alive.
#[inline]
#[allow(clippy::too_many_arguments)]
pub unsafe fn run_workgroups(
    executable: &LocalExecutable,
    export: &ExportEntry,
    state: &DispatchStateV0,
    first: u64,
    count: u64,
    processor_id: u32,
    local_memory: &mut LocalMemory,
    local_memory_size: u32,
) -> Result<()> {
    if executable.runner().is_some() {
        // SAFETY: forwarded from the caller.
        return unsafe {
            run_with_runner(
                executable,
                export,
                state,
                first,
                count,
                processor_id,
                local_memory,
                local_memory_size,
            )
        };
    }
    let (local_ptr, local_size) = local_memory.ensure(local_memory_size);
    let count_x = u64::from(state.workgroup_count_x);
    let count_y = u64::from(state.workgroup_count_y);
    if count == 0 || count_x == 0 || count_y == 0 || state.workgroup_count_z == 0 {
        return Ok(());
    }
    let mut x = (first % count_x) as u32;
    let rest = first / count_x;
    let mut y = (rest % count_y) as u32;
    let mut z = (rest / count_y) as u16;
    let mut workgroup = WorkgroupStateV0 {
        workgroup_id_x: 0,
        workgroup_id_y: 0,
        workgroup_id_z: 0,
        reserved: 0,
        processor_id,
        local_memory: local_ptr,
        local_memory_size: local_size,
    };
    let environment = executable.environment();
    let _fpu = DenormalsFlushed::new();
    for _ in 0..count {
        workgroup.workgroup_id_x = x;
        workgroup.workgroup_id_y = y;
        workgroup.workgroup_id_z = z;
        // SAFETY: the function comes from a verified library kept alive by `executable`; the
        // environment, dispatch state and workgroup state are valid for the call; binding
        // memory is valid per this function's contract.
        let code = unsafe { (export.function)(environment, state, &workgroup) };
        if code != 0 {
            return Err(Status::internal(format!(
                "executable export '{}' returned error {code} in workgroup ({x}, {y}, {z})",
                export.info.name
            )));
        }
        x += 1;
        if x == state.workgroup_count_x {
            x = 0;
            y += 1;
            if y == state.workgroup_count_y {
                y = 0;
                z += 1;
            }
        }
    }
    Ok(())
}
