//! A first-fit free list of byte ranges, the bookkeeping behind both the device-buffer pool and
//! each instance's address space.

use std::collections::BTreeMap;

/// Free ranges of some address range: start → length. Callers keep starts and lengths
/// page-multiples; the list only merges neighbours.
#[derive(Debug)]
pub(crate) struct PageRanges {
    free: BTreeMap<usize, usize>,
}

impl PageRanges {
    /// All of `[start, start + len)` free.
    pub(crate) fn new(start: usize, len: usize) -> PageRanges {
        let mut free = BTreeMap::new();
        if len > 0 {
            free.insert(start, len);
        }
        PageRanges { free }
    }

    /// Takes the lowest free range of `len` bytes, or `None` if no free range is that long.
    pub(crate) fn take(&mut self, len: usize) -> Option<usize> {
        let (&start, &size) = self.free.iter().find(|(_, &size)| size >= len)?;
        self.free.remove(&start);
        if size > len {
            self.free.insert(start + len, size - len);
        }
        Some(start)
    }

    /// Returns `[start, start + len)`, which an earlier [`PageRanges::take`] handed out, merging it
    /// with free neighbours.
    pub(crate) fn give(&mut self, mut start: usize, mut len: usize) {
        if let Some((&next, &next_len)) = self.free.range(start + len..).next() {
            if next == start + len {
                self.free.remove(&next);
                len += next_len;
            }
        }
        if let Some((&previous, &previous_len)) = self.free.range(..start).next_back() {
            if previous + previous_len == start {
                self.free.remove(&previous);
                start = previous;
                len += previous_len;
            }
        }
        self.free.insert(start, len);
    }
}

/// `value` rounded up to a multiple of `to`, or `None` on overflow.
pub(crate) fn round_up(value: usize, to: usize) -> Option<usize> {
    value.checked_add(to - 1).map(|v| v / to * to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_first_fit_and_merges_on_give() {
        let mut ranges = PageRanges::new(4096, 4 * 4096);
        let a = ranges.take(4096).unwrap();
        let b = ranges.take(2 * 4096).unwrap();
        assert_eq!((a, b), (4096, 2 * 4096));
        assert_eq!(ranges.take(2 * 4096), None, "only one page is left");
        ranges.give(a, 4096);
        ranges.give(b, 2 * 4096);
        assert_eq!(
            ranges.take(4 * 4096),
            Some(4096),
            "the three ranges merged back into one"
        );
    }
}
