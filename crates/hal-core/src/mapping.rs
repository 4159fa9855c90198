//! Scoped host mappings of buffer memory.
//!
//! A mapping holds host access on the buffer's allocation (shared for [`MappedRead`], exclusive
//! for [`MappedWrite`]) and gives it back when dropped, so a safe slice over buffer memory never
//! coexists with device work or another writer on that memory.

use std::ops::{Deref, DerefMut};

use crate::buffer::{Buffer, BufferStorage};
use crate::memory::DeviceSize;
use crate::{Result, Status};

fn host_len(length: DeviceSize) -> Result<usize> {
    usize::try_from(length)
        .map_err(|_| Status::out_of_range(format!("length {length} does not fit the host")))
}

/// A read-only view of part of a buffer, valid while it lives.
pub struct MappedRead<'a> {
    buffer: &'a Buffer,
    ptr: *const u8,
    len: usize,
}

impl<'a> MappedRead<'a> {
    pub(crate) fn new(buffer: &'a Buffer, start: DeviceSize, length: DeviceSize) -> Result<Self> {
        let len = host_len(length)?;
        buffer.storage().gate().acquire_host_read()?;
        // The range was checked against the buffer, which lies inside the allocation.
        let ptr = buffer.storage().host_ptr().wrapping_add(start as usize);
        Ok(MappedRead { buffer, ptr, len })
    }
}

impl Deref for MappedRead<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: host read access is held for our lifetime, so the allocation is committed,
        // initialised, and nobody writes it; [ptr, ptr + len) lies inside it (checked at map).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for MappedRead<'_> {
    fn drop(&mut self) {
        self.buffer.storage().gate().release_host_read();
    }
}

/// A writable view of part of a buffer, valid while it lives; it excludes every other access to
/// the buffer's allocation.
pub struct MappedWrite<'a> {
    buffer: &'a Buffer,
    ptr: *mut u8,
    len: usize,
}

impl<'a> MappedWrite<'a> {
    pub(crate) fn new(buffer: &'a Buffer, start: DeviceSize, length: DeviceSize) -> Result<Self> {
        let len = host_len(length)?;
        buffer.storage().gate().acquire_host_write()?;
        let ptr = buffer.storage().host_ptr().wrapping_add(start as usize);
        Ok(MappedWrite { buffer, ptr, len })
    }
}

impl Deref for MappedWrite<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: exclusive host access is held for our lifetime; the range is inside the
        // committed, initialised allocation.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl DerefMut for MappedWrite<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as in `deref`, and `&mut self` makes this the only live slice of the mapping.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for MappedWrite<'_> {
    fn drop(&mut self) {
        self.buffer.storage().gate().release_host_write();
    }
}

/// Copies `length` bytes between two non-overlapping ranges of one allocation (absolute offsets,
/// already checked against the allocation by the caller).
pub(crate) fn copy_within_allocation(
    storage: &dyn BufferStorage,
    source: DeviceSize,
    target: DeviceSize,
    length: DeviceSize,
) -> Result<()> {
    let len = host_len(length)?;
    if len == 0 {
        return Ok(());
    }
    storage.gate().acquire_host_write()?;
    let base = storage.host_ptr();
    // SAFETY: exclusive host access is held; both ranges lie inside the committed allocation
    // (the caller checked them) and do not overlap (checked by `check_no_overlap`).
    unsafe {
        std::ptr::copy_nonoverlapping(base.add(source as usize), base.add(target as usize), len);
    }
    storage.gate().release_host_write();
    Ok(())
}
