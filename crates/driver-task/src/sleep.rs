//! Parking idle workers without losing a wakeup.
//!
//! Work producers bump an epoch; idle workers spin on it for a while, then sleep until it
//! changes. The sleeper counts itself (under the lock) before it reads the epoch, and the
//! producer bumps the epoch before it reads the sleeper count. Both cross-reads are
//! read-modify-writes (`fetch_add(0)`), so each lands in a single modification order with the
//! other side's write: either the producer sees the sleeper and notifies it under the lock, or
//! the sleeper synchronises with the producer and sees the new epoch. (Plain loads would need
//! sequentially consistent store→load ordering, which loom found it could not rely on.)
//! `tests/loom_task.rs` model-checks this.

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
#[cfg(not(loom))]
use parking_lot::{Condvar, Mutex};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// An epoch that producers advance and idle workers spin on, then sleep on.
#[derive(Default)]
pub struct Sleep {
    epoch: AtomicU64,
    sleepers: AtomicUsize,
    spinners: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Sleep {
    /// The current epoch; sleep on it after finding no work.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Announces new work for `wanted` threads: spinning workers see it at once; sleepers are
    /// woken for the rest.
    #[inline]
    pub fn notify(&self, wanted: usize) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        // Read after the bump: a spinner that stops spinning later still sees the new epoch
        // before it sleeps.
        let wanted = wanted.saturating_sub(self.spinners.fetch_add(0, Ordering::SeqCst));
        let sleepers = self.sleepers.fetch_add(0, Ordering::SeqCst);
        if sleepers == 0 || wanted == 0 {
            return;
        }
        self.wake(wanted.min(sleepers), sleepers);
    }

    /// Registers a spinning worker, unless `limit` already spin (then the caller should sleep
    /// at once, leaving the core to others). Pair with [`Sleep::end_spin`].
    pub fn begin_spin(&self, limit: usize) -> bool {
        let mut current = self.spinners.load(Ordering::SeqCst);
        loop {
            if current >= limit {
                return false;
            }
            match self.spinners.compare_exchange_weak(
                current,
                current + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Ends a spin registered by [`Sleep::begin_spin`].
    pub fn end_spin(&self) {
        self.spinners.fetch_sub(1, Ordering::SeqCst);
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
            while self.epoch.fetch_add(0, Ordering::SeqCst) == seen {
                self.condvar.wait(&mut guard);
            }
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
        #[cfg(loom)]
        {
            let mut guard = self.lock.lock().unwrap();
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            while self.epoch.fetch_add(0, Ordering::SeqCst) == seen {
                guard = self.condvar.wait(guard).unwrap();
            }
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
