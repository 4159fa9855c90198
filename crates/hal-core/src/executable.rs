//! Executables: loaded kernel libraries and their exports' reflection data.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use bitflags::bitflags;

use crate::status::{Result, Status};

/// The most 32-bit push constants one export may take (IREE's limit).
pub const MAX_CONSTANT_COUNT: u32 = 64;
/// The most bindings one export may take (IREE's limit).
pub const MAX_BINDING_COUNT: u32 = 64;
/// The most executable-level (specialisation) constants one executable may be prepared with:
/// loaders copy them into memory the kernels see, so the count is bounded before any loader
/// runs. IREE's compiler emits a handful.
pub const MAX_EXECUTABLE_CONSTANT_COUNT: usize = 1024;

bitflags! {
    /// What an export declares about how it runs: IREE's export flags (the `flags` of a
    /// library's dispatch attributes, `iree_hal_executable_export_flags`). Hints; this runtime
    /// runs every export the same way.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ExportFlags: u64 {
        /// Adjacent workgroups touch adjacent data (IREE's `SEQUENTIAL`), so running them in
        /// order on one thread is cache friendly.
        const SEQUENTIAL = 1 << 0;
        /// The workgroup size is chosen when dispatching rather than compiled in (IREE's
        /// `WORKGROUP_SIZE_DYNAMIC`); [`ExportInfo::workgroup_size`] is then the minimum.
        const WORKGROUP_SIZE_DYNAMIC = 1 << 1;
    }
}

bitflags! {
    /// How an export uses one of its bindings: IREE's binding flags (the `ReadOnly` and
    /// `Indirect` of `#hal.pipeline.binding<storage_buffer, "ReadOnly|Indirect">`, with the same
    /// bits), as the library's parameter descriptors declare them. No flag is no promise: the
    /// kernel may read and write the binding, given directly or through a binding table.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct BindingFlags: u32 {
        /// The kernel only reads the binding (IREE's `ReadOnly`).
        const READ_ONLY = 1 << 0;
        /// The binding is meant to be given indirectly, through a binding table at submit
        /// (IREE's `Indirect`). Informational: this runtime accepts direct references and table
        /// slots for every binding.
        const INDIRECT = 1 << 1;
    }
}

/// What the runtime knows about one export (entry point) of an executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportInfo {
    /// The export's name, unique within the executable.
    pub name: String,
    /// What the export declares about how it runs; empty when it declares nothing.
    pub flags: ExportFlags,
    /// How many 32-bit push constants a dispatch must pass.
    pub constant_count: u32,
    /// How many bindings a dispatch must pass.
    pub binding_count: u32,
    /// How each binding is used, one entry per binding (`binding_count` entries, checked by
    /// [`Executable::new`]). An export whose library describes no parameters has no flags on
    /// any binding.
    pub binding_flags: Vec<BindingFlags>,
    /// How many dispatch parameters (push-constant ranges and bindings) the library describes
    /// for the export: IREE's `parameter_count`, 0 when it describes none. Reflection only;
    /// dispatches pass constants and bindings the same way either way.
    pub parameter_count: u32,
    /// The compile-time workgroup size.
    pub workgroup_size: [u32; 3],
    /// Bytes of workgroup local memory the export needs (its static local memory; a dispatch
    /// may ask for more, see [`crate::DispatchOptions`]).
    pub local_memory_size: u32,
}

impl ExportInfo {
    /// An export with these counts and nothing else declared: no flags, no parameter
    /// descriptions, a 1×1×1 workgroup, no local memory.
    pub fn new(name: impl Into<String>, constant_count: u32, binding_count: u32) -> ExportInfo {
        ExportInfo {
            name: name.into(),
            flags: ExportFlags::empty(),
            constant_count,
            binding_count,
            binding_flags: vec![BindingFlags::empty(); binding_count as usize],
            parameter_count: 0,
            workgroup_size: [1, 1, 1],
            local_memory_size: 0,
        }
    }
}

/// What the runtime knows about an executable as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutableInfo {
    /// The name the library gives itself (its header's name, for example `add_dispatch_0`),
    /// for messages and for telling executables apart; not necessarily unique. Empty when the
    /// format has none.
    pub library_name: String,
    /// How many executable-level (specialisation) constants the executable was prepared with,
    /// which is exactly how many its library declares (at most
    /// [`MAX_EXECUTABLE_CONSTANT_COUNT`]).
    pub constant_count: u32,
}

/// What drivers implement for executables; hal-core keeps the reflection data.
pub trait ExecutableImpl: Send + Sync + 'static {
    /// For drivers that downcast their own executables.
    fn as_any(&self) -> &dyn Any;
}

struct ExecutableInner {
    info: ExecutableInfo,
    exports: Box<[ExportInfo]>,
    inner: Arc<dyn ExecutableImpl>,
    /// The concrete type of `inner`, taken once so that drivers' per-dispatch downcasts are a
    /// comparison instead of two virtual calls.
    inner_type: std::any::TypeId,
}

/// A handle to a loaded executable.
#[derive(Clone)]
pub struct Executable(Arc<ExecutableInner>);

impl fmt::Debug for Executable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executable")
            .field("library_name", &self.0.info.library_name)
            .field("exports", &self.0.exports)
            .finish()
    }
}

impl Executable {
    /// Wraps a driver's executable with what is known of it and of its exports. Export names
    /// must be unique and non-empty, counts within the ABI limits, and each export must have one
    /// [`BindingFlags`] per binding; otherwise `INVALID_ARGUMENT` naming the export and value.
    pub fn new(
        info: ExecutableInfo,
        exports: Vec<ExportInfo>,
        inner: Arc<dyn ExecutableImpl>,
    ) -> Result<Executable> {
        if info.constant_count as usize > MAX_EXECUTABLE_CONSTANT_COUNT {
            return Err(Status::invalid_argument(format!(
                "executable '{}' declares {} executable constants; the limit is {MAX_EXECUTABLE_CONSTANT_COUNT}",
                info.library_name, info.constant_count
            )));
        }
        for (ordinal, export) in exports.iter().enumerate() {
            if export.name.is_empty() {
                return Err(Status::invalid_argument(format!(
                    "export {ordinal} has an empty name"
                )));
            }
            if export.constant_count > MAX_CONSTANT_COUNT {
                return Err(Status::invalid_argument(format!(
                    "export '{}' declares {} constants; the limit is {MAX_CONSTANT_COUNT}",
                    export.name, export.constant_count
                )));
            }
            if export.binding_count > MAX_BINDING_COUNT {
                return Err(Status::invalid_argument(format!(
                    "export '{}' declares {} bindings; the limit is {MAX_BINDING_COUNT}",
                    export.name, export.binding_count
                )));
            }
            if export.binding_flags.len() != export.binding_count as usize {
                return Err(Status::invalid_argument(format!(
                    "export '{}' has {} bindings but flags for {}",
                    export.name,
                    export.binding_count,
                    export.binding_flags.len()
                )));
            }
            if exports[..ordinal]
                .iter()
                .any(|other| other.name == export.name)
            {
                return Err(Status::invalid_argument(format!(
                    "export name '{}' appears twice",
                    export.name
                )));
            }
        }
        let inner_type = inner.as_any().type_id();
        Ok(Executable(Arc::new(ExecutableInner {
            info,
            exports: exports.into(),
            inner,
            inner_type,
        })))
    }

    /// The driver's executable.
    #[inline]
    pub fn inner(&self) -> &Arc<dyn ExecutableImpl> {
        &self.0.inner
    }

    /// The driver's executable as its concrete type `T`, if it is one.
    #[inline]
    pub fn downcast_inner<T: ExecutableImpl>(&self) -> Option<&T> {
        if self.0.inner_type != std::any::TypeId::of::<T>() {
            return None;
        }
        // SAFETY: `inner_type` is the TypeId of the concrete type behind `inner` (taken at
        // construction from `as_any`, which returns `self`), and it equals T's, so the data
        // pointer of the trait object points to a live `T` owned by this executable.
        Some(unsafe { &*Arc::as_ptr(&self.0.inner).cast::<T>() })
    }

    /// What is known of the executable as a whole: its library's name and executable-constant
    /// count.
    pub fn info(&self) -> &ExecutableInfo {
        &self.0.info
    }

    /// The name the executable's library gives itself (see [`ExecutableInfo::library_name`]).
    pub fn library_name(&self) -> &str {
        &self.0.info.library_name
    }

    /// How many executable-level constants the executable takes (see
    /// [`ExecutableInfo::constant_count`]).
    pub fn executable_constant_count(&self) -> u32 {
        self.0.info.constant_count
    }

    /// How many exports the executable has.
    pub fn export_count(&self) -> u32 {
        self.0.exports.len() as u32
    }

    /// All exports, by ordinal.
    pub fn exports(&self) -> &[ExportInfo] {
        &self.0.exports
    }

    /// The export with this ordinal, or `OUT_OF_RANGE`.
    #[inline]
    pub fn export(&self, ordinal: u32) -> Result<&ExportInfo> {
        self.0.exports.get(ordinal as usize).ok_or_else(|| {
            Status::out_of_range(format!(
                "export ordinal {ordinal} is out of range; the executable has {} exports",
                self.0.exports.len()
            ))
        })
    }

    /// The ordinal of the export named `name`, or `NOT_FOUND`.
    pub fn lookup_export(&self, name: &str) -> Result<u32> {
        self.0
            .exports
            .iter()
            .position(|export| export.name == name)
            .map(|i| i as u32)
            .ok_or_else(|| {
                let names: Vec<&str> = self.0.exports.iter().map(|e| e.name.as_str()).collect();
                Status::not_found(format!(
                    "no export named '{name}'; the executable exports {names:?}"
                ))
            })
    }

    /// Whether two handles refer to the same executable.
    pub fn ptr_eq(&self, other: &Executable) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusCode;

    struct Nothing;

    impl ExecutableImpl for Nothing {
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    fn info(name: &str, constants: u32) -> ExecutableInfo {
        ExecutableInfo {
            library_name: name.to_string(),
            constant_count: constants,
        }
    }

    #[test]
    fn reflection_reaches_the_handle() {
        let mut export = ExportInfo::new("k", 2, 3);
        export.flags = ExportFlags::SEQUENTIAL;
        export.parameter_count = 5;
        export.binding_flags[1] = BindingFlags::READ_ONLY | BindingFlags::INDIRECT;
        let exe = Executable::new(info("lib", 2), vec![export.clone()], Arc::new(Nothing)).unwrap();
        assert_eq!(exe.library_name(), "lib");
        assert_eq!(exe.executable_constant_count(), 2);
        assert_eq!(exe.info(), &info("lib", 2));
        assert_eq!(exe.export(0).unwrap(), &export);
        assert!(format!("{exe:?}").contains("lib"));
    }

    #[test]
    fn new_exports_have_no_flags_and_one_binding_flag_per_binding() {
        let export = ExportInfo::new("k", 1, 4);
        assert_eq!(export.flags, ExportFlags::empty());
        assert_eq!(export.parameter_count, 0);
        assert_eq!(export.binding_flags, [BindingFlags::empty(); 4]);
        assert_eq!(export.workgroup_size, [1, 1, 1]);
    }

    #[test]
    fn inconsistent_reflection_is_refused_naming_the_value() {
        let mut export = ExportInfo::new("k", 0, 2);
        export.binding_flags.pop();
        let error = Executable::new(info("lib", 0), vec![export], Arc::new(Nothing)).unwrap_err();
        assert_eq!(error.code(), StatusCode::InvalidArgument);
        assert!(
            error
                .message()
                .contains("'k' has 2 bindings but flags for 1"),
            "{error}"
        );
        let too_many = MAX_EXECUTABLE_CONSTANT_COUNT as u32 + 1;
        let error =
            Executable::new(info("lib", too_many), Vec::new(), Arc::new(Nothing)).unwrap_err();
        assert_eq!(error.code(), StatusCode::InvalidArgument);
        assert!(
            error.message().contains(&too_many.to_string())
                && error
                    .message()
                    .contains(&MAX_EXECUTABLE_CONSTANT_COUNT.to_string()),
            "{error}"
        );
    }
}
