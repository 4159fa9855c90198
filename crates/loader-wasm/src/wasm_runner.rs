//! The executable's [`WorkgroupRunner`]: runs workgroups on the calling thread's instance of the
//! executable (made on first use and kept), with enough stack ([`crate::stack`]); bindings
//! outside the pool are staged per dispatch by [`crate::staging`], from `begin_dispatch`.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::Arc;

use hal_core::{Result, StatusCode};
use hal_local::{DispatchSession, ExportEntry, LocalMemory, WorkgroupBatch, WorkgroupRunner};

use crate::errors::status;
use crate::executable_module::ExecutableModule;
use crate::stack::{with_wasm_stack, Lent};
use crate::staging::stage;
use crate::thread_instance::ThreadInstance;

thread_local! {
    /// This thread's instances, one per executable it ran; an instance whose executable was
    /// dropped goes when the next one is made.
    static THREAD_INSTANCES: RefCell<Vec<ThreadInstance>> = const { RefCell::new(Vec::new()) };
}

/// Runs one executable's workgroups on the calling thread's instance.
pub(crate) struct WasmRunner {
    executable: Arc<ExecutableModule>,
}

impl WasmRunner {
    /// The runner of `executable`.
    pub(crate) fn new(executable: Arc<ExecutableModule>) -> WasmRunner {
        WasmRunner { executable }
    }
}

impl WorkgroupRunner for WasmRunner {
    unsafe fn begin_dispatch(
        &self,
        _export: &ExportEntry,
        binding_ptrs: &mut [*mut c_void],
        binding_lengths: &[usize],
    ) -> Result<Option<Box<dyn DispatchSession>>> {
        // Staging is the same for every export: it depends only on where the bindings are.
        // SAFETY: forwarded from the caller.
        let session = unsafe { stage(binding_ptrs, binding_lengths) }?;
        Ok(session.map(|s| Box::new(s) as Box<dyn DispatchSession>))
    }

    unsafe fn run_workgroups(
        &self,
        batch: &WorkgroupBatch<'_>,
        _local_memory: &mut LocalMemory,
    ) -> Result<()> {
        if batch.ids().remaining() == 0 {
            return Ok(());
        }
        let lent = Lent((self, batch));
        with_wasm_stack(move || {
            let lent = lent;
            let (runner, batch) = lent.0;
            // SAFETY: forwarded from the caller, who waits for this call to end.
            unsafe { runner.run_here(batch) }
        })
    }
}

impl WasmRunner {
    /// [`WorkgroupRunner::run_workgroups`] on the calling thread's instance.
    ///
    /// # Safety
    /// As [`WorkgroupRunner::run_workgroups`].
    unsafe fn run_here(&self, batch: &WorkgroupBatch<'_>) -> Result<()> {
        THREAD_INSTANCES.with(|cell| {
            let mut instances = cell.try_borrow_mut().map_err(|_| {
                status(
                    StatusCode::FailedPrecondition,
                    "a wasm kernel re-entered the runtime",
                )
            })?;
            let index = match instances.iter().position(|i| i.is_of(&self.executable)) {
                Some(index) => index,
                None => {
                    instances.retain(|i| !i.is_orphaned());
                    let (instance, _) = ThreadInstance::new(&self.executable).map_err(|s| {
                        s.with_context(format!(
                            "while instantiating wasm library '{}' on this thread",
                            self.executable.library_name
                        ))
                    })?;
                    instances.push(instance);
                    instances.len() - 1
                }
            };
            // SAFETY: forwarded from the caller.
            let result = unsafe { instances[index].run(batch) };
            if result.is_err() {
                // A trapped instance may hold half-updated state: the next run gets a new one.
                instances.swap_remove(index);
            }
            result
        })
    }
}
