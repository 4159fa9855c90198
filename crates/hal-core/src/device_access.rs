//! Device access to a buffer's allocation: the guard device work holds while it touches the
//! memory, which keeps the host from mapping it and the memory from being released.

use std::fmt;
use std::sync::Arc;

use crate::buffer::{Buffer, BufferStorage};
use crate::memory::DeviceSize;
use crate::range_claims::RangeUse;
use crate::status::Result;

impl Buffer {
    /// Takes device access to the buffer's allocation for the lifetime of the returned guard.
    /// Drivers call this before device work touches the memory.
    #[inline]
    pub fn acquire_device(&self) -> Result<DeviceAccess> {
        self.storage().gate().acquire_device()?;
        Ok(DeviceAccess {
            storage: self.storage().clone(),
        })
    }
}

/// Device access to an allocation, released when dropped. While it lives the host cannot map
/// the memory, and [`DeviceAccess::base_ptr`] stays valid.
pub struct DeviceAccess {
    storage: Arc<dyn BufferStorage>,
}

impl DeviceAccess {
    /// Host address of byte 0 of the allocation.
    #[inline]
    pub fn base_ptr(&self) -> *mut u8 {
        self.storage.host_ptr()
    }

    /// Whether this access covers `buffer`'s allocation.
    #[inline]
    pub fn covers(&self, buffer: &Buffer) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.storage), Arc::as_ptr(buffer.storage()))
    }

    /// Size of the allocation in bytes.
    pub fn allocation_size(&self) -> DeviceSize {
        self.storage.allocation_size()
    }

    /// Claims bytes `[start, end)` of the allocation for `owner`'s work (see [`RangeClaims`]).
    ///
    /// [`RangeClaims`]: crate::range_claims::RangeClaims
    #[inline]
    pub fn claim(
        &self,
        owner: u64,
        start: DeviceSize,
        end: DeviceSize,
        usage: RangeUse,
    ) -> Result<()> {
        self.storage.gate().claims().claim(owner, start, end, usage)
    }

    /// Drops `owner`'s claims on the allocation.
    #[inline]
    pub fn release_claims(&self, owner: u64) {
        self.storage.gate().claims().release(owner)
    }
}

impl Drop for DeviceAccess {
    fn drop(&mut self) {
        self.storage.gate().release_device();
    }
}

impl fmt::Debug for DeviceAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAccess")
            .field("base", &self.base_ptr())
            .finish()
    }
}
