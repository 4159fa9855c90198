//! Building library tables in memory: what a Rust kernel library's query function returns.

use std::ffi::{c_char, CString};

use hal_core::ExportFlags;
use hal_local::abi::{
    ConstantTable, DispatchAttrs, DispatchFn, DispatchParameter, ExportTable, ImportTable,
    LibraryHeader, LibraryV0, SourceFileTable, BINDING_PARAMETER_FLAG_READ_ONLY,
    DISPATCH_PARAMETER_BINDING, DISPATCH_PARAMETER_CONSTANT, LIBRARY_VERSION,
};

/// One export of a library being built.
#[derive(Clone, Copy, Debug)]
pub struct ExportDecl {
    /// The export name.
    pub name: &'static str,
    /// The entry point.
    pub function: DispatchFn,
    /// What the export declares about how it runs (its attributes' flags).
    pub flags: ExportFlags,
    /// Push constants it takes.
    pub constant_count: u8,
    /// Bindings it takes.
    pub binding_count: u8,
    /// The bindings the kernel only reads (bit i = binding i), declared read-only in the
    /// export's parameter descriptors.
    pub read_only_bindings: u64,
    /// Pages (4 KiB) of workgroup local memory it needs.
    pub local_memory_pages: u16,
    /// Its workgroup size.
    pub workgroup_size: [u32; 3],
}

impl ExportDecl {
    /// The export's parameter descriptors: one per push constant (4 bytes each), then one per
    /// binding with its flags, all unnamed.
    fn parameters(&self) -> Vec<DispatchParameter> {
        let constants = (0..u16::from(self.constant_count)).map(|i| DispatchParameter {
            kind: DISPATCH_PARAMETER_CONSTANT,
            size: 4,
            flags: 0,
            name: u16::MAX,
            offset: 4 * i,
        });
        let bindings = (0..u16::from(self.binding_count)).map(|i| DispatchParameter {
            kind: DISPATCH_PARAMETER_BINDING,
            size: 0,
            flags: if self.read_only_bindings & (1 << i) != 0 {
                BINDING_PARAMETER_FLAG_READ_ONLY
            } else {
                0
            },
            name: u16::MAX,
            offset: i,
        });
        constants.chain(bindings).collect()
    }
}

/// A library's tables with stable addresses, as a query function returns them.
pub struct LibraryTables {
    library: Box<LibraryV0>,
    _header: Box<LibraryHeader>,
    _name: CString,
    _export_names: Vec<CString>,
    _name_ptrs: Vec<*const c_char>,
    _functions: Vec<Option<DispatchFn>>,
    _attrs: Vec<DispatchAttrs>,
    _parameters: Vec<Vec<DispatchParameter>>,
    _parameter_ptrs: Vec<*const DispatchParameter>,
}

// SAFETY: the tables are immutable once built; the raw pointers point into heap memory owned by
// the same struct, which moves without moving that memory.
unsafe impl Send for LibraryTables {}
// SAFETY: as above.
unsafe impl Sync for LibraryTables {}

impl LibraryTables {
    /// Builds the tables of library `name` with `executable_constants` constants and `exports`,
    /// including parameter descriptors for every push constant and binding (so the runtime
    /// learns which bindings are read-only). Names must not contain NUL bytes (the macro
    /// guarantees string literals).
    pub fn build(name: &str, executable_constants: u32, exports: &[ExportDecl]) -> LibraryTables {
        let c_name = CString::new(name).expect("library names contain no NUL byte");
        let header = Box::new(LibraryHeader {
            version: LIBRARY_VERSION,
            name: c_name.as_ptr(),
            features: 0,
            sanitizer: 0,
        });
        let export_names: Vec<CString> = exports
            .iter()
            .map(|e| CString::new(e.name).expect("export names contain no NUL byte"))
            .collect();
        let name_ptrs: Vec<*const c_char> = export_names.iter().map(|n| n.as_ptr()).collect();
        let functions: Vec<Option<DispatchFn>> = exports.iter().map(|e| Some(e.function)).collect();
        let parameters: Vec<Vec<DispatchParameter>> =
            exports.iter().map(ExportDecl::parameters).collect();
        let parameter_ptrs: Vec<*const DispatchParameter> =
            parameters.iter().map(|p| p.as_ptr()).collect();
        let attrs: Vec<DispatchAttrs> = exports
            .iter()
            .zip(&parameters)
            .map(|(e, parameters)| DispatchAttrs {
                flags: e.flags.bits(),
                parameter_count: parameters.len() as u16,
                local_memory_pages: e.local_memory_pages,
                constant_count: e.constant_count,
                binding_count: e.binding_count,
                workgroup_size_x: e.workgroup_size[0],
                workgroup_size_y: e.workgroup_size[1],
                workgroup_size_z: e.workgroup_size[2] as u16,
                ..DispatchAttrs::default()
            })
            .collect();
        let library = Box::new(LibraryV0 {
            header: &*header,
            imports: ImportTable {
                count: 0,
                symbols: std::ptr::null(),
            },
            exports: ExportTable {
                count: exports.len() as u32,
                ptrs: functions.as_ptr(),
                attrs: attrs.as_ptr(),
                params: parameter_ptrs.as_ptr(),
                occupancy: std::ptr::null(),
                names: name_ptrs.as_ptr(),
                tags: std::ptr::null(),
                parameter_names: std::ptr::null(),
                source_locations: std::ptr::null(),
                stage_locations: std::ptr::null(),
            },
            constants: ConstantTable {
                count: executable_constants,
            },
            sources: SourceFileTable {
                count: 0,
                files: std::ptr::null(),
            },
        });
        LibraryTables {
            library,
            _header: header,
            _name: c_name,
            _export_names: export_names,
            _name_ptrs: name_ptrs,
            _functions: functions,
            _attrs: attrs,
            _parameters: parameters,
            _parameter_ptrs: parameter_ptrs,
        }
    }

    /// The library pointer as the query returns it (`const header**`).
    pub fn query_result(&self) -> *const *const LibraryHeader {
        (&*self.library as *const LibraryV0).cast()
    }
}
