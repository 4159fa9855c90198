//! A batch of one dispatch's workgroups: a run of their linear ids, the processor and the local
//! memory they get, and the walk over their `(x, y, z)` ids (x fastest, then y, then z) that
//! every way of running workgroups shares.

use crate::abi::DispatchStateV0;
use crate::library::ExportEntry;

/// Workgroups with linear ids `[first, first + count)` of the dispatch `state` of `export`.
#[derive(Clone, Copy, Debug)]
pub struct WorkgroupBatch<'a> {
    /// The export whose kernel runs (its [`ordinal`](ExportEntry::ordinal) names it).
    pub export: &'a ExportEntry,
    /// The dispatch state, built by [`dispatch_state`](fn@crate::dispatch_state) for `export`.
    pub state: &'a DispatchStateV0,
    /// The first workgroup's linear id.
    pub first: u64,
    /// How many workgroups.
    pub count: u64,
    /// The processor the workgroups run on, as kernels see it.
    pub processor_id: u32,
    /// Bytes of local memory each workgroup gets (see
    /// [`local_memory_size`](crate::local_memory_size)).
    pub local_memory_size: u32,
}

impl WorkgroupBatch<'_> {
    /// The `(x, y, z)` ids of the batch's workgroups, in order; none when the batch or the grid
    /// is empty.
    #[inline]
    pub fn ids(&self) -> WorkgroupIds {
        WorkgroupIds::new(self.state, self.first, self.count)
    }
}

/// The ids of a run of workgroups (see [`WorkgroupBatch::ids`]).
#[derive(Clone, Debug, Default)]
pub struct WorkgroupIds {
    x: u32,
    y: u32,
    z: u16,
    count_x: u32,
    count_y: u32,
    left: u64,
}

impl WorkgroupIds {
    /// The ids of workgroups `[first, first + count)` of the grid of `state`.
    #[inline]
    pub fn new(state: &DispatchStateV0, first: u64, count: u64) -> WorkgroupIds {
        let (count_x, count_y) = (state.workgroup_count_x, state.workgroup_count_y);
        if count == 0 || count_x == 0 || count_y == 0 || state.workgroup_count_z == 0 {
            return WorkgroupIds::default();
        }
        let rest = first / u64::from(count_x);
        WorkgroupIds {
            x: (first % u64::from(count_x)) as u32,
            y: (rest % u64::from(count_y)) as u32,
            z: (rest / u64::from(count_y)) as u16,
            count_x,
            count_y,
            left: count,
        }
    }

    /// How many ids are left.
    #[inline]
    pub fn remaining(&self) -> u64 {
        self.left
    }
}

impl Iterator for WorkgroupIds {
    type Item = (u32, u32, u16);

    #[inline]
    fn next(&mut self) -> Option<(u32, u32, u16)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let id = (self.x, self.y, self.z);
        self.x += 1;
        if self.x == self.count_x {
            self.x = 0;
            self.y += 1;
            if self.y == self.count_y {
                self.y = 0;
                self.z = self.z.wrapping_add(1);
            }
        }
        Some(id)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.left).unwrap_or(usize::MAX);
        (left, usize::try_from(self.left).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(counts: [u32; 3], first: u64, count: u64) -> Vec<(u32, u32, u16)> {
        let state = DispatchStateV0 {
            workgroup_size_x: 1,
            workgroup_size_y: 1,
            workgroup_size_z: 1,
            constant_count: 0,
            workgroup_count_x: counts[0],
            workgroup_count_y: counts[1],
            workgroup_count_z: counts[2] as u16,
            max_concurrency: 1,
            binding_count: 0,
            constants: std::ptr::null(),
            binding_ptrs: std::ptr::null(),
            binding_lengths: std::ptr::null(),
        };
        WorkgroupIds::new(&state, first, count).collect()
    }

    #[test]
    fn ids_walk_x_fastest_from_any_linear_id() {
        assert_eq!(
            ids([2, 2, 2], 0, 8),
            [
                (0, 0, 0),
                (1, 0, 0),
                (0, 1, 0),
                (1, 1, 0),
                (0, 0, 1),
                (1, 0, 1),
                (0, 1, 1),
                (1, 1, 1)
            ]
        );
        assert_eq!(ids([3, 2, 2], 5, 3), [(2, 1, 0), (0, 0, 1), (1, 0, 1)]);
    }

    #[test]
    fn empty_batches_and_grids_have_no_ids() {
        assert!(ids([2, 2, 2], 3, 0).is_empty());
        assert!(ids([0, 2, 2], 0, 4).is_empty());
        assert!(ids([2, 0, 2], 0, 4).is_empty());
        assert!(ids([2, 2, 0], 0, 4).is_empty());
    }
}
