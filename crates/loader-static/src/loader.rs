//! The `static` executable loader: finds a linked library by name.

use std::sync::Arc;

use hal_core::{Executable, Result, Status};
use hal_local::abi::QueryFn;
use hal_local::{query_library_name, ExecutableLoader, LoadOutcome, LoadRequest, LocalExecutable};

/// The format this loader loads. Executable data is the library name in UTF-8.
pub const STATIC_FORMAT: &str = "static";

/// A library linked into the program, registered at link time (see [`crate::kernel_library!`]
/// or [`crate::register_static_library!`]).
pub struct StaticLibraryRegistration {
    /// The library's query function.
    pub query: QueryFn,
}

inventory::collect!(StaticLibraryRegistration);

/// Loads libraries linked into the program, found by the name in their header.
pub struct StaticLibraryLoader {
    libraries: Vec<(String, QueryFn)>,
}

impl StaticLibraryLoader {
    /// A loader over every library registered at link time. Libraries whose query fails are
    /// left out (they cannot be loaded anyway).
    pub fn from_registry() -> StaticLibraryLoader {
        let queries: Vec<QueryFn> = inventory::iter::<StaticLibraryRegistration>
            .into_iter()
            .map(|r| r.query)
            .collect();
        let libraries = queries
            .into_iter()
            .filter_map(|query| {
                // SAFETY: registrations hold query functions of linked libraries (the macro's,
                // or ones whose registrant vouched for them with `register_static_library!`).
                let name = unsafe { query_library_name(query) };
                name.ok().map(|name| (name, query))
            })
            .collect();
        StaticLibraryLoader { libraries }
    }

    /// A loader over exactly these libraries.
    ///
    /// # Safety
    /// Every function must be a library query function following the executable-library ABI
    /// whose tables stay valid for the rest of the program.
    pub unsafe fn with_libraries(queries: &[QueryFn]) -> Result<StaticLibraryLoader> {
        let mut libraries: Vec<(String, QueryFn)> = Vec::with_capacity(queries.len());
        for &query in queries {
            // SAFETY: per this function's contract.
            let name = unsafe { query_library_name(query) }?;
            if libraries.iter().any(|(existing, _)| *existing == name) {
                return Err(Status::already_exists(format!(
                    "two static libraries are named '{name}'"
                )));
            }
            libraries.push((name, query));
        }
        Ok(StaticLibraryLoader { libraries })
    }

    /// Names of the libraries this loader can load, sorted.
    pub fn library_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.libraries.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        names
    }

    /// The loader as a trait object, for a device's loader list.
    pub fn into_dyn(self) -> Arc<dyn ExecutableLoader> {
        Arc::new(self)
    }
}

impl ExecutableLoader for StaticLibraryLoader {
    fn name(&self) -> &str {
        "static"
    }

    fn formats(&self) -> Vec<String> {
        vec![STATIC_FORMAT.to_string()]
    }

    fn infer_format(&self, data: &[u8]) -> Option<String> {
        let name = std::str::from_utf8(data).ok()?;
        self.libraries
            .iter()
            .any(|(n, _)| n == name)
            .then(|| STATIC_FORMAT.to_string())
    }

    fn try_load(&self, request: &LoadRequest<'_>) -> Result<LoadOutcome> {
        let name = std::str::from_utf8(request.data).map_err(|_| {
            Status::invalid_argument(format!(
                "static executable data must be a UTF-8 library name; got {} non-UTF-8 bytes",
                request.data.len()
            ))
        })?;
        if name.is_empty() {
            return Err(Status::invalid_argument(
                "static executable data (the library name) is empty",
            ));
        }
        let Some(&(_, query)) = self.libraries.iter().find(|(n, _)| n == name) else {
            return Ok(LoadOutcome::NotMine(format!(
                "no static library named '{name}' is linked; linked libraries: {:?}",
                self.library_names()
            )));
        };
        // SAFETY: the query belongs to a linked library whose tables live for the program
        // (registration / `with_libraries` contract), so an empty owner suffices.
        let executable: Executable = unsafe {
            LocalExecutable::load(query, Box::new(()), request.constants, request.imports)
        }
        .map_err(|s| s.with_context(format!("while loading static library '{name}'")))?;
        Ok(LoadOutcome::Loaded(executable))
    }
}
