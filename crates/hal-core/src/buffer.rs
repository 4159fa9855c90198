//! Buffers: a range of an allocation plus its memory type, access rights and usage.
//!
//! A [`Buffer`] is a cheap handle. Subspans share the parent's allocation, and with it the
//! allocation's [`AccessGate`]: while device work runs on any part of an allocation the host cannot
//! map it, and while the host has it mapped for writing nothing else can touch it. This file holds
//! the handle and the range checks every access makes; host access (mapping, reads, writes,
//! fills, copies) builds on it in `mapping.rs`, device access in `device_access.rs`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::access_gate::AccessGate;
use crate::memory::{
    BufferParams, BufferUsage, DeviceSize, MemoryAccess, MemoryType, WHOLE_BUFFER,
};
use crate::status::{Result, Status};

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
}

#[cold]
#[inline(never)]
fn usage_error(needed: BufferUsage, allowed: BufferUsage, what: &str) -> Status {
    Status::permission_denied(format!(
        "{what} needs buffer usage {needed:?}, but the buffer allows only {allowed:?}"
    ))
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
