//! Timeline semaphores: a u64 that only grows, or fails for good.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::{Result, Timeout};

/// What drivers implement for semaphores. `signal` must reject values that do not increase,
/// `fail` keeps the first failure, and waits return that failure once it happened.
pub trait SemaphoreImpl: Send + Sync + 'static {
    /// The current value, or the failure.
    fn query(&self) -> Result<u64>;
    /// Raises the value to `value`, which must be greater than the current one.
    fn signal(&self, value: u64) -> Result<()>;
    /// Fails the semaphore with `status` unless it already failed.
    fn fail(&self, status: crate::Status);
    /// Blocks until the value reaches `value`, the semaphore fails, or the timeout expires.
    fn wait(&self, value: u64, timeout: Timeout) -> Result<()>;
    /// For drivers that downcast their own semaphores.
    fn as_any(&self) -> &dyn Any;
}

/// A handle to a timeline semaphore.
#[derive(Clone)]
pub struct Semaphore(Arc<dyn SemaphoreImpl>);

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Semaphore").field(&self.query()).finish()
    }
}

impl Semaphore {
    /// Wraps a driver's semaphore.
    pub fn new(inner: Arc<dyn SemaphoreImpl>) -> Semaphore {
        Semaphore(inner)
    }

    /// The driver's semaphore.
    pub fn inner(&self) -> &Arc<dyn SemaphoreImpl> {
        &self.0
    }

    /// The current value, or the status it failed with.
    pub fn query(&self) -> Result<u64> {
        self.0.query()
    }

    /// Raises the value to `value`; a value not above the current one is an
    /// `INVALID_ARGUMENT` error and changes nothing. Work waiting for the new value may run on
    /// this thread before `signal` returns (the local-sync driver does so).
    pub fn signal(&self, value: u64) -> Result<()> {
        self.0.signal(value)
    }

    /// Fails the semaphore. The first failure wins; every waiter wakes with it.
    pub fn fail(&self, status: crate::Status) {
        self.0.fail(status)
    }

    /// Waits until the value is at least `value`.
    pub fn wait(&self, value: u64, timeout: impl Into<Timeout>) -> Result<()> {
        self.0.wait(value, timeout.into())
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
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
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
