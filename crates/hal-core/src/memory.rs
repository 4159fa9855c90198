//! Memory types, access rights and usage flags of buffers, and the parameters of an allocation.

use bitflags::bitflags;

/// A size or offset in device memory, in bytes.
pub type DeviceSize = u64;

/// A length meaning "from the offset to the end of the buffer".
pub const WHOLE_BUFFER: DeviceSize = DeviceSize::MAX;

/// The alignment, in bytes, of every buffer allocation made by the local drivers. Kernels
/// compiled by IREE assume binding base pointers aligned to this.
pub const BUFFER_ALIGNMENT: usize = 64;

bitflags! {
    /// Where memory lives and who can see it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MemoryType: u32 {
        /// The allocator may pick the best type for the usage.
        const OPTIMAL = 1 << 0;
        /// The host can map the memory.
        const HOST_VISIBLE = 1 << 1;
        /// Host writes are visible to the device without explicit flushes.
        const HOST_COHERENT = 1 << 2;
        /// Host reads are cached.
        const HOST_CACHED = 1 << 3;
        /// The memory is local to the host (and visible to it).
        const HOST_LOCAL = (1 << 4) | Self::HOST_VISIBLE.bits();
        /// The device can access the memory.
        const DEVICE_VISIBLE = 1 << 5;
        /// The memory is local to the device (and visible to it).
        const DEVICE_LOCAL = (1 << 6) | Self::DEVICE_VISIBLE.bits();
    }
}

bitflags! {
    /// What the holder of a buffer may do with its contents.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MemoryAccess: u32 {
        /// Contents may be read.
        const READ = 1 << 0;
        /// Contents may be written.
        const WRITE = 1 << 1;
        /// Previous contents may be discarded on mapping.
        const DISCARD = 1 << 2;
        /// Overlapping mappings may alias (accepted for compatibility; mappings here never alias).
        const MAY_ALIAS = 1 << 3;
        /// Unaligned access is allowed.
        const UNALIGNED = 1 << 4;
        /// Write after discarding the previous contents.
        const DISCARD_WRITE = Self::WRITE.bits() | Self::DISCARD.bits();
        /// Every access right: the canonical form of an empty access set.
        const ALL = Self::READ.bits() | Self::WRITE.bits() | Self::DISCARD.bits();
    }
}

bitflags! {
    /// How a buffer will be used; operations check the bits they need.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct BufferUsage: u32 {
        /// Source of transfer (copy) operations.
        const TRANSFER_SOURCE = 1 << 0;
        /// Target of transfer (fill, update, copy) operations.
        const TRANSFER_TARGET = 1 << 1;
        /// Both transfer directions.
        const TRANSFER = Self::TRANSFER_SOURCE.bits() | Self::TRANSFER_TARGET.bits();
        /// Holds indirect dispatch workgroup counts.
        const DISPATCH_INDIRECT_PARAMETERS = 1 << 8;
        /// Read by dispatches as uniform data.
        const DISPATCH_UNIFORM_READ = 1 << 9;
        /// Read by dispatches as storage.
        const DISPATCH_STORAGE_READ = 1 << 10;
        /// Written by dispatches as storage.
        const DISPATCH_STORAGE_WRITE = 1 << 11;
        /// Read and written by dispatches.
        const DISPATCH_STORAGE = Self::DISPATCH_STORAGE_READ.bits() | Self::DISPATCH_STORAGE_WRITE.bits();
        /// May be exported to other APIs.
        const SHARING_EXPORT = 1 << 16;
        /// May be replicated across devices.
        const SHARING_REPLICATE = 1 << 17;
        /// May be used by several queues at once.
        const SHARING_CONCURRENT = 1 << 18;
        /// Contents never change after initialisation.
        const SHARING_IMMUTABLE = 1 << 19;
        /// May be mapped for the duration of a scope.
        const MAPPING_SCOPED = 1 << 24;
        /// May stay mapped persistently.
        const MAPPING_PERSISTENT = 1 << 25;
        /// Mapping is optional (a hint).
        const MAPPING_OPTIONAL = 1 << 26;
        /// Mapped accesses are random.
        const MAPPING_ACCESS_RANDOM = 1 << 27;
        /// Mapped accesses are sequential writes.
        const MAPPING_ACCESS_SEQUENTIAL_WRITE = 1 << 28;
        /// Scoped mapping with random access.
        const MAPPING = Self::MAPPING_SCOPED.bits() | Self::MAPPING_ACCESS_RANDOM.bits();
        /// The canonical form of an empty usage set: transfers, dispatch storage, indirect
        /// parameters and scoped mapping (every CPU buffer supports all of them).
        const DEFAULT = Self::TRANSFER.bits()
            | Self::DISPATCH_STORAGE.bits()
            | Self::DISPATCH_INDIRECT_PARAMETERS.bits()
            | Self::MAPPING.bits();
    }
}

bitflags! {
    /// What an allocator can do with a buffer request (see `Allocator::query_compatibility`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct BufferCompatibility: u32 {
        /// The allocator can allocate such a buffer.
        const ALLOCATABLE = 1 << 0;
        /// The allocator can import host memory as such a buffer.
        const IMPORTABLE = 1 << 1;
        /// The allocator can export such a buffer.
        const EXPORTABLE = 1 << 2;
        /// A queue transfer to or from such a buffer is possible.
        const QUEUE_TRANSFER = 1 << 10;
        /// A queue dispatch using such a buffer is possible.
        const QUEUE_DISPATCH = 1 << 11;
    }
}

/// The parameters of a buffer allocation or import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferParams {
    /// Requested memory type; empty means the allocator's choice (host and device local).
    pub memory_type: MemoryType,
    /// Allowed access; empty means [`MemoryAccess::ALL`].
    pub access: MemoryAccess,
    /// Intended usage; empty means [`BufferUsage::DEFAULT`].
    pub usage: BufferUsage,
}

impl Default for BufferParams {
    fn default() -> BufferParams {
        BufferParams {
            memory_type: MemoryType::empty(),
            access: MemoryAccess::empty(),
            usage: BufferUsage::empty(),
        }
    }
}

impl BufferParams {
    /// Parameters with the given usage and defaults for the rest.
    pub fn with_usage(usage: BufferUsage) -> BufferParams {
        BufferParams {
            usage,
            ..BufferParams::default()
        }
    }

    /// The same parameters with defaults filled in: an empty access becomes
    /// [`MemoryAccess::ALL`], an empty usage [`BufferUsage::DEFAULT`], and an empty or
    /// `OPTIMAL` memory type host-local and device-visible memory.
    pub fn canonicalize(self) -> BufferParams {
        let access = if self.access.is_empty() {
            MemoryAccess::ALL
        } else {
            self.access
        };
        let usage = if self.usage.is_empty() {
            BufferUsage::DEFAULT
        } else {
            self.usage
        };
        let mut memory_type = self.memory_type;
        if memory_type.is_empty() || memory_type == MemoryType::OPTIMAL {
            memory_type = MemoryType::HOST_LOCAL | MemoryType::DEVICE_VISIBLE;
        }
        BufferParams {
            memory_type,
            access,
            usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalize_fills_defaults() {
        let p = BufferParams::default().canonicalize();
        assert_eq!(p.access, MemoryAccess::ALL);
        assert_eq!(p.usage, BufferUsage::DEFAULT);
        assert!(p
            .memory_type
            .contains(MemoryType::HOST_VISIBLE | MemoryType::DEVICE_VISIBLE));
    }
}
