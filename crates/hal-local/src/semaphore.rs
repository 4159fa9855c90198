//! The local timeline semaphore: a u64 that only grows, with timepoint callbacks.
//!
//! Everything that waits on a semaphore — a blocked host thread, a multi-wait, a parked queue
//! operation — registers a *timepoint*: a value and a callback. The callback runs exactly once,
//! with `Ok` when the value is reached or `Err` when the semaphore fails, always outside the
//! semaphore's lock and on the thread that signalled (or failed) it, or on the registering
//! thread if the value was already reached. A registration can be cancelled until it fires.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::blocking::Notification;
use crate::liveness::{cancel_abandoned, Timeline};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};
use hal_core::race_annotations::{happens_after, happens_before};
use hal_core::{Result, Semaphore, SemaphoreImpl, Status, Timeout};

/// Called once when a timepoint is reached (`Ok`) or its semaphore fails (`Err`).
pub type TimepointCallback = Box<dyn FnOnce(Result<()>) + Send>;

/// Identifies a registered timepoint for cancellation: its value and registration number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimepointId {
    value: u64,
    id: u64,
}

struct State {
    value: u64,
    failure: Option<Status>,
    /// Ordered by value, then registration: a signal takes exactly the due prefix, so releasing
    /// a long chain of parked work stays linear.
    pending: BTreeMap<TimepointId, TimepointCallback>,
    next_id: u64,
}

/// A timeline semaphore for CPU drivers.
///
/// Besides its value it counts who could still advance it: open user handles (hal-core
/// `Semaphore`s) and accepted queue operations that will signal it (see
/// [`crate::QueueSignals`]). When the handles are gone and work waits on it, [`crate::liveness`]
/// finds the work nothing can release and fails it. A semaphore dropped with work still waiting
/// on it fails that work as `CANCELLED` rather than dropping it unrun.
pub struct LocalSemaphore {
    /// Mirror of `state.value` for lock-free queries.
    value: AtomicU64,
    failed: AtomicBool,
    state: Mutex<State>,
    /// Runs queued device work on a waiting thread (see [`WaitHelper`]).
    helper: Option<Arc<dyn WaitHelper>>,
    /// Open user handles.
    handles: AtomicUsize,
    /// Accepted queue operations that list this semaphore among their signals and have not
    /// completed yet.
    signalers: AtomicUsize,
}

/// Lets a thread that waits on a semaphore run ready device work itself instead of sleeping
/// while a worker wakes up: for small submissions, waking a parked worker costs more than the
/// work. Drivers with worker pools pass one to [`LocalSemaphore::with_helper`].
///
/// A waiter must be able to return at its deadline, so a helper runs only short device work
/// (tiles of kernels and transfers), never user code such as host calls, which may block on
/// anything — the waiting thread included. Waits with `Timeout::Immediate` never help.
pub trait WaitHelper: Send + Sync {
    /// Runs one bounded piece of ready device work on this thread; false if there was none.
    fn help_once(&self) -> bool;
    /// How long a waiter with nothing to run spins before it blocks: work in flight on another
    /// thread often finishes sooner than a blocked thread can be woken.
    fn spin(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl LocalSemaphore {
    /// A semaphore at `initial_value`.
    pub fn new(initial_value: u64) -> Arc<LocalSemaphore> {
        LocalSemaphore::build(initial_value, None)
    }

    /// A semaphore at `initial_value` whose waiters run ready work through `helper` before
    /// they block.
    pub fn with_helper(initial_value: u64, helper: Arc<dyn WaitHelper>) -> Arc<LocalSemaphore> {
        LocalSemaphore::build(initial_value, Some(helper))
    }

    fn build(initial_value: u64, helper: Option<Arc<dyn WaitHelper>>) -> Arc<LocalSemaphore> {
        Arc::new(LocalSemaphore {
            value: AtomicU64::new(initial_value),
            failed: AtomicBool::new(false),
            state: Mutex::new(State {
                value: initial_value,
                failure: None,
                pending: BTreeMap::new(),
                next_id: 0,
            }),
            helper,
            handles: AtomicUsize::new(0),
            signalers: AtomicUsize::new(0),
        })
    }

    /// Runs ready work through this semaphore's helper until `value` is reached, the semaphore
    /// fails, the deadline passes, or there is no ready work left. Returns whether the value is
    /// reached (or the failure).
    pub fn help_until(&self, value: u64, deadline: Option<std::time::Instant>) -> Result<bool> {
        let Some(helper) = &self.helper else {
            return self.is_reached(value);
        };
        let mut spin_until: Option<std::time::Instant> = None;
        let mut spins = 0u32;
        loop {
            if self.is_reached(value)? {
                return Ok(true);
            }
            if helper.help_once() {
                // Only a waiter with time left starts more work.
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    return self.is_reached(value);
                }
                spin_until = None;
                continue;
            }
            // Nothing to run here: spin a little (the clock and yield only now and then), as
            // the work may be about to finish elsewhere.
            spins = spins.wrapping_add(1);
            if spins % 128 == 1 {
                let now = std::time::Instant::now();
                let until = *spin_until.get_or_insert_with(|| now + helper.spin());
                if now >= until || deadline.is_some_and(|d| now >= d) {
                    return self.is_reached(value);
                }
                if spins % 2048 == 1 {
                    std::thread::yield_now();
                }
            }
            std::hint::spin_loop();
        }
    }

    /// This semaphore's wait helper, if it has one.
    pub fn helper(&self) -> Option<&Arc<dyn WaitHelper>> {
        self.helper.as_ref()
    }

    /// A hal-core handle for a new semaphore at `initial_value`.
    pub fn create(initial_value: u64) -> Semaphore {
        Semaphore::new(LocalSemaphore::new(initial_value))
    }

    /// The local semaphore behind a driver reference, shared, or `INVALID_ARGUMENT` for another
    /// driver's.
    pub fn from_impl(semaphore: &Arc<dyn SemaphoreImpl>) -> Result<Arc<LocalSemaphore>> {
        let any: Arc<dyn Any + Send + Sync> = semaphore.clone();
        any.downcast::<LocalSemaphore>().map_err(|_| {
            Status::invalid_argument("semaphore belongs to a driver that is not a local CPU driver")
        })
    }

    /// Whether a user handle to this semaphore is open.
    pub fn has_handles(&self) -> bool {
        self.handles.load(Ordering::Acquire) > 0
    }

    /// How many accepted queue operations will still signal (or fail) this semaphore.
    pub fn signalers(&self) -> usize {
        self.signalers.load(Ordering::Acquire)
    }

    /// Counts a queue operation that will signal this semaphore (see [`crate::QueueSignals`]).
    pub(crate) fn add_signaler(&self) {
        self.signalers.fetch_add(1, Ordering::AcqRel);
    }

    /// Uncounts a completed queue operation; true when that may have left work waiting on this
    /// semaphore with nothing to release it.
    pub(crate) fn remove_signaler(&self) -> bool {
        self.signalers.fetch_sub(1, Ordering::AcqRel) == 1 && self.may_be_abandoned()
    }

    /// No handle is open and work waits on it: worth a liveness check.
    pub(crate) fn may_be_abandoned(&self) -> bool {
        !self.has_handles() && self.pending_timepoints() > 0
    }

    /// The local semaphore behind a handle, or `INVALID_ARGUMENT` for another driver's.
    pub fn from_handle(semaphore: &Semaphore) -> Result<&LocalSemaphore> {
        semaphore
            .inner()
            .as_any()
            .downcast_ref::<LocalSemaphore>()
            .ok_or_else(|| {
                Status::invalid_argument(
                    "semaphore belongs to a driver that is not a local CPU driver",
                )
            })
    }

    /// Whether `value` is reached: `Ok(true)`, not yet: `Ok(false)`, or the failure.
    #[inline]
    pub fn is_reached(&self, value: u64) -> Result<bool> {
        if self.failed.load(Ordering::Acquire) {
            return Err(self.failure());
        }
        let reached = self.value.load(Ordering::Acquire) >= value;
        if reached {
            happens_after(&self.value);
        }
        Ok(reached)
    }

    fn failure(&self) -> Status {
        self.state
            .lock()
            .failure
            .clone()
            .unwrap_or_else(|| Status::internal("semaphore failed"))
    }

    /// Calls `callback` once `value` is reached or the semaphore fails. If that already
    /// happened, the callback runs now on this thread and `None` is returned; otherwise the
    /// registration's id is returned for [`LocalSemaphore::cancel_timepoint`].
    pub fn add_timepoint(&self, value: u64, callback: TimepointCallback) -> Option<TimepointId> {
        let mut state = self.state.lock();
        let immediate = if let Some(failure) = &state.failure {
            Err(failure.clone())
        } else if state.value >= value {
            Ok(())
        } else {
            let key = TimepointId {
                value,
                id: state.next_id,
            };
            state.next_id += 1;
            state.pending.insert(key, callback);
            return Some(key);
        };
        drop(state);
        callback(immediate);
        None
    }

    /// Removes a registration before it fires. Returns false if it already fired (or is firing).
    pub fn cancel_timepoint(&self, id: TimepointId) -> bool {
        self.state.lock().pending.remove(&id).is_some()
    }

    /// How many timepoints wait on this semaphore (for tests and leak checks).
    pub fn pending_timepoints(&self) -> usize {
        self.state.lock().pending.len()
    }
}

/// Calls every callback with `result()`. Each one is a parked operation or a waiter: should one
/// panic, the others still run (none is dropped unrun), and the first panic resumes afterwards.
fn run_callbacks(
    callbacks: impl IntoIterator<Item = TimepointCallback>,
    result: impl Fn() -> Result<()>,
) {
    let mut first_panic = None;
    for callback in callbacks {
        let outcome = result();
        if let Err(payload) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || callback(outcome)))
        {
            first_panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = first_panic {
        std::panic::resume_unwind(payload);
    }
}

impl SemaphoreImpl for LocalSemaphore {
    fn query(&self) -> Result<u64> {
        if self.failed.load(Ordering::Acquire) {
            return Err(self.failure());
        }
        let value = self.value.load(Ordering::Acquire);
        happens_after(&self.value);
        Ok(value)
    }

    fn signal(&self, value: u64) -> Result<()> {
        let mut state = self.state.lock();
        if let Some(failure) = &state.failure {
            return Err(Status::failed_precondition(format!(
                "cannot signal a failed semaphore to {value}; it failed with: {failure}"
            )));
        }
        if value <= state.value {
            return Err(Status::invalid_argument(format!(
                "semaphore signal value {value} must be greater than the current value {}",
                state.value
            )));
        }
        state.value = value;
        happens_before(&self.value);
        self.value.store(value, Ordering::Release);
        if state.pending.is_empty() {
            return Ok(());
        }
        let due = match value.checked_add(1) {
            Some(next) => {
                let later = state.pending.split_off(&TimepointId { value: next, id: 0 });
                std::mem::replace(&mut state.pending, later)
            }
            None => std::mem::take(&mut state.pending),
        };
        drop(state);
        run_callbacks(due.into_values(), || Ok(()));
        Ok(())
    }

    fn fail(&self, status: Status) {
        let mut state = self.state.lock();
        if state.failure.is_some() {
            return;
        }
        state.failure = Some(status.clone());
        self.failed.store(true, Ordering::Release);
        let due = std::mem::take(&mut state.pending);
        drop(state);
        run_callbacks(due.into_values(), || Err(status.clone()));
    }

    fn wait(&self, value: u64, timeout: Timeout) -> Result<()> {
        if self.is_reached(value)? {
            return Ok(());
        }
        let deadline = timeout.deadline();
        // An Immediate wait must not block, so it runs nothing either.
        if timeout != Timeout::Immediate && self.help_until(value, deadline)? {
            return Ok(());
        }
        let notification = Arc::new(Notification::new());
        let notify = notification.clone();
        let Some(id) = self.add_timepoint(value, Box::new(move |result| notify.notify(result)))
        else {
            return notification.poll().unwrap_or(Ok(()));
        };
        match notification.wait(deadline) {
            Some(result) => result,
            None => {
                if !self.cancel_timepoint(id) {
                    // It fired while we were giving up: take its result.
                    return notification.wait(None).unwrap_or(Ok(()));
                }
                Err(Status::deadline_exceeded(format!(
                    "timed out waiting for semaphore value {value} (current value {})",
                    self.value.load(Ordering::Acquire)
                )))
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn handle_opened(&self) {
        self.handles.fetch_add(1, Ordering::AcqRel);
    }

    fn handle_closed(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 && self.may_be_abandoned() {
            cancel_abandoned();
        }
    }
}

/// What the liveness check reads of a semaphore: the inherent methods of the same names.
impl Timeline for LocalSemaphore {
    fn is_reached(&self, value: u64) -> Result<bool> {
        LocalSemaphore::is_reached(self, value)
    }

    fn has_handles(&self) -> bool {
        LocalSemaphore::has_handles(self)
    }

    fn signalers(&self) -> usize {
        LocalSemaphore::signalers(self)
    }
}

impl Drop for LocalSemaphore {
    /// Nothing refers to the semaphore any more, so nothing can signal it: work still waiting on
    /// it can never run, and fails instead of vanishing with it.
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if state.pending.is_empty() {
            return;
        }
        let status = Status::cancelled(format!(
            "the semaphore this work waits on (at value {}) was dropped: nothing can signal it",
            state.value
        ));
        let due = std::mem::take(&mut state.pending);
        run_callbacks(due.into_values(), || Err(status.clone()));
    }
}
