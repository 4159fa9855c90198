//! How long the soak waits for work that must complete (or fail) before it counts as hung.

use std::time::Duration;

/// The bound on every wait for work that must complete (or fail). Far above any honest latency
/// on a loaded machine; reaching it counts as a hung result.
pub(crate) const WAIT: Duration = Duration::from_secs(30);
