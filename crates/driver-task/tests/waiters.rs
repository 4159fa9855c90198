//! Threads that wait on the device's semaphores may run ready work themselves (`help_wait`), but
//! only work that cannot outlast their deadline: never for an `Immediate` wait, never a host call
//! (which may block on anything, the waiting thread included). And a host call that panics on a
//! device with one worker and no helping leaves the device working.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use hal_core::{create_device, Device, StatusCode, Timeout};

use driver_task as _;

fn device(uri: &str) -> Device {
    create_device(uri).expect("a local-task device")
}

/// Occupies the device's only worker with a host call until the returned sender is dropped.
fn occupy_worker(device: &Device) -> mpsc::Sender<()> {
    let (release, blocked) = mpsc::channel::<()>();
    let (started, wait_started) = mpsc::channel();
    device
        .queue_host_call(&[], &[], move || {
            started.send(()).ok();
            let _ = blocked.recv();
            Ok(())
        })
        .unwrap();
    wait_started
        .recv_timeout(Duration::from_secs(10))
        .expect("the worker started the blocking host call");
    release
}

#[test]
fn an_immediate_wait_never_runs_queued_work() {
    let device = device("local-task://?workers=1");
    let release = occupy_worker(&device);
    let done = device.create_semaphore(0).unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    device
        .queue_host_call(&[], &[done.at(1)], move || {
            flag.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })
        .unwrap();
    let start = Instant::now();
    let status = done.wait(1, Timeout::Immediate).unwrap_err();
    assert_eq!(status.code(), StatusCode::DeadlineExceeded, "{status}");
    assert!(
        !ran.load(Ordering::SeqCst),
        "an Immediate wait ran a queued host call (it took {:?})",
        start.elapsed()
    );
    let status = device
        .wait_semaphores(hal_core::WaitMode::Any, &[done.at(1)], Timeout::Immediate)
        .unwrap_err();
    assert_eq!(status.code(), StatusCode::DeadlineExceeded, "{status}");
    assert!(
        !ran.load(Ordering::SeqCst),
        "an Immediate multi-wait ran a host call"
    );
    drop(release);
    done.wait(1, Duration::from_secs(10)).unwrap();
}

#[test]
fn a_waiter_never_runs_a_host_call() {
    let device = device("local-task://?workers=1");
    let release = occupy_worker(&device);
    // This host call waits for something the waiting thread does only after its wait returns.
    let (after_wait, done) = (
        device.create_semaphore(0).unwrap(),
        device.create_semaphore(0).unwrap(),
    );
    let blocker = after_wait.clone();
    device
        .queue_host_call(&[], &[done.at(1)], move || {
            blocker.wait(1, Duration::from_secs(10))
        })
        .unwrap();
    let start = Instant::now();
    let status = done.wait(1, Duration::from_millis(50)).unwrap_err();
    let waited = start.elapsed();
    assert_eq!(status.code(), StatusCode::DeadlineExceeded, "{status}");
    assert!(
        waited < Duration::from_secs(2),
        "a 50 ms wait took {waited:?}: it ran the host call that waits for it"
    );
    after_wait.signal(1).unwrap();
    drop(release);
    done.wait(1, Duration::from_secs(10)).unwrap();
}

#[test]
fn a_panicking_host_call_leaves_a_one_worker_device_working() {
    let device = device("local-task://?workers=1&help_wait=false");
    let failed = device.create_semaphore(0).unwrap();
    device
        .queue_host_call(&[], &[failed.at(1)], || {
            panic!("on purpose, on the only worker")
        })
        .unwrap();
    let status = failed.wait(1, Duration::from_secs(10)).unwrap_err();
    assert_eq!(status.code(), StatusCode::Internal, "{status}");
    assert!(status.message().contains("on purpose"), "{status}");
    let next = device.create_semaphore(0).unwrap();
    for value in 1..=3 {
        device
            .queue_host_call(&[], &[next.at(value)], || Ok(()))
            .unwrap();
        next.wait(value, Duration::from_secs(10))
            .expect("the worker still runs work after a host call panicked on it");
    }
}
