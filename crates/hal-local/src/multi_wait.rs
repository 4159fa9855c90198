//! Waiting on several semaphores at once (all or any), with one notification per wait.

use std::sync::Arc;

use hal_core::{Result, SemaphoreImpl, Status, Timeout, Timepoint, WaitMode};

use crate::blocking::Notification;
use crate::semaphore::{LocalSemaphore, TimepointId};
use crate::sync::{AtomicUsize, Ordering};

/// What a wait list is known to be now: decided (`Some`) or not yet (`None`). All: the first
/// failure in list order fails it, else it is done when every timepoint is reached. Any: a
/// reached timepoint completes it, even when another one failed; otherwise the first failure
/// fails it.
fn decide(mode: WaitMode, states: impl Iterator<Item = Result<bool>>) -> Option<Result<()>> {
    let mut failure = None;
    let (mut reached, mut pending) = (false, false);
    for state in states {
        match state {
            Ok(true) => reached = true,
            Ok(false) => pending = true,
            Err(status) => {
                failure.get_or_insert(status);
            }
        }
    }
    match (mode, failure) {
        (WaitMode::Any, _) if reached => Some(Ok(())),
        (_, Some(status)) => Some(Err(status)),
        (WaitMode::All, None) if !pending => Some(Ok(())),
        _ => None,
    }
}

/// Blocks until all (or any) `timepoints` are reached, one fails, or the timeout expires.
/// Every semaphore must be a [`LocalSemaphore`]. The rule for a list with both a failed and a
/// reached timepoint is `decide`'s, whatever their order; once blocked, the first event to
/// happen (a reach or a failure) decides.
pub fn wait_timepoints(mode: WaitMode, timepoints: &[Timepoint], timeout: Timeout) -> Result<()> {
    if timepoints.is_empty() {
        return Ok(());
    }
    let deadline = timeout.deadline();
    let mut unreached = Vec::with_capacity(timepoints.len());
    let mut states = Vec::with_capacity(timepoints.len());
    for timepoint in timepoints {
        let semaphore = LocalSemaphore::from_handle(&timepoint.semaphore)?;
        let state = semaphore.is_reached(timepoint.value);
        if state == Ok(false) {
            unreached.push((semaphore, timepoint.value));
        }
        states.push(state);
    }
    if let Some(result) = decide(mode, states.into_iter()) {
        return result;
    }
    // Run ready work on this thread while it would only wait (see `WaitHelper`), but never
    // when the caller asked not to block.
    if let Some(helper) = unreached
        .iter()
        .find_map(|(semaphore, _)| semaphore.helper().cloned())
        .filter(|_| timeout != Timeout::Immediate)
    {
        loop {
            let states = unreached
                .iter()
                .map(|&(semaphore, value)| semaphore.is_reached(value));
            if let Some(result) = decide(mode, states) {
                return result;
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) || !helper.help_once() {
                break;
            }
        }
    }
    if unreached.len() == 1 {
        let (semaphore, value) = unreached[0];
        return semaphore.wait(value, timeout);
    }
    let notification = Arc::new(Notification::new());
    let needed = match mode {
        WaitMode::All => unreached.len(),
        WaitMode::Any => 1,
    };
    let remaining = Arc::new(AtomicUsize::new(needed));
    let mut registrations: Vec<(&LocalSemaphore, TimepointId)> =
        Vec::with_capacity(unreached.len());
    for &(semaphore, value) in &unreached {
        let notification = notification.clone();
        let remaining = remaining.clone();
        let callback = Box::new(move |result: Result<()>| match result {
            Err(status) => notification.notify(Err(status)),
            Ok(()) => {
                if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    notification.notify(Ok(()));
                }
            }
        });
        if let Some(id) = semaphore.add_timepoint(value, callback) {
            registrations.push((semaphore, id));
        }
    }
    let outcome = notification.wait(deadline);
    for (semaphore, id) in registrations {
        semaphore.cancel_timepoint(id);
    }
    match outcome {
        Some(result) => result,
        None => {
            let waiting: Vec<String> = unreached
                .iter()
                .map(|(semaphore, value)| {
                    format!(
                        "{value} (at {})",
                        semaphore
                            .query()
                            .map_or_else(|s| s.to_string(), |v| v.to_string())
                    )
                })
                .collect();
            Err(Status::deadline_exceeded(format!(
                "timed out waiting for {} of the semaphore values {}",
                if mode == WaitMode::All { "all" } else { "any" },
                waiting.join(", ")
            )))
        }
    }
}
