//! Keeping the commands of one region, which run at the same time, from racing with Rust code:
//! a transfer's writes or a safe kernel's references.
//!
//! Claims made through the execution's device scope keep *other* units of work from racing with
//! this one (see [`hal_core::RangeClaims`]); the commands of one region run concurrently but
//! belong to one unit, so they are kept apart here, with the same rule: two commands of a region
//! may not touch overlapping bytes of one allocation where one writes through Rust code (a
//! transfer, a safe kernel's `&mut`) or holds references while the other may write.
//!
//! Such pairs are normal in IREE's programs: every dispatch binds the whole of one transient
//! buffer, and a fill of one part of it sits beside a dispatch that (by offsets compiled into the
//! kernel) touches another part, with no barrier between them. Refusing them would refuse the
//! programs; so at submission the planner splits a region before the first command that would
//! conflict with an earlier one of the same region ([`split_at_conflicts`]), as if the program
//! had a barrier there. Running the two one after the other is always a valid order of a
//! barrier-free region. [`RegionUses::check`] stays as the guard at planning time.

use std::ops::Range;

use hal_core::{RangeUse, ResolvedRef, Result, Status};

/// One use of a byte range: (allocation, start, end, use).
type Use = (usize, u64, u64, RangeUse);

fn use_of(range: &ResolvedRef<'_>, usage: RangeUse) -> Option<Use> {
    if range.length == 0 {
        return None;
    }
    let allocation = std::sync::Arc::as_ptr(range.buffer.storage()) as *const () as usize;
    let start = range.storage_offset();
    Some((allocation, start, start + range.length, usage))
}

fn overlap(a: &Use, b: &Use) -> bool {
    a.0 == b.0 && a.1 < b.2 && b.1 < a.2
}

/// Splits the commands `range` of one barrier-delimited region into consecutive sub-regions so
/// that no two commands of a sub-region conflict. `uses_of(command, note)` calls `note` for every
/// range command `command` touches; a command whose uses cannot be worked out (its references do
/// not resolve) reports nothing, and planning reports its error later.
///
/// Only uses that write through Rust code or hold references (`strong`) can conflict with an
/// opaque kernel binding or a read, so a region of kernels alone (IREE's usual case) is checked
/// in time linear in its bindings.
pub fn split_at_conflicts(
    range: Range<usize>,
    mut uses_of: impl FnMut(usize, &mut dyn FnMut(&ResolvedRef<'_>, RangeUse)),
) -> Vec<Range<usize>> {
    let mut regions = Vec::new();
    let mut start = range.start;
    let mut strong: Vec<Use> = Vec::new();
    let mut all: Vec<Use> = Vec::new();
    let mut command_uses: Vec<Use> = Vec::new();
    for command in range.clone() {
        command_uses.clear();
        uses_of(command, &mut |r, usage| {
            command_uses.extend(use_of(r, usage))
        });
        let conflicts = command_uses.iter().any(|new| {
            let is_strong = new.3.writes() || new.3.referenced();
            let against = if is_strong { &all } else { &strong };
            against
                .iter()
                .any(|old| overlap(old, new) && old.3.conflicts_with(new.3))
        });
        if conflicts {
            regions.push(start..command);
            start = command;
            strong.clear();
            all.clear();
        }
        for new in &command_uses {
            if new.3.writes() || new.3.referenced() {
                strong.push(*new);
            }
            all.push(*new);
        }
    }
    if range.end > start {
        regions.push(start..range.end);
    }
    regions
}

/// The byte ranges the commands of one region use.
#[derive(Default)]
pub struct RegionUses {
    /// (allocation, start, end, use, command index)
    uses: Vec<(usize, u64, u64, RangeUse, usize)>,
}

impl RegionUses {
    /// Notes that command `command` uses `range` as `usage`.
    pub fn note(&mut self, command: usize, range: &ResolvedRef<'_>, usage: RangeUse) {
        if let Some((allocation, start, end, usage)) = use_of(range, usage) {
            self.uses.push((allocation, start, end, usage, command));
        }
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
                         overlapping bytes of one buffer at the same time, and one writes \
                         through Rust code or holds a safe kernel's references while the other \
                         may write"
                    )));
                }
            }
        }
        Ok(())
    }
}
