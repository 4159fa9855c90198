//! Timeline semaphores: a u64 that only grows, or fails for good.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::status::{Result, Status};
use crate::timeout::Timeout;

/// What drivers implement for semaphores. `signal` must reject values that do not increase,
/// `fail` keeps the first failure, and waits return that failure once it happened.
///
/// Drivers hold semaphores of queued work as `Arc<dyn SemaphoreImpl>`, never as [`Semaphore`]
/// handles: a handle is what a user holds, and the driver learns through
/// [`SemaphoreImpl::handle_opened`] / [`SemaphoreImpl::handle_closed`] when none is left, so it
/// can fail work that nothing could ever release (see [`Semaphore`]).
pub trait SemaphoreImpl: Any + Send + Sync {
    /// The current value, or the failure.
    fn query(&self) -> Result<u64>;
    /// Raises the value to `value`, which must be greater than the current one.
    fn signal(&self, value: u64) -> Result<()>;
    /// Fails the semaphore with `status` unless it already failed.
    fn fail(&self, status: Status);
    /// Blocks until the value reaches `value`, the semaphore fails, or the timeout expires.
    fn wait(&self, value: u64, timeout: Timeout) -> Result<()>;
    /// For drivers that downcast their own semaphores.
    fn as_any(&self) -> &dyn Any;
    /// A user handle was made ([`Semaphore::new`]); its clones count as one.
    fn handle_opened(&self) {}
    /// The last clone of a user handle was dropped.
    fn handle_closed(&self) {}
}

/// A handle to a timeline semaphore: what users hold, cheap to clone.
///
/// Work waiting on a semaphore is released by a signal from whoever holds a handle, or by queued
/// work that signals it. When every handle is dropped and no queued work that can still run
/// would signal it, the work waiting on it is abandoned: the driver fails that work (and so its
/// own signal semaphores) with `CANCELLED`, releasing everything it holds.
#[derive(Clone)]
pub struct Semaphore(Arc<Handle>);

/// One user handle (and its clones) of a semaphore.
struct Handle(Arc<dyn SemaphoreImpl>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.handle_closed();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Semaphore").field(&self.query()).finish()
    }
}

impl Semaphore {
    /// Wraps a driver's semaphore in a new user handle.
    pub fn new(inner: Arc<dyn SemaphoreImpl>) -> Semaphore {
        inner.handle_opened();
        Semaphore(Arc::new(Handle(inner)))
    }

    /// The driver's semaphore (a reference that is not a user handle).
    #[inline]
    pub fn inner(&self) -> &Arc<dyn SemaphoreImpl> {
        &self.0 .0
    }

    /// The current value, or the status it failed with.
    pub fn query(&self) -> Result<u64> {
        self.inner().query()
    }

    /// Raises the value to `value`; a value not above the current one is an
    /// `INVALID_ARGUMENT` error and changes nothing. Work waiting for the new value may run on
    /// this thread before `signal` returns (the local-sync driver does so).
    pub fn signal(&self, value: u64) -> Result<()> {
        self.inner().signal(value)
    }

    /// Fails the semaphore. The first failure wins; every waiter wakes with it.
    pub fn fail(&self, status: Status) {
        self.inner().fail(status)
    }

    /// Waits until the value is at least `value`.
    pub fn wait(&self, value: u64, timeout: impl Into<Timeout>) -> Result<()> {
        self.inner().wait(value, timeout.into())
    }

    /// The point where this semaphore reaches `value`, for wait and signal lists.
    pub fn at(&self, value: u64) -> Timepoint {
        Timepoint {
            semaphore: self.clone(),
            value,
        }
    }

    /// Whether two handles refer to the same semaphore.
    pub fn ptr_eq(&self, other: &Semaphore) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(self.inner()), Arc::as_ptr(other.inner()))
    }
}

/// A semaphore and a value on its timeline.
#[derive(Clone, Debug)]
pub struct Timepoint {
    /// The semaphore.
    pub semaphore: Semaphore,
    /// The value.
    pub value: u64,
}

/// Whether a wait on a list needs all timepoints reached or any one of them.
///
/// When the list already holds both a failed and a reached timepoint, the result does not
/// depend on their order: `All` fails with the first failure in list order, `Any` succeeds.
/// While blocked, the first event to happen decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// Wait until every timepoint is reached; fails as soon as one fails.
    All,
    /// Wait until at least one timepoint is reached, or one fails (a reached one wins).
    Any,
}
