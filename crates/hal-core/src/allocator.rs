//! Allocators: where buffers come from.

use std::any::Any;
use std::sync::Arc;

use crate::buffer::Buffer;
use crate::memory::{BufferCompatibility, BufferParams, DeviceSize, MemoryType};
use crate::status::{Result, Status};

/// Caller-owned host memory to be wrapped as a buffer without a copy.
pub struct HostAllocation {
    /// First byte of the memory.
    pub ptr: *mut u8,
    /// Length in bytes.
    pub len: usize,
    /// Runs exactly once, when the last buffer over the memory is dropped.
    pub release: Option<Box<dyn FnOnce() + Send>>,
}

/// Counters an allocator keeps, for leak checks and tools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatorStatistics {
    /// Bytes currently allocated by this allocator (imports excluded).
    pub live_bytes: u64,
    /// Allocations made so far.
    pub allocations: u64,
    /// Allocations freed so far.
    pub frees: u64,
}

/// What drivers implement to hand out buffers. Calls arrive validated and canonicalised.
pub trait AllocatorImpl: Send + Sync + 'static {
    /// What the allocator can do with such a request.
    fn query_compatibility(&self, params: &BufferParams, size: DeviceSize) -> BufferCompatibility;
    /// Allocates committed, zero-initialised memory.
    fn allocate(&self, params: &BufferParams, size: DeviceSize) -> Result<Buffer>;
    /// Creates a buffer whose memory is allocated later, by `BufferStorage::commit`.
    fn allocate_uncommitted(&self, params: &BufferParams, size: DeviceSize) -> Result<Buffer>;
    /// Wraps host memory as a buffer.
    ///
    /// # Safety
    /// As [`Allocator::import_host_memory`].
    unsafe fn import_host(&self, params: &BufferParams, memory: HostAllocation) -> Result<Buffer>;
    /// Current counters.
    fn statistics(&self) -> AllocatorStatistics;
    /// For drivers that downcast their own allocator.
    fn as_any(&self) -> &dyn Any;
}

/// A handle to a device's allocator.
#[derive(Clone)]
pub struct Allocator(Arc<dyn AllocatorImpl>);

/// The largest allocation accepted: beyond this no host can address the memory.
const MAX_ALLOCATION_SIZE: DeviceSize = isize::MAX as DeviceSize;

impl Allocator {
    /// Wraps a driver's allocator.
    pub fn new(inner: Arc<dyn AllocatorImpl>) -> Allocator {
        Allocator(inner)
    }

    /// The driver's allocator.
    pub fn inner(&self) -> &Arc<dyn AllocatorImpl> {
        &self.0
    }

    /// What the allocator can do with a request, and the request with defaults filled in.
    pub fn query_compatibility(
        &self,
        params: BufferParams,
        size: DeviceSize,
    ) -> (BufferCompatibility, BufferParams) {
        let params = params.canonicalize();
        (self.0.query_compatibility(&params, size), params)
    }

    fn check_request(&self, params: &BufferParams, size: DeviceSize) -> Result<()> {
        if size > MAX_ALLOCATION_SIZE {
            return Err(Status::resource_exhausted(format!(
                "buffer size {size} exceeds the largest allocation ({MAX_ALLOCATION_SIZE} bytes)"
            )));
        }
        let compatibility = self.0.query_compatibility(params, size);
        if !compatibility.contains(BufferCompatibility::ALLOCATABLE) {
            return Err(Status::invalid_argument(format!(
                "this allocator cannot allocate memory type {:?} with usage {:?}",
                params.memory_type, params.usage
            )));
        }
        Ok(())
    }

    /// Allocates a zero-initialised buffer of `size` bytes (zero is allowed).
    pub fn allocate_buffer(&self, params: BufferParams, size: DeviceSize) -> Result<Buffer> {
        let params = params.canonicalize();
        self.check_request(&params, size)?;
        self.0.allocate(&params, size)
    }

    /// Creates a buffer whose memory a queue alloca will allocate.
    pub fn allocate_uncommitted(&self, params: BufferParams, size: DeviceSize) -> Result<Buffer> {
        let params = params.canonicalize();
        self.check_request(&params, size)?;
        self.0.allocate_uncommitted(&params, size)
    }

    /// Wraps caller-owned host memory as a buffer without copying. `release` runs exactly once,
    /// when the last buffer over the memory is dropped; if the import fails it is dropped without
    /// running and the memory stays the caller's.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` initialised bytes until `release` runs,
    /// and nothing but the returned buffer may access the memory until then.
    pub unsafe fn import_host_memory(
        &self,
        params: BufferParams,
        ptr: *mut u8,
        len: usize,
        release: Option<Box<dyn FnOnce() + Send>>,
    ) -> Result<Buffer> {
        let params = params.canonicalize();
        if ptr.is_null() && len != 0 {
            return Err(Status::invalid_argument(format!(
                "cannot import a null pointer of length {len}"
            )));
        }
        if !params.memory_type.contains(MemoryType::HOST_VISIBLE) {
            return Err(Status::invalid_argument(format!(
                "imported host memory must be host visible, not {:?}",
                params.memory_type
            )));
        }
        let compatibility = self.0.query_compatibility(&params, len as DeviceSize);
        if !compatibility.contains(BufferCompatibility::IMPORTABLE) {
            return Err(Status::invalid_argument(format!(
                "this allocator cannot import memory type {:?} with usage {:?}",
                params.memory_type, params.usage
            )));
        }
        // SAFETY: the caller upholds this function's contract, which is the impl's.
        unsafe {
            self.0
                .import_host(&params, HostAllocation { ptr, len, release })
        }
    }

    /// Current counters.
    pub fn statistics(&self) -> AllocatorStatistics {
        self.0.statistics()
    }
}
