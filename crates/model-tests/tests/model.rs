//! Model-based tests: random well-ordered programs of queue operations (fill, update, copy,
//! dispatch, execute of one-shot, inline and reusable command buffers with binding tables,
//! barrier, host call, alloca) with host signals (from this thread or another) and host waits, on
//! device buffers, imported host memory, alloca'd memory, subspans and aliased ranges, run on one
//! driver configuration per test × every executable format. Each run must match the reference
//! interpreter exactly: every byte, every semaphore value, every host call once and in order, no
//! refused call, imported memory released once.
//!
//! A failure shrinks to a minimal program, printed as Rust to paste into `tests/regressions.rs`.
//! `MODEL_TEST_CASES=N` runs N programs per driver (default 1000); `MODEL_TEST_SEED=N` or
//! `MODEL_TEST_SEED=random` picks the random seed (default: a fixed one, so CI is reproducible).

use std::sync::Mutex;

use model_tests::build::{self, Options};
use model_tests::exec::{self, DriverConfig, Target, DRIVERS};
use model_tests::model::{self, Outcome};
use model_tests::{order, stats};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// Raw steps per program at most.
const MAX_STEPS: usize = 40;
/// Programs per driver configuration by default: about 2 minutes for the whole crate in debug on
/// two cores.
const DEFAULT_CASES: u32 = 1000;

fn cases() -> u32 {
    std::env::var("MODEL_TEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn seed(driver: usize) -> RngSeed {
    match std::env::var("MODEL_TEST_SEED").ok().as_deref() {
        Some("random") => RngSeed::Random,
        Some(value) => RngSeed::Fixed(
            value
                .parse()
                .expect("MODEL_TEST_SEED: a number or 'random'"),
        ),
        None => RngSeed::Fixed(0x5EED_0000 + driver as u64),
    }
}

/// Runs `cases()` random programs on `driver` × every format.
fn check_driver(index: usize) {
    let driver: DriverConfig = DRIVERS[index];
    let formats = model_tests::formats();
    let options = Options::model(MAX_STEPS);
    let targets: Mutex<Vec<Option<Target>>> = Mutex::new(formats.iter().map(|_| None).collect());
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        rng_seed: seed(index),
        max_shrink_iters: 4096,
        max_global_rejects: 4096,
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let result = runner.run(&build::raw_program(options), |raw| {
        let program = build::build(&raw, options);
        order::check_well_ordered(&program).map_err(|e| {
            TestCaseError::fail(format!("the builder made an ill-ordered program: {e}"))
        })?;
        let mut targets = targets.lock().unwrap_or_else(|e| e.into_inner());
        for (f, format) in formats.iter().enumerate() {
            if targets[f].is_none() {
                targets[f] =
                    Some(Target::new(driver, *format, None, false).map_err(TestCaseError::fail)?);
            }
            let target = targets[f].as_ref().expect("created");
            let expected = model::interpret(&program, target.semantics());
            if expected.visit_overflow {
                return Err(TestCaseError::reject("a visit would see u32::MAX"));
            }
            if let Some(step) = expected.steps.iter().position(|o| *o == Outcome::Blocks) {
                return Err(TestCaseError::fail(format!(
                    "the builder made a program whose step {step} blocks forever"
                )));
            }
            match exec::run(target, &program, &expected) {
                Ok(run) => stats::record(driver.name, format.name, &run),
                Err(e) => {
                    // A fresh device for the next program: this one may hold parked work.
                    targets[f] = None;
                    return Err(TestCaseError::fail(format!(
                        "{} × {}: {e}",
                        driver.name, format.name
                    )));
                }
            }
        }
        Ok(())
    });
    for (format, tally) in stats::tallies(driver.name) {
        stats::print(&format!(
            "model summary: {} × {format}: {} programs, {} operations checked; allocations: {} device, {} imported, {} alloca; {} sub-span views",
            driver.name,
            tally.programs,
            tally.operations,
            tally.allocations[0],
            tally.allocations[1],
            tally.allocations[2],
            tally.subspans
        ));
    }
    stats::print(&format!(
        "model summary: {}: {} cases in {:.1?}",
        driver.name,
        cases(),
        started.elapsed()
    ));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, raw)) => {
            let program = build::build(&raw, options);
            panic!(
                "{reason}\n\nMinimal failing program (add it to tests/regressions.rs):\n{}",
                program.to_rust()
            );
        }
        Err(TestError::Abort(reason)) => panic!("proptest aborted: {reason}"),
    }
}

#[test]
fn local_sync() {
    check_driver(0);
}

#[test]
fn local_sync_deferred() {
    check_driver(1);
}

#[test]
fn local_task_1_worker() {
    check_driver(2);
}

#[test]
fn local_task_2_workers() {
    check_driver(3);
}

#[test]
fn local_task_3_workers() {
    check_driver(4);
}
