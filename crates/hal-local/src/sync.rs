//! The synchronisation types of the semaphore, its waits and wait lists: parking_lot and std
//! atomics normally, loom's under `--cfg loom` so `tests/loom_semaphore.rs` can model-check them.
//!
//! Loom has no timed waits: under loom a timed [`Condvar::wait_until`] returns at once as timed
//! out, which models a deadline that passes at the worst moment.

#[cfg(not(loom))]
pub(crate) use parking_lot::{Condvar, Mutex};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom_shim::{Condvar, Mutex};

#[cfg(loom)]
mod loom_shim {
    /// parking_lot's mutex interface over loom's.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap()
        }
    }

    /// parking_lot's condition variable interface over loom's.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    /// Whether a timed wait timed out.
    pub(crate) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            self.0
        }
    }

    impl Condvar {
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            // loom's wait takes the guard by value and gives it back.
            replace_with(guard, |g| self.0.wait(g).unwrap());
        }

        pub(crate) fn wait_until<T>(
            &self,
            _guard: &mut MutexGuard<'_, T>,
            _deadline: std::time::Instant,
        ) -> WaitTimeoutResult {
            WaitTimeoutResult(true)
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// Replaces `*slot` with `f(old)`; aborts if `f` panics (the slot would be left moved-out).
    fn replace_with<T>(slot: &mut T, f: impl FnOnce(T) -> T) {
        struct Abort;
        impl Drop for Abort {
            fn drop(&mut self) {
                std::process::abort();
            }
        }
        let guard = Abort;
        // SAFETY: `slot` is read out and written back before anyone can observe it; if `f`
        // panics the process aborts instead of unwinding past the moved-out slot.
        unsafe {
            let old = std::ptr::read(slot);
            std::ptr::write(slot, f(old));
        }
        std::mem::forget(guard);
    }
}
