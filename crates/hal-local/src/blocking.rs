//! The one place hal-local blocks a thread.
//!
//! Every wait in the local HAL (semaphore waits, multi-waits) goes through [`Notification`]: a
//! one-shot slot that is set once and waited on with a deadline. A `no_std` build supplies its
//! own version of this file (for example spinning with a timer) and nothing else changes.

use std::time::Instant;

use crate::sync::{Condvar, Mutex};
use hal_core::Result;

/// A one-shot notification carrying a result. The first `notify` wins.
#[derive(Default)]
pub struct Notification {
    result: Mutex<Option<Result<()>>>,
    condvar: Condvar,
}

impl Notification {
    /// An unset notification.
    pub fn new() -> Notification {
        Notification::default()
    }

    /// Sets the result (if not set yet) and wakes the waiter.
    pub fn notify(&self, result: Result<()>) {
        let mut slot = self.result.lock();
        if slot.is_none() {
            *slot = Some(result);
            self.condvar.notify_all();
        }
    }

    /// The result if set, without blocking.
    pub fn poll(&self) -> Option<Result<()>> {
        self.result.lock().clone()
    }

    /// Blocks until notified or until `deadline` (`None`: forever). Returns `None` on timeout.
    pub fn wait(&self, deadline: Option<Instant>) -> Option<Result<()>> {
        let mut slot = self.result.lock();
        loop {
            if let Some(result) = slot.as_ref() {
                return Some(result.clone());
            }
            match deadline {
                None => self.condvar.wait(&mut slot),
                Some(deadline) => {
                    if self.condvar.wait_until(&mut slot, deadline).timed_out() {
                        return slot.clone();
                    }
                }
            }
        }
    }
}
