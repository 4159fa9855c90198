//! IREE's CPU executable-library ABI, version 6, laid out byte for byte as
//! `shared/abi/EXECUTABLE_ABI.md` describes it for x86_64. Sizes and field offsets are checked at
//! compile time below, so a layout mistake fails the build instead of corrupting a kernel call.

#![allow(missing_docs)] // Field names mirror the ABI document; each struct is documented.

use std::ffi::{c_char, c_int, c_void};
use std::mem::{offset_of, size_of};

/// The only library version the IREE 3.13 compiler emits and answers to.
pub const LIBRARY_VERSION: u32 = 6;
/// Workgroup local memory is requested in pages of this many bytes.
pub const WORKGROUP_LOCAL_MEMORY_PAGE_SIZE: u32 = 4096;
/// How many u64 words of processor information the environment carries.
pub const PROCESSOR_DATA_CAPACITY: usize = 8;

/// `iree_hal_executable_library_header_t`: 24 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct LibraryHeader {
    pub version: u32,
    pub name: *const c_char,
    pub features: u32,
    /// 0 none, 1 address, 2 memory, 3 thread, 4 undefined.
    pub sanitizer: i32,
}

/// `iree_hal_executable_import_table_v0_t`: 16 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct ImportTable {
    pub count: u32,
    pub symbols: *const *const c_char,
}

/// A kernel entry point: runs one workgroup; 0 means success.
pub type DispatchFn = unsafe extern "C" fn(
    environment: *const EnvironmentV0,
    dispatch_state: *const DispatchStateV0,
    workgroup_state: *const WorkgroupStateV0,
) -> c_int;

/// `iree_hal_executable_export_table_v0_t`: 80 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct ExportTable {
    pub count: u32,
    pub ptrs: *const Option<DispatchFn>,
    pub attrs: *const DispatchAttrs,
    pub params: *const *const DispatchParameter,
    pub occupancy: *const c_void,
    pub names: *const *const c_char,
    pub tags: *const *const c_char,
    pub parameter_names: *const *const c_char,
    pub source_locations: *const SourceLocation,
    pub stage_locations: *const StageLocationTable,
}

/// `iree_hal_executable_constant_table_v0_t`: 4 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct ConstantTable {
    pub count: u32,
}

/// `iree_hal_executable_source_file_table_v0_t`: 16 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct SourceFileTable {
    pub count: u32,
    pub files: *const SourceFile,
}

/// `iree_hal_executable_library_v0_t`: 128 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct LibraryV0 {
    pub header: *const LibraryHeader,
    pub imports: ImportTable,
    pub exports: ExportTable,
    pub constants: ConstantTable,
    pub sources: SourceFileTable,
}

/// Dispatch attribute flag: adjacent workgroups touch adjacent data.
pub const DISPATCH_ATTR_FLAG_SEQUENTIAL: u64 = 1 << 0;
/// Dispatch attribute flag: the workgroup size is given at dispatch time.
pub const DISPATCH_ATTR_FLAG_WORKGROUP_SIZE_DYNAMIC: u64 = 1 << 1;

/// `iree_hal_executable_dispatch_attrs_v0_t`: 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchAttrs {
    pub flags: u64,
    pub local_memory_pages: u16,
    pub constant_count: u8,
    pub binding_count: u8,
    pub workgroup_size_x: u32,
    pub workgroup_size_y: u32,
    pub workgroup_size_z: u16,
    pub parameter_count: u16,
    pub reserved: [u64; 5],
}

/// [`DispatchParameter::kind`]: a range of the push constants (`offset` and `size` in bytes).
pub const DISPATCH_PARAMETER_CONSTANT: u8 = 0;
/// [`DispatchParameter::kind`]: a binding (`offset` is its ordinal; `flags` its binding flags).
pub const DISPATCH_PARAMETER_BINDING: u8 = 1;
/// [`DispatchParameter::kind`]: a device pointer the runtime writes into the push constants at
/// `offset` (not supported here).
pub const DISPATCH_PARAMETER_BUFFER_PTR: u8 = 2;
/// [`DispatchParameter::flags`] of a binding parameter: the kernel only reads the binding. The
/// bits of binding parameters are IREE's binding flags (`ReadOnly`, `Indirect`), the same as
/// `hal_core::BindingFlags`.
pub const BINDING_PARAMETER_FLAG_READ_ONLY: u16 = 1 << 0;
/// [`DispatchParameter::flags`] of a binding parameter: the binding is meant to come through
/// a binding table.
pub const BINDING_PARAMETER_FLAG_INDIRECT: u16 = 1 << 1;

/// `iree_hal_executable_dispatch_parameter_v0_t`: 8 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DispatchParameter {
    pub kind: u8,
    pub size: u8,
    pub flags: u16,
    pub name: u16,
    pub offset: u16,
}

/// `iree_hal_executable_source_location_v0_t`: 16 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct SourceLocation {
    pub line: u32,
    pub path_length: u32,
    pub path: *const c_char,
}

/// `iree_hal_executable_stage_location_table_v0_t`: 24 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct StageLocationTable {
    pub count: u32,
    pub names: *const *const c_char,
    pub locations: *const SourceLocation,
}

/// `iree_hal_executable_source_file_v0_t`: 32 bytes.
#[repr(C)]
#[derive(Debug)]
pub struct SourceFile {
    pub path_length: u32,
    pub path: *const c_char,
    pub content_length: u32,
    pub content: *const u8,
}

/// `iree_hal_executable_dispatch_state_v0_t`: 48 bytes; shared by all workgroups of a dispatch.
#[repr(C)]
#[derive(Debug)]
pub struct DispatchStateV0 {
    pub workgroup_size_x: u32,
    pub workgroup_size_y: u32,
    pub workgroup_size_z: u16,
    pub constant_count: u16,
    pub workgroup_count_x: u32,
    pub workgroup_count_y: u32,
    pub workgroup_count_z: u16,
    pub max_concurrency: u8,
    pub binding_count: u8,
    pub constants: *const u32,
    pub binding_ptrs: *const *mut c_void,
    pub binding_lengths: *const usize,
}

/// `iree_hal_executable_workgroup_state_v0_t`: 32 bytes; one per workgroup call.
#[repr(C)]
#[derive(Debug)]
pub struct WorkgroupStateV0 {
    pub workgroup_id_x: u32,
    pub workgroup_id_y: u32,
    pub workgroup_id_z: u16,
    pub reserved: u16,
    pub processor_id: u32,
    pub local_memory: *mut c_void,
    pub local_memory_size: u32,
}

/// An imported host function: `int fn(void* params, void* context, void* reserved)`.
pub type ImportFn =
    unsafe extern "C" fn(params: *mut c_void, context: *mut c_void, reserved: *mut c_void) -> c_int;

/// The thunk every import call goes through.
pub type ImportThunk = unsafe extern "C" fn(
    function: Option<ImportFn>,
    params: *mut c_void,
    context: *mut c_void,
    reserved: *mut c_void,
) -> c_int;

/// `iree_hal_processor_v0_t`: 64 bytes of architecture-specific CPU information.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessorV0 {
    pub data: [u64; PROCESSOR_DATA_CAPACITY],
}

/// `iree_hal_executable_environment_v0_t`: 96 bytes; the same for every call on an executable.
#[repr(C)]
#[derive(Debug)]
pub struct EnvironmentV0 {
    pub constants: *const u32,
    pub import_thunk: Option<ImportThunk>,
    pub import_funcs: *const Option<ImportFn>,
    pub import_contexts: *const *mut c_void,
    pub processor: ProcessorV0,
}

/// `iree_hal_executable_library_query`: returns the library (as `const header**`) or null.
pub type QueryFn = unsafe extern "C" fn(
    max_version: u32,
    environment: *const EnvironmentV0,
) -> *const *const LibraryHeader;

/// IREE's import thunk: calls the import with its arguments; a missing import fails.
///
/// # Safety
/// `function` must be an import function whose contract `params` and `context` satisfy.
pub unsafe extern "C" fn default_import_thunk(
    function: Option<ImportFn>,
    params: *mut c_void,
    context: *mut c_void,
    reserved: *mut c_void,
) -> c_int {
    match function {
        // SAFETY: forwarded unchanged under the caller's contract.
        Some(function) => unsafe { function(params, context, reserved) },
        None => -1,
    }
}

macro_rules! assert_layout {
    ($ty:ty, size $size:expr $(, $field:ident @ $offset:expr)* $(,)?) => {
        const _: () = assert!(size_of::<$ty>() == $size, concat!("size of ", stringify!($ty)));
        $(const _: () = assert!(
            offset_of!($ty, $field) == $offset,
            concat!("offset of ", stringify!($ty), ".", stringify!($field))
        );)*
    };
}

assert_layout!(LibraryHeader, size 24, version @ 0, name @ 8, features @ 16, sanitizer @ 20);
assert_layout!(ImportTable, size 16, count @ 0, symbols @ 8);
assert_layout!(
    ExportTable, size 80, count @ 0, ptrs @ 8, attrs @ 16, params @ 24, occupancy @ 32,
    names @ 40, tags @ 48, parameter_names @ 56, source_locations @ 64, stage_locations @ 72
);
assert_layout!(ConstantTable, size 4, count @ 0);
assert_layout!(SourceFileTable, size 16, count @ 0, files @ 8);
assert_layout!(LibraryV0, size 128, header @ 0, imports @ 8, exports @ 24, constants @ 104, sources @ 112);
assert_layout!(
    DispatchAttrs, size 64, flags @ 0, local_memory_pages @ 8, constant_count @ 10,
    binding_count @ 11, workgroup_size_x @ 12, workgroup_size_y @ 16, workgroup_size_z @ 20,
    parameter_count @ 22, reserved @ 24
);
assert_layout!(DispatchParameter, size 8, kind @ 0, size @ 1, flags @ 2, name @ 4, offset @ 6);
assert_layout!(SourceLocation, size 16, line @ 0, path_length @ 4, path @ 8);
assert_layout!(StageLocationTable, size 24, count @ 0, names @ 8, locations @ 16);
assert_layout!(SourceFile, size 32, path_length @ 0, path @ 8, content_length @ 16, content @ 24);
assert_layout!(
    DispatchStateV0, size 48, workgroup_size_x @ 0, workgroup_size_y @ 4, workgroup_size_z @ 8,
    constant_count @ 10, workgroup_count_x @ 12, workgroup_count_y @ 16, workgroup_count_z @ 20,
    max_concurrency @ 22, binding_count @ 23, constants @ 24, binding_ptrs @ 32,
    binding_lengths @ 40
);
assert_layout!(
    WorkgroupStateV0, size 32, workgroup_id_x @ 0, workgroup_id_y @ 4, workgroup_id_z @ 8,
    reserved @ 10, processor_id @ 12, local_memory @ 16, local_memory_size @ 24
);
assert_layout!(ProcessorV0, size 64, data @ 0);
assert_layout!(
    EnvironmentV0, size 96, constants @ 0, import_thunk @ 8, import_funcs @ 16,
    import_contexts @ 24, processor @ 32
);
