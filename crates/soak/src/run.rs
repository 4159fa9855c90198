//! One driver × format: a fresh device shared by every thread for the given time, then the
//! checks that need every thread stopped (the ring's final state, the device still working,
//! every byte of device memory released), under a watchdog that ends the process if the run
//! hangs.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::env::{Env, RING_WIDTH};
use crate::scenarios::{run_checked, run_one, still_usable};
use crate::timeout::WAIT;
use crate::worker::{Stats, Worker};

/// What one driver × format did.
pub(crate) struct Outcome {
    pub driver: &'static str,
    pub format: &'static str,
    pub elapsed: Duration,
    pub stats: Stats,
}

/// Runs `threads` threads on a new device of `uri` with `format` for `seconds`.
pub(crate) fn run(
    driver: &'static str,
    uri: &str,
    format: cts::Format,
    seconds: f64,
    threads: usize,
    seed: u64,
) -> Result<Outcome> {
    let device =
        hal_core::create_device(uri).with_context(|| format!("creating device '{uri}'"))?;
    let baseline = device.allocator().statistics().live_bytes;
    let env = Env::new(device.clone(), format)
        .with_context(|| format!("setting up {driver} with format {}", format.name))?;

    let progress = Arc::new(Mutex::new(vec!["start"; threads + 1]));
    let done = watchdog(
        format!("{driver} × {}", format.name),
        Duration::from_secs_f64(seconds) + 2 * WAIT + Duration::from_secs(60),
        progress.clone(),
    );
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut stats = Stats::default();
    std::thread::scope(|scope| -> Result<()> {
        let handles = (0..threads)
            .map(|thread| {
                let worker = Worker::new(&env, seed, thread, &progress, &stop);
                std::thread::Builder::new()
                    .name(format!("soak-{thread}"))
                    .spawn_scoped(scope, move || worker.run_until(deadline, run_one))
                    .context("spawning a soak thread")
            })
            .collect::<Result<Vec<_>>>()?;
        for handle in handles {
            match handle.join() {
                Ok(thread_stats) => stats.add(&thread_stats),
                Err(_) => {
                    stats.lost += 1;
                    stats
                        .losses
                        .push("a soak thread panicked outside its scenarios".into());
                }
            }
        }
        Ok(())
    })?;
    let elapsed = start.elapsed();

    // Checks that need every thread stopped, by an extra worker.
    let mut last = Worker::new(&env, seed, threads, &progress, &stop);
    last.enter("final checks");
    final_checks(&mut last, &env);
    stats.add(&last.stats);
    drop(last);
    drop(env);
    check_released(&device, baseline, &mut stats);
    let _ = done.send(());
    Ok(Outcome {
        driver,
        format: format.name,
        elapsed,
        stats,
    })
}

/// The ring reached two values per ticket and its counter holds every ticket's visits; a last
/// chain of dispatches still runs right.
fn final_checks(w: &mut Worker<'_>, env: &Env) {
    let ring = &env.ring;
    let tickets = ring.tickets();
    let at = ring.semaphore.query();
    w.check(at.as_ref().ok() == Some(&(2 * tickets)), || {
        format!(
            "the ring is at {at:?} after {tickets} tickets (expected {})",
            2 * tickets
        )
    });
    let expected = *ring
        .expected
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match ring.counter.read_elements::<u32>(0, RING_WIDTH) {
        Ok(actual) => {
            w.check_slice(&actual, &expected, "the ring counter after every ticket");
        }
        Err(status) => w.lose(format!("reading the ring counter: {status}")),
    }
    w.enter("the device after the soak");
    run_checked(w, still_usable);
}

/// Every buffer is dropped: the allocator must be back where it started (polled for a while,
/// since drivers may release memory after signalling).
fn check_released(device: &hal_core::Device, baseline: u64, stats: &mut Stats) {
    let deadline = Instant::now() + Duration::from_secs(5);
    stats.checks += 1;
    loop {
        let live = device.allocator().statistics().live_bytes;
        if live == baseline {
            return;
        }
        if Instant::now() > deadline {
            stats.lost += 1;
            stats.losses.push(format!(
                "{} bytes of device memory still allocated after every buffer was dropped",
                live - baseline.min(live)
            ));
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Ends the process (exit status 1) if nothing is sent on the returned channel within `limit`:
/// a thread blocked for good is a hang, and a hang must not stall CI.
fn watchdog(
    label: String,
    limit: Duration,
    progress: Arc<Mutex<Vec<&'static str>>>,
) -> mpsc::Sender<()> {
    let (sender, receiver) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = receiver.recv_timeout(limit) {
            let where_ = progress
                .lock()
                .map(|p| p.clone())
                .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
            eprintln!(
                "soak: {label}: HUNG: still running {} s after it started; the threads are in: {where_:?}",
                limit.as_secs()
            );
            std::process::exit(1);
        }
    });
    sender
}
