//! The `dylib` executable loader: ELF shared objects mapped by the system loader.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsRawFd as _, FromRawFd as _};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use hal_core::{Executable, Result, Status};
use hal_local::abi::QueryFn;
use hal_local::{ExecutableLoader, ImportProvider, LoadOutcome, LoadRequest, LocalExecutable};
use libloading::os::unix::{Library, RTLD_LAZY, RTLD_LOCAL, RTLD_NOW};

use crate::check::{check_shared_object, is_elf, LibraryFacts, QUERY_SYMBOL};

/// IREE's system-library format: an ordinary ELF shared object (`--iree-llvmcpu-link-embedded=false`,
/// or a Rust `cdylib`).
pub const SYSTEM_ELF_FORMAT: &str = "system-elf-x86_64";
/// IREE's default format: a self-contained ELF shared object without interpreter, libc or
/// `DT_NEEDED` entries; the system loader maps it like any other shared object.
pub const EMBEDDED_ELF_FORMAT: &str = "embedded-elf-x86_64";

/// Loads kernel libraries from ELF shared objects, from bytes (through an anonymous in-memory
/// file) or from a path.
///
/// Every library is checked before it is mapped ([`check_shared_object`]); then its query is
/// called with version 6, its tables are verified, its imports resolved and this CPU's feature
/// bits passed (see [`LocalExecutable::load`]). The mapping lives as long as the executable and
/// every command holding it.
///
/// Loading native code trusts it: the checks refuse damaged and wrong files, but a well-formed
/// library can still do anything the process can.
#[derive(Clone, Copy, Debug, Default)]
pub struct DylibLoader;

impl DylibLoader {
    /// The loader.
    pub fn new() -> DylibLoader {
        DylibLoader
    }

    /// Checks and loads a library from bytes. Each call maps a fresh copy, so loading the same
    /// bytes twice gives two independent libraries.
    pub fn load_bytes(
        &self,
        data: &[u8],
        constants: &[u32],
        imports: &dyn ImportProvider,
    ) -> Result<Executable> {
        check_shared_object(data)?;
        let file = AnonymousFile::with_contents(data)?;
        let path = file.path();
        // SAFETY: the bytes passed the pre-load checks; mapping and initialising a shared object
        // is what this loader is for (see the type's documentation on trust).
        let library =
            unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
                Status::invalid_argument(format!("the system loader refused the library: {e}"))
            })?;
        load_library(library, Some(file), &path, constants, imports)
    }

    /// Checks and loads the library at `path`. The system loader maps the file itself (so
    /// debuggers and profilers see its name); the file must not change between the check and
    /// the mapping. Loading one path twice shares one mapping, counted by the system loader.
    pub fn load_file(
        &self,
        path: &Path,
        constants: &[u32],
        imports: &dyn ImportProvider,
    ) -> Result<Executable> {
        let path = std::fs::canonicalize(path)
            .map_err(|e| Status::not_found(format!("library {}: {e}", path.display())))?;
        let data = std::fs::read(&path)
            .map_err(|e| Status::not_found(format!("library {}: {e}", path.display())))?;
        check_shared_object(&data)
            .map_err(|s| s.with_context(format!("while checking {}", path.display())))?;
        // SAFETY: as in `load_bytes`; the path is absolute, so no search path is consulted.
        let library =
            unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
                Status::invalid_argument(format!(
                    "the system loader refused {}: {e}",
                    path.display()
                ))
            })?;
        load_library(library, None, &path, constants, imports)
    }

    /// The loader as a trait object.
    pub fn into_dyn(self) -> std::sync::Arc<dyn ExecutableLoader> {
        std::sync::Arc::new(self)
    }
}

/// Queries, verifies and wraps a mapped library.
fn load_library(
    library: Library,
    file: Option<AnonymousFile>,
    path: &Path,
    constants: &[u32],
    imports: &dyn ImportProvider,
) -> Result<Executable> {
    // SAFETY: the pre-load checks found the symbol to be a defined function; its type is the
    // ABI's query signature.
    let query: QueryFn = unsafe { library.get::<QueryFn>(QUERY_SYMBOL.as_bytes()) }
        .map(|symbol| *symbol)
        .map_err(|e| Status::not_found(format!("{QUERY_SYMBOL} not found: {e}")))?;
    let owner = MappedLibrary {
        library: Some(library),
        file,
        path: path.to_path_buf(),
    };
    // SAFETY: `query` follows the library ABI (a checked IREE library), and its image stays
    // mapped for as long as `owner` lives, which the executable keeps.
    unsafe { LocalExecutable::load(query, Box::new(owner), constants, imports) }
}

impl ExecutableLoader for DylibLoader {
    fn name(&self) -> &str {
        "dylib"
    }

    fn formats(&self) -> Vec<String> {
        vec![
            EMBEDDED_ELF_FORMAT.to_string(),
            SYSTEM_ELF_FORMAT.to_string(),
        ]
    }

    fn infer_format(&self, data: &[u8]) -> Option<String> {
        let facts = check_shared_object(data).ok()?;
        let format = if facts.needed.is_empty() {
            EMBEDDED_ELF_FORMAT
        } else {
            SYSTEM_ELF_FORMAT
        };
        Some(format.to_string())
    }

    fn try_load(&self, request: &LoadRequest<'_>) -> Result<LoadOutcome> {
        if !is_elf(request.data) {
            return Ok(LoadOutcome::NotMine(format!(
                "{} data must be an ELF shared object; these {} bytes do not start with the ELF magic",
                request.format,
                request.data.len()
            )));
        }
        let context =
            |s: Status| s.with_context(format!("while loading {} library data", request.format));
        let facts: LibraryFacts = check_shared_object(request.data).map_err(context)?;
        if request.format == EMBEDDED_ELF_FORMAT && !facts.needed.is_empty() {
            return Err(context(Status::invalid_argument(format!(
                "an embedded ELF must be self-contained, but this one needs {:?}",
                facts.needed
            ))));
        }
        self.load_bytes(request.data, request.constants, request.imports)
            .map(LoadOutcome::Loaded)
            .map_err(context)
    }
}

/// A mapped library and, for libraries loaded from bytes, the anonymous file it was mapped from.
///
/// The file stays open while the library is mapped: the system loader recognises a loaded
/// library by the path it was opened with, and `/proc/self/fd/N` must not name a new file while
/// the old one is still loaded. If the library outlives `dlclose` (a library may make itself
/// undeletable), the descriptor is kept open forever for the same reason.
struct MappedLibrary {
    library: Option<Library>,
    file: Option<AnonymousFile>,
    path: PathBuf,
}

impl Drop for MappedLibrary {
    fn drop(&mut self) {
        if let Some(library) = self.library.take() {
            let _ = library.close();
        }
        if let Some(file) = self.file.take() {
            // SAFETY: RTLD_NOLOAD only looks the path up among loaded objects; nothing is mapped
            // or initialised.
            let still_loaded =
                unsafe { Library::open(Some(&self.path), RTLD_LAZY | libc::RTLD_NOLOAD) };
            if let Ok(handle) = still_loaded {
                let _ = handle.close();
                std::mem::forget(file);
            }
        }
    }
}

/// An in-memory file (`memfd_create`) holding a library's bytes, opened by path through
/// `/proc/self/fd`.
struct AnonymousFile {
    file: File,
}

impl AnonymousFile {
    fn with_contents(data: &[u8]) -> Result<AnonymousFile> {
        let name = c"hal-kernel-library";
        // SAFETY: `name` is a NUL-terminated string; memfd_create has no other preconditions.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Status::unavailable(format!(
                "memfd_create failed: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: `fd` is a new descriptor nobody else owns.
        let mut file = unsafe { File::from_raw_fd(fd) };
        file.write_all(data).map_err(|e| {
            Status::resource_exhausted(format!("writing the library to memory: {e}"))
        })?;
        Ok(AnonymousFile { file })
    }

    fn path(&self) -> PathBuf {
        let text = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        PathBuf::from(OsStr::from_bytes(text.as_bytes()))
    }
}
