//! The local semaphore under single-threaded rules and multi-threaded stress.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hal_core::{Semaphore, Status, StatusCode, Timeout, WaitMode};
use hal_local::{wait_timepoints, LocalSemaphore};

const LONG: Timeout = Timeout::After(Duration::from_secs(20));

#[test]
fn callbacks_run_outside_the_lock_and_may_signal_again() {
    let semaphore = LocalSemaphore::new(0);
    let handle = Semaphore::new(semaphore.clone());
    let again = handle.clone();
    // A callback that signals its own semaphore would deadlock if run under the lock.
    semaphore.add_timepoint(
        1,
        Box::new(move |result| {
            result.unwrap();
            again.signal(2).unwrap();
        }),
    );
    handle.signal(1).unwrap();
    assert_eq!(handle.query().unwrap(), 2);
}

#[test]
fn timepoints_fire_once_and_can_be_cancelled() {
    let semaphore = LocalSemaphore::new(0);
    let fired = Arc::new(AtomicUsize::new(0));
    let ids: Vec<_> = (1..=4u64)
        .map(|value| {
            let fired = fired.clone();
            semaphore.add_timepoint(
                value,
                Box::new(move |_| {
                    fired.fetch_add(1, Ordering::SeqCst);
                }),
            )
        })
        .collect();
    assert!(semaphore.cancel_timepoint(ids[3].unwrap()));
    let handle = Semaphore::new(semaphore.clone());
    handle.signal(2).unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 2);
    assert!(
        !semaphore.cancel_timepoint(ids[0].unwrap()),
        "already fired"
    );
    handle.signal(10).unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 3);
    assert_eq!(semaphore.pending_timepoints(), 0);
    // Already reached: runs at once on this thread.
    let fired_now = fired.clone();
    assert!(semaphore
        .add_timepoint(
            5,
            Box::new(move |_| {
                fired_now.fetch_add(1, Ordering::SeqCst);
            })
        )
        .is_none());
    assert_eq!(fired.load(Ordering::SeqCst), 4);
}

#[test]
fn failure_is_sticky_and_wakes_every_kind_of_waiter() {
    let a = LocalSemaphore::create(0);
    let b = LocalSemaphore::create(0);
    let start = Arc::new(Barrier::new(4));
    let waiters: Vec<_> = (0..3)
        .map(|kind| {
            let (a, b, start) = (a.clone(), b.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                match kind {
                    0 => a.wait(1, LONG),
                    1 => wait_timepoints(WaitMode::All, &[a.at(1), b.at(1)], LONG),
                    _ => wait_timepoints(WaitMode::Any, &[b.at(1), a.at(1)], LONG),
                }
            })
        })
        .collect();
    start.wait();
    std::thread::sleep(Duration::from_millis(20));
    a.fail(Status::data_loss("disk on fire"));
    a.fail(Status::internal("second failure loses"));
    for waiter in waiters {
        let error = waiter.join().unwrap().unwrap_err();
        assert_eq!(error.code(), StatusCode::DataLoss);
        assert_eq!(error.message(), "disk on fire");
    }
    assert_eq!(a.query().unwrap_err().code(), StatusCode::DataLoss);
    assert_eq!(
        a.signal(5).unwrap_err().code(),
        StatusCode::FailedPrecondition
    );
}

#[test]
fn deadlines_are_real_and_leave_nothing_behind() {
    let semaphore = LocalSemaphore::new(0);
    let handle = Semaphore::new(semaphore.clone());
    for timeout in [
        Timeout::Immediate,
        Timeout::After(Duration::from_millis(15)),
    ] {
        let started = Instant::now();
        let error = handle.wait(1, timeout).unwrap_err();
        assert_eq!(error.code(), StatusCode::DeadlineExceeded);
        if let Timeout::After(d) = timeout {
            assert!(started.elapsed() >= d);
        }
    }
    let other = LocalSemaphore::create(0);
    let error = wait_timepoints(
        WaitMode::All,
        &[handle.at(1), other.at(1)],
        Timeout::After(Duration::from_millis(5)),
    )
    .unwrap_err();
    assert_eq!(error.code(), StatusCode::DeadlineExceeded);
    assert_eq!(
        semaphore.pending_timepoints(),
        0,
        "timed-out waits cancel their timepoints"
    );
}

#[test]
fn ping_pong_between_threads() {
    let (ping, pong) = (LocalSemaphore::create(0), LocalSemaphore::create(0));
    const ROUNDS: u64 = 20_000;
    let (p, q) = (ping.clone(), pong.clone());
    let partner = std::thread::spawn(move || {
        for round in 1..=ROUNDS {
            p.wait(round, LONG).unwrap();
            q.signal(round).unwrap();
        }
    });
    for round in 1..=ROUNDS {
        ping.signal(round).unwrap();
        pong.wait(round, LONG).unwrap();
    }
    partner.join().unwrap();
}

#[test]
fn many_waiters_many_signallers_no_lost_wakeup() {
    let semaphores: Vec<Semaphore> = (0..4).map(|_| LocalSemaphore::create(0)).collect();
    const TARGET: u64 = 2_000;
    std::thread::scope(|scope| {
        for (index, semaphore) in semaphores.iter().enumerate() {
            scope.spawn(move || {
                for value in 1..=TARGET {
                    semaphore.signal(value).unwrap();
                    if value % 97 == index as u64 {
                        std::thread::yield_now();
                    }
                }
            });
        }
        for mode in [WaitMode::All, WaitMode::Any] {
            let semaphores = &semaphores;
            scope.spawn(move || {
                let mut value = 1;
                while value <= TARGET {
                    let points: Vec<_> = semaphores.iter().map(|s| s.at(value)).collect();
                    wait_timepoints(mode, &points, LONG).unwrap();
                    value += 37;
                }
            });
        }
    });
    for semaphore in &semaphores {
        assert_eq!(semaphore.query().unwrap(), TARGET);
    }
}
