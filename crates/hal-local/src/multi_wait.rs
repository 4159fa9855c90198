//! Waiting on several semaphores at once (all or any), with one notification per wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hal_core::{Result, SemaphoreImpl, Status, Timeout, Timepoint, WaitMode};

use crate::blocking::Notification;
use crate::semaphore::{LocalSemaphore, TimepointId};

/// Blocks until all (or any) `timepoints` are reached, one fails, or the timeout expires.
/// Every semaphore must be a [`LocalSemaphore`].
pub fn wait_timepoints(mode: WaitMode, timepoints: &[Timepoint], timeout: Timeout) -> Result<()> {
    if timepoints.is_empty() {
        return Ok(());
    }
    let deadline = timeout.deadline();
    let mut unreached = Vec::with_capacity(timepoints.len());
    for timepoint in timepoints {
        let semaphore = LocalSemaphore::from_handle(&timepoint.semaphore)?;
        if semaphore.is_reached(timepoint.value)? {
            if mode == WaitMode::Any {
                return Ok(());
            }
        } else {
            unreached.push((semaphore, timepoint.value));
        }
    }
    if unreached.is_empty() {
        return Ok(());
    }
    // Run ready work on this thread while it would only wait (see `WaitHelper`).
    if let Some(helper) = unreached
        .iter()
        .find_map(|(semaphore, _)| semaphore.helper().cloned())
    {
        loop {
            let mut reached = 0;
            for &(semaphore, value) in &unreached {
                if semaphore.is_reached(value)? {
                    reached += 1;
                }
            }
            let done = match mode {
                WaitMode::All => reached == unreached.len(),
                WaitMode::Any => reached > 0,
            };
            if done {
                return Ok(());
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
