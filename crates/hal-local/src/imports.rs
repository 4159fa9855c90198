//! Resolving a library's imports to host functions.

use std::ffi::c_void;

use hal_core::{Result, Status};

use crate::abi::ImportFn;

/// A host function a kernel library may import, with the context pointer it is called with.
#[derive(Clone, Copy, Debug)]
pub struct HostImport {
    /// The function.
    pub function: ImportFn,
    /// Passed as the `context` argument; stored as an address so providers are `Send + Sync`.
    pub context: usize,
}

/// Supplies host functions to libraries by name.
pub trait ImportProvider: Send + Sync {
    /// The host function named `symbol` (without any leading `?`), if provided.
    fn resolve(&self, symbol: &str) -> Option<HostImport>;
}

/// A provider with no functions: libraries with required imports fail to load.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoImports;

impl ImportProvider for NoImports {
    fn resolve(&self, _symbol: &str) -> Option<HostImport> {
        None
    }
}

/// A provider backed by a list of named functions.
#[derive(Clone, Debug, Default)]
pub struct HostImports {
    entries: Vec<(String, HostImport)>,
}

impl HostImports {
    /// An empty list.
    pub fn new() -> HostImports {
        HostImports::default()
    }

    /// Adds (or replaces) the function called `name`.
    pub fn with(mut self, name: &str, import: HostImport) -> HostImports {
        self.entries.retain(|(existing, _)| existing != name);
        self.entries.push((name.to_string(), import));
        self
    }
}

impl ImportProvider for HostImports {
    fn resolve(&self, symbol: &str) -> Option<HostImport> {
        self.entries
            .iter()
            .find(|(name, _)| name == symbol)
            .map(|(_, import)| *import)
    }
}

/// Resolves import `symbols` (a leading `?` marks an optional one, left empty when missing).
/// A missing required import is a `NOT_FOUND` error naming it.
pub fn resolve_imports(
    symbols: &[String],
    provider: &dyn ImportProvider,
) -> Result<(Vec<Option<ImportFn>>, Vec<*mut c_void>)> {
    let mut functions = Vec::with_capacity(symbols.len());
    let mut contexts = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        let (name, optional) = match symbol.strip_prefix('?') {
            Some(name) => (name, true),
            None => (symbol.as_str(), false),
        };
        match provider.resolve(name) {
            Some(import) => {
                functions.push(Some(import.function));
                contexts.push(import.context as *mut c_void);
            }
            None if optional => {
                functions.push(None);
                contexts.push(std::ptr::null_mut());
            }
            None => {
                return Err(Status::not_found(format!(
                    "required import '{name}' is not provided by the host"
                )))
            }
        }
    }
    Ok((functions, contexts))
}
