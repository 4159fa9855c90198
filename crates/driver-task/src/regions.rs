//! Regions and tiles: how a command buffer is split and claimed.
//!
//! A command buffer's commands between two barriers form a region; every command in a region is
//! cut into tiles (one dispatch workgroup, or 64 KiB of a fill or copy), numbered across the
//! region. Workers claim consecutive tiles with one `fetch_add` on the region's cursor, several
//! at a time on large regions, and count them off a `remaining` counter when done. The thread
//! that brings `remaining` to zero is the region's last finisher: it plans and opens the next
//! region. Each region has its own cursor and counter and is never reused, so a stale claim
//! can only overshoot an exhausted cursor — no ABA.
//!
//! Ordering: every finisher's `fetch_sub` (AcqRel) is part of one release sequence, so the last
//! finisher happens after every tile of the region; it then publishes the next region with a
//! Release store of `current`, which claimers Acquire. Work of region r therefore happens before
//! any tile of region r + 1 starts: the barrier. `tests/loom_task.rs` model-checks this.

use std::sync::OnceLock;

use hal_core::race_annotations::{happens_after, happens_before};

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Something cut into tiles.
pub trait Tiled {
    /// How many tiles it has.
    fn tiles(&self) -> u64;
}

/// The most tiles one region may hold: claimers may push the cursor past the total by a chunk
/// each, so it must stay far from wrapping around.
pub const MAX_REGION_TILES: u64 = u64::MAX / 2;

/// The tiles of `items` together, if they fit in one region ([`MAX_REGION_TILES`]).
pub fn region_tiles<I: Tiled>(items: &[I]) -> Option<u64> {
    items
        .iter()
        .try_fold(0u64, |total, item| total.checked_add(item.tiles()))
        .filter(|&total| total <= MAX_REGION_TILES)
}

/// One region: its items, where each item's tiles start, and the claim state.
pub struct Region<I> {
    items: Vec<I>,
    starts: Vec<u64>,
    total: u64,
    chunk: u64,
    next: AtomicU64,
    remaining: AtomicU64,
}

impl<I: Tiled> Region<I> {
    /// A region over `items`, claimed `chunk` tiles at a time. Their tiles must fit in a region
    /// (see [`region_tiles`]).
    pub fn new(items: Vec<I>, threads: usize) -> Region<I> {
        // Where each item's tiles start; a one-item region (the common case between barriers)
        // needs no table, and no allocation for it.
        let mut starts = Vec::new();
        let mut total = 0u64;
        for item in &items {
            if items.len() > 1 {
                starts.push(total);
            }
            total += item.tiles();
        }
        // Several sequential tiles per claim on large regions (fewer atomics, better locality),
        // but enough claims that every thread gets a share and the tail stays short.
        let chunk = (total / (threads.max(1) as u64 * 8)).clamp(1, 64);
        Region {
            items,
            starts,
            total,
            chunk,
            next: AtomicU64::new(0),
            remaining: AtomicU64::new(total),
        }
    }

    /// Total tiles.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The items.
    pub fn items(&self) -> &[I] {
        &self.items
    }

    /// The item holding tile `tile`, and the tile's index within that item.
    #[inline]
    pub fn locate(&self, tile: u64) -> (usize, u64) {
        if self.starts.is_empty() {
            return (0, tile);
        }
        let index = match self.starts.binary_search(&tile) {
            Ok(mut exact) => {
                // Skip empty items that start at the same tile.
                while self.items[exact].tiles() == 0 {
                    exact += 1;
                }
                exact
            }
            Err(after) => after - 1,
        };
        (index, tile - self.starts[index])
    }

    /// Whether tiles remain to be claimed.
    #[inline]
    pub fn has_unclaimed(&self) -> bool {
        self.next.load(Ordering::Relaxed) < self.total
    }
}

/// Tiles `[start, start + count)` of region `region`, owned by the claimer until completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Region index.
    pub region: usize,
    /// First tile.
    pub start: u64,
    /// How many tiles.
    pub count: u64,
}

/// The regions of one execution, opened one after the other.
pub struct Regions<I> {
    slots: Box<[OnceLock<Region<I>>]>,
    current: AtomicUsize,
}

impl<I: Tiled> Regions<I> {
    /// `count` regions, none open yet.
    pub fn new(count: usize) -> Regions<I> {
        Regions {
            slots: (0..count).map(|_| OnceLock::new()).collect(),
            current: AtomicUsize::new(usize::MAX),
        }
    }

    /// How many regions there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Publishes region `index` (planned by the previous region's last finisher, or the
    /// submitter for region 0) so that claimers see it.
    #[cfg(loom)]
    pub fn open(&self, index: usize, region: Region<I>) -> &Region<I> {
        self.open_claiming(index, region, false).0
    }

    /// As [`Regions::open`]; with `claim_first`, the opener takes the first chunk before the
    /// region is published, so a one-tile region stays on the thread that opened it (no other
    /// core touches it) and a large one starts at once.
    pub fn open_claiming(
        &self,
        index: usize,
        region: Region<I>,
        claim_first: bool,
    ) -> (&Region<I>, Option<Claim>) {
        let first = (claim_first && region.total > 0).then(|| {
            let count = region.chunk.min(region.total);
            region.next.store(count, Ordering::Relaxed);
            Claim {
                region: index,
                start: 0,
                count,
            }
        });
        let region = match self.slots[index].set(region) {
            Ok(()) => self.slots[index].get().expect("just set"),
            Err(_) => {
                unreachable!("each region is opened once, by its predecessor's last finisher")
            }
        };
        happens_before(&self.current);
        self.current.store(index, Ordering::Release);
        (region, first)
    }

    /// The open region, if any.
    #[inline]
    pub fn current(&self) -> Option<(usize, &Region<I>)> {
        let index = self.current.load(Ordering::Acquire);
        happens_after(&self.current);
        self.slots
            .get(index)
            .and_then(|slot| slot.get())
            .map(|region| (index, region))
    }

    /// An opened region.
    #[inline]
    pub fn region(&self, index: usize) -> &Region<I> {
        self.slots[index]
            .get()
            .expect("claims refer to opened regions")
    }

    /// Claims the next tiles of the open region, if any are left.
    #[inline]
    pub fn claim(&self) -> Option<Claim> {
        let (index, region) = self.current()?;
        if !region.has_unclaimed() {
            return None;
        }
        let start = region.next.fetch_add(region.chunk, Ordering::Relaxed);
        if start >= region.total {
            return None;
        }
        Some(Claim {
            region: index,
            start,
            count: region.chunk.min(region.total - start),
        })
    }

    /// Counts a claim's tiles done. True for the region's last finisher, who must open the next
    /// region (or finish the execution).
    #[inline]
    pub fn complete(&self, claim: Claim) -> bool {
        let region = self.region(claim.region);
        happens_before(&region.remaining);
        let last = region.remaining.fetch_sub(claim.count, Ordering::AcqRel) == claim.count;
        if last {
            happens_after(&region.remaining);
        }
        last
    }
}
