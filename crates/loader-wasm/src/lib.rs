//! # loader-wasm: sandboxed WebAssembly kernels
//!
//! Loads executables of format `system-wasm-wasm_32`: IREE's CPU executable library (ABI version
//! 6) compiled for wasm32 as a WebAssembly *side module* (`dylink.0`), and any module following
//! the same convention. Kernels run on [wasmtime] (Cranelift) and can touch only WebAssembly
//! memory: a fault, a trap or a runaway kernel fails its own dispatch with a status naming the
//! kernel and the trap, and the device stays usable.
//!
//! ## Loading
//! The module is checked (its only memory is the imported `env.memory`; its active data segments
//! are evaluated per instance and must lie in its data), its bulk-memory instructions are
//! rewritten into probing helpers, and it is compiled once per executable; the `dylink.0`
//! MEM_INFO says how much data memory and how many table slots it needs. Each thread that runs the executable gets its
//! own store and instance, made on first use and kept (thread-local, dropped with the executable
//! or the thread): its own data block at `__memory_base`, a function table with `__table_base` = 1
//! (slot 0 null), `__wasm_apply_data_relocs` and `__wasm_call_ctors` called once, and the library
//! queried with version 6 in its wasm32 layout and verified as the native loaders verify theirs.
//! Dispatches call exports through the table with wasm32 `environment`, `dispatch_state` and
//! `workgroup_state` structs built in per-thread scratch memory.
//!
//! ## Imports
//! A module may import only from `env`, and only these; anything else is refused at load, before
//! any instance exists: a known name of another kind or type with `INCOMPATIBLE`, naming the
//! import, its type and the type provided (`the module imports env.fmaxf as (func (param f64
//! f64) (result f64)); this loader provides env.fmaxf as (func (param f32 f32) (result f32))`),
//! any other import with `UNIMPLEMENTED`, naming its module and field.
//!
//! - `memory` (the instance's address space), `__indirect_function_table`, `__memory_base`,
//!   `__table_base` (immutable i32) and `__stack_pointer` (mutable i32), as above;
//! - C math functions, which IREE's wasm32 executables import when linked with
//!   `--allow-undefined`: the calls LLVM's WebAssembly backend makes for floating-point
//!   operations wasm has no instruction for. f32 forms (f64 forms drop the `f`, same types in
//!   f64): `fmaxf fminf fmodf powf atan2f` (f32, f32) → f32; `fmaf` (f32, f32, f32) → f32;
//!   `sinf cosf tanf asinf acosf atanf sinhf coshf tanhf expf exp2f logf log2f log10f roundf`
//!   and the exact `floorf ceilf truncf rintf nearbyintf roundevenf sqrtf` f32 → f32;
//!   `ldexpf __powisf2` (f32, i32) → f32 (`ldexp`, `__powidf2` for f64); and the f16 conversions
//!   `__extendhfsf2`/`__gnu_h2f_ieee` i32 → f32, `__truncsfhf2`/`__gnu_f2h_ieee` f32 → i32 and
//!   `__truncdfhf2` f64 → i32 (a half in the low 16 bits).
//!
//! The math functions are host functions that take and return numbers only: they never see the
//! instance's memory, so functions that write through pointers (`frexp`, `modf`, `sincos`) are
//! not provided, nor ones LLVM never calls (`erf`, `cbrt`, `expm1`, `log1p`). Their semantics are
//! C's, results to the bit those of Rust's `f32`/`f64` methods (the system libm on Linux), with
//! `fmax`/`fmin` returning the other argument for a NaN and ordering `-0 < +0` (as musl), and f16
//! conversions rounding to nearest even and quieting NaNs. They are defined once per engine and
//! linked into each instance by lookup. See `src/math.rs` for how the list was derived from
//! IREE's and LLVM's sources.
//!
//! ## Memory: private address spaces, buffers shown in place
//! Each instance's linear memory is its own 4 GiB address space (plus a 2 GiB
//! guard), reserved inaccessible; the compiled code has no bounds checks, and any access to a page
//! that is not accessible traps. In it are only the instance's own data, shadow stack and ABI
//! scratch, and windows onto the buffers bound to the run in progress.
//!
//! The loader offers [`PoolSource`] as its memory source: a device that enables it takes its
//! buffers from the pool unless its options say `memory=heap` (`hal_local::MemorySource`): memory
//! files, a new one added when the others are full. Before a run, the pages of each binding are
//! mapped (shared) into the instance's memory, each window followed by a guard page; windows the
//! run does not bind are unmapped first, and windows that show the same pages as the previous run
//! are kept, so a program that binds the same buffers again makes no system call. A binding
//! outside the pool (imported or heap memory) is staged once per dispatch, before any workgroup
//! runs: copied into pool memory that every thread running the dispatch shows like a pool buffer
//! (bindings over the same bytes share one copy), and after the last workgroup only the bytes the
//! dispatch changed are written back; counted in [`copy_statistics`].
//!
//! What the sandbox guarantees: a kernel can read and write only its instance's own memory and the
//! pages of the buffers bound to its run; never another buffer, another thread's instance, or the
//! host's memory, stacks or code. Any access elsewhere (a null pointer, past a binding into its
//! guard page, a buffer bound to an earlier run) traps, bulk-memory instructions included (they
//! probe the pages they touch first, see `bulk_memory.rs`), and a module's active data segments
//! must lie in its own data. Windows have page granularity: bytes of the same buffer that share
//! a page with a binding's first or last byte are reachable too (pool buffers are page-aligned,
//! so those bytes are never another buffer's). The instance's own data and workgroup local memory
//! persist from run to run on a thread, as a native library's globals would. Host code touches
//! pool memory only through raw pointers or while it holds the buffer's access gate.
//!
//! An untrusted module or kernel can fail its own load or dispatch, never the process: besides
//! memory, a store may grow tables only to a limit (a grow past it returns -1 inside wasm), every
//! call into wasm (initialisers and the library query included) runs under the budget, and a
//! call from a thread whose stack is too small for wasm's stack limit runs on a helper thread
//! with a big stack.

//! ## Dispatch
//! The executable is a `hal_local::LocalExecutable` made by `LocalExecutable::with_runner`: the
//! drivers' workgroup loop (`hal_local::run_workgroups`) hands each run of workgroups to this
//! crate's `WorkgroupRunner`, on whichever thread the driver runs it, so every driver runs wasm
//! kernels without naming this crate.
//!
//! ## Budget
//! Epoch interruption with a 2 ms clock: a call into wasm that runs past [`set_dispatch_budget`]
//! (default 30 s) is interrupted and fails its dispatch, or its load, with `DEADLINE_EXCEEDED`. The
//! checks cost time in tight loops; executables loaded after [`set_budget_checks`]`(false)` are
//! compiled without them, for kernels trusted to terminate.

mod address_space;
mod bulk_memory;
mod copy_counters;
mod dylink;
mod engine;
mod errors;
mod executable_module;
mod imports;
mod inspect;
mod library_tables;
mod limits;
mod linear_memory;
mod load;
mod math;
mod memory_pool;
mod page_ranges;
mod pool_source;
mod scratch;
mod stack;
mod staging;
mod thread_instance;
mod wasm_runner;

use std::sync::Arc;

use hal_core::Result;
use hal_local::{ExecutableLoader, HostMemorySource, LoadOutcome, LoadRequest, LoaderRegistration};

pub use copy_counters::{copy_statistics, CopyStatistics};
pub use engine::{budget_checks, dispatch_budget, set_budget_checks, set_dispatch_budget};
pub use pool_source::PoolSource;

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
        load::load(request.data, request.constants).map(LoadOutcome::Loaded)
    }

    fn memory_source(&self) -> Option<Arc<dyn HostMemorySource>> {
        Some(Arc::new(PoolSource))
    }
}

hal_local::inventory::submit! {
    LoaderRegistration {
        name: "wasm",
        create: || Arc::new(WasmLoader),
    }
}
