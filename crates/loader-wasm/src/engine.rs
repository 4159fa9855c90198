//! The wasmtime engines and the run budget.
//!
//! Two engines share one configuration (Cranelift, SIMD, a private 4 GiB address space as every
//! memory, no bounds checks) and differ in one thing: the *checked* engine compiles epoch checks
//! into every function entry and loop back-edge, so a run can be interrupted when it passes the
//! budget; the *unchecked* engine leaves them out, which makes tight loops faster but lets a
//! kernel run for ever. Which one compiles an executable is decided when it is loaded
//! ([`set_budget_checks`]); the checked engine is the default.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::{Config, Engine, Module};

use crate::address_space::{GUARD_BYTES, MEMORY_BYTES};
use crate::linear_memory::SpaceMemoryCreator;

/// Epoch tick of the budget clock.
const TICK: Duration = Duration::from_millis(2);
/// The most bytes of wasm machine stack a kernel may use before it traps.
pub(crate) const MAX_WASM_STACK: usize = 1 << 20;

static BUDGET_MICROS: AtomicU64 = AtomicU64::new(30_000_000);
static BUDGET_CHECKS: AtomicBool = AtomicBool::new(true);

/// Sets how long one call into wasm may take before it is interrupted and fails with
/// `DEADLINE_EXCEEDED`: a call into a kernel (a run of workgroups: a whole dispatch on
/// `local-sync`, a chunk of a dispatch's workgroups on `local-task`), which fails its submission,
/// and each call a load makes (the module's start function, `__wasm_apply_data_relocs`,
/// `__wasm_call_ctors`, the library query), which fails the load or the thread's first run. The
/// default is 30 s. Applies process-wide, from the next call on, to executables loaded with budget
/// checks (see [`set_budget_checks`]).
pub fn set_dispatch_budget(budget: Duration) {
    BUDGET_MICROS.store(
        u64::try_from(budget.as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// The current budget.
pub fn dispatch_budget() -> Duration {
    Duration::from_micros(BUDGET_MICROS.load(Ordering::Relaxed))
}

/// Whether executables loaded from now on are compiled with budget checks (`true`, the default).
///
/// Without them a kernel's loops run faster (about 1.35× on IREE's wasm add, see the crate's
/// benchmark) but nothing stops a kernel that does not return: its submission, and the thread
/// running it, never finish. Memory isolation and traps are the same either way. Turn checks off
/// only for kernels you trust to terminate. Executables already loaded keep what they were
/// compiled with.
pub fn set_budget_checks(enabled: bool) {
    BUDGET_CHECKS.store(enabled, Ordering::Relaxed);
}

/// Whether executables loaded now get budget checks.
pub fn budget_checks() -> bool {
    BUDGET_CHECKS.load(Ordering::Relaxed)
}

/// The budget in clock ticks, as an epoch deadline relative to now.
pub(crate) fn budget_ticks() -> u64 {
    BUDGET_MICROS.load(Ordering::Relaxed) / TICK.as_micros() as u64 + 1
}

/// The engine that compiles with (`checked`) or without budget checks.
pub(crate) fn engine(checked: bool) -> &'static Engine {
    static ENGINES: [OnceLock<Engine>; 2] = [OnceLock::new(), OnceLock::new()];
    ENGINES[usize::from(checked)].get_or_init(|| {
        let mut config = Config::new();
        config
            .wasm_simd(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .epoch_interruption(checked)
            .max_wasm_stack(MAX_WASM_STACK)
            .with_host_memory(Arc::new(SpaceMemoryCreator))
            .memory_reservation(MEMORY_BYTES as u64)
            .memory_guard_size(GUARD_BYTES as u64)
            .memory_reservation_for_growth(0)
            .guard_before_linear_memory(false)
            .memory_may_move(false);
        let engine = Engine::new(&config).expect("the wasm engine configuration is valid");
        if checked {
            let clock = engine.clone();
            std::thread::Builder::new()
                .name("loader-wasm-epoch".into())
                .spawn(move || loop {
                    std::thread::sleep(TICK);
                    clock.increment_epoch();
                })
                .expect("cannot start the wasm budget clock");
        }
        engine
    })
}

/// A module defining one 4 GiB memory and exporting it as `memory`. Wasmtime creates memories
/// that modules define through the engine's memory creator (memories made by `Memory::new` do not
/// go through it), so each store instantiates this to get its address space as its memory.
const MEMORY_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
    0x05, 0x08, 0x01, 0x01, 0x80, 0x80, 0x04, 0x80, 0x80, 0x04, // memory 65536..65536 pages
    0x07, 0x0a, 0x01, 0x06, b'm', b'e', b'm', b'o', b'r', b'y', 0x02, 0x00, // export "memory"
];

/// [`MEMORY_MODULE`] compiled by the engine `engine(checked)`.
pub(crate) fn memory_module(checked: bool) -> &'static Module {
    static MODULES: [OnceLock<Module>; 2] = [OnceLock::new(), OnceLock::new()];
    MODULES[usize::from(checked)].get_or_init(|| {
        Module::new(engine(checked), MEMORY_MODULE).expect("the memory module is valid")
    })
}
