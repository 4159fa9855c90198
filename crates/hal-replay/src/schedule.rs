//! When the replay waits for the device: after every queue operation, as IREE's replayer does,
//! or only where the captured program must have waited.

use std::collections::HashMap;

use hal_core::{Device, Result, Semaphore, Timeout, Timepoint, WaitMode};

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

/// The signals of submitted work nobody has waited for yet: the highest value per semaphore.
#[derive(Default)]
pub(crate) struct InFlight {
    signals: HashMap<u64, (Semaphore, u64)>,
}

impl InFlight {
    /// Notes that submitted work will signal `signals`.
    pub(crate) fn submitted(&mut self, ids: &[u64], signals: &[Timepoint]) {
        for (&id, signal) in ids.iter().zip(signals) {
            let entry = self
                .signals
                .entry(id)
                .or_insert_with(|| (signal.semaphore.clone(), 0));
            entry.1 = entry.1.max(signal.value);
        }
    }

    /// Whether any submitted work may still be running.
    pub(crate) fn is_empty(&self) -> bool {
        self.signals.is_empty()
    }

    /// Waits until everything submitted so far is done (or has failed: the first failure).
    pub(crate) fn wait_all(&mut self, device: &Device) -> Result<()> {
        if self.signals.is_empty() {
            return Ok(());
        }
        let timepoints: Vec<Timepoint> = self
            .signals
            .values()
            .map(|(semaphore, value)| semaphore.at(*value))
            .collect();
        self.signals.clear();
        device.wait_semaphores(WaitMode::All, &timepoints, Timeout::Infinite)
    }
}
