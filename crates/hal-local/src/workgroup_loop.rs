//! The workgroup loop: running a range of one dispatch's workgroups, calling a native kernel once
//! per workgroup id (with local memory and flushed denormals) or handing the range to the
//! executable's [`WorkgroupRunner`].

use hal_core::{Result, Status};

use crate::abi::WorkgroupStateV0;
use crate::cpu::DenormalsFlushed;
use crate::local_executable::LocalExecutable;
use crate::local_memory::LocalMemory;
use crate::workgroup_batch::WorkgroupBatch;
use crate::workgroup_runner::WorkgroupRunner;

/// The runner path, out of line so the native loop stays as it was.
///
/// # Safety
/// As [`run_workgroups`].
#[cold]
#[inline(never)]
unsafe fn run_with_runner(
    executable: &LocalExecutable,
    batch: &WorkgroupBatch<'_>,
    local_memory: &mut LocalMemory,
) -> Result<()> {
    let runner: &dyn WorkgroupRunner = executable
        .runner()
        .ok_or_else(|| Status::internal("the executable has no workgroup runner"))?;
    // The runner is told which export it runs by `export.ordinal`; an entry of another
    // executable would name the wrong kernel.
    executable.check_owns(batch.export)?;
    // Every kernel runs with denormals flushed, whatever runs it and on whichever thread (local-task
    // workers always flush; a local-sync caller may not): the same inputs give the same results
    // on every driver.
    let _fpu = DenormalsFlushed::new();
    // SAFETY: forwarded from the caller.
    unsafe { runner.run_workgroups(batch, local_memory) }
}

/// Runs the workgroups of `batch` (x fastest, then y, then z), stopping at the first failure,
/// each with at least `batch.local_memory_size` bytes of local memory taken from
/// `local_memory`. Executables with a [`WorkgroupRunner`] are handed to it.
///
/// # Safety
/// `batch.state` must come from [`dispatch_state`](fn@crate::dispatch_state) for `batch.export`
/// of `executable`, and every binding pointer must be valid for reads and writes of its length
/// for the whole call, with no host reference to that memory alive.
#[inline]
pub unsafe fn run_workgroups(
    executable: &LocalExecutable,
    batch: &WorkgroupBatch<'_>,
    local_memory: &mut LocalMemory,
) -> Result<()> {
    if executable.runner().is_some() {
        // SAFETY: forwarded from the caller.
        return unsafe { run_with_runner(executable, batch, local_memory) };
    }
    let ids = batch.ids();
    if ids.remaining() == 0 {
        return Ok(());
    }
    let (local_ptr, local_size) = local_memory.ensure(batch.local_memory_size);
    let mut workgroup = WorkgroupStateV0 {
        workgroup_id_x: 0,
        workgroup_id_y: 0,
        workgroup_id_z: 0,
        reserved: 0,
        processor_id: batch.processor_id,
        local_memory: local_ptr,
        local_memory_size: local_size,
    };
    let environment = executable.environment();
    let function = batch.export.function;
    let _fpu = DenormalsFlushed::new();
    for (x, y, z) in ids {
        workgroup.workgroup_id_x = x;
        workgroup.workgroup_id_y = y;
        workgroup.workgroup_id_z = z;
        // SAFETY: the function comes from a verified library kept alive by `executable`; the
        // environment, dispatch state and workgroup state are valid for the call; binding
        // memory is valid per this function's contract.
        let code = unsafe { function(environment, batch.state, &workgroup) };
        if code != 0 {
            return Err(Status::internal(format!(
                "executable export '{}' returned error {code} in workgroup ({x}, {y}, {z})",
                batch.export.info.name
            )));
        }
    }
    Ok(())
}
