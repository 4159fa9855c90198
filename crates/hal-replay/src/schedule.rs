//! When the replay waits for the device: after every queue operation, as IREE's replayer does,
//! or only where the captured program must have waited.

use hal_core::{Device, Result, Timeout, Timepoint, WaitMode};

/// How queue operations are paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Waits for each queue operation's signals before the next record, as IREE's
    /// `iree-run-replay` and `iree-benchmark-replay` do: the like-for-like comparison.
    #[default]
    Serial,
    /// Submits every queue operation as soon as its record is read, ordered only by the
    /// captured semaphores. The host waits only where the captured program must have waited,
    /// which the capture does not record: before it touches buffer memory (mappings, command
    /// buffers that run as they are recorded), before a queue operation that waits for nothing
    /// while work is in flight (the program submitted it after a host wait), and at the end.
    Pipelined,
}

impl Schedule {
    /// The schedule named `name` (`serial` or `pipelined`).
    pub fn from_name(name: &str) -> Option<Schedule> {
        match name {
            "serial" => Some(Schedule::Serial),
            "pipelined" => Some(Schedule::Pipelined),
            _ => None,
        }
    }

    /// The schedule's name.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Serial => "serial",
            Schedule::Pipelined => "pipelined",
        }
    }
}

/// Submitted work nobody has waited for yet: each queue operation's waits and signals.
#[derive(Default)]
pub(crate) struct InFlight {
    operations: Vec<Pending>,
}

struct Pending {
    waits: Vec<Timepoint>,
    signals: Vec<Timepoint>,
}

impl InFlight {
    /// Notes that an operation waiting for `waits` was submitted and will signal `signals`.
    pub(crate) fn submitted(&mut self, waits: &[Timepoint], signals: &[Timepoint]) {
        self.operations.push(Pending {
            waits: waits.to_vec(),
            signals: signals.to_vec(),
        });
    }

    /// Whether any submitted work may still be running.
    pub(crate) fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Waits for every submitted operation that can finish without work not yet submitted (the
    /// captured program may have submitted an operation whose wait a later record signals; the
    /// host cannot have waited for that one here), or until one fails.
    pub(crate) fn wait_ready(&mut self, device: &Device) -> Result<()> {
        let mut ready = vec![false; self.operations.len()];
        loop {
            let mut changed = false;
            for index in 0..self.operations.len() {
                if ready[index] {
                    continue;
                }
                let reachable = self.operations[index].waits.iter().all(|wait| {
                    // A failed semaphore is "reached": waiting on it reports the failure.
                    wait.semaphore
                        .query()
                        .map_or(true, |value| value >= wait.value)
                        || self.operations.iter().zip(&ready).any(|(other, &ready)| {
                            ready
                                && other.signals.iter().any(|signal| {
                                    signal.semaphore.ptr_eq(&wait.semaphore)
                                        && signal.value >= wait.value
                                })
                        })
                });
                if reachable {
                    ready[index] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut timepoints = Vec::new();
        let mut remaining = Vec::new();
        for (operation, ready) in self.operations.drain(..).zip(ready) {
            if ready {
                timepoints.extend(operation.signals);
            } else {
                remaining.push(operation);
            }
        }
        self.operations = remaining;
        device.wait_semaphores(WaitMode::All, &timepoints, Timeout::Infinite)
    }

    /// Waits until everything submitted is done (or one operation has failed). Only at the end
    /// of a run or scope, when every operation the capture signals has been submitted.
    pub(crate) fn wait_all(&mut self, device: &Device) -> Result<()> {
        let timepoints: Vec<Timepoint> = self
            .operations
            .drain(..)
            .flat_map(|operation| operation.signals)
            .collect();
        device.wait_semaphores(WaitMode::All, &timepoints, Timeout::Infinite)
    }
}
