//! The signal list of an accepted queue operation: completed exactly once, and counted on its
//! semaphores until then.
//!
//! A driver turns an operation's signal timepoints into [`QueueSignals`] when it accepts the
//! operation. From then until the operation completes, each semaphore counts it as a *signaler*:
//! something that may still advance it even when no user holds a handle (see
//! [`crate::liveness`]). Completion signals every timepoint (or fails every semaphore) once;
//! signals dropped without completing — an operation the driver lost — fail as `CANCELLED`
//! rather than leave their waiters hanging. So no accepted work ends silently.

use std::sync::Arc;

use hal_core::{Result, SemaphoreImpl, Status, Timepoint};

use crate::semaphore::LocalSemaphore;

/// The semaphores an accepted queue operation signals when it completes, with their values.
pub struct QueueSignals {
    points: Vec<(Arc<LocalSemaphore>, u64)>,
    completed: bool,
}

impl QueueSignals {
    /// Takes the signal list of an operation being accepted (reusing its allocation), dropping
    /// the user handles. Every semaphore must be a local one; otherwise nothing is counted and
    /// the error names the entry.
    pub fn new(signals: Vec<Timepoint>) -> Result<QueueSignals> {
        let points = signals
            .into_iter()
            .enumerate()
            .map(|(index, signal)| {
                LocalSemaphore::from_impl(signal.semaphore.inner())
                    .map(|semaphore| (semaphore, signal.value))
                    .map_err(|status| status.with_context(format!("in signal {index}")))
            })
            .collect::<Result<Vec<_>>>()?;
        for (semaphore, _) in &points {
            semaphore.add_signaler();
        }
        Ok(QueueSignals {
            points,
            completed: false,
        })
    }

    /// The semaphores signalled.
    pub fn semaphores(&self) -> impl Iterator<Item = &Arc<LocalSemaphore>> {
        self.points.iter().map(|(semaphore, _)| semaphore)
    }

    /// Completes the operation: with `Ok` signals every timepoint (a semaphore that refuses the
    /// value, because it passed it or failed, is failed with the reason so its waiters learn the
    /// timeline broke); with `Err` fails every semaphore with the status.
    pub fn complete(mut self, result: Result<()>) {
        self.finish(result);
    }

    /// Gives the signals back untouched: the operation was refused after all (no effect).
    pub fn refuse(mut self) {
        self.completed = true;
    }

    fn finish(&mut self, result: Result<()>) {
        self.completed = true;
        match result {
            Ok(()) => {
                for (semaphore, value) in &self.points {
                    if let Err(status) = semaphore.signal(*value) {
                        semaphore.fail(status);
                    }
                }
            }
            Err(status) => {
                for (semaphore, _) in &self.points {
                    semaphore.fail(status.clone());
                }
            }
        }
    }
}

impl Drop for QueueSignals {
    fn drop(&mut self) {
        if !self.completed {
            self.finish(Err(Status::cancelled(
                "the queue operation was dropped before it completed",
            )));
        }
        // Uncount this operation; work left waiting on a semaphore only it could have advanced
        // is abandoned now.
        let mut abandoned = false;
        for (semaphore, _) in &self.points {
            abandoned |= semaphore.remove_signaler();
        }
        if abandoned {
            crate::liveness::cancel_abandoned();
        }
    }
}
