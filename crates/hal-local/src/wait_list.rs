//! Calling back once a wait list resolves: every timepoint reached, or one failed.
//!
//! This is how CPU drivers park queue operations without blocking a thread: one timepoint is
//! registered per unreached wait, and the callback of the last one to be reached (or of the first
//! to fail) hands the operation on. A failure cancels the other registrations so nothing waits on
//! semaphores that may never advance.
//!
//! A parked operation holds its wait semaphores only weakly (their pending lists hold it), so
//! work parked on a semaphore nobody else refers to does not keep that semaphore alive: the
//! semaphore drops and fails the work. It is also registered with [`crate::liveness`], which
//! fails it when nothing could release it any more (every handle dropped, even in cycles).

use std::sync::{Arc, Weak};

use crate::liveness::{self, Cancel};
use crate::queue_signals::QueueSignals;
use crate::semaphore::{LocalSemaphore, TimepointId};
use crate::sync::{AtomicUsize, Mutex, Ordering};
use hal_core::{Result, Status, Timepoint};

/// What to do when the wait list resolves: `Ok` when every wait is reached, or the first failure;
/// with the operation's signals, handed back.
pub type OnWaitsResolved = Box<dyn FnOnce(Result<()>, QueueSignals) + Send>;

struct Pending {
    then: Mutex<Option<(OnWaitsResolved, QueueSignals)>>,
    remaining: AtomicUsize,
    registrations: Mutex<Vec<(Weak<LocalSemaphore>, TimepointId)>>,
    /// The operation's number with [`crate::liveness`] while it is parked.
    parked: Mutex<Option<u64>>,
}

impl Pending {
    /// Takes the continuation if nobody has: the first resolution wins.
    fn take(&self) -> Option<(OnWaitsResolved, QueueSignals)> {
        let then = self.then.lock().take()?;
        if let Some(id) = self.parked.lock().take() {
            liveness::unpark(id);
        }
        Some(then)
    }

    fn resolve(self: &Arc<Self>, result: Result<()>) {
        match result {
            Ok(()) => {
                if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some((then, signals)) = self.take() {
                        then(Ok(()), signals);
                    }
                }
            }
            Err(status) => self.fail(status),
        }
    }

    fn fail(&self, status: Status) {
        if let Some((then, signals)) = self.take() {
            for (semaphore, id) in self.registrations.lock().drain(..) {
                if let Some(semaphore) = semaphore.upgrade() {
                    semaphore.cancel_timepoint(id);
                }
            }
            then(Err(status), signals);
        }
    }
}

impl Cancel for Pending {
    fn cancel(&self, status: Status) {
        self.fail(status);
    }
}

/// Calls `then` exactly once, handing back `signals`: with `Ok` when every timepoint in `waits`
/// is reached, or with the failure of the first one found failed — or `CANCELLED` once nothing
/// can reach them any more (see [`crate::liveness`], which follows the parked operation's
/// `signals` through chains and cycles of parked work). If that is already known, `then` runs
/// now on this thread; otherwise it runs on the thread that signals (or fails) the last
/// semaphore. Errors only if a semaphore is not a local one: then `then` is not called and the
/// signals are left untouched (the operation was not accepted).
pub fn when_reached(
    waits: &[Timepoint],
    signals: QueueSignals,
    then: OnWaitsResolved,
) -> Result<()> {
    let semaphores = waits
        .iter()
        .enumerate()
        .map(|(index, wait)| {
            LocalSemaphore::from_impl(wait.semaphore.inner())
                .map_err(|status| status.with_context(format!("in wait {index}")))
        })
        .collect::<Result<Vec<_>>>();
    let semaphores = match semaphores {
        Ok(semaphores) => semaphores,
        Err(status) => {
            signals.refuse();
            return Err(status);
        }
    };
    let mut unreached: Vec<(Arc<LocalSemaphore>, u64)> = Vec::new();
    for (semaphore, wait) in semaphores.into_iter().zip(waits) {
        match semaphore.is_reached(wait.value) {
            Ok(true) => {}
            Ok(false) => unreached.push((semaphore, wait.value)),
            Err(status) => {
                then(Err(status), signals);
                return Ok(());
            }
        }
    }
    if unreached.is_empty() {
        then(Ok(()), signals);
        return Ok(());
    }
    let signalled = signals.semaphores().map(Arc::downgrade).collect();
    let pending = Arc::new(Pending {
        // One extra count, released below, so that no callback resolves the list before every
        // timepoint is registered.
        remaining: AtomicUsize::new(unreached.len() + 1),
        then: Mutex::new(Some((then, signals))),
        registrations: Mutex::new(Vec::with_capacity(unreached.len())),
        parked: Mutex::new(None),
    });
    let cancel: Weak<dyn Cancel> = Arc::downgrade(&pending) as Weak<dyn Cancel>;
    let id = liveness::park(
        unreached
            .iter()
            .map(|(semaphore, value)| (Arc::downgrade(semaphore), *value))
            .collect(),
        signalled,
        cancel,
    );
    *pending.parked.lock() = Some(id);
    let mut handleless = false;
    for (semaphore, value) in &unreached {
        let target = pending.clone();
        if let Some(registration) =
            semaphore.add_timepoint(*value, Box::new(move |result| target.resolve(result)))
        {
            pending
                .registrations
                .lock()
                .push((Arc::downgrade(semaphore), registration));
        }
        handleless |= !semaphore.has_handles();
    }
    // Drop the strong references before anything may resolve: the pending lists hold the work.
    drop(unreached);
    pending.resolve(Ok(()));
    // Parked on a semaphore nobody holds a handle to: it may be waiting for nothing.
    if handleless && pending.then.lock().is_some() {
        liveness::cancel_abandoned();
    }
    Ok(())
}
