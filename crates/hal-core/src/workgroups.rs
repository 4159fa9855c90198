//! Workgroup counts: how many workgroups a dispatch runs, and the limits every count obeys.
//!
//! A dispatch runs `x × y × z` workgroups. The ABI carries `z` in 16 bits, and the runtime counts
//! workgroups (and claims them across threads) in 64 bits, so counts whose product does not fit
//! are refused: when recorded or queued for static counts, and when read for indirect ones.

use crate::buffer_ref::BufferRef;
use crate::status::{Result, Status};

/// The largest z count: the executable ABI carries it in 16 bits.
pub const MAX_WORKGROUP_COUNT_Z: u32 = u16::MAX as u32;

/// How many workgroups a dispatch runs: counts known now, or three u32 counts read from the
/// range `R` when the dispatch executes. `R` is the buffer range type of whoever holds the
/// dispatch (see [`crate::BufferRange`]).
#[derive(Clone, Copy, Debug)]
pub enum WorkgroupCount<R> {
    /// Counts known at record time.
    Static([u32; 3]),
    /// Three u32 counts read from this range when the dispatch executes.
    Indirect(R),
}

/// The workgroup counts a dispatch is recorded or queued with.
pub type Workgroups<'a> = WorkgroupCount<BufferRef<'a>>;

impl<R> WorkgroupCount<R> {
    /// The same counts with the indirect range converted by `convert` (resolved against a
    /// binding table, kept by a recorded program, ...); its error is returned as it is.
    #[inline]
    pub fn try_map<'r, S>(
        &'r self,
        convert: impl FnOnce(&'r R) -> Result<S>,
    ) -> Result<WorkgroupCount<S>> {
        Ok(match self {
            WorkgroupCount::Static(counts) => WorkgroupCount::Static(*counts),
            WorkgroupCount::Indirect(range) => WorkgroupCount::Indirect(convert(range)?),
        })
    }
}

/// The number of workgroups `counts` make, or `OUT_OF_RANGE` naming the counts when z exceeds
/// [`MAX_WORKGROUP_COUNT_Z`] or the product does not fit in 64 bits.
#[inline]
pub fn workgroup_total(counts: [u32; 3]) -> Result<u64> {
    let [x, y, z] = counts;
    if z > MAX_WORKGROUP_COUNT_Z {
        return Err(too_many(counts, "z exceeds the ABI limit of 65535"));
    }
    u64::from(x)
        .checked_mul(u64::from(y))
        .and_then(|xy| xy.checked_mul(u64::from(z)))
        .ok_or_else(|| too_many(counts, "their product exceeds 2^64"))
}

#[cold]
#[inline(never)]
fn too_many(counts: [u32; 3], why: &str) -> Status {
    Status::out_of_range(format!("workgroup counts {counts:?} are too large: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusCode;

    #[test]
    fn try_map_converts_only_the_indirect_range() {
        let counts: WorkgroupCount<u32> = WorkgroupCount::Static([1, 2, 3]);
        let mapped = counts.try_map(|_| -> Result<u64> { panic!("not indirect") });
        assert!(matches!(mapped, Ok(WorkgroupCount::Static([1, 2, 3]))));
        let indirect: WorkgroupCount<u32> = WorkgroupCount::Indirect(7);
        let mapped = indirect.try_map(|range| Ok(u64::from(*range) * 2));
        assert!(matches!(mapped, Ok(WorkgroupCount::Indirect(14))));
        let failed = indirect.try_map(|_| -> Result<u64> { Err(Status::internal("no")) });
        assert_eq!(failed.unwrap_err().message(), "no");
    }

    #[test]
    fn totals_that_fit() {
        assert_eq!(workgroup_total([0, 5, 7]).unwrap(), 0);
        assert_eq!(workgroup_total([3, 5, 7]).unwrap(), 105);
        assert_eq!(
            workgroup_total([u32::MAX, u32::MAX, 1]).unwrap(),
            u64::from(u32::MAX) * u64::from(u32::MAX)
        );
    }

    #[test]
    fn overflow_and_z_are_out_of_range() {
        for counts in [
            [1 << 31, 1 << 31, 4],
            [u32::MAX, u32::MAX, 2],
            [1, 1, 65_536],
        ] {
            let status = workgroup_total(counts).unwrap_err();
            assert_eq!(status.code(), StatusCode::OutOfRange, "{status}");
            assert!(status.message().contains("workgroup counts"), "{status}");
        }
    }
}
