//! Model checks of the local semaphore under every interleaving loom explores: signal, wait,
//! fail, timed-out waits, multi-waits and the wait lists that park queue work, all racing.
//! `RUSTFLAGS="--cfg loom" cargo test -p hal-local --test loom_semaphore --release`
//! (run by `cargo xtask ci`). Loom reports a deadlock if a wakeup is ever lost.
#![cfg(loom)]

use std::sync::Arc;

use hal_core::{Semaphore, SemaphoreImpl, Status, StatusCode, Timeout, WaitMode};
use hal_local::{wait_timepoints, when_reached, LocalSemaphore, QueueSignals};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

fn semaphore(initial: u64) -> (Arc<LocalSemaphore>, Semaphore) {
    let local = LocalSemaphore::new(initial);
    let handle = Semaphore::new(local.clone());
    (local, handle)
}

/// A waiter blocked on a value is woken by the signal that reaches it, whoever goes first.
#[test]
fn a_signal_always_wakes_a_waiter() {
    loom::model(|| {
        let (local, handle) = semaphore(0);
        let waiter = thread::spawn(move || local.wait(1, Timeout::Infinite));
        handle.signal(1).unwrap();
        waiter.join().unwrap().unwrap();
    });
}

/// A failure wakes every waiter with the failure, and signals after it are refused.
#[test]
fn a_failure_wakes_every_waiter_with_it() {
    loom::model(|| {
        let (local, handle) = semaphore(0);
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let local = local.clone();
                thread::spawn(move || local.wait(1, Timeout::Infinite))
            })
            .collect();
        handle.fail(Status::aborted("loom"));
        for waiter in waiters {
            let status = waiter.join().unwrap().unwrap_err();
            assert_eq!(status.code(), StatusCode::Aborted);
        }
        assert!(handle.signal(1).is_err());
    });
}

/// A wait that times out while the value is being reached either returns the success or the
/// timeout — never hangs, never loses the registration (loom's timed waits time out at once).
#[test]
fn a_timed_out_wait_races_a_signal_cleanly() {
    loom::model(|| {
        let (local, handle) = semaphore(0);
        let waiter = {
            let local = local.clone();
            thread::spawn(move || local.wait(1, Timeout::After(std::time::Duration::from_secs(1))))
        };
        handle.signal(1).unwrap();
        match waiter.join().unwrap() {
            Ok(()) => {}
            Err(status) => assert_eq!(status.code(), StatusCode::DeadlineExceeded),
        }
        assert_eq!(
            local.pending_timepoints(),
            0,
            "a timed-out wait left its timepoint"
        );
    });
}

/// A timepoint fires exactly once, or never if its cancellation won.
#[test]
fn a_timepoint_fires_once_or_is_cancelled() {
    loom::model(|| {
        let (local, handle) = semaphore(0);
        let fired = Arc::new(AtomicUsize::new(0));
        let counter = fired.clone();
        let id = local
            .add_timepoint(
                1,
                Box::new(move |result| {
                    result.unwrap();
                    counter.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .expect("not reached yet");
        let canceller = {
            let local = local.clone();
            thread::spawn(move || local.cancel_timepoint(id))
        };
        handle.signal(1).unwrap();
        let cancelled = canceller.join().unwrap();
        assert_eq!(
            fired.load(Ordering::SeqCst),
            usize::from(!cancelled),
            "cancelled: {cancelled}"
        );
    });
}

/// Parked work on two semaphores runs exactly once, after both are reached, when they are
/// signalled from two threads at once.
#[test]
fn a_wait_list_resolves_once_when_the_last_wait_is_reached() {
    loom::model(|| {
        let (_, a) = semaphore(0);
        let (_, b) = semaphore(0);
        let (_, done) = semaphore(0);
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let (wait_a, wait_b) = (a.clone(), b.clone());
        when_reached(
            &[a.at(1), b.at(1)],
            QueueSignals::new(vec![done.at(1)]).unwrap(),
            Box::new(move |result, signals| {
                assert!(wait_a.query().unwrap() >= 1 && wait_b.query().unwrap() >= 1);
                counter.fetch_add(1, Ordering::SeqCst);
                signals.complete(result);
            }),
        )
        .unwrap();
        let signaller = thread::spawn(move || a.signal(1).unwrap());
        b.signal(1).unwrap();
        signaller.join().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(done.query().unwrap(), 1);
    });
}

/// A failure of one wait while another is reached resolves parked work once, with the failure,
/// and leaves no registration behind on the other semaphore.
#[test]
fn a_wait_list_fails_once_and_cancels_the_rest() {
    loom::model(|| {
        let (a_local, a) = semaphore(0);
        let (b_local, b) = semaphore(0);
        let (_, done) = semaphore(0);
        let results = Arc::new(AtomicUsize::new(0));
        let counter = results.clone();
        when_reached(
            &[a.at(1), b.at(1)],
            QueueSignals::new(vec![done.at(1)]).unwrap(),
            Box::new(move |result, signals| {
                assert!(result.is_err(), "a failed wait resolved with success");
                counter.fetch_add(1, Ordering::SeqCst);
                signals.complete(result);
            }),
        )
        .unwrap();
        let failer = thread::spawn(move || a.fail(Status::aborted("loom")));
        b.signal(1).unwrap();
        failer.join().unwrap();
        assert_eq!(results.load(Ordering::SeqCst), 1);
        assert_eq!(done.query().unwrap_err().code(), StatusCode::Aborted);
        assert_eq!(
            a_local.pending_timepoints() + b_local.pending_timepoints(),
            0
        );
    });
}

/// A multi-wait for any of two timepoints returns when the one being signalled is reached, and
/// one for all of them returns the failure of either.
#[test]
fn multi_waits_wake_for_any_and_fail_for_all() {
    loom::model(|| {
        let (_, a) = semaphore(0);
        let (_, b) = semaphore(0);
        let list = [a.at(1), b.at(1)];
        let waiter = {
            let list = list.clone();
            thread::spawn(move || wait_timepoints(WaitMode::Any, &list, Timeout::Infinite))
        };
        b.signal(1).unwrap();
        waiter.join().unwrap().unwrap();

        let waiter = {
            let list = list.clone();
            thread::spawn(move || wait_timepoints(WaitMode::All, &list, Timeout::Infinite))
        };
        a.fail(Status::aborted("loom"));
        let status = waiter.join().unwrap().unwrap_err();
        assert_eq!(status.code(), StatusCode::Aborted);
    });
}
