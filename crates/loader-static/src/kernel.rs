//! Writing kernels in safe Rust.
//!
//! A kernel is a plain `fn(&Workgroup<'_>) -> KernelResult` that runs one workgroup. It sees its
//! bindings only through views that cannot alias across threads, because the workgroups of one
//! dispatch may run concurrently on several workers:
//!
//! - a [`Access::Read`] binding is a shared `&[T]` of the whole binding; it is checked, before
//!   the kernel runs, not to overlap any writable binding of the same dispatch;
//! - a [`Access::Write`] or [`Access::ReadWrite`] binding gives each workgroup an exclusive
//!   `&mut [T]` over *its own tile*: tile `k` of workgroup with linear id `k`, whose size the
//!   export declares ([`Tile`]) so that it is the same for every workgroup of the dispatch, and
//!   tiles of different workgroups never overlap. Writable bindings may not overlap each other.
//!
//! Panics are caught at the ABI boundary and reported as failures.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::num::NonZeroI32;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytemuck::Pod;
use hal_local::abi::{DispatchStateV0, EnvironmentV0, WorkgroupStateV0};

/// How a kernel uses one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only, shared by all workgroups.
    Read,
    /// Written in per-workgroup tiles.
    Write(Tile),
    /// Read and written in per-workgroup tiles.
    ReadWrite(Tile),
}

impl Access {
    #[inline]
    fn tile(self) -> Option<Tile> {
        match self {
            Access::Read => None,
            Access::Write(tile) | Access::ReadWrite(tile) => Some(tile),
        }
    }
}

/// The bindings of `bindings` a kernel views as exclusive references (bit i = binding i): the
/// writable ones.
pub const fn writable_bindings(bindings: &[Access]) -> u64 {
    let mut mask = 0u64;
    let mut i = 0;
    while i < bindings.len() && i < 64 {
        if !matches!(bindings[i], Access::Read) {
            mask |= 1 << i;
        }
        i += 1;
    }
    mask
}

/// The bindings of `bindings` the kernel only reads (bit i = binding i): the `Read` ones, which
/// the library declares read-only.
pub const fn read_only_bindings(bindings: &[Access]) -> u64 {
    let mut mask = 0u64;
    let mut i = 0;
    while i < bindings.len() && i < 64 {
        if matches!(bindings[i], Access::Read) {
            mask |= 1 << i;
        }
        i += 1;
    }
    mask
}

/// The size of each workgroup's tile of a writable binding; uniform across a dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    /// A fixed number of bytes.
    Bytes(u32),
    /// As many bytes as push constant `index` says (the same for every workgroup).
    ConstantBytes(u8),
    /// The whole binding: only allowed when the dispatch has exactly one workgroup.
    Whole,
}

/// What a kernel declares about itself, checked at every call.
#[derive(Clone, Copy, Debug)]
pub struct KernelSignature {
    /// Export name (for messages).
    pub name: &'static str,
    /// Push constants it takes.
    pub constant_count: u8,
    /// Executable-level constants of its library.
    pub executable_constant_count: u32,
    /// Bindings it takes and how it uses each.
    pub bindings: &'static [Access],
    /// Local memory it needs, in 4 KiB pages.
    pub local_memory_pages: u16,
}

/// A kernel failure: a non-zero code returned to the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelError(NonZeroI32);

impl KernelError {
    /// A failure the kernel itself decided on.
    pub const FAILED: KernelError = KernelError(NonZeroI32::new(1).unwrap());
    /// The dispatch did not match the signature (counts, alignment, element size).
    pub const BAD_DISPATCH: KernelError = KernelError(NonZeroI32::new(2).unwrap());
    /// Bindings alias in a way that would let workgroups race.
    pub const ALIASING: KernelError = KernelError(NonZeroI32::new(3).unwrap());
    /// A view was requested twice or does not exist for this access.
    pub const BAD_VIEW: KernelError = KernelError(NonZeroI32::new(4).unwrap());
    /// The kernel panicked.
    pub const PANICKED: KernelError = KernelError(NonZeroI32::new(5).unwrap());

    /// A failure with a custom non-zero code.
    pub const fn code(code: NonZeroI32) -> KernelError {
        KernelError(code)
    }

    /// The code returned through the ABI.
    pub fn value(self) -> i32 {
        self.0.get()
    }
}

/// What a kernel returns.
pub type KernelResult = Result<(), KernelError>;

/// One workgroup's view of its dispatch.
pub struct Workgroup<'a> {
    signature: &'a KernelSignature,
    environment: &'a EnvironmentV0,
    dispatch: &'a DispatchStateV0,
    workgroup: &'a WorkgroupStateV0,
    taken: Cell<u64>,
    local_memory_taken: Cell<bool>,
}

#[inline]
fn ranges_overlap(a: (usize, usize), b: (usize, usize)) -> bool {
    a.1 > 0 && b.1 > 0 && a.0 < b.0 + b.1 && b.0 < a.0 + a.1
}

impl<'a> Workgroup<'a> {
    #[inline]
    fn binding_raw(&self, index: usize) -> (*mut c_void, usize) {
        // SAFETY: `index < binding_count`, checked by `check_dispatch` for every index used, and
        // the runtime passes arrays of `binding_count` entries.
        unsafe {
            (
                *self.dispatch.binding_ptrs.add(index),
                *self.dispatch.binding_lengths.add(index),
            )
        }
    }

    #[inline]
    fn check_dispatch(&self) -> KernelResult {
        let s = self.signature;
        if self.dispatch.binding_count as usize != s.bindings.len()
            || self.dispatch.constant_count != u16::from(s.constant_count)
        {
            return Err(KernelError::BAD_DISPATCH);
        }
        // Writable bindings must overlap no other binding; no allocation: this runs per
        // workgroup and binding counts are small.
        for (i, access) in s.bindings.iter().enumerate() {
            if access.tile().is_none() {
                continue;
            }
            let (ptr, len) = self.binding_raw(i);
            for j in (0..s.bindings.len()).filter(|&j| j != i) {
                let (other_ptr, other_len) = self.binding_raw(j);
                if ranges_overlap((ptr as usize, len), (other_ptr as usize, other_len)) {
                    return Err(KernelError::ALIASING);
                }
            }
        }
        Ok(())
    }

    /// The workgroup id (x, y, z).
    #[inline]
    pub fn id(&self) -> [u32; 3] {
        [
            self.workgroup.workgroup_id_x,
            self.workgroup.workgroup_id_y,
            u32::from(self.workgroup.workgroup_id_z),
        ]
    }

    /// The dispatch's workgroup counts.
    #[inline]
    pub fn count(&self) -> [u32; 3] {
        [
            self.dispatch.workgroup_count_x,
            self.dispatch.workgroup_count_y,
            u32::from(self.dispatch.workgroup_count_z),
        ]
    }

    /// The linear id `x + X * (y + Y * z)`.
    #[inline]
    pub fn linear_id(&self) -> u64 {
        let [x, y, z] = self.id().map(u64::from);
        let [cx, cy, _] = self.count().map(u64::from);
        x + cx * (y + cy * z)
    }

    /// Total workgroups in the dispatch.
    #[inline]
    pub fn total(&self) -> u64 {
        self.count().iter().map(|&c| u64::from(c)).product()
    }

    /// The push constants.
    #[inline]
    pub fn constants(&self) -> &'a [u32] {
        let count = self.signature.constant_count as usize;
        if count == 0 {
            return &[];
        }
        // SAFETY: the runtime passes `constant_count` constants (checked equal to the signature).
        unsafe { std::slice::from_raw_parts(self.dispatch.constants, count) }
    }

    /// The executable-level constants of the library.
    pub fn executable_constants(&self) -> &'a [u32] {
        let count = self.signature.executable_constant_count as usize;
        if count == 0 || self.environment.constants.is_null() {
            return &[];
        }
        // SAFETY: the loader verified that exactly this many constants were provided.
        unsafe { std::slice::from_raw_parts(self.environment.constants, count) }
    }

    /// The logical CPU running this workgroup.
    pub fn processor_id(&self) -> u32 {
        self.workgroup.processor_id
    }

    /// IREE's x86_64 CPU feature bits of this machine.
    #[inline]
    pub fn processor_features(&self) -> u64 {
        self.environment.processor.data[0]
    }

    /// How many workgroups may run at once.
    pub fn max_concurrency(&self) -> u8 {
        self.dispatch.max_concurrency
    }

    fn take(&self, bit: u32) -> KernelResult {
        let mask = 1u64 << bit;
        if self.taken.get() & mask != 0 {
            return Err(KernelError::BAD_VIEW);
        }
        self.taken.set(self.taken.get() | mask);
        Ok(())
    }

    /// This workgroup's local memory (at least the declared pages), once per call.
    pub fn local_memory(&self) -> Result<&'a mut [u8], KernelError> {
        if self.local_memory_taken.replace(true) {
            return Err(KernelError::BAD_VIEW);
        }
        let size = self.workgroup.local_memory_size as usize;
        if size == 0 || self.workgroup.local_memory.is_null() {
            return Ok(&mut []);
        }
        // SAFETY: the runtime gives each running workgroup its own local memory of this size,
        // and `take` hands it out once per call.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(self.workgroup.local_memory.cast::<u8>(), size)
        })
    }

    /// The whole of read-only binding `index`, as elements of `T`.
    #[inline]
    pub fn read<T: Pod>(&self, index: usize) -> Result<&'a [T], KernelError> {
        if self.signature.bindings.get(index) != Some(&Access::Read) {
            return Err(KernelError::BAD_VIEW);
        }
        let (ptr, len) = self.binding_raw(index);
        typed_slice::<T>(ptr, 0, len).map(|(p, n)| {
            // SAFETY: the binding is valid for `len` bytes for the whole call, aligned for T
            // (checked), and no writable binding of this dispatch overlaps it (checked before
            // the kernel ran), so nobody writes it while this shared slice lives.
            unsafe { std::slice::from_raw_parts(p.cast_const(), n) }
        })
    }

    /// This workgroup's tile of writable binding `index`, as elements of `T`; once per call.
    /// The tile is clipped to the binding, so it may be shorter than declared, or empty.
    #[inline]
    pub fn tile<T: Pod>(&self, index: usize) -> Result<&'a mut [T], KernelError> {
        let tile = self
            .signature
            .bindings
            .get(index)
            .and_then(|a| a.tile())
            .ok_or(KernelError::BAD_VIEW)?;
        let (ptr, len) = self.binding_raw(index);
        let (start, bytes) = match tile {
            Tile::Whole if self.total() == 1 => (0, len),
            Tile::Whole => return Err(KernelError::BAD_DISPATCH),
            Tile::Bytes(bytes) => tile_range(self.linear_id(), bytes as usize, len)?,
            Tile::ConstantBytes(constant) => {
                let bytes = *self
                    .constants()
                    .get(constant as usize)
                    .ok_or(KernelError::BAD_DISPATCH)?;
                tile_range(self.linear_id(), bytes as usize, len)?
            }
        };
        if bytes % std::mem::size_of::<T>().max(1) != 0 {
            return Err(KernelError::BAD_DISPATCH);
        }
        self.take(index as u32)?;
        typed_slice::<T>(ptr, start, bytes).map(|(p, n)| {
            // SAFETY: [start, start + bytes) lies inside the binding; tiles of different
            // workgroups are disjoint (same tile size, distinct linear ids), writable bindings
            // overlap no other binding (checked), and `take` hands the tile out once per call.
            unsafe { std::slice::from_raw_parts_mut(p, n) }
        })
    }
}

/// Byte range of tile `k` of `tile_bytes` in a binding of `len` bytes, clipped to it.
#[inline]
fn tile_range(k: u64, tile_bytes: usize, len: usize) -> Result<(usize, usize), KernelError> {
    let start = usize::try_from(k)
        .ok()
        .and_then(|k| k.checked_mul(tile_bytes))
        .ok_or(KernelError::BAD_DISPATCH)?;
    if start >= len {
        return Ok((len, 0));
    }
    Ok((start, tile_bytes.min(len - start)))
}

/// A typed pointer and element count for `bytes` bytes at `start` of a binding; checks alignment.
#[inline]
fn typed_slice<T: Pod>(
    base: *mut c_void,
    start: usize,
    bytes: usize,
) -> Result<(*mut T, usize), KernelError> {
    let size = std::mem::size_of::<T>();
    if size == 0 {
        return Err(KernelError::BAD_DISPATCH);
    }
    if bytes == 0 {
        return Ok((std::ptr::NonNull::dangling().as_ptr(), 0));
    }
    let ptr = base.cast::<u8>().wrapping_add(start).cast::<T>();
    if !ptr.is_aligned() {
        return Err(KernelError::BAD_DISPATCH);
    }
    Ok((ptr, bytes / size))
}

/// Runs `kernel` for one workgroup: the body of every generated entry point.
///
/// # Safety
/// Must be called as an ABI dispatch function: valid environment, dispatch state and workgroup
/// state, binding pointers valid for their lengths for the whole call, local memory exclusive to
/// this call.
#[inline]
pub unsafe fn invoke(
    signature: &KernelSignature,
    kernel: fn(&Workgroup<'_>) -> KernelResult,
    environment: *const EnvironmentV0,
    dispatch: *const DispatchStateV0,
    workgroup: *const WorkgroupStateV0,
) -> c_int {
    if environment.is_null() || dispatch.is_null() || workgroup.is_null() {
        return KernelError::BAD_DISPATCH.value();
    }
    // SAFETY: non-null and valid per the ABI contract of this function.
    let (environment, dispatch, workgroup) = unsafe { (&*environment, &*dispatch, &*workgroup) };
    let context = Workgroup {
        signature,
        environment,
        dispatch,
        workgroup,
        taken: Cell::new(0),
        local_memory_taken: Cell::new(false),
    };
    if let Err(error) = context.check_dispatch() {
        return error.value();
    }
    match catch_unwind(AssertUnwindSafe(|| kernel(&context))) {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => error.value(),
        Err(_) => KernelError::PANICKED.value(),
    }
}
