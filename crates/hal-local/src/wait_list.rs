//! Calling back once a wait list resolves: every timepoint reached, or one failed.
//!
//! This is how CPU drivers park queue operations without blocking a thread: one timepoint is
//! registered per unreached wait, and the callback of the last one to be reached (or of the first
//! to fail) hands the operation on. A failure cancels the other registrations so nothing waits on
//! semaphores that may never advance.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hal_core::{Result, Semaphore, Timepoint};
use parking_lot::Mutex;

use crate::semaphore::{LocalSemaphore, TimepointId};

/// What to do when the wait list resolves: `Ok` when every wait is reached, or the first failure.
pub type Resolved = Box<dyn FnOnce(Result<()>) + Send>;

struct Pending {
    then: Mutex<Option<Resolved>>,
    remaining: AtomicUsize,
    registrations: Mutex<Vec<(Semaphore, TimepointId)>>,
}

impl Pending {
    fn resolve(self: &Arc<Self>, result: Result<()>) {
        match result {
            Ok(()) => {
                if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(then) = self.then.lock().take() {
                        then(Ok(()));
                    }
                }
            }
            Err(status) => {
                let then = self.then.lock().take();
                if let Some(then) = then {
                    for (semaphore, id) in self.registrations.lock().drain(..) {
                        if let Ok(local) = LocalSemaphore::from_handle(&semaphore) {
                            local.cancel_timepoint(id);
                        }
                    }
                    then(Err(status));
                }
            }
        }
    }
}

/// Calls `then` exactly once: with `Ok` when every timepoint in `waits` is reached, or with the
/// failure of the first one found failed. If that is already known, `then` runs now on this
/// thread; otherwise it runs on the thread that signals (or fails) the last semaphore. Errors only
/// if a semaphore is not a local one (then `then` is not called).
pub fn when_reached(waits: &[Timepoint], then: Resolved) -> Result<()> {
    let mut unreached: Vec<(&LocalSemaphore, &Timepoint)> = Vec::new();
    for wait in waits {
        let semaphore = LocalSemaphore::from_handle(&wait.semaphore)?;
        match semaphore.is_reached(wait.value) {
            Ok(true) => {}
            Ok(false) => unreached.push((semaphore, wait)),
            Err(status) => {
                then(Err(status));
                return Ok(());
            }
        }
    }
    if unreached.is_empty() {
        then(Ok(()));
        return Ok(());
    }
    let pending = Arc::new(Pending {
        // One extra count, released below, so that no callback resolves the list before every
        // timepoint is registered.
        remaining: AtomicUsize::new(unreached.len() + 1),
        then: Mutex::new(Some(then)),
        registrations: Mutex::new(Vec::with_capacity(unreached.len())),
    });
    for (semaphore, wait) in unreached {
        let target = pending.clone();
        if let Some(id) =
            semaphore.add_timepoint(wait.value, Box::new(move |result| target.resolve(result)))
        {
            pending
                .registrations
                .lock()
                .push((wait.semaphore.clone(), id));
        }
    }
    pending.resolve(Ok(()));
    Ok(())
}
