//! Executables loaded without budget checks: they run correctly but nothing interrupts them, and
//! executables loaded with checks keep theirs. Alone in its process because the switch is
//! process-wide.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{buffer_with, device, dispatch, prepare, sandbox};
use hal_core::StatusCode;

#[test]
fn checks_are_chosen_per_executable_at_load() {
    loader_wasm::set_dispatch_budget(Duration::from_millis(200));
    let device = device();
    assert!(loader_wasm::budget_checks(), "checks are on by default");
    let checked = prepare(&device, &sandbox()).unwrap();
    loader_wasm::set_budget_checks(false);
    let unchecked = prepare(&device, &sandbox()).unwrap();
    loader_wasm::set_budget_checks(true);

    // Both run kernels correctly, traps included.
    let data = buffer_with(&device, &[1u32, 2, 3]);
    dispatch(&device, &unchecked, "double", [1, 1, 1], &[], &[&data]).unwrap();
    assert_eq!(data.read_elements::<u32>(0, 3).unwrap(), [2, 4, 6]);
    let status = dispatch(&device, &unchecked, "unreachable", [1, 1, 1], &[], &[]).unwrap_err();
    assert_eq!(status.code(), StatusCode::Aborted, "{status}");

    // The checked one is interrupted at its budget even after the switch was flipped.
    let status = dispatch(&device, &checked, "spin", [1, 1, 1], &[], &[]).unwrap_err();
    assert_eq!(status.code(), StatusCode::DeadlineExceeded, "{status}");

    // The unchecked one is not: it still spins long after the budget. Its thread is left
    // spinning; the test process ends with it.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let device = common::device();
        let result = dispatch(&device, &unchecked, "spin", [1, 1, 1], &[], &[]);
        let _ = done.send(result.map_err(|s| s.code()));
    });
    assert_eq!(
        finished.recv_timeout(Duration::from_secs(2)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "an unchecked kernel ran past 10 budgets without being stopped"
    );
}
