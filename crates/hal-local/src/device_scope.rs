//! Device access to the buffers one unit of work touches, and the ranges it claims in them.
//!
//! A [`DeviceScope`] acquires each allocation's gate on first use and releases all of them when
//! dropped, so host mappings are refused while the work runs and allowed again once it is done.
//! Drivers drop the scope *before* signalling completion, so a host thread woken by the signal
//! can map the results at once.
//!
//! Each scope is one owner of range claims (see [`hal_core::RangeClaims`]): every range it hands
//! out a pointer to is claimed first with how the work uses it, so unordered device work that
//! would race with a safe kernel's references is refused instead of run. A range already claimed
//! by the scope with a use that covers the new one is not claimed again, which keeps repeated
//! dispatches on the same buffers (a command buffer's steady state) free of locking.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};

use hal_core::{DeviceAccess, DeviceSize, RangeUse, ResolvedRef, Result, Status};

/// Owner numbers of scopes, unique in the process.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

type Claimed = (DeviceSize, DeviceSize, RangeUse);

/// One allocation a scope holds.
struct Held {
    access: DeviceAccess,
    /// The allocation's base address (cached: asking the storage is a virtual call).
    base: *mut u8,
    /// The first range claimed, kept inline (most work claims one range per allocation).
    first: Option<Claimed>,
    more: Vec<Claimed>,
}

impl Held {
    #[inline]
    fn covered(&self, start: DeviceSize, end: DeviceSize, usage: RangeUse) -> bool {
        let covers = |&(s, e, u): &Claimed| s <= start && end <= e && u.covers(usage);
        self.first.as_ref().is_some_and(covers) || self.more.iter().any(covers)
    }
}

/// The allocations a unit of device work holds, and the ranges it claimed in them.
pub struct DeviceScope {
    owner: u64,
    held: Vec<Held>,
}

impl Default for DeviceScope {
    fn default() -> Self {
        DeviceScope::new()
    }
}

// SAFETY: the cached base pointers are plain addresses of allocations this scope holds device
// access to; moving the scope to another thread moves that access with it.
unsafe impl Send for DeviceScope {}
// SAFETY: a shared reference exposes no method that reads or writes through the pointers.
unsafe impl Sync for DeviceScope {}

impl DeviceScope {
    /// An empty scope, a new claim owner.
    pub fn new() -> DeviceScope {
        DeviceScope {
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
            held: Vec::new(),
        }
    }

    /// The host address of a resolved range the work uses as `usage`, acquiring its allocation
    /// if this scope does not hold it yet and claiming the range (`FAILED_PRECONDITION` if
    /// unordered device work holds a conflicting claim). The address is valid while the scope
    /// lives.
    #[inline]
    pub fn pointer(&mut self, range: &ResolvedRef<'_>, usage: RangeUse) -> Result<*mut u8> {
        let start = range.storage_offset();
        // Wrapping: a range past the buffer is refused by `claim`, which every range not
        // claimed before reaches (a wrapped end matches no claimed range).
        let end = start.wrapping_add(range.length);
        match self
            .held
            .iter()
            .position(|held| held.access.covers(range.buffer))
        {
            // The steady state of repeated work on the same buffers: the same range, the same
            // use, already claimed.
            Some(index) if self.held[index].first == Some((start, end, usage)) => {
                Ok(self.held[index].base.wrapping_add(start as usize))
            }
            found => self.claim(found, range, start, end, usage),
        }
    }

    /// The rest of [`DeviceScope::pointer`]: acquires the allocation if needed and claims the
    /// range unless a claim of this scope covers it already.
    #[inline(never)]
    fn claim(
        &mut self,
        found: Option<usize>,
        range: &ResolvedRef<'_>,
        start: DeviceSize,
        end: DeviceSize,
        usage: RangeUse,
    ) -> Result<*mut u8> {
        // Ranges are checked against their buffers long before (hal-core validates every call),
        // but this is where raw pointers are made: a range past its buffer, however it was built,
        // is an error here rather than memory out of bounds.
        if range
            .offset
            .checked_add(range.length)
            .is_none_or(|range_end| range_end > range.buffer.len())
        {
            return Err(Status::out_of_range(format!(
                "range [{}, +{}) is outside its {}-byte buffer",
                range.offset,
                range.length,
                range.buffer.len()
            )));
        }
        let index = match found {
            Some(index) => index,
            None => {
                let access = range.buffer.acquire_device()?;
                let base = access.base_ptr();
                self.held.push(Held {
                    access,
                    base,
                    first: None,
                    more: Vec::new(),
                });
                self.held.len() - 1
            }
        };
        let held = &mut self.held[index];
        if start < end && !held.covered(start, end, usage) {
            held.access.claim(self.owner, start, end, usage)?;
            match held.first {
                None => held.first = Some((start, end, usage)),
                Some(_) => held.more.push((start, end, usage)),
            }
        }
        Ok(held.base.wrapping_add(start as usize))
    }

    /// As [`DeviceScope::pointer`], typed for binding tables.
    #[inline]
    pub fn binding_pointer(
        &mut self,
        range: &ResolvedRef<'_>,
        usage: RangeUse,
    ) -> Result<*mut c_void> {
        self.pointer(range, usage).map(|p| p.cast())
    }

    /// Drops every claim and releases every allocation held.
    pub fn release(&mut self) {
        for held in self.held.drain(..) {
            if held.first.is_some() {
                held.access.release_claims(self.owner);
            }
        }
    }
}

impl Drop for DeviceScope {
    fn drop(&mut self) {
        self.release();
    }
}
