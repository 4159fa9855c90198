//! The heap allocator: zero-initialised, 64-byte aligned host memory for CPU drivers, plus
//! imports of caller-owned host memory.

use std::alloc::Layout;
use std::any::Any;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

use hal_core::{
    AccessGate, Allocator, AllocatorImpl, AllocatorStatistics, Buffer, BufferCompatibility,
    BufferParams, BufferStorage, DeviceSize, HostAllocation, MemoryType, Result, Status,
    BUFFER_ALIGNMENT,
};
use parking_lot::Mutex;

/// Memory for heap buffers from somewhere other than the process heap. A loader whose kernels
/// can see only memory it can map (the wasm loader's pool) offers one
/// ([`crate::ExecutableLoader::memory_source`]); a device whose options choose it
/// ([`crate::MemorySource::Loaders`]) allocates its buffers there, so its kernels are shown them
/// without copies.
pub trait HostMemorySource: Send + Sync + 'static {
    /// Its name, as a device reports its memory ([`HeapAllocator::memory`]).
    fn name(&self) -> &str;
    /// `size` (> 0) zeroed bytes aligned to 64, or `None` (the heap is used instead).
    fn allocate(&self, size: usize) -> Option<NonNull<u8>>;
    /// Frees memory returned by `allocate`.
    ///
    /// # Safety
    /// `ptr` came from `allocate(size)` on this source and is freed once.
    unsafe fn free(&self, ptr: NonNull<u8>, size: usize);
}

struct Counters {
    live_bytes: AtomicU64,
    allocations: AtomicU64,
    frees: AtomicU64,
    /// The most bytes that may be live at once.
    limit: u64,
}

impl Counters {
    /// Counts `size` more live bytes, unless that would pass the limit.
    fn reserve(&self, size: u64) -> Result<()> {
        let mut live = self.live_bytes.load(Ordering::Relaxed);
        loop {
            let next = live
                .checked_add(size)
                .filter(|&next| next <= self.limit)
                .ok_or_else(|| {
                    Status::resource_exhausted(format!(
                        "allocating {size} bytes would pass the device's memory limit of {} bytes ({live} bytes live)",
                        self.limit
                    ))
                })?;
            match self.live_bytes.compare_exchange_weak(
                live,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => live = actual,
            }
        }
    }
}

/// Allocates buffers from the process heap, or from a [`HostMemorySource`] (falling back to the
/// heap when the source has no room).
pub struct HeapAllocator {
    counters: Arc<Counters>,
    source: Option<Arc<dyn HostMemorySource>>,
}

impl HeapAllocator {
    /// A new allocator that takes buffer memory from `source` (`None`: the heap) and refuses
    /// (`RESOURCE_EXHAUSTED`) an allocation that would take the bytes live at once past `limit`.
    pub fn with_memory(limit: u64, source: Option<Arc<dyn HostMemorySource>>) -> HeapAllocator {
        HeapAllocator {
            counters: Arc::new(Counters {
                live_bytes: AtomicU64::new(0),
                allocations: AtomicU64::new(0),
                frees: AtomicU64::new(0),
                limit,
            }),
            source,
        }
    }

    /// Where its buffers' memory comes from: `heap`, or the name of its [`HostMemorySource`].
    pub fn memory(&self) -> &str {
        self.source.as_ref().map_or("heap", |source| source.name())
    }

    /// Where the buffers of `allocator` come from ([`HeapAllocator::memory`]), if it is a local
    /// device's heap allocator; `None` for any other allocator.
    pub fn memory_of(allocator: &Allocator) -> Option<String> {
        let heap = allocator.inner().as_any().downcast_ref::<HeapAllocator>()?;
        Some(heap.memory().to_owned())
    }

    fn new_storage(&self, size: DeviceSize) -> Result<Arc<HeapStorage>> {
        layout_for(size)?;
        Ok(Arc::new(HeapStorage {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
            size,
            gate: AccessGate::uncommitted(),
            counters: self.counters.clone(),
            commit_lock: Mutex::new(()),
            source: self.source.clone(),
            sourced: std::sync::atomic::AtomicBool::new(false),
        }))
    }
}

/// Memory types the heap can provide: everything host and device visible.
fn supported_memory_type(requested: MemoryType) -> bool {
    MemoryType::all().contains(requested)
}

/// What the heap actually provides for a request: at least what was asked, always host and
/// device visible.
fn provided_params(params: &BufferParams) -> BufferParams {
    BufferParams {
        memory_type: params.memory_type
            | MemoryType::HOST_VISIBLE
            | MemoryType::HOST_COHERENT
            | MemoryType::DEVICE_VISIBLE,
        ..*params
    }
}

fn layout_for(size: DeviceSize) -> Result<Layout> {
    usize::try_from(size)
        .ok()
        .and_then(|size| Layout::from_size_align(size, BUFFER_ALIGNMENT).ok())
        .ok_or_else(|| {
            Status::resource_exhausted(format!("cannot lay out a {size}-byte allocation"))
        })
}

#[repr(align(64))]
struct Align64;
const _: () = assert!(std::mem::align_of::<Align64>() == BUFFER_ALIGNMENT);

/// Heap memory behind buffers; committed at creation or later by a queue alloca.
pub struct HeapStorage {
    ptr: AtomicPtr<u8>,
    size: DeviceSize,
    gate: AccessGate,
    counters: Arc<Counters>,
    commit_lock: Mutex<()>,
    source: Option<Arc<dyn HostMemorySource>>,
    /// Whether the current memory came from `source`.
    sourced: std::sync::atomic::AtomicBool,
}

impl HeapStorage {
    fn allocate_memory(&self) -> Result<()> {
        let layout = layout_for(self.size)?;
        self.counters.reserve(self.size)?;
        let ptr = if layout.size() == 0 {
            // A dangling, aligned pointer: never dereferenced for zero bytes.
            NonNull::<Align64>::dangling().as_ptr().cast::<u8>()
        } else if let Some(ptr) = self.source.as_ref().and_then(|s| s.allocate(layout.size())) {
            self.sourced.store(true, Ordering::Relaxed);
            ptr.as_ptr()
        } else {
            self.sourced.store(false, Ordering::Relaxed);
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
            if ptr.is_null() {
                self.counters
                    .live_bytes
                    .fetch_sub(self.size, Ordering::Relaxed);
                return Err(Status::resource_exhausted(format!(
                    "out of host memory allocating {} bytes",
                    self.size
                )));
            }
            ptr
        };
        self.ptr.store(ptr, Ordering::Release);
        self.counters.allocations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn free_memory(&self) {
        let ptr = self.ptr.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if ptr.is_null() {
            return;
        }
        if self.size != 0 && self.sourced.load(Ordering::Relaxed) {
            let source = self.source.as_ref().expect("sourced memory has a source");
            // SAFETY: `ptr` came from this source with this size and is freed once (as below).
            unsafe { source.free(NonNull::new(ptr).expect("non-null"), self.size as usize) };
        } else if self.size != 0 {
            let layout = layout_for(self.size).expect("layout was valid at allocation");
            // SAFETY: `ptr` was returned by `alloc_zeroed` with this layout and is freed once
            // (the swap above hands it to exactly one caller).
            unsafe { std::alloc::dealloc(ptr, layout) };
        }
        self.counters
            .live_bytes
            .fetch_sub(self.size, Ordering::Relaxed);
        self.counters.frees.fetch_add(1, Ordering::Relaxed);
    }
}

impl BufferStorage for HeapStorage {
    fn allocation_size(&self) -> DeviceSize {
        self.size
    }

    fn gate(&self) -> &AccessGate {
        &self.gate
    }

    fn host_ptr(&self) -> *mut u8 {
        self.ptr.load(Ordering::Acquire)
    }

    fn commit(&self) -> Result<()> {
        let _serialize = self.commit_lock.lock();
        if self.gate.is_committed() {
            return Err(Status::failed_precondition(
                "buffer memory is already allocated",
            ));
        }
        self.allocate_memory()?;
        if let Err(status) = self.gate.mark_committed() {
            self.free_memory();
            return Err(status);
        }
        Ok(())
    }

    fn decommit(&self) -> Result<()> {
        let _serialize = self.commit_lock.lock();
        // Once released nobody can acquire the memory again, so freeing it is safe.
        self.gate.mark_released()?;
        self.free_memory();
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for HeapStorage {
    fn drop(&mut self) {
        self.free_memory();
    }
}

/// Caller-owned host memory wrapped as buffer storage.
pub struct HostImportStorage {
    ptr: *mut u8,
    len: usize,
    gate: AccessGate,
    release: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

// SAFETY: the memory is owned by nobody else until `release` runs (import contract), and every
// access to it goes through the gate.
unsafe impl Send for HostImportStorage {}
// SAFETY: as above.
unsafe impl Sync for HostImportStorage {}

impl BufferStorage for HostImportStorage {
    fn allocation_size(&self) -> DeviceSize {
        self.len as DeviceSize
    }

    fn gate(&self) -> &AccessGate {
        &self.gate
    }

    fn host_ptr(&self) -> *mut u8 {
        self.ptr
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for HostImportStorage {
    fn drop(&mut self) {
        if let Some(release) = self.release.lock().take() {
            // The last reference may go on a worker thread or inside a semaphore signal: a
            // panicking release callback must not unwind there. The panic hook has reported it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(release));
        }
    }
}

impl AllocatorImpl for HeapAllocator {
    fn query_compatibility(&self, params: &BufferParams, size: DeviceSize) -> BufferCompatibility {
        if !supported_memory_type(params.memory_type) || layout_for(size).is_err() {
            return BufferCompatibility::empty();
        }
        BufferCompatibility::ALLOCATABLE
            | BufferCompatibility::IMPORTABLE
            | BufferCompatibility::QUEUE_TRANSFER
            | BufferCompatibility::QUEUE_DISPATCH
    }

    fn allocate(&self, params: &BufferParams, size: DeviceSize) -> Result<Buffer> {
        let storage = self.new_storage(size)?;
        storage.allocate_memory()?;
        storage.gate.mark_committed()?;
        Buffer::from_storage(storage, 0, size, provided_params(params))
    }

    fn allocate_uncommitted(&self, params: &BufferParams, size: DeviceSize) -> Result<Buffer> {
        let storage = self.new_storage(size)?;
        Buffer::from_storage(storage, 0, size, provided_params(params))
    }

    unsafe fn import_host(&self, params: &BufferParams, memory: HostAllocation) -> Result<Buffer> {
        let storage = Arc::new(HostImportStorage {
            ptr: memory.ptr,
            len: memory.len,
            gate: AccessGate::committed(),
            release: Mutex::new(memory.release),
        });
        Buffer::from_storage(
            storage,
            0,
            memory.len as DeviceSize,
            provided_params(params),
        )
    }

    fn statistics(&self) -> AllocatorStatistics {
        AllocatorStatistics {
            live_bytes: self.counters.live_bytes.load(Ordering::Relaxed),
            allocations: self.counters.allocations.load(Ordering::Relaxed),
            frees: self.counters.frees.load(Ordering::Relaxed),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
