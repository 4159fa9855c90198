//! The workgroup loop: running a range of one dispatch's workgroups, calling a native kernel once
//! per workgroup id (with local memory and flushed denormals) or handing the range to the
//! executable's [`WorkgroupRunner`].

use hal_core::{Result, Status};

use crate::abi::{DispatchStateV0, WorkgroupStateV0};
use crate::cpu::DenormalsFlushed;
use crate::library::ExportEntry;
use crate::local_executable::LocalExecutable;
use crate::local_memory::LocalMemory;
use crate::workgroup_runner::WorkgroupRunner;

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
    let runner: &dyn WorkgroupRunner = executable
        .runner()
        .ok_or_else(|| Status::internal("the executable has no workgroup runner"))?;
    // The runner is told which export it runs by `export.ordinal`; an entry of another
    // executable would name the wrong kernel.
    executable.check_owns(export)?;
    // Every kernel runs with denormals flushed, whatever runs it and on whichever thread (local-task
    // workers always flush; a local-sync caller may not): the same inputs give the same results
    // on every driver.
    let _fpu = DenormalsFlushed::new();
    // SAFETY: forwarded from the caller.
    unsafe {
        runner.run_workgroups(
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

/// Runs workgroups with linear ids `[first, first + count)` of a dispatch (x fastest, then y,
/// then z), stopping at the first failure, each with at least `local_memory_size` bytes of
/// local memory (see [`local_memory_size`](crate::local_memory_size)), taken from
/// `local_memory`. Executables with a [`WorkgroupRunner`] are handed to it.
///
/// # Safety
/// `state` must come from [`dispatch_state`](fn@crate::dispatch_state) for `export` of
/// `executable`, and every binding pointer must be valid for reads and writes of its length for
/// the whole call, with no host reference to that memory alive.
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
