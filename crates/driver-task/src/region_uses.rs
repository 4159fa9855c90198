//! Checking that the commands of one region, which run at the same time, do not race with a
//! safe kernel's references.
//!
//! Claims made through the execution's device scope keep *other* units of work from racing with
//! this one (see [`hal_core::RangeClaims`]); the commands of one region run concurrently but
//! belong to one unit, so the planner checks them against each other here, with the same rule:
//! two commands of a region may not touch overlapping bytes of one allocation where one holds
//! references (a safe kernel's views) and one writes. The command buffer needs a barrier there.

use hal_core::{RangeUse, ResolvedRef, Result, Status};

/// The byte ranges the commands of one region use.
#[derive(Default)]
pub struct RegionUses {
    /// (allocation, start, end, use, command index)
    uses: Vec<(usize, u64, u64, RangeUse, usize)>,
}

impl RegionUses {
    /// Notes that command `command` uses `range` as `usage`.
    pub fn note(&mut self, command: usize, range: &ResolvedRef<'_>, usage: RangeUse) {
        if range.length == 0 {
            return;
        }
        let allocation = std::sync::Arc::as_ptr(range.buffer.storage()) as *const () as usize;
        let start = range.storage_offset();
        self.uses
            .push((allocation, start, start + range.length, usage, command));
    }

    /// Fails naming two commands that would race, if any.
    pub fn check(mut self, region: usize) -> Result<()> {
        self.uses
            .sort_unstable_by_key(|&(allocation, start, ..)| (allocation, start));
        for (i, &(allocation, _, end, usage, command)) in self.uses.iter().enumerate() {
            for &(other_allocation, other_start, _, other_usage, other_command) in
                &self.uses[i + 1..]
            {
                if other_allocation != allocation || other_start >= end {
                    break;
                }
                if other_command != command && usage.conflicts_with(other_usage) {
                    return Err(Status::failed_precondition(format!(
                        "commands {command} and {other_command} of region {region} use \
                         overlapping bytes of one buffer at the same time, and one holds a safe \
                         kernel's references while the other writes: put a barrier between them"
                    )));
                }
            }
        }
        Ok(())
    }
}
