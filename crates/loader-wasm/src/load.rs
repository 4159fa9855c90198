//! Loading an executable: the module is checked and compiled once, instantiated once on this
//! thread to read and verify its library, and wrapped as a `LocalExecutable` whose workgroups a
//! [`WasmRunner`] runs.

use std::sync::Arc;

use hal_core::{ExecutableInfo, Result};
use wasmtime::Module;

use crate::engine::{budget_checks, engine};
use crate::errors::wasm_error;
use crate::executable_module::ExecutableModule;
use crate::stack::with_wasm_stack;
use crate::thread_instance::ThreadInstance;
use crate::wasm_runner::WasmRunner;

/// Compiles and checks a module, instantiating it once to read its library (on this thread, or
/// on a helper with a bigger stack, see [`crate::stack`]).
pub(crate) fn load(data: &[u8], constants: &[u32]) -> Result<hal_core::Executable> {
    with_wasm_stack(|| load_here(data, constants))
}

fn load_here(data: &[u8], constants: &[u32]) -> Result<hal_core::Executable> {
    let mem_info = crate::dylink::mem_info(data)?;
    let inspection = crate::inspect::inspect(data)?;
    let guarded = crate::bulk_memory::guard(data)?;
    let checked = budget_checks();
    let module = Module::new(engine(checked), &guarded)
        .map_err(|e| wasm_error("the WebAssembly module does not compile", e))?;
    let imports = crate::imports::resolve(&module)?;
    let mut executable = Arc::new(ExecutableModule {
        module,
        mem_info,
        inspection,
        constants: constants.to_vec(),
        imports,
        checked,
        library_name: String::new(),
    });
    // A probe instance, dropped at once: it reads the library every instance will report.
    let (_, library) = ThreadInstance::new(&executable)?;
    {
        let executable = Arc::get_mut(&mut executable).expect("the probe instance was dropped");
        executable.library_name = library.name.clone();
    }
    let exports = library
        .exports
        .into_iter()
        .map(|export| {
            let info = hal_local::export_info(
                &library.name,
                export.name,
                &export.attrs,
                export.parameters.as_deref(),
            )?;
            Ok((info, export.attrs))
        })
        .collect::<Result<Vec<_>>>()?;
    let info = ExecutableInfo {
        library_name: library.name,
        constant_count: constants.len() as u32,
    };
    hal_local::LocalExecutable::with_runner(info, exports, Box::new(WasmRunner::new(executable)))
}
