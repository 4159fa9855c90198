//! Parking idle workers without losing a wakeup.
//!
//! Work producers bump an epoch; idle workers spin on it for a while, then sleep until it
//! changes. The sleeper counts itself (under the lock) before it checks the epoch, and the
//! producer bumps the epoch before it reads the sleeper count, both sequentially consistent:
//! either the producer sees the sleeper and notifies it under the lock, or the sleeper sees the
//! new epoch and does not sleep. `tests/loom_sleep.rs` model-checks this.

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
#[cfg(not(loom))]
use parking_lot::{Condvar, Mutex};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// An epoch that producers advance and idle workers sleep on.
#[derive(Default)]
pub struct Sleep {
    epoch: AtomicU64,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Sleep {
    /// The current epoch; sleep on it after finding no work.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Announces new work and wakes up to `wanted` sleepers (all if more).
    #[inline]
    pub fn notify(&self, wanted: usize) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let sleepers = self.sleepers.load(Ordering::SeqCst);
        if sleepers == 0 || wanted == 0 {
            return;
        }
        self.wake(wanted.min(sleepers), sleepers);
    }

    #[cold]
    fn wake(&self, count: usize, sleepers: usize) {
        #[cfg(not(loom))]
        let _guard = self.lock.lock();
        #[cfg(loom)]
        let _guard = self.lock.lock().unwrap();
        if count >= sleepers {
            self.condvar.notify_all();
        } else {
            for _ in 0..count {
                self.condvar.notify_one();
            }
        }
    }

    /// Sleeps until the epoch is no longer `seen`.
    pub fn sleep(&self, seen: u64) {
        #[cfg(not(loom))]
        {
            let mut guard = self.lock.lock();
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            while self.epoch.load(Ordering::SeqCst) == seen {
                self.condvar.wait(&mut guard);
            }
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
        #[cfg(loom)]
        {
            let mut guard = self.lock.lock().unwrap();
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            while self.epoch.load(Ordering::SeqCst) == seen {
                guard = self.condvar.wait(guard).unwrap();
            }
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
