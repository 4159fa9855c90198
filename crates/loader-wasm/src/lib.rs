//! # loader-wasm: sandboxed WebAssembly kernels
//!
//! Loads executables of format `system-wasm-wasm_32`: IREE's CPU executable library (ABI version
//! 6) compiled for wasm32 as a WebAssembly *side module* (`dylink.0`), and any module following
//! the same convention. Kernels run on [wasmtime] (Cranelift) and can touch only WebAssembly
//! memory: a fault, a trap or a runaway kernel fails its own dispatch with a status naming the
//! kernel and the trap, and the device stays usable.
//!
//! ## Loading
//! The module is validated and compiled once per executable; the `dylink.0` MEM_INFO says how much
//! data memory and how many table slots it needs. Each thread that runs the executable gets its
//! own store and instance, made on first use and kept (thread-local, dropped with the executable
//! or the thread): its own data block at `__memory_base`, a function table with `__table_base` = 1
//! (slot 0 null), `__wasm_apply_data_relocs` and `__wasm_call_ctors` called once, and the library
//! queried with version 6 in its wasm32 layout and verified as the native loaders verify theirs.
//! Dispatches call exports through the table with wasm32 `environment`, `dispatch_state` and
//! `workgroup_state` structs built in per-thread scratch memory.
//!
//! ## Memory: one arena, no copies
//! Every instance's linear memory is the same 4 GiB [`arena`] reservation (plus a 2 GiB guard),
//! given to wasmtime through its memory creator. Pages are committed only when allocated, each
//! allocation is followed by an inaccessible guard page, and the first 64 KiB are never
//! allocated; the compiled code has no bounds checks, and any access to a page that is not
//! allocated traps. A binding whose buffer lives in the arena is passed in place, as its wasm
//! address. Linking this crate registers [`ArenaSource`] as hal-local's `HostMemorySource`, so every
//! `HeapAllocator` (the local drivers' device allocator) takes its buffers from the arena: device
//! buffers need no copies, on every driver. A binding outside the arena (imported host memory, or heap memory once
//! the arena is full) is copied into per-thread staging memory before the run and back after it,
//! counted in [`copy_statistics`].
//!
//! What the sandbox guarantees: a kernel can read and write only the arena, never the host's own
//! memory, stacks or code, and any access to an unallocated page (a null pointer, a small overrun
//! past a buffer into its guard page, an address past the arena) traps. What it does not: the
//! arena is shared, so a kernel that computes a wild address inside it can reach other arena
//! allocations (other buffers of the process's local devices, other threads' scratch), exactly as
//! a native kernel could; the zero-copy design trades per-binding isolation for no copies. Host
//! code touches arena memory only through raw pointers or while it holds the buffer's access gate.
//!
//! ## Dispatch
//! The executable is a `hal_local::LocalExecutable` made by `LocalExecutable::with_runner`: the
//! drivers' workgroup loop (`hal_local::run_workgroups`) hands each run of workgroups to this
//! crate's `WorkgroupRunner`, on whichever thread the driver runs it, so every driver runs wasm
//! kernels without naming this crate.
//!
//! ## Budget
//! Epoch interruption with a 2 ms clock: a call into a kernel that runs past
//! [`set_dispatch_budget`] (default 30 s) is interrupted and fails with `DEADLINE_EXCEEDED`.

mod allocator;
pub mod arena;
mod dylink;
mod runner;

use std::sync::Arc;

use hal_core::Result;
use hal_local::{ExecutableLoader, LoadOutcome, LoadRequest, LoaderRegistration};

pub use allocator::ArenaSource;
pub use runner::{copy_statistics, dispatch_budget, set_dispatch_budget, CopyStatistics};

/// The format this loader registers.
pub const FORMAT: &str = "system-wasm-wasm_32";

/// The loader.
#[derive(Debug, Default)]
pub struct WasmLoader;

impl ExecutableLoader for WasmLoader {
    fn name(&self) -> &str {
        "wasm"
    }

    fn formats(&self) -> Vec<String> {
        vec![FORMAT.to_owned()]
    }

    fn infer_format(&self, data: &[u8]) -> Option<String> {
        dylink::is_wasm(data).then(|| FORMAT.to_owned())
    }

    fn try_load(&self, request: &LoadRequest<'_>) -> Result<LoadOutcome> {
        if request.format != FORMAT {
            return Ok(LoadOutcome::NotMine(format!(
                "the wasm loader loads only {FORMAT}"
            )));
        }
        if !dylink::is_wasm(request.data) {
            return Ok(LoadOutcome::NotMine(
                "the data is not a WebAssembly binary module".to_owned(),
            ));
        }
        runner::load(request.data, request.constants).map(LoadOutcome::Loaded)
    }
}

hal_local::inventory::submit! {
    LoaderRegistration {
        name: "wasm",
        create: || Arc::new(WasmLoader),
    }
}
