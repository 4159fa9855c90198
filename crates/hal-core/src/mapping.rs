//! Host access to buffers: scoped mappings, and the reads, writes, fills and copies built on them.
//!
//! A mapping holds host access on the buffer's allocation (shared for [`MappedRead`], exclusive
//! for [`MappedWrite`]) and gives it back when dropped, so a safe slice over buffer memory never
//! coexists with device work or another writer on that memory. Every host access is checked
//! against the buffer's memory type, usage, access rights and range first.

use std::ops::{Deref, DerefMut};

use bytemuck::Pod;

use crate::buffer::{check_no_overlap, Buffer, BufferStorage};
use crate::fill_pattern::{check_fill_alignment, fill_bytes, FillPattern};
use crate::memory::{BufferUsage, DeviceSize, MemoryAccess, MemoryType};
use crate::status::{Result, Status};

impl Buffer {
    fn require_mappable(&self, access: MemoryAccess) -> Result<()> {
        if !self.memory_type().contains(MemoryType::HOST_VISIBLE) {
            return Err(Status::permission_denied(format!(
                "buffer memory type {:?} is not host visible and cannot be mapped",
                self.memory_type()
            )));
        }
        if !self
            .usage()
            .intersects(BufferUsage::MAPPING_SCOPED | BufferUsage::MAPPING_PERSISTENT)
        {
            return Err(Status::permission_denied(format!(
                "buffer usage {:?} does not allow mapping",
                self.usage()
            )));
        }
        let needed = access & (MemoryAccess::READ | MemoryAccess::WRITE | MemoryAccess::DISCARD);
        if !self.allowed_access().contains(needed) {
            return Err(Status::permission_denied(format!(
                "mapping needs access {needed:?}, but the buffer allows only {:?}",
                self.allowed_access()
            )));
        }
        Ok(())
    }

    /// Maps `[offset, offset + length)` for reading, for as long as the mapping lives.
    pub fn map_read(&self, offset: DeviceSize, length: DeviceSize) -> Result<MappedRead<'_>> {
        self.require_mappable(MemoryAccess::READ)?;
        let length = self.resolve_range(offset, length)?;
        MappedRead::new(self, self.storage_offset() + offset, length)
    }

    /// Maps `[offset, offset + length)` for writing (and reading, if the buffer allows it).
    /// With `discard`, only `WRITE | DISCARD` access is needed: the caller promises to overwrite
    /// what it cares about and must not rely on the previous contents.
    pub fn map_write(
        &self,
        offset: DeviceSize,
        length: DeviceSize,
        discard: bool,
    ) -> Result<MappedWrite<'_>> {
        let access = if discard {
            MemoryAccess::DISCARD_WRITE
        } else {
            MemoryAccess::WRITE
        };
        self.require_mappable(access)?;
        let length = self.resolve_range(offset, length)?;
        MappedWrite::new(self, self.storage_offset() + offset, length)
    }

    /// Copies `out.len()` bytes starting at `offset` into `out`.
    pub fn read(&self, offset: DeviceSize, out: &mut [u8]) -> Result<()> {
        let mapping = self.map_read(offset, out.len() as DeviceSize)?;
        out.copy_from_slice(&mapping);
        Ok(())
    }

    /// Copies `data` into the buffer starting at `offset`.
    pub fn write(&self, offset: DeviceSize, data: &[u8]) -> Result<()> {
        let mut mapping = self.map_write(offset, data.len() as DeviceSize, true)?;
        mapping.copy_from_slice(data);
        Ok(())
    }

    /// Writes `pattern` over `[offset, offset + length)`; offset and length must be multiples of
    /// the pattern length.
    pub fn fill(&self, offset: DeviceSize, length: DeviceSize, pattern: FillPattern) -> Result<()> {
        let length = self.resolve_range(offset, length)?;
        check_fill_alignment(offset, length, pattern)?;
        let mut mapping = self.map_write(offset, length, true)?;
        fill_bytes(&mut mapping, pattern);
        Ok(())
    }

    /// Sets `[offset, offset + length)` to zero.
    pub fn zero(&self, offset: DeviceSize, length: DeviceSize) -> Result<()> {
        self.fill(offset, length, FillPattern::U8(0))
    }

    /// Copies `length` bytes from `self` at `source_offset` to `target` at `target_offset`.
    /// Ranges in one allocation must not overlap.
    pub fn copy_to(
        &self,
        source_offset: DeviceSize,
        target: &Buffer,
        target_offset: DeviceSize,
        length: DeviceSize,
    ) -> Result<()> {
        let length = self.resolve_range(source_offset, length)?;
        target.resolve_range(target_offset, length)?;
        if self.same_allocation(target) {
            check_no_overlap(
                self.storage_offset() + source_offset,
                target.storage_offset() + target_offset,
                length,
            )?;
            self.require_mappable(MemoryAccess::READ)?;
            target.require_mappable(MemoryAccess::DISCARD_WRITE)?;
            return copy_within_allocation(
                self.storage().as_ref(),
                self.storage_offset() + source_offset,
                target.storage_offset() + target_offset,
                length,
            );
        }
        let source = self.map_read(source_offset, length)?;
        let mut destination = target.map_write(target_offset, length, true)?;
        destination.copy_from_slice(&source);
        Ok(())
    }

    /// Reads `count` elements of `T` starting at byte `offset`.
    pub fn read_elements<T: Pod>(&self, offset: DeviceSize, count: usize) -> Result<Vec<T>> {
        let mut values = vec![T::zeroed(); count];
        self.read(offset, bytemuck::cast_slice_mut(&mut values))?;
        Ok(values)
    }

    /// Writes `values` starting at byte `offset`.
    pub fn write_elements<T: Pod>(&self, offset: DeviceSize, values: &[T]) -> Result<()> {
        self.write(offset, bytemuck::cast_slice(values))
    }
}

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
    fn new(buffer: &'a Buffer, start: DeviceSize, length: DeviceSize) -> Result<Self> {
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
    fn new(buffer: &'a Buffer, start: DeviceSize, length: DeviceSize) -> Result<Self> {
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
fn copy_within_allocation(
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
