//! How long a blocking call may wait.

use std::time::{Duration, Instant};

/// A bound on a blocking call: return at once, never give up, after a duration, or at a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Do not block: succeed only if the condition already holds.
    Immediate,
    /// Block until the condition holds or fails.
    Infinite,
    /// Block for at most this long, measured from the call.
    After(Duration),
    /// Block until this instant at the latest; an instant in the past behaves like `Immediate`.
    Deadline(Instant),
}

impl Timeout {
    /// The absolute deadline of this timeout, taken now: `None` means never.
    pub fn deadline(self) -> Option<Instant> {
        match self {
            Timeout::Immediate => Some(Instant::now()),
            Timeout::Infinite => None,
            // A duration too long to represent is as good as infinite.
            Timeout::After(duration) => Instant::now().checked_add(duration),
            Timeout::Deadline(instant) => Some(instant),
        }
    }
}

impl From<Duration> for Timeout {
    fn from(duration: Duration) -> Timeout {
        Timeout::After(duration)
    }
}

impl From<Instant> for Timeout {
    fn from(instant: Instant) -> Timeout {
        Timeout::Deadline(instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_never_expire() {
        assert_eq!(Timeout::After(Duration::MAX).deadline(), None);
        assert_eq!(Timeout::Infinite.deadline(), None);
    }

    #[test]
    fn immediate_is_already_past() {
        let deadline = Timeout::Immediate.deadline().unwrap();
        assert!(deadline <= Instant::now());
    }
}
