//! A stand-in for the parts of `parking_lot` 0.12 this workspace uses (`Mutex`, `MutexGuard`,
//! `Condvar`, `WaitTimeoutResult`), built on pthread mutexes and condition variables.
//!
//! Only `cargo xtask sanitize` uses it: its helgrind build patches `parking_lot` with this crate
//! in a copy of the workspace. Helgrind understands pthread locks but not parking_lot's (a word
//! of atomics and futex calls), so without this every access to data behind a parking_lot lock
//! is reported as a race; with it, helgrind checks those accesses for real (a missing lock is
//! still reported), and only the runtime's own lock-free protocols need suppressions.
//!
//! Semantics kept: a non-recursive mutex, guards that unlock on drop, condition variables with
//! untimed and timed waits (spurious wake-ups allowed, as parking_lot allows them).
//! Not kept: fairness, `notify_*` return values (always reported as 0 / false), poisoning is
//! absent in both.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// A mutual-exclusion lock over a `pthread_mutex_t`.
pub struct Mutex<T: ?Sized> {
    raw: UnsafeCell<libc::pthread_mutex_t>,
    data: UnsafeCell<T>,
}

// SAFETY: as std's and parking_lot's: the lock hands out the data to one thread at a time.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning its data.
    pub fn into_inner(self) -> T {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its drop is suppressed: the lock is destroyed
        // once and the data moved out once.
        unsafe {
            libc::pthread_mutex_destroy(this.raw.get());
            std::ptr::read(this.data.get())
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, blocking until the lock is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        // SAFETY: the mutex is initialised (statically) and lives as long as `self`.
        let result = unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        assert_eq!(
            result, 0,
            "pthread_mutex_lock failed (a relock deadlocks parking_lot too)"
        );
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Locks if the lock is free.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        // SAFETY: as in `lock`.
        let result = unsafe { libc::pthread_mutex_trylock(self.raw.get()) };
        (result == 0).then_some(MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        })
    }

    /// The data, through exclusive access to the mutex.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether the lock is held (by anyone).
    pub fn is_locked(&self) -> bool {
        match self.try_lock() {
            Some(_guard) => false,
            None => true,
        }
    }

    /// A raw pointer to the data.
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

impl<T: ?Sized> Drop for Mutex<T> {
    fn drop(&mut self) {
        // SAFETY: nothing borrows the mutex while it is dropped, so it is unlocked.
        unsafe { libc::pthread_mutex_destroy(self.raw.get()) };
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(guard) => f.debug_struct("Mutex").field("data", &&*guard).finish(),
            None => f.write_str("Mutex { <locked> }"),
        }
    }
}

/// Holds a [`Mutex`] locked; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> MutexGuard<'_, T> {
    /// Unlocks for the duration of `f`, as parking_lot's `MutexGuard::unlocked`.
    pub fn unlocked<U>(guard: &mut Self, f: impl FnOnce() -> U) -> U {
        // SAFETY: the guard holds the lock; it is taken again before the guard is used.
        unsafe { libc::pthread_mutex_unlock(guard.mutex.raw.get()) };
        let result = f();
        // SAFETY: as in `Mutex::lock`.
        unsafe { libc::pthread_mutex_lock(guard.mutex.raw.get()) };
        result
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock, taken by this thread.
        unsafe { libc::pthread_mutex_unlock(self.mutex.raw.get()) };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Whether a timed wait timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait returned because its time was up.
    pub fn timed_out(self) -> bool {
        self.0
    }
}

/// A condition variable over a `pthread_cond_t` (CLOCK_REALTIME deadlines, converted from
/// `Instant`s at each wait).
pub struct Condvar(UnsafeCell<libc::pthread_cond_t>);

// SAFETY: a pthread condition variable may be used from any thread.
unsafe impl Send for Condvar {}
// SAFETY: as above.
unsafe impl Sync for Condvar {}

impl Condvar {
    /// A new condition variable.
    pub const fn new() -> Condvar {
        Condvar(UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER))
    }

    /// Wakes one waiter (reports `false`: pthread does not say whether one woke).
    pub fn notify_one(&self) -> bool {
        // SAFETY: initialised statically, lives as long as `self`.
        unsafe { libc::pthread_cond_signal(self.0.get()) };
        false
    }

    /// Wakes every waiter (reports 0: pthread does not say how many woke).
    pub fn notify_all(&self) -> usize {
        // SAFETY: as above.
        unsafe { libc::pthread_cond_broadcast(self.0.get()) };
        0
    }

    /// Unlocks, waits for a notification (or a spurious wake-up), locks again.
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        // SAFETY: the guard holds its mutex, locked by this thread.
        unsafe { libc::pthread_cond_wait(self.0.get(), guard.mutex.raw.get()) };
    }

    /// As [`Condvar::wait`], giving up at `deadline`.
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        let now = Instant::now();
        if deadline <= now {
            return WaitTimeoutResult(true);
        }
        let remaining = deadline - now;
        let mut realtime = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock and a valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut realtime) };
        let nanos = realtime.tv_nsec as u64 + u64::from(remaining.subsec_nanos());
        let seconds = (realtime.tv_sec as u64)
            .saturating_add(remaining.as_secs())
            .saturating_add(nanos / 1_000_000_000)
            .min(i64::MAX as u64 / 2);
        let until = libc::timespec {
            tv_sec: seconds as libc::time_t,
            tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: as in `wait`; `until` outlives the call.
        let result =
            unsafe { libc::pthread_cond_timedwait(self.0.get(), guard.mutex.raw.get(), &until) };
        WaitTimeoutResult(result == libc::ETIMEDOUT || Instant::now() >= deadline)
    }

    /// As [`Condvar::wait`], giving up after `timeout`.
    pub fn wait_for<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(guard, deadline),
            None => {
                self.wait(guard);
                WaitTimeoutResult(false)
            }
        }
    }

    /// Waits while `condition` holds.
    pub fn wait_while<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) {
        while condition(&mut **guard) {
            self.wait(guard);
        }
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl Drop for Condvar {
    fn drop(&mut self) {
        // SAFETY: nothing waits on a condition variable that is being dropped.
        unsafe { libc::pthread_cond_destroy(self.0.get()) };
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Condvar { .. }")
    }
}
