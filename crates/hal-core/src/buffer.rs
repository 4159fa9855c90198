//! Buffers: a range of an allocation plus its memory type, access rights and usage.
//!
//! A [`Buffer`] is a cheap handle. Subspans share the parent's allocation, and with it the
//! allocation's [`AccessGate`]: while device work runs on any part of an allocation the host cannot
//! map it, and while the host has it mapped for writing nothing else can touch it. Host access is
//! always checked against the buffer's range, access rights and usage.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use bytemuck::Pod;

use crate::access_gate::AccessGate;
use crate::mapping::{MappedRead, MappedWrite};
use crate::memory::{
    fill_bytes, BufferParams, BufferUsage, DeviceSize, FillPattern, MemoryAccess, MemoryType,
    WHOLE_BUFFER,
};
use crate::{Result, Status};

/// The memory behind one or more buffers, implemented by drivers' allocators.
///
/// # Contract
/// While any access taken from [`BufferStorage::gate`] is held and the gate is committed,
/// [`BufferStorage::host_ptr`] points to `allocation_size()` bytes of initialised memory that
/// stay valid until the access is given back. Memory is never freed while the gate is committed.
pub trait BufferStorage: Send + Sync + 'static {
    /// Size of the allocation in bytes.
    fn allocation_size(&self) -> DeviceSize;
    /// The gate every host or device access must pass.
    fn gate(&self) -> &AccessGate;
    /// Host address of byte 0 of the allocation; only meaningful while an access is held.
    fn host_ptr(&self) -> *mut u8;
    /// Allocates the memory of storage created uncommitted (by a queue alloca).
    fn commit(&self) -> Result<()> {
        Err(Status::unimplemented(
            "this buffer's memory cannot be committed later",
        ))
    }
    /// Releases the memory (queue dealloca). Fails if anyone still uses it.
    fn decommit(&self) -> Result<()> {
        Err(Status::unimplemented(
            "this buffer's memory cannot be released early",
        ))
    }
    /// For drivers that downcast their own storage.
    fn as_any(&self) -> &dyn Any;
}

struct BufferInner {
    storage: Arc<dyn BufferStorage>,
    storage_offset: DeviceSize,
    length: DeviceSize,
    memory_type: MemoryType,
    access: MemoryAccess,
    usage: BufferUsage,
}

/// A handle to a range of device memory.
#[derive(Clone)]
pub struct Buffer(Arc<BufferInner>);

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("length", &self.0.length)
            .field("storage_offset", &self.0.storage_offset)
            .field("memory_type", &self.0.memory_type)
            .field("usage", &self.0.usage)
            .finish()
    }
}

/// Checks `offset`/`length` against a range of `size` bytes; [`WHOLE_BUFFER`] means "to the end".
/// Returns the concrete length.
#[inline]
pub fn resolve_range(
    size: DeviceSize,
    offset: DeviceSize,
    length: DeviceSize,
) -> Result<DeviceSize> {
    if offset <= size {
        if length == WHOLE_BUFFER {
            return Ok(size - offset);
        }
        if length <= size - offset {
            return Ok(length);
        }
    }
    Err(range_error(size, offset, length))
}

#[cold]
#[inline(never)]
fn range_error(size: DeviceSize, offset: DeviceSize, length: DeviceSize) -> Status {
    if offset > size {
        Status::out_of_range(format!(
            "offset {offset} is past the end of a {size}-byte range"
        ))
    } else {
        Status::out_of_range(format!(
            "range [{offset}, {offset} + {length}) is beyond the {size}-byte buffer"
        ))
    }
}

impl Buffer {
    /// Wraps a driver's storage as a buffer covering `[storage_offset, storage_offset + length)`.
    /// `params` must be canonical (see [`BufferParams::canonicalize`]).
    pub fn from_storage(
        storage: Arc<dyn BufferStorage>,
        storage_offset: DeviceSize,
        length: DeviceSize,
        params: BufferParams,
    ) -> Result<Buffer> {
        let size = storage.allocation_size();
        resolve_range(size, storage_offset, length)?;
        Ok(Buffer(Arc::new(BufferInner {
            storage,
            storage_offset,
            length,
            memory_type: params.memory_type,
            access: params.access,
            usage: params.usage,
        })))
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> DeviceSize {
        self.0.length
    }

    /// Whether the buffer has zero bytes.
    pub fn is_empty(&self) -> bool {
        self.0.length == 0
    }

    /// The memory type (always at least what was requested).
    pub fn memory_type(&self) -> MemoryType {
        self.0.memory_type
    }

    /// The access rights holders of this buffer have.
    pub fn allowed_access(&self) -> MemoryAccess {
        self.0.access
    }

    /// The usage the buffer was allocated for.
    #[inline]
    pub fn usage(&self) -> BufferUsage {
        self.0.usage
    }

    /// The allocation behind this buffer.
    #[inline]
    pub fn storage(&self) -> &Arc<dyn BufferStorage> {
        &self.0.storage
    }

    /// Offset of this buffer's byte 0 within its allocation.
    #[inline]
    pub fn storage_offset(&self) -> DeviceSize {
        self.0.storage_offset
    }

    /// Whether two buffers share an allocation (and so may overlap).
    #[inline]
    pub fn same_allocation(&self, other: &Buffer) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0.storage), Arc::as_ptr(&other.0.storage))
    }

    /// Whether two handles refer to the very same buffer object.
    pub fn ptr_eq(&self, other: &Buffer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Checks a range of this buffer and returns its concrete length.
    #[inline]
    pub fn resolve_range(&self, offset: DeviceSize, length: DeviceSize) -> Result<DeviceSize> {
        resolve_range(self.0.length, offset, length)
    }

    /// A buffer over `[offset, offset + length)` of this one, sharing its memory and flags.
    pub fn subspan(&self, offset: DeviceSize, length: DeviceSize) -> Result<Buffer> {
        let length = self.resolve_range(offset, length)?;
        Ok(Buffer(Arc::new(BufferInner {
            storage: self.0.storage.clone(),
            storage_offset: self.0.storage_offset + offset,
            length,
            memory_type: self.0.memory_type,
            access: self.0.access,
            usage: self.0.usage,
        })))
    }

    /// Checks that the buffer allows `usage`, naming `what` needs it otherwise.
    #[inline]
    pub fn require_usage(&self, usage: BufferUsage, what: &str) -> Result<()> {
        if self.0.usage.contains(usage) {
            Ok(())
        } else {
            Err(usage_error(usage, self.0.usage, what))
        }
    }

    fn require_mappable(&self, access: MemoryAccess) -> Result<()> {
        if !self.0.memory_type.contains(MemoryType::HOST_VISIBLE) {
            return Err(Status::permission_denied(format!(
                "buffer memory type {:?} is not host visible and cannot be mapped",
                self.0.memory_type
            )));
        }
        if !self
            .0
            .usage
            .intersects(BufferUsage::MAPPING_SCOPED | BufferUsage::MAPPING_PERSISTENT)
        {
            return Err(Status::permission_denied(format!(
                "buffer usage {:?} does not allow mapping",
                self.0.usage
            )));
        }
        let needed = access & (MemoryAccess::READ | MemoryAccess::WRITE | MemoryAccess::DISCARD);
        if !self.0.access.contains(needed) {
            return Err(Status::permission_denied(format!(
                "mapping needs access {needed:?}, but the buffer allows only {:?}",
                self.0.access
            )));
        }
        Ok(())
    }

    /// Maps `[offset, offset + length)` for reading, for as long as the mapping lives.
    pub fn map_read(&self, offset: DeviceSize, length: DeviceSize) -> Result<MappedRead<'_>> {
        self.require_mappable(MemoryAccess::READ)?;
        let length = self.resolve_range(offset, length)?;
        MappedRead::new(self, self.0.storage_offset + offset, length)
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
        MappedWrite::new(self, self.0.storage_offset + offset, length)
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
            return crate::mapping::copy_within_allocation(
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

    /// Takes device access to the buffer's allocation for the lifetime of the returned guard.
    /// Drivers call this before device work touches the memory.
    #[inline]
    pub fn acquire_device(&self) -> Result<DeviceAccess> {
        self.0.storage.gate().acquire_device()?;
        Ok(DeviceAccess {
            storage: self.0.storage.clone(),
        })
    }
}

#[cold]
#[inline(never)]
fn usage_error(needed: BufferUsage, allowed: BufferUsage, what: &str) -> Status {
    Status::permission_denied(format!(
        "{what} needs buffer usage {needed:?}, but the buffer allows only {allowed:?}"
    ))
}

/// Checks that a fill of `length` bytes at `offset` is aligned to the pattern length.
pub fn check_fill_alignment(
    offset: DeviceSize,
    length: DeviceSize,
    pattern: FillPattern,
) -> Result<()> {
    let size = pattern.width();
    if !offset.is_multiple_of(size) || !length.is_multiple_of(size) {
        return Err(Status::invalid_argument(format!(
            "fill offset {offset} and length {length} must be multiples of the {size}-byte pattern"
        )));
    }
    Ok(())
}

/// Checks that two ranges of `length` bytes at `a` and `b` in one allocation do not overlap.
pub fn check_no_overlap(a: DeviceSize, b: DeviceSize, length: DeviceSize) -> Result<()> {
    if length != 0 && a < b + length && b < a + length {
        return Err(Status::invalid_argument(format!(
            "copy source [{a}, {}) and target [{b}, {}) overlap in one allocation",
            a + length,
            b + length
        )));
    }
    Ok(())
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
    /// [`RangeClaims`]: crate::RangeClaims
    #[inline]
    pub fn claim(
        &self,
        owner: u64,
        start: DeviceSize,
        end: DeviceSize,
        usage: crate::RangeUse,
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
