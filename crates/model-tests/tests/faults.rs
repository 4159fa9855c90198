//! Fault injection: each fault fails exactly the work that depends on it, and nothing leaks.
//!
//! Faults: a kernel failing at a chosen workgroup (`model_faults`' `fail_at`, and cts `fail` in
//! the `static` format), a host call that fails and one that panics, a semaphore failed from
//! another thread while work is parked on it, an alloca past the device's memory limit, a
//! WebAssembly trap at a chosen workgroup, and a semaphore whose every handle is dropped while
//! work is parked on it (CANCELLED). Each scenario is a program with the fault, work downstream
//! of it (which must fail with the fault's status) and independent work, some of it on the same
//! allocations (which must complete with exact results); the reference interpreter
//! (`model_tests::model`) says which is which, and the scenario also checks that the model says
//! what the scenario means. `random_fault_programs/*` do the same with random programs.
//!
//! Memory: this binary counts live heap bytes and allocations with a wrapping global allocator.
//! Each scenario runs once to warm up (lazy statics, this thread's caches), then the baseline is
//! taken, the scenario runs on fresh devices, the devices are dropped (their workers and their
//! per-thread caches with them), and the live bytes and allocations must come back to the
//! baseline (polled for a bounded time: local-task releases an execution's last resources a
//! moment after signalling). Each device's allocator must also be back to 0 live bytes before it
//! is dropped.
//!
//! A plain `main` (harness = false), so that nothing else allocates while it measures: it runs
//! the scenarios one after another (a SUBSTRING argument filters them) and ends with
//! `N passed, M failed`. `MODEL_FAULT_CASES=N` sets the random programs per driver (default 40).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use hal_core::StatusCode;
use model_tests::build::{self, Options, FAULT_MEMORY_LIMIT};
use model_tests::exec::{self, DriverConfig, RunStats, Target, DRIVERS};
use model_tests::model::{self, Expected, Outcome, SemState};
use model_tests::program::*;
use model_tests::stats;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// Counts live heap bytes and allocations.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to `System` unchanged; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's arguments.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> (isize, isize) {
    (
        LIVE_BYTES.load(Ordering::SeqCst),
        LIVE_ALLOCATIONS.load(Ordering::SeqCst),
    )
}

/// What the scenarios add up to.
#[derive(Default)]
struct Totals {
    runs: usize,
    faults: BTreeMap<&'static str, usize>,
    failed_as_expected: usize,
    completed: usize,
    lost: usize,
}

impl Totals {
    fn add(&mut self, program: &Program, expected: &Expected, run: &RunStats) {
        self.runs += 1;
        self.failed_as_expected += run.failed;
        self.completed += run.completed;
        for (index, fault) in expected.faults.iter().enumerate() {
            if fault.is_some() {
                *self.faults.entry(fault_kind(program, index)).or_default() += 1;
            }
        }
    }
}

/// The kind of fault step `index` is, for the summary.
fn fault_kind(program: &Program, index: usize) -> &'static str {
    match &program.steps[index] {
        Step::Fail { .. } => "semaphore failed by the host",
        Step::Drop { .. } => "handles dropped with parked work",
        Step::Queue { op, .. } => match op {
            Op::HostCall(HostCall::Fail(_)) => "host call failed",
            Op::HostCall(HostCall::Panic(_)) => "host call panicked",
            Op::Alloca { .. } => "alloca past the memory limit",
            Op::Dispatch(d) => kernel_fault(d.kernel),
            Op::Execute { command_buffer, .. } => program.command_buffers[*command_buffer]
                .commands
                .iter()
                .find_map(|c| match c {
                    Command::Dispatch(d)
                        if matches!(d.kernel, Kernel::FailAt | Kernel::TrapAt | Kernel::Fail) =>
                    {
                        Some(kernel_fault(d.kernel))
                    }
                    _ => None,
                })
                .unwrap_or("command buffer"),
            _ => "other",
        },
        _ => "other",
    }
}

fn kernel_fault(kernel: Kernel) -> &'static str {
    match kernel {
        Kernel::TrapAt => "WebAssembly trap",
        Kernel::Fail => "cts fail (static)",
        _ => "kernel failed at a workgroup",
    }
}

/// Runs `program` on `target` against the model; counts it.
fn run_checked(target: &Target, program: &Program, totals: &mut Totals) -> Result<(), String> {
    let expected = model::interpret(program, target.semantics());
    if let Some(step) = expected.steps.iter().position(|o| *o == Outcome::Blocks) {
        return Err(format!("the program's step {step} blocks forever"));
    }
    match exec::run(target, program, &expected) {
        Ok(run) => {
            stats::record(target.driver.name, target.format.name, &run);
            totals.add(program, &expected, &run);
            Ok(())
        }
        Err(e) => {
            // Counted once per failing program by the caller (not per shrinking step).
            Err(format!(
                "{} × {}: {e}",
                target.driver.name, target.format.name
            ))
        }
    }
}

/// Waits (bounded) until the device's allocator has no live bytes.
fn settle_device(target: &Target) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let live = target.device.allocator().statistics().live_bytes;
        if live == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} × {}: the device allocator still has {live} live bytes after the program",
                target.driver.name, target.format.name
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Targets for `driver` × `formats`, with the fault executables and the fault memory limit.
fn targets(driver: DriverConfig, formats: &[cts::Format]) -> Result<Vec<Target>, String> {
    formats
        .iter()
        .map(|f| Target::new(driver, *f, Some(FAULT_MEMORY_LIMIT), true))
        .collect()
}

/// Runs `programs` on every driver × `formats`, each device checked back to 0 live bytes.
fn run_everywhere(
    programs: &[Program],
    formats: &[cts::Format],
    totals: &mut Totals,
) -> Result<(), String> {
    for driver in DRIVERS {
        for target in targets(driver, formats)? {
            for program in programs {
                if let Err(e) = run_checked(&target, program, totals) {
                    totals.lost += 1;
                    return Err(e);
                }
            }
            settle_device(&target)?;
        }
    }
    Ok(())
}

/// What a scenario runs: its programs, on fresh devices, adding to the totals.
type ScenarioFn = Box<dyn Fn(&mut Totals) -> Result<(), String>>;

/// A scenario: builds its programs and checks that the model says what the scenario means.
struct Scenario {
    name: String,
    run: ScenarioFn,
}

/// Leaves this thread's per-thread wasm cache in the same state whatever ran before: the wasm
/// loader keeps one instance per thread and executable, and drops those of dead executables when
/// the thread next instantiates one; so instantiate one (on a throwaway local-sync device, which
/// runs kernels on this thread) with the same run every time.
fn normalize_thread_caches() -> Result<(), String> {
    let target = Target::new(DRIVERS[0], model_tests::formats()[0], None, true)?;
    let mut p = P::new(&[(T, Memory::Device)]);
    p.q(
        &[],
        Op::Dispatch(d(Kernel::TrapAt, 4, vec![4], vec![r(0, 0, 16)])),
    );
    let program = p.program;
    let expected = model::interpret(&program, target.semantics());
    exec::run(&target, &program, &expected).map(|_| ())
}

/// Runs `scenario` and checks that live memory comes back to its baseline.
///
/// Warm-up: the scenario runs until one run leaves live memory where it found it (at most five
/// runs): lazy statics and high-water capacities of process-wide caches (the wasm engine's
/// compiler contexts and type registry) settle. Then the measured run: its devices are created
/// and dropped inside it (their workers' per-thread caches go with them; this thread's wasm
/// cache is normalised), and live bytes and allocations must return exactly to the baseline
/// (polled for a bounded time). A leak grows every run; a one-off high-water growth does not, so
/// a measured run that grows is repeated, at most twice: the scenario fails if every measured
/// run grew.
fn measured(scenario: &Scenario, totals: &mut Totals) -> Result<(), String> {
    let run_once = |totals: &mut Totals| -> Result<(), String> {
        (scenario.run)(totals)?;
        normalize_thread_caches()
    };
    let mut warm_up = Totals::default();
    let mut warm = false;
    for _ in 0..5 {
        let before = live();
        let result = run_once(&mut warm_up);
        totals.lost += std::mem::take(&mut warm_up.lost);
        result?;
        if settle(before, Duration::from_millis(300)).is_ok() {
            warm = true;
            break;
        }
    }
    if !warm {
        return Err("live memory grew in each of five warm-up runs".into());
    }
    let mut growths = Vec::new();
    for _ in 0..3 {
        let baseline = live();
        run_once(totals)?;
        match settle(baseline, Duration::from_secs(3)) {
            Ok(()) => {
                if !growths.is_empty() {
                    stats::print(&format!(
                        "note: {}: one-off growth before settling: {}",
                        scenario.name,
                        growths.join("; ")
                    ));
                }
                return Ok(());
            }
            Err(growth) => growths.push(growth),
        }
    }
    Err(format!(
        "live memory grew in every measured run: {}",
        growths.join("; ")
    ))
}

/// Waits (at most `bound`) until live memory is back to `baseline`; the error says by how much
/// it is not.
fn settle(baseline: (isize, isize), bound: Duration) -> Result<(), String> {
    let deadline = Instant::now() + bound;
    loop {
        let now = live();
        if now == baseline {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{:+} bytes, {:+} allocations (baseline {} bytes in {} allocations)",
                now.0 - baseline.0,
                now.1 - baseline.1,
                baseline.0,
                baseline.1
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------------------------------------
// Building programs by hand.

/// A program under construction: every queue operation signals its own semaphore at 1.
struct P {
    program: Program,
}

const T: u64 = TILE;

impl P {
    /// Allocations of these sizes and kinds, each with one whole view (view i = allocation i).
    fn new(allocations: &[(u64, Memory)]) -> P {
        P {
            program: Program {
                allocations: allocations
                    .iter()
                    .enumerate()
                    .map(|(i, &(size, memory))| Allocation {
                        size,
                        memory,
                        seed: 1000 + i as u64,
                    })
                    .collect(),
                views: allocations
                    .iter()
                    .enumerate()
                    .map(|(i, &(size, _))| View {
                        allocation: i,
                        offset: 0,
                        len: size,
                    })
                    .collect(),
                semaphores: 0,
                command_buffers: Vec::new(),
                steps: Vec::new(),
            },
        }
    }

    fn sem(&mut self) -> usize {
        self.program.semaphores += 1;
        self.program.semaphores - 1
    }

    /// Queues `op` after `waits`; returns the timepoint it signals.
    fn q(&mut self, waits: &[Tp], op: Op) -> Tp {
        let sem = self.sem();
        let tp = Tp { sem, value: 1 };
        self.program.steps.push(Step::Queue {
            waits: waits.to_vec(),
            signals: vec![tp],
            op,
        });
        tp
    }

    fn step(&mut self, step: Step) {
        self.program.steps.push(step);
    }

    fn cb(&mut self, mode: Mode, slots: u32, commands: Vec<Command>) -> usize {
        self.program.command_buffers.push(CommandBufferSpec {
            mode,
            slots,
            commands,
        });
        self.program.command_buffers.len() - 1
    }
}

fn r(view: usize, offset: u64, len: u64) -> Range {
    Range { view, offset, len }
}

fn d(kernel: Kernel, total: u32, constants: Vec<u32>, bindings: Vec<Range>) -> Dispatch {
    Dispatch {
        kernel,
        workgroups: [total, 1, 1],
        constants,
        bindings: bindings.into_iter().map(Ref::Direct).collect(),
    }
}

/// Independent work on allocation 0 (`[0, 2T)`) and allocation 1: a fill, a negate into the
/// second tile, a host call, a copy; returns its last timepoint.
fn independent(p: &mut P, after: &[Tp]) -> Tp {
    let a = p.q(
        after,
        Op::Fill {
            target: r(0, 0, T),
            pattern: Pattern::U32(0x4040_0000),
        },
    );
    let b = p.q(
        &[a],
        Op::Dispatch(d(Kernel::Negate, 1, vec![], vec![r(0, 0, T), r(0, T, T)])),
    );
    let id = 900 + p.program.steps.len() as u32;
    let c = p.q(&[b], Op::HostCall(HostCall::Log(id)));
    p.q(
        &[c],
        Op::Copy {
            source: r(0, T, T),
            target: r(1, 0, T),
        },
    )
}

/// Work downstream of `fault` on allocation 0's third tile and allocation 1's second: a visit, a
/// command buffer, a host call; returns the timepoints of each.
fn downstream(p: &mut P, fault: Tp) -> Vec<Tp> {
    let a = p.q(
        &[fault],
        Op::Dispatch(d(Kernel::Visit, 64, vec![], vec![r(0, 2 * T, T)])),
    );
    let cb = p.cb(
        Mode::OneShot,
        0,
        vec![
            Command::Fill {
                target: Ref::Direct(r(1, T, T)),
                pattern: Pattern::U8(7),
            },
            Command::Barrier,
            Command::Dispatch(d(Kernel::Abs, 1, vec![], vec![r(1, T, T)])),
        ],
    );
    let b = p.q(
        &[a],
        Op::Execute {
            command_buffer: cb,
            table: vec![],
        },
    );
    let id = 800 + p.program.steps.len() as u32;
    let c = p.q(&[b, fault], Op::HostCall(HostCall::Log(id)));
    vec![a, b, c]
}

/// Checks that the model fails `failing` with `code` and completes `completing`.
fn model_says(
    program: &Program,
    failing: &[Tp],
    code: StatusCode,
    completing: &[Tp],
) -> Result<(), String> {
    let expected = model::interpret(
        program,
        model::Semantics {
            static_format: true,
            memory_limit: FAULT_MEMORY_LIMIT,
        },
    );
    for tp in failing {
        match &expected.semaphores[tp.sem] {
            SemState::Failed(faults)
                if expected.statuses(faults).iter().all(|s| s.code == code) => {}
            other => {
                return Err(format!(
                    "scenario error: the model has semaphore {} {other:?}, not failed with {code}",
                    tp.sem
                ))
            }
        }
    }
    for tp in completing {
        if expected.semaphores[tp.sem] != (SemState::Value(tp.value)) {
            return Err(format!(
                "scenario error: the model has semaphore {} {:?}, not reached",
                tp.sem, expected.semaphores[tp.sem]
            ));
        }
    }
    Ok(())
}

/// A fault queued after a gate the host signals once everything is queued (so the fault happens
/// while downstream work is parked), downstream work, and independent work.
fn around(fault: impl Fn(&mut P, Tp) -> Tp, code: StatusCode) -> Result<Program, String> {
    let mut p = P::new(&[(4 * T, Memory::Device), (2 * T, Memory::Imported)]);
    let gate = p.sem();
    let start = Tp {
        sem: gate,
        value: 1,
    };
    let fault_tp = fault(&mut p, start);
    let failing = downstream(&mut p, fault_tp);
    let done = independent(&mut p, &[start]);
    p.step(Step::Signal {
        tp: start,
        thread: false,
        delay_us: 0,
    });
    let mut all_failing = vec![fault_tp];
    all_failing.extend(failing);
    model_says(&p.program, &all_failing, code, &[done])?;
    Ok(p.program)
}

fn kernel_fails_at_workgroup(totals: &mut Totals) -> Result<(), String> {
    let mut programs = Vec::new();
    // fail_at at several workgroups of 64, queued and in a command buffer between other commands.
    for (n, in_command_buffer) in [(0u32, false), (17, true), (63, false), (40, true)] {
        programs.push(around(
            |p, start| {
                let dispatch = d(Kernel::FailAt, 64, vec![n], vec![r(0, 3 * T, T)]);
                if in_command_buffer {
                    let cb = p.cb(
                        Mode::Reusable,
                        0,
                        vec![
                            Command::Fill {
                                target: Ref::Direct(r(0, 3 * T, T)),
                                pattern: Pattern::U32(5),
                            },
                            Command::Barrier,
                            Command::Dispatch(dispatch),
                            Command::Barrier,
                            Command::Dispatch(d(Kernel::Visit, 64, vec![], vec![r(0, 3 * T, T)])),
                        ],
                    );
                    p.q(
                        &[start],
                        Op::Execute {
                            command_buffer: cb,
                            table: vec![],
                        },
                    )
                } else {
                    p.q(&[start], Op::Dispatch(dispatch))
                }
            },
            StatusCode::Internal,
        )?);
    }
    run_everywhere(&programs, &model_tests::formats(), totals)?;
    // cts `fail` in the static format.
    let program = around(
        |p, start| p.q(&[start], Op::Dispatch(d(Kernel::Fail, 3, vec![], vec![]))),
        StatusCode::Internal,
    )?;
    let static_only: Vec<cts::Format> = model_tests::formats()
        .into_iter()
        .filter(|f| f.name == loader_static::STATIC_FORMAT)
        .collect();
    run_everywhere(&[program], &static_only, totals)
}

fn host_call_fails(totals: &mut Totals) -> Result<(), String> {
    let program = around(
        |p, start| p.q(&[start], Op::HostCall(HostCall::Fail(1))),
        fault_status(1).code(),
    )?;
    run_everywhere(&[program], &model_tests::formats(), totals)
}

fn host_call_panics(totals: &mut Totals) -> Result<(), String> {
    let program = around(
        |p, start| p.q(&[start], Op::HostCall(HostCall::Panic(2))),
        StatusCode::Internal,
    )?;
    run_everywhere(&[program], &model_tests::formats(), totals)
}

fn wasm_trap(totals: &mut Totals) -> Result<(), String> {
    let mut programs = Vec::new();
    for n in [0u32, 9, 31] {
        programs.push(around(
            |p, start| {
                p.q(
                    &[start],
                    Op::Dispatch(d(Kernel::TrapAt, 32, vec![n], vec![r(0, 3 * T, T / 2)])),
                )
            },
            StatusCode::Aborted,
        )?);
    }
    run_everywhere(&programs, &model_tests::formats(), totals)
}

/// Work parked on a gate that another thread fails mid-flight (while independent work runs).
fn semaphore_failed_from_another_thread(totals: &mut Totals) -> Result<(), String> {
    let mut p = P::new(&[(4 * T, Memory::Device), (2 * T, Memory::Device)]);
    let gate = p.sem();
    let gate_tp = Tp {
        sem: gate,
        value: 1,
    };
    let failing = downstream(&mut p, gate_tp);
    let done = independent(&mut p, &[]);
    p.step(Step::Fail {
        sem: gate,
        fault: 3,
        thread: true,
    });
    let more = independent(&mut p, &[done]);
    model_says(&p.program, &failing, fault_status(3).code(), &[done, more])?;
    run_everywhere(&[p.program], &model_tests::formats(), totals)
}

/// An alloca past the device's memory limit fails RESOURCE_EXHAUSTED, and everything using the
/// buffer fails; a small alloca and independent work complete; both allocas' memory and every
/// device allocation are released afterwards.
fn alloca_past_memory_limit(totals: &mut Totals) -> Result<(), String> {
    let mut p = P::new(&[
        (4 * T, Memory::Device),
        (2 * T, Memory::Imported),
        (FAULT_MEMORY_LIMIT + T, Memory::Alloca),
        (2 * T, Memory::Alloca),
    ]);
    let huge = p.q(&[], Op::Alloca { allocation: 2 });
    let small = p.q(&[], Op::Alloca { allocation: 3 });
    let use_huge = p.q(
        &[huge],
        Op::Fill {
            target: r(2, 0, 4 * T),
            pattern: Pattern::U8(1),
        },
    );
    let copy_out = p.q(
        &[use_huge],
        Op::Copy {
            source: r(2, 0, T),
            target: r(0, 3 * T, T),
        },
    );
    let use_small = p.q(
        &[small],
        Op::Fill {
            target: r(3, 0, 2 * T),
            pattern: Pattern::U16(0x1234),
        },
    );
    let negate = p.q(
        &[use_small],
        Op::Dispatch(d(Kernel::Negate, 1, vec![], vec![r(3, 0, T), r(3, T, T)])),
    );
    let done = independent(&mut p, &[]);
    model_says(
        &p.program,
        &[huge, use_huge, copy_out],
        StatusCode::ResourceExhausted,
        &[small, use_small, negate, done],
    )?;
    run_everywhere(&[p.program], &model_tests::formats(), totals)?;
    // A device allocation past the limit is refused at once, naming the limit.
    let device = hal_core::create_device(&format!(
        "local-task://?workers=2&memory_limit={FAULT_MEMORY_LIMIT}"
    ))
    .map_err(|s| s.to_string())?;
    let status = device
        .allocate_buffer(hal_core::BufferParams::default(), FAULT_MEMORY_LIMIT + 1)
        .err()
        .ok_or("an allocation past the memory limit succeeded")?;
    if status.code() != StatusCode::ResourceExhausted {
        return Err(format!(
            "an allocation past the memory limit failed with {status}"
        ));
    }
    Ok(())
}

/// Work parked on a semaphore whose every handle is dropped fails as CANCELLED, and so does work
/// downstream of it; the buffers it held are released.
fn dropped_handles_with_parked_work(totals: &mut Totals) -> Result<(), String> {
    let mut p = P::new(&[(4 * T, Memory::Device), (2 * T, Memory::Imported)]);
    let orphan = p.sem();
    let orphan_tp = Tp {
        sem: orphan,
        value: 1,
    };
    let failing = downstream(&mut p, orphan_tp);
    let done = independent(&mut p, &[]);
    p.step(Step::Drop { sem: orphan });
    let more = independent(&mut p, &[done]);
    model_says(&p.program, &failing, StatusCode::Cancelled, &[done, more])?;
    run_everywhere(&[p.program], &model_tests::formats(), totals)
}

/// Random fault programs (see `model_tests::build`) on `driver` × every format.
fn random_fault_programs(driver: DriverConfig, totals: &mut Totals) -> Result<(), String> {
    let cases = std::env::var("MODEL_FAULT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let seed = match std::env::var("MODEL_TEST_SEED").ok().as_deref() {
        Some("random") => RngSeed::Random,
        Some(value) => RngSeed::Fixed(value.parse().map_err(|_| "MODEL_TEST_SEED")?),
        None => RngSeed::Fixed(0xFA17),
    };
    let options = Options::faults(32);
    let formats = model_tests::formats();
    let targets = targets(driver, &formats)?;
    let totals_cell = std::cell::RefCell::new(std::mem::take(totals));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: seed,
        max_shrink_iters: 2048,
        max_global_rejects: 4096,
        ..Config::default()
    });
    let result = runner.run(&build::raw_program(options), |raw| {
        let program = build::build(&raw, options);
        model_tests::order::check_well_ordered(&program)
            .map_err(|e| TestCaseError::fail(format!("ill-ordered program: {e}")))?;
        for target in &targets {
            let expected = model::interpret(&program, target.semantics());
            if expected.visit_overflow {
                return Err(TestCaseError::reject("a visit would see u32::MAX"));
            }
            run_checked(target, &program, &mut totals_cell.borrow_mut())
                .map_err(TestCaseError::fail)?;
        }
        Ok(())
    });
    drop(runner);
    *totals = totals_cell.into_inner();
    for target in &targets {
        settle_device(target)?;
    }
    if result.is_err() {
        totals.lost += 1;
    }
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, raw)) => Err(format!(
            "{reason}\n\nMinimal failing program:\n{}",
            build::build(&raw, options).to_rust()
        )),
        Err(TestError::Abort(reason)) => Err(format!("proptest aborted: {reason}")),
    }
}

fn scenarios() -> Vec<Scenario> {
    let mut list: Vec<Scenario> = vec![
        Scenario {
            name: "kernel_fails_at_workgroup".into(),
            run: Box::new(kernel_fails_at_workgroup),
        },
        Scenario {
            name: "host_call_fails".into(),
            run: Box::new(host_call_fails),
        },
        Scenario {
            name: "host_call_panics".into(),
            run: Box::new(host_call_panics),
        },
        Scenario {
            name: "semaphore_failed_from_another_thread".into(),
            run: Box::new(semaphore_failed_from_another_thread),
        },
        Scenario {
            name: "alloca_past_memory_limit".into(),
            run: Box::new(alloca_past_memory_limit),
        },
        Scenario {
            name: "wasm_trap".into(),
            run: Box::new(wasm_trap),
        },
        Scenario {
            name: "dropped_handles_with_parked_work".into(),
            run: Box::new(dropped_handles_with_parked_work),
        },
    ];
    for driver in DRIVERS {
        list.push(Scenario {
            name: format!("random_fault_programs/{}", driver.name),
            run: Box::new(move |totals| random_fault_programs(driver, totals)),
        });
    }
    list
}

fn main() {
    // Host calls that panic on purpose would print a backtrace each; other panics still do.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !message.starts_with("model fault #") {
            default_hook(info);
        }
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for scenario in scenarios() {
            println!("{}: test", scenario.name);
        }
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let started = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    let mut totals = Totals::default();
    for scenario in scenarios() {
        if !filters.is_empty() && !filters.iter().any(|f| scenario.name.contains(f.as_str())) {
            continue;
        }
        let t = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            measured(&scenario, &mut totals)
        }))
        .unwrap_or_else(|_| Err("panicked".into()));
        match result {
            Ok(()) => {
                passed += 1;
                println!("test {} ... ok ({:.1?})", scenario.name, t.elapsed());
            }
            Err(e) => {
                failed += 1;
                println!(
                    "test {} ... FAILED ({:.1?})\n{e}\n",
                    scenario.name,
                    t.elapsed()
                );
            }
        }
    }
    let kinds: Vec<String> = totals
        .faults
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    println!(
        "fault summary: {} checked runs; faults injected: {} ({}); operations failed as their faults required: {}; independent operations completed exactly: {}; results lost: {}; in {:.1?}",
        totals.runs,
        totals.faults.values().sum::<usize>(),
        kinds.join(", "),
        totals.failed_as_expected,
        totals.completed,
        totals.lost,
        started.elapsed()
    );
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
