//! Executables: loaded kernel libraries and their exports' reflection data.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::{Result, Status};

/// The most 32-bit push constants one export may take (IREE's limit).
pub const MAX_CONSTANT_COUNT: u32 = 64;
/// The most bindings one export may take (IREE's limit).
pub const MAX_BINDING_COUNT: u32 = 64;
/// The most executable-level (specialisation) constants one executable may be prepared with:
/// loaders copy them into memory the kernels see, so the count is bounded before any loader
/// runs. IREE's compiler emits a handful.
pub const MAX_EXECUTABLE_CONSTANT_COUNT: usize = 1024;

/// What the runtime knows about one export (entry point) of an executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportInfo {
    /// The export's name, unique within the executable.
    pub name: String,
    /// How many 32-bit push constants a dispatch must pass.
    pub constant_count: u32,
    /// How many bindings a dispatch must pass.
    pub binding_count: u32,
    /// The compile-time workgroup size.
    pub workgroup_size: [u32; 3],
    /// Bytes of workgroup local memory the export needs.
    pub local_memory_size: u32,
}

/// What drivers implement for executables; hal-core keeps the reflection data.
pub trait ExecutableImpl: Send + Sync + 'static {
    /// For drivers that downcast their own executables.
    fn as_any(&self) -> &dyn Any;
}

struct ExecutableInner {
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
            .field("exports", &self.0.exports)
            .finish()
    }
}

impl Executable {
    /// Wraps a driver's executable with its exports. Export names must be unique and counts
    /// within the ABI limits.
    pub fn new(exports: Vec<ExportInfo>, inner: Arc<dyn ExecutableImpl>) -> Result<Executable> {
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

/// Everything needed to prepare an executable.
#[derive(Clone, Copy, Debug)]
pub struct ExecutableParams<'a> {
    /// The executable format, for example `static` or `embedded-elf-x86_64`.
    pub format: &'a str,
    /// The executable's bytes (for `static`: the library name).
    pub data: &'a [u8],
    /// Executable-level (specialisation) constants; their count must match the library's.
    pub constants: &'a [u32],
}

impl<'a> ExecutableParams<'a> {
    /// Parameters without executable constants.
    pub fn new(format: &'a str, data: &'a [u8]) -> ExecutableParams<'a> {
        ExecutableParams {
            format,
            data,
            constants: &[],
        }
    }
}

/// What drivers implement for executable caches.
pub trait ExecutableCacheImpl: Send + Sync + 'static {
    /// Whether some loader can load this format.
    fn can_prepare_format(&self, format: &str) -> bool;
    /// Loads an executable (the format was checked with `can_prepare_format`).
    fn prepare(&self, params: &ExecutableParams<'_>) -> Result<Executable>;
}

/// A handle to an executable cache: the place executables are prepared.
#[derive(Clone)]
pub struct ExecutableCache(Arc<dyn ExecutableCacheImpl>);

impl ExecutableCache {
    /// Wraps a driver's cache.
    pub fn new(inner: Arc<dyn ExecutableCacheImpl>) -> ExecutableCache {
        ExecutableCache(inner)
    }

    /// Whether executables of `format` can be prepared here.
    pub fn can_prepare_format(&self, format: &str) -> bool {
        self.0.can_prepare_format(format)
    }

    /// Loads an executable. An unknown format is `NOT_FOUND`; more than
    /// [`MAX_EXECUTABLE_CONSTANT_COUNT`] executable constants is `INVALID_ARGUMENT`; bad data is a
    /// loader's error.
    pub fn prepare_executable(&self, params: &ExecutableParams<'_>) -> Result<Executable> {
        if params.constants.len() > MAX_EXECUTABLE_CONSTANT_COUNT {
            return Err(Status::invalid_argument(format!(
                "{} executable constants exceed the limit of {MAX_EXECUTABLE_CONSTANT_COUNT}",
                params.constants.len()
            )));
        }
        if !self.0.can_prepare_format(params.format) {
            return Err(Status::not_found(format!(
                "no executable loader for format '{}'",
                params.format
            )));
        }
        self.0.prepare(params).map_err(|status| {
            status.with_context(format!("while preparing a '{}' executable", params.format))
        })
    }
}

/// What drivers implement for events.
pub trait EventImpl: Send + Sync + 'static {
    /// For drivers that downcast their own events.
    fn as_any(&self) -> &dyn Any;
}

/// A handle to an event: a fine-grained dependency inside command buffers.
#[derive(Clone)]
pub struct Event(Arc<dyn EventImpl>);

impl Event {
    /// Wraps a driver's event.
    pub fn new(inner: Arc<dyn EventImpl>) -> Event {
        Event(inner)
    }

    /// The driver's event.
    #[inline]
    pub fn inner(&self) -> &Arc<dyn EventImpl> {
        &self.0
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Event")
    }
}
