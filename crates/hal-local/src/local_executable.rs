//! A loaded CPU executable: the library's tables plus the environment its kernels run with.

use std::any::Any;
use std::ffi::c_void;

use hal_core::{Executable, ExecutableImpl, ExecutableInfo, Result, Status};

use crate::abi::{
    default_import_thunk, DispatchAttrs, DispatchStateV0, EnvironmentV0, ImportFn, LibraryV0,
    QueryFn, WorkgroupStateV0, LIBRARY_VERSION,
};
use crate::binding_views::BindingViews;
use crate::cpu::processor_info;
use crate::imports::{resolve_imports, ImportProvider};
use crate::library::{verify_library, ExportEntry};
use crate::workgroup_runner::{DispatchSession, WorkgroupRunner};

/// An executable whose kernels follow the library ABI and run on the host.
///
/// Field order matters: the environment and tables are dropped before `owner`, which keeps the
/// library image (a mapped shared object, a static table, …) alive.
pub struct LocalExecutable {
    environment: Box<EnvironmentV0>,
    _constants: Box<[u32]>,
    _import_functions: Box<[Option<ImportFn>]>,
    _import_contexts: Box<[*mut c_void]>,
    exports: Vec<ExportEntry>,
    library_name: String,
    runner: Option<Box<dyn WorkgroupRunner>>,
    _owner: Box<dyn Any + Send + Sync>,
}

/// The `function` of exports run by a [`WorkgroupRunner`]: never called (the workgroup loop hands
/// such executables to their runner); fails like a kernel error if it were.
unsafe extern "C" fn runner_export(
    _environment: *const EnvironmentV0,
    _dispatch_state: *const DispatchStateV0,
    _workgroup_state: *const WorkgroupStateV0,
) -> i32 {
    -1
}

// SAFETY: the raw pointers point into boxes this struct owns and never mutates after
// construction, or into the immutable library image kept alive by `_owner`. Kernels are
// required by the ABI to be callable from any thread, concurrently.
unsafe impl Send for LocalExecutable {}
// SAFETY: as above; nothing is mutated through a shared reference.
unsafe impl Sync for LocalExecutable {}

/// Builds the environment for a library with `constants` and resolved imports. The returned
/// boxes must outlive every use of the environment.
fn environment_for(
    constants: &[u32],
    functions: &[Option<ImportFn>],
    contexts: &[*mut c_void],
) -> EnvironmentV0 {
    EnvironmentV0 {
        constants: if constants.is_empty() {
            std::ptr::null()
        } else {
            constants.as_ptr()
        },
        import_thunk: Some(default_import_thunk),
        import_funcs: if functions.is_empty() {
            std::ptr::null()
        } else {
            functions.as_ptr()
        },
        import_contexts: if contexts.is_empty() {
            std::ptr::null()
        } else {
            contexts.as_ptr().cast()
        },
        processor: processor_info(),
    }
}

/// Calls a query function with version 6 and a minimal environment, returning the library name.
///
/// # Safety
/// `query` must be a library query function following the ABI.
pub unsafe fn query_library_name(query: QueryFn) -> Result<String> {
    let environment = environment_for(&[], &[], &[]);
    // SAFETY: per the caller, `query` follows the ABI; the environment is valid for the call.
    let library = unsafe { query(LIBRARY_VERSION, &environment) }.cast::<LibraryV0>();
    if library.is_null() {
        return Err(Status::incompatible(
            "the library query returned null for version 6",
        ));
    }
    // SAFETY: the query returned a library struct whose first field is the header pointer.
    let header = unsafe { (*library).header };
    if header.is_null() {
        return Err(Status::invalid_argument("library header pointer is null"));
    }
    // SAFETY: header points into the library image.
    unsafe { crate::library::read_c_string((*header).name, "name") }
}

impl LocalExecutable {
    /// Queries, verifies and wraps a library.
    ///
    /// # Safety
    /// `query` must follow the library ABI, and the library it returns must stay valid and
    /// unchanged for as long as `owner` lives.
    pub unsafe fn load(
        query: QueryFn,
        owner: Box<dyn Any + Send + Sync>,
        constants: &[u32],
        imports: &dyn ImportProvider,
    ) -> Result<Executable> {
        let constants: Box<[u32]> = constants.into();
        // First query: to learn the imports. The environment must exist before the query.
        let bare = environment_for(&constants, &[], &[]);
        // SAFETY: per the caller's contract.
        let library = unsafe { query(LIBRARY_VERSION, &bare) }.cast::<LibraryV0>();
        // SAFETY: the pointer is null or a library following the ABI (caller's contract).
        let verified = unsafe { verify_library(library, constants.len()) }?;
        let (functions, contexts) = resolve_imports(&verified.imports, imports)
            .map_err(|s| s.with_context(format!("while loading library '{}'", verified.name)))?;
        let functions: Box<[Option<ImportFn>]> = functions.into();
        let contexts: Box<[*mut c_void]> = contexts.into();
        let environment = Box::new(environment_for(&constants, &functions, &contexts));
        let infos = verified.exports.iter().map(|e| e.info.clone()).collect();
        let info = ExecutableInfo {
            library_name: verified.name.clone(),
            constant_count: verified.constant_count,
        };
        let local = LocalExecutable {
            environment,
            _constants: constants,
            _import_functions: functions,
            _import_contexts: contexts,
            exports: verified.exports,
            library_name: verified.name,
            runner: None,
            _owner: owner,
        };
        Executable::new(info, infos, std::sync::Arc::new(local))
    }

    /// Wraps exports whose workgroups `runner` runs (kernels that are not native functions, such
    /// as sandboxed WebAssembly), of the library `info` describes. `exports` are in ordinal
    /// order; their attributes must have been verified as [`verify_library`] does (see
    /// [`crate::export_info`]).
    pub fn with_runner(
        info: ExecutableInfo,
        exports: Vec<(hal_core::ExportInfo, DispatchAttrs)>,
        runner: Box<dyn WorkgroupRunner>,
    ) -> Result<Executable> {
        let exports: Vec<ExportEntry> = exports
            .into_iter()
            .zip(0..)
            .map(|((info, attrs), ordinal)| ExportEntry {
                ordinal,
                views: BindingViews::Opaque,
                function: runner_export,
                attrs,
                info,
            })
            .collect();
        let infos = exports.iter().map(|e| e.info.clone()).collect();
        let local = LocalExecutable {
            environment: Box::new(environment_for(&[], &[], &[])),
            _constants: Box::new([]),
            _import_functions: Box::new([]),
            _import_contexts: Box::new([]),
            exports,
            library_name: info.library_name.clone(),
            runner: Some(runner),
            _owner: Box::new(()),
        };
        Executable::new(info, infos, std::sync::Arc::new(local))
    }

    /// The runner of an executable made by [`LocalExecutable::with_runner`].
    #[inline(always)]
    pub fn runner(&self) -> Option<&dyn WorkgroupRunner> {
        self.runner.as_deref()
    }

    /// Sets up one dispatch of `export` before any of its workgroups runs (see
    /// [`WorkgroupRunner::begin_dispatch`]): `None` for native kernels, which need nothing, or a
    /// session the caller must finish once after the dispatch's last workgroup.
    ///
    /// # Safety
    /// As [`WorkgroupRunner::begin_dispatch`]; `export` belongs to this executable.
    #[inline]
    pub unsafe fn begin_dispatch(
        &self,
        export: &ExportEntry,
        binding_ptrs: &mut [*mut c_void],
        binding_lengths: &[usize],
    ) -> Result<Option<Box<dyn DispatchSession>>> {
        match &self.runner {
            None => Ok(None),
            Some(runner) => {
                self.check_owns(export)?;
                // SAFETY: forwarded from the caller.
                unsafe { runner.begin_dispatch(export, binding_ptrs, binding_lengths) }
            }
        }
    }

    /// `INVALID_ARGUMENT` unless `export` is this executable's own entry: a runner runs the
    /// kernel `export.ordinal` names, so another executable's entry would run the wrong one.
    pub(crate) fn check_owns(&self, export: &ExportEntry) -> Result<()> {
        match self.exports.get(export.ordinal as usize) {
            Some(own) if std::ptr::eq(own, export) => Ok(()),
            _ => Err(Status::invalid_argument(
                "the export does not belong to this executable",
            )),
        }
    }

    /// The local executable behind a handle, or `INVALID_ARGUMENT` for another driver's.
    #[inline]
    pub fn from_handle(executable: &Executable) -> Result<&LocalExecutable> {
        executable
            .downcast_inner::<LocalExecutable>()
            .ok_or_else(|| {
                Status::invalid_argument(
                    "executable was not loaded by a local CPU executable loader",
                )
            })
    }

    /// The library's name.
    pub fn library_name(&self) -> &str {
        &self.library_name
    }

    /// The export with this ordinal (validated by hal-core before dispatch).
    #[inline]
    pub fn export(&self, ordinal: u32) -> Result<&ExportEntry> {
        self.exports.get(ordinal as usize).ok_or_else(|| {
            Status::out_of_range(format!(
                "export ordinal {ordinal} is out of range ({} exports)",
                self.exports.len()
            ))
        })
    }

    /// The environment passed to every kernel call.
    #[inline]
    pub fn environment(&self) -> &EnvironmentV0 {
        &self.environment
    }
}

impl std::fmt::Debug for LocalExecutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalExecutable")
            .field("library", &self.library_name)
            .field("exports", &self.exports.len())
            .finish()
    }
}

impl ExecutableImpl for LocalExecutable {
    fn as_any(&self) -> &dyn Any {
        self
    }
}
