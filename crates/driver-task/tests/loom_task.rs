//! Model checks of local-task's ordering primitives under every interleaving loom explores:
//! `RUSTFLAGS="--cfg loom" cargo test -p driver-task --test loom_task --release`
//! (run by `cargo xtask ci`).
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;

use driver_task::regions::{Region, Regions, Tiled};
use driver_task::sleep::Sleep;

/// A worker that finds no work and goes to sleep is always woken by a producer that publishes
/// work afterwards: no lost wakeup (loom reports a deadlock otherwise).
#[test]
fn sleep_never_loses_a_wakeup() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::default());
        let work = Arc::new(AtomicBool::new(false));
        let worker = {
            let (sleep, work) = (sleep.clone(), work.clone());
            thread::spawn(move || loop {
                let seen = sleep.epoch();
                if work.load(Ordering::SeqCst) {
                    return;
                }
                sleep.sleep(seen);
            })
        };
        work.store(true, Ordering::SeqCst);
        sleep.notify(1);
        worker.join().unwrap();
    });
}

struct Tiles(u64);

impl Tiled for Tiles {
    fn tiles(&self) -> u64 {
        self.0
    }
}

/// Two threads claim tiles of three regions (the last finisher of each opens the next, keeping
/// its first chunk): every
/// tile runs exactly once, and no tile of a region starts before every tile of the previous
/// region finished — the barrier.
#[test]
fn regions_hand_off_in_order_and_run_each_tile_once() {
    const SIZES: [u64; 3] = [2, 1, 2];
    // Claimers spin while the next region is not open; bounding preemptions keeps the search
    // finite while still covering every hand-off order of two threads.
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let regions = Arc::new(Regions::<Tiles>::new(SIZES.len()));
        let done: Arc<Vec<AtomicU64>> = Arc::new(SIZES.iter().map(|_| AtomicU64::new(0)).collect());
        let finished = Arc::new(AtomicBool::new(false));
        regions.open(0, Region::new(vec![Tiles(SIZES[0])], 2));
        let work =
            |regions: Arc<Regions<Tiles>>, done: Arc<Vec<AtomicU64>>, finished: Arc<AtomicBool>| {
                move || {
                    // A last finisher opens the next region with its first chunk pre-claimed and
                    // runs that chunk next, as the driver does.
                    let mut pending = None;
                    while !finished.load(Ordering::Acquire) {
                        let Some(claim) = pending.take().or_else(|| regions.claim()) else {
                            thread::yield_now();
                            continue;
                        };
                        if claim.region > 0 {
                            assert_eq!(
                                done[claim.region - 1].load(Ordering::Relaxed),
                                SIZES[claim.region - 1],
                                "region {} started before region {} finished",
                                claim.region,
                                claim.region - 1
                            );
                        }
                        done[claim.region].fetch_add(claim.count, Ordering::Relaxed);
                        if regions.complete(claim) {
                            let next = claim.region + 1;
                            if next == SIZES.len() {
                                finished.store(true, Ordering::Release);
                            } else {
                                let region = Region::new(vec![Tiles(SIZES[next])], 2);
                                pending = regions.open_claiming(next, region, true).1;
                            }
                        }
                    }
                }
            };
        let other = thread::spawn(work(regions.clone(), done.clone(), finished.clone()));
        work(regions.clone(), done.clone(), finished.clone())();
        other.join().unwrap();
        for (region, size) in SIZES.iter().enumerate() {
            assert_eq!(
                done[region].load(Ordering::Relaxed),
                *size,
                "region {region}"
            );
        }
    });
}
