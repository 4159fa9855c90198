//! Library verification refuses bad tables with clear errors, and Rust kernels refuse
//! dispatches that would let workgroups race.

use std::ffi::{c_char, c_void, CStr};
use std::ptr::null;

use hal_core::{BindingFlags, ExportFlags, StatusCode};
use hal_local::abi::*;
use hal_local::verify_library;
use loader_static::{
    kernel_library, ExportDecl, KernelError, KernelResult, LibraryTables, Workgroup,
};

unsafe extern "C" fn noop(
    _: *const EnvironmentV0,
    _: *const DispatchStateV0,
    _: *const WorkgroupStateV0,
) -> i32 {
    0
}

const NAME: &CStr = c"lib";
const EXPORT_NAME: &CStr = c"kernel";
const EMPTY_NAME: &CStr = c"";

struct Parts {
    header: LibraryHeader,
    functions: [Option<DispatchFn>; 1],
    attrs: [DispatchAttrs; 1],
    names: [*const c_char; 1],
}

fn parts() -> Box<Parts> {
    Box::new(Parts {
        header: LibraryHeader {
            version: LIBRARY_VERSION,
            name: NAME.as_ptr(),
            features: 0,
            sanitizer: 0,
        },
        functions: [Some(noop)],
        attrs: [DispatchAttrs {
            binding_count: 2,
            constant_count: 1,
            ..DispatchAttrs::default()
        }],
        names: [EXPORT_NAME.as_ptr()],
    })
}

fn library(parts: &Parts) -> LibraryV0 {
    LibraryV0 {
        header: &parts.header,
        imports: ImportTable {
            count: 0,
            symbols: null(),
        },
        exports: ExportTable {
            count: 1,
            ptrs: parts.functions.as_ptr(),
            attrs: parts.attrs.as_ptr(),
            params: null(),
            occupancy: null(),
            names: parts.names.as_ptr(),
            tags: null(),
            parameter_names: null(),
            source_locations: null(),
            stage_locations: null(),
        },
        constants: ConstantTable { count: 0 },
        sources: SourceFileTable {
            count: 0,
            files: null(),
        },
    }
}

fn verify(library: &LibraryV0, constants: usize) -> hal_core::Result<hal_local::VerifiedLibrary> {
    // SAFETY: every pointer in the library points into live `Parts` or static strings.
    unsafe { verify_library(library, constants) }
}

#[test]
fn a_good_library_verifies() {
    let p = parts();
    let verified = verify(&library(&p), 0).unwrap();
    assert_eq!(verified.name, "lib");
    assert_eq!(verified.exports[0].info.name, "kernel");
    assert_eq!(verified.exports[0].info.binding_count, 2);
    assert_eq!(verified.exports[0].info.workgroup_size, [1, 1, 1]);
}

#[test]
fn bad_tables_are_clear_errors() {
    type Mutation = fn(&mut Parts, &mut LibraryV0);
    // `None`: the tables verify, and hal-core's `Executable::new` must refuse the exports.
    type Expected = Option<(StatusCode, &'static str)>;
    let cases: &[(&str, Mutation, Expected)] = &[
        (
            "null header",
            |_, l| l.header = null(),
            Some((StatusCode::InvalidArgument, "header")),
        ),
        (
            "wrong version",
            |p, _| p.header.version = 5,
            Some((StatusCode::Incompatible, "version 5")),
        ),
        (
            "null name",
            |p, _| p.header.name = null(),
            Some((StatusCode::InvalidArgument, "name is null")),
        ),
        (
            "sanitizer",
            |p, _| p.header.sanitizer = 1,
            Some((StatusCode::Incompatible, "address sanitizer")),
        ),
        (
            "unknown sanitizer",
            |p, _| p.header.sanitizer = 9,
            Some((StatusCode::InvalidArgument, "sanitizer kind 9")),
        ),
        (
            "constant count",
            |_, l| l.constants.count = 3,
            Some((StatusCode::InvalidArgument, "takes 3 executable constants")),
        ),
        (
            "null attrs",
            |_, l| l.exports.attrs = null(),
            Some((StatusCode::InvalidArgument, "attribute")),
        ),
        (
            "null names",
            |_, l| l.exports.names = null(),
            Some((StatusCode::InvalidArgument, "name array")),
        ),
        (
            "null function",
            |p, _| p.functions[0] = None,
            Some((StatusCode::InvalidArgument, "null function")),
        ),
        (
            "null export name",
            |p, _| p.names[0] = null(),
            Some((StatusCode::InvalidArgument, "export 0 name")),
        ),
        (
            "empty export name",
            |p, _| p.names[0] = EMPTY_NAME.as_ptr(),
            None,
        ),
        (
            "too many bindings",
            |p, _| p.attrs[0].binding_count = 65,
            Some((StatusCode::InvalidArgument, "65 bindings")),
        ),
        (
            "too many constants",
            |p, _| p.attrs[0].constant_count = 65,
            Some((StatusCode::InvalidArgument, "65 constants")),
        ),
        (
            "parameters without a table",
            |p, _| p.attrs[0].parameter_count = 1,
            Some((
                StatusCode::InvalidArgument,
                "declares 1 dispatch parameters but has no parameter table",
            )),
        ),
        (
            "export flags IREE does not define",
            |p, _| p.attrs[0].flags = 0x12,
            Some((StatusCode::InvalidArgument, "0x10 are not IREE's")),
        ),
        (
            "huge export count",
            |_, l| l.exports.count = u32::MAX,
            Some((StatusCode::InvalidArgument, "exports")),
        ),
        (
            "imports without symbols",
            |_, l| l.imports.count = 2,
            Some((StatusCode::InvalidArgument, "import table")),
        ),
    ];
    for (what, mutate, expected) in cases {
        let mut p = parts();
        let mut l = library(&p);
        mutate(&mut p, &mut l);
        // Re-point the library at the (possibly mutated) parts where the mutation did not
        // replace the pointer itself.
        if !l.header.is_null() {
            l.header = &p.header;
        }
        match (verify(&l, 0), expected) {
            (Ok(verified), None) => {
                // An empty export name verifies here; hal-core's Executable::new rejects it.
                let infos = verified.exports.into_iter().map(|e| e.info).collect();
                let info = hal_core::ExecutableInfo::default();
                let error =
                    hal_core::Executable::new(info, infos, std::sync::Arc::new(Dummy)).unwrap_err();
                assert!(error.message().contains("empty name"), "{what}: {error}");
            }
            (Ok(_), Some(_)) => panic!("{what}: verified"),
            (Err(error), None) => panic!("{what}: {error}"),
            (Err(error), Some((code, needle))) => {
                assert_eq!(error.code(), *code, "{what}: {error}");
                assert!(
                    error.message().contains(needle),
                    "{what}: '{error}' lacks '{needle}'"
                );
            }
        }
    }
}

struct Dummy;
impl hal_core::ExecutableImpl for Dummy {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn query_answers_only_version_six() {
    let tables = LibraryTables::build(
        "x",
        0,
        &[ExportDecl {
            name: "k",
            function: noop,
            flags: ExportFlags::empty(),
            constant_count: 0,
            binding_count: 0,
            read_only_bindings: 0,
            local_memory_pages: 0,
            workgroup_size: [1, 1, 1],
        }],
    );
    let library = tables.query_result().cast::<LibraryV0>();
    // SAFETY: the tables are alive and well formed.
    let verified = unsafe { verify_library(library, 0) }.unwrap();
    assert_eq!(verified.exports.len(), 1);
    for version in [0, 5, 7, u32::MAX] {
        // SAFETY: the generated query reads neither pointer.
        let library = unsafe { tests_library_query(version, null()) };
        assert!(library.is_null(), "version {version}");
    }
    // SAFETY: as above.
    assert!(!unsafe { tests_library_query(6, null()) }.is_null());
}

/// Verifies the test library with one export whose parameter descriptors are `parameters`.
fn verify_with_parameters(
    attrs: DispatchAttrs,
    parameters: &[DispatchParameter],
) -> hal_core::Result<hal_core::ExportInfo> {
    let mut p = parts();
    p.attrs[0] = attrs;
    let table = [parameters.as_ptr()];
    let mut l = library(&p);
    l.exports.params = table.as_ptr();
    verify(&l, 0).map(|mut verified| verified.exports.remove(0).info)
}

fn binding(ordinal: u16, flags: u16) -> DispatchParameter {
    DispatchParameter {
        kind: DISPATCH_PARAMETER_BINDING,
        size: 0,
        flags,
        name: u16::MAX,
        offset: ordinal,
    }
}

fn constant(offset: u16, size: u8) -> DispatchParameter {
    DispatchParameter {
        kind: DISPATCH_PARAMETER_CONSTANT,
        size,
        flags: 0,
        name: 0,
        offset,
    }
}

#[test]
fn parameter_descriptors_give_binding_flags_and_counts() {
    let attrs = DispatchAttrs {
        flags: DISPATCH_ATTR_FLAG_SEQUENTIAL | DISPATCH_ATTR_FLAG_WORKGROUP_SIZE_DYNAMIC,
        constant_count: 2,
        binding_count: 3,
        parameter_count: 4,
        ..DispatchAttrs::default()
    };
    let parameters = [
        constant(0, 8),
        binding(
            2,
            BINDING_PARAMETER_FLAG_READ_ONLY | BINDING_PARAMETER_FLAG_INDIRECT,
        ),
        binding(0, BINDING_PARAMETER_FLAG_INDIRECT),
        constant(4, 4),
    ];
    let info = verify_with_parameters(attrs, &parameters).unwrap();
    assert_eq!(
        info.flags,
        ExportFlags::SEQUENTIAL | ExportFlags::WORKGROUP_SIZE_DYNAMIC
    );
    assert_eq!(info.parameter_count, 4);
    assert_eq!(
        info.binding_flags,
        [
            BindingFlags::INDIRECT,
            BindingFlags::empty(),
            BindingFlags::READ_ONLY | BindingFlags::INDIRECT,
        ]
    );
    // No descriptors: no flags on any binding, nothing declared.
    let p = parts();
    let info = verify(&library(&p), 0).unwrap().exports.remove(0).info;
    assert_eq!(info.binding_flags, [BindingFlags::empty(); 2]);
    assert_eq!(
        (info.flags, info.parameter_count),
        (ExportFlags::empty(), 0)
    );
}

#[test]
fn bad_parameter_descriptors_are_clear_errors() {
    let attrs = |parameter_count| DispatchAttrs {
        constant_count: 1,
        binding_count: 2,
        parameter_count,
        ..DispatchAttrs::default()
    };
    let buffer_pointer = DispatchParameter {
        kind: DISPATCH_PARAMETER_BUFFER_PTR,
        size: 8,
        ..constant(0, 8)
    };
    let unknown = DispatchParameter {
        kind: 7,
        ..constant(0, 4)
    };
    let cases: &[(&str, &[DispatchParameter], StatusCode, &str)] = &[
        (
            "binding beyond the count",
            &[binding(2, 0)],
            StatusCode::InvalidArgument,
            "parameter 0 describes binding 2, but the export has 2 bindings",
        ),
        (
            "binding twice",
            &[binding(1, 0), binding(1, 1)],
            StatusCode::InvalidArgument,
            "parameter 1 describes binding 1 a second time",
        ),
        (
            "unknown binding flags",
            &[binding(0, 0x9)],
            StatusCode::InvalidArgument,
            "flags 0x9, of which 0x8 are not IREE's binding flags",
        ),
        (
            "constant past the push constants",
            &[constant(2, 4)],
            StatusCode::InvalidArgument,
            "push-constant bytes [2, 6), outside the 4 bytes",
        ),
        (
            "empty constant",
            &[constant(0, 0)],
            StatusCode::InvalidArgument,
            "parameter 0 covers push-constant bytes [0, 0)",
        ),
        (
            "buffer pointer",
            &[binding(0, 0), buffer_pointer],
            StatusCode::Unimplemented,
            "parameter 1 is a buffer pointer",
        ),
        (
            "unknown type",
            &[unknown],
            StatusCode::InvalidArgument,
            "parameter 0 has unknown type 7",
        ),
    ];
    for (what, parameters, code, needle) in cases {
        let error =
            verify_with_parameters(attrs(parameters.len() as u16), parameters).expect_err(what);
        assert_eq!(error.code(), *code, "{what}: {error}");
        assert!(
            error.message().contains(needle) && error.message().contains("export 'kernel'"),
            "{what}: '{error}' lacks '{needle}'"
        );
    }
}

#[test]
fn kernel_libraries_describe_their_parameters() {
    // SAFETY: the generated query reads neither pointer and returns tables that live forever.
    let library = unsafe { tests_library_query(LIBRARY_VERSION, null()) }.cast::<LibraryV0>();
    // SAFETY: as above.
    let verified = unsafe { verify_library(library, 0) }.unwrap();
    let copy = &verified.exports[0].info;
    assert_eq!(copy.name, "copy");
    assert_eq!(copy.parameter_count, 2);
    assert_eq!(copy.flags, ExportFlags::SEQUENTIAL);
    assert_eq!(
        copy.binding_flags,
        [BindingFlags::READ_ONLY, BindingFlags::empty()]
    );
    let panics = &verified.exports[3].info;
    assert_eq!(panics.parameter_count, 0);
    assert_eq!(panics.flags, ExportFlags::empty());
    assert!(panics.binding_flags.is_empty());
    // Three push constants and a written binding: four parameters, no flags.
    let constants = &verified.exports[4].info;
    assert_eq!(constants.parameter_count, 4);
    assert_eq!(constants.binding_flags, [BindingFlags::empty()]);
}

fn copy_kernel(workgroup: &Workgroup<'_>) -> KernelResult {
    let input = workgroup.read::<u32>(0)?;
    let output = workgroup.tile::<u32>(1)?;
    let start = workgroup.linear_id() as usize * 4;
    output.copy_from_slice(&input[start..start + output.len()]);
    Ok(())
}

fn whole_kernel(workgroup: &Workgroup<'_>) -> KernelResult {
    workgroup.tile::<u32>(0)?.fill(7);
    Ok(())
}

fn twice_kernel(workgroup: &Workgroup<'_>) -> KernelResult {
    let _first = workgroup.tile::<u32>(0)?;
    let _second = workgroup.tile::<u32>(0)?;
    Ok(())
}

fn panicking_kernel(_workgroup: &Workgroup<'_>) -> KernelResult {
    panic!("kernel bug");
}

kernel_library! {
    /// Test kernels.
    fn tests_library_query;
    library = "tests";
    executable_constants = 0;
    export "copy" => copy_kernel {
        constants: 0,
        bindings: [Read, Write(Tile::Bytes(16))],
        flags: ExportFlags::SEQUENTIAL,
    }
    export "whole" => whole_kernel { constants: 0, bindings: [Write(Tile::Whole)] }
    export "twice" => twice_kernel { constants: 0, bindings: [Write(Tile::Bytes(4))] }
    export "panics" => panicking_kernel { constants: 0, bindings: [] }
    export "constants" => whole_kernel { constants: 3, bindings: [Write(Tile::Whole)] }
}

/// Calls export `ordinal` of the test library for workgroup `id` of `count` with `bindings`.
fn call(ordinal: usize, bindings: &mut [&mut [u32]], count: [u32; 3], id: u32) -> i32 {
    // SAFETY: the generated query reads neither pointer.
    let library = unsafe { &*tests_library_query(6, null()).cast::<LibraryV0>() };
    // SAFETY: the library has 5 exports.
    let function = unsafe { (*library.exports.ptrs.add(ordinal)).unwrap() };
    let ptrs: Vec<*mut c_void> = bindings.iter_mut().map(|b| b.as_mut_ptr().cast()).collect();
    let lengths: Vec<usize> = bindings.iter().map(|b| b.len() * 4).collect();
    let environment = EnvironmentV0 {
        constants: null(),
        import_thunk: None,
        import_funcs: null(),
        import_contexts: null(),
        processor: ProcessorV0::default(),
    };
    let state = DispatchStateV0 {
        workgroup_size_x: 1,
        workgroup_size_y: 1,
        workgroup_size_z: 1,
        constant_count: 0,
        workgroup_count_x: count[0],
        workgroup_count_y: count[1],
        workgroup_count_z: count[2] as u16,
        max_concurrency: 1,
        binding_count: ptrs.len() as u8,
        constants: null(),
        binding_ptrs: ptrs.as_ptr(),
        binding_lengths: lengths.as_ptr(),
    };
    let workgroup = WorkgroupStateV0 {
        workgroup_id_x: id,
        workgroup_id_y: 0,
        workgroup_id_z: 0,
        reserved: 0,
        processor_id: 0,
        local_memory: std::ptr::null_mut(),
        local_memory_size: 0,
    };
    // SAFETY: every pointer is valid for the call; bindings are the given slices.
    unsafe { function(&environment, &state, &workgroup) }
}

#[test]
fn kernels_refuse_racy_or_malformed_dispatches() {
    let mut input = [1u32, 2, 3, 4, 5, 6, 7, 8];
    let mut output = [0u32; 8];
    assert_eq!(call(0, &mut [&mut input, &mut output], [2, 1, 1], 1), 0);
    assert_eq!(output, [0, 0, 0, 0, 5, 6, 7, 8]);

    // The writable binding overlapping the read one would race across workgroups.
    let mut shared = [0u32; 8];
    let (first, second) = shared.split_at_mut(4);
    // SAFETY: building aliasing views on purpose, as a foreign caller could; the kernel must
    // refuse before touching them.
    let overlapping: &mut [u32] = unsafe { std::slice::from_raw_parts_mut(first.as_mut_ptr(), 8) };
    let _ = second;
    let code = call(0, &mut [overlapping, first], [1, 1, 1], 0);
    assert_eq!(code, KernelError::ALIASING.value());

    // Wrong binding count.
    assert_eq!(
        call(0, &mut [&mut input], [1, 1, 1], 0),
        KernelError::BAD_DISPATCH.value()
    );
    // A whole-binding tile with more than one workgroup.
    assert_eq!(
        call(1, &mut [&mut output], [2, 1, 1], 0),
        KernelError::BAD_DISPATCH.value()
    );
    assert_eq!(call(1, &mut [&mut output], [1, 1, 1], 0), 0);
    assert_eq!(output, [7; 8]);
    // Asking for the same tile twice.
    assert_eq!(
        call(2, &mut [&mut output], [1, 1, 1], 0),
        KernelError::BAD_VIEW.value()
    );
    // A panic is caught at the boundary.
    assert_eq!(
        call(3, &mut [], [1, 1, 1], 0),
        KernelError::PANICKED.value()
    );
}
