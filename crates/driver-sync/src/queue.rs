//! The local-sync queue: run now if every wait is reached, otherwise park.
//!
//! A parked operation registers a timepoint on each unreached wait. The callback of the last
//! one to be reached runs the operation on the signalling thread (through [`run_or_defer`]);
//! a failing wait fails the operation's signals at once and cancels its other timepoints.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hal_core::{QueueOperation, Result, Status};
use hal_local::{complete, execute_work, fail_all, LocalSemaphore, TimepointId};
use parking_lot::Mutex;

use crate::ready_queue::run_or_defer;

/// Runs an operation's work and completes its signals: resources are released only after the
/// signals, so waiters wake as early as possible.
fn run(mut operation: QueueOperation) {
    let result = execute_work(&mut operation.work);
    complete(&operation.signals, result);
    drop(operation);
}

struct Parked {
    operation: Mutex<Option<QueueOperation>>,
    remaining: AtomicUsize,
    registrations: Mutex<Vec<(hal_core::Semaphore, TimepointId)>>,
}

impl Parked {
    fn take(&self) -> Option<QueueOperation> {
        self.operation.lock().take()
    }

    fn on_wait_resolved(self: &Arc<Self>, result: Result<()>) {
        match result {
            Ok(()) => {
                if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(operation) = self.take() {
                        run_or_defer(move || run(operation));
                    }
                }
            }
            Err(status) => {
                if let Some(operation) = self.take() {
                    self.cancel_registrations();
                    fail_all(&operation.signals, &status);
                }
            }
        }
    }

    fn cancel_registrations(&self) {
        for (semaphore, id) in self.registrations.lock().drain(..) {
            if let Ok(local) = LocalSemaphore::from_handle(&semaphore) {
                local.cancel_timepoint(id);
            }
        }
    }
}

/// Accepts a queue operation: runs it on this thread now if its waits are reached, fails its
/// signals if a wait failed, or parks it until the waits are signalled.
pub fn submit(operation: QueueOperation) -> Result<()> {
    let mut unreached = Vec::new();
    for wait in &operation.waits {
        let semaphore = LocalSemaphore::from_handle(&wait.semaphore)?;
        match semaphore.is_reached(wait.value) {
            Ok(true) => {}
            Ok(false) => unreached.push(wait.clone()),
            Err(status) => {
                fail_all(&operation.signals, &status);
                return Ok(());
            }
        }
    }
    for signal in &operation.signals {
        LocalSemaphore::from_handle(&signal.semaphore)?;
    }
    if unreached.is_empty() {
        run_or_defer(move || run(operation));
        return Ok(());
    }
    let parked = Arc::new(Parked {
        // One extra count, released below, so that no callback can run the operation before
        // every timepoint is registered.
        remaining: AtomicUsize::new(unreached.len() + 1),
        operation: Mutex::new(Some(operation)),
        registrations: Mutex::new(Vec::new()),
    });
    for wait in unreached {
        let semaphore = LocalSemaphore::from_handle(&wait.semaphore)
            .map_err(|s| Status::internal(s.to_string()))?;
        let callback_target = parked.clone();
        if let Some(id) = semaphore.add_timepoint(
            wait.value,
            Box::new(move |result| callback_target.on_wait_resolved(result)),
        ) {
            parked
                .registrations
                .lock()
                .push((wait.semaphore.clone(), id));
        }
    }
    parked.on_wait_resolved(Ok(()));
    Ok(())
}
