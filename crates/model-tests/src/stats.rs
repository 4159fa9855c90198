//! Counting what the tests checked, for the summary lines they print.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::exec::RunStats;

/// Totals for one driver × format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Programs run and checked.
    pub programs: usize,
    /// Operations in them.
    pub operations: usize,
    /// Queue operations that completed as the model said.
    pub completed: usize,
    /// Queue operations that failed as the model said.
    pub failed: usize,
    /// Faults injected.
    pub faults: usize,
    /// Allocations by memory kind: device, imported, alloca.
    pub allocations: [usize; 3],
    /// Sub-span views.
    pub subspans: usize,
}

static TALLIES: Mutex<BTreeMap<(String, String), Tally>> = Mutex::new(BTreeMap::new());

/// Counts one checked run.
pub fn record(driver: &str, format: &str, run: &RunStats) {
    let mut tallies = TALLIES.lock().unwrap_or_else(|e| e.into_inner());
    let tally = tallies
        .entry((driver.to_string(), format.to_string()))
        .or_default();
    tally.programs += 1;
    tally.operations += run.operations;
    tally.completed += run.completed;
    tally.failed += run.failed;
    tally.faults += run.faults;
    for (total, n) in tally.allocations.iter_mut().zip(run.allocations) {
        *total += n;
    }
    tally.subspans += run.subspans;
}

/// The tallies of `driver` so far, by format.
pub fn tallies(driver: &str) -> Vec<(String, Tally)> {
    let tallies = TALLIES.lock().unwrap_or_else(|e| e.into_inner());
    tallies
        .iter()
        .filter(|((d, _), _)| d == driver)
        .map(|((_, f), t)| (f.clone(), *t))
        .collect()
}

/// Writes a line to the test process's stderr directly, so that it shows even when the test
/// harness captures output.
pub fn print(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
