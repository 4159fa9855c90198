//! Device access to the buffers one unit of work touches.
//!
//! A [`DeviceScope`] acquires each allocation's gate on first use and releases all of them when
//! dropped, so host mappings are refused while the work runs and allowed again once it is done.
//! Drivers drop the scope *before* signalling completion, so a host thread woken by the signal
//! can map the results at once.

use std::ffi::c_void;

use hal_core::{DeviceAccess, ResolvedRef, Result};

/// The allocations a unit of device work holds.
#[derive(Default)]
pub struct DeviceScope {
    /// Each held allocation with its base address (cached: asking the storage is a virtual call).
    accesses: Vec<(DeviceAccess, *mut u8)>,
}

// SAFETY: the cached base pointers are plain addresses of allocations this scope holds device
// access to; moving the scope to another thread moves that access with it.
unsafe impl Send for DeviceScope {}
// SAFETY: a shared reference exposes no method that reads or writes through the pointers.
unsafe impl Sync for DeviceScope {}

impl DeviceScope {
    /// An empty scope.
    pub fn new() -> DeviceScope {
        DeviceScope::default()
    }

    /// The host address of a resolved range, acquiring its allocation if this scope does not
    /// hold it yet. The address is valid while the scope lives.
    #[inline]
    pub fn pointer(&mut self, range: &ResolvedRef<'_>) -> Result<*mut u8> {
        let base = match self
            .accesses
            .iter()
            .find(|(access, _)| access.covers(range.buffer))
        {
            Some(&(_, base)) => base,
            None => {
                let access = range.buffer.acquire_device()?;
                let base = access.base_ptr();
                self.accesses.push((access, base));
                base
            }
        };
        Ok(base.wrapping_add(range.storage_offset() as usize))
    }

    /// As [`DeviceScope::pointer`], typed for binding tables.
    #[inline]
    pub fn binding_pointer(&mut self, range: &ResolvedRef<'_>) -> Result<*mut c_void> {
        self.pointer(range).map(|p| p.cast())
    }

    /// Releases every allocation held.
    pub fn release(&mut self) {
        self.accesses.clear();
    }
}
