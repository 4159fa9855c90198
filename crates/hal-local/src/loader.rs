//! Executable loaders and their registry.
//!
//! A loader turns executable bytes of some format into a [`hal_core::Executable`]. Loader crates
//! register through `inventory`; CPU drivers ask [`registered_loaders`] for whatever the program
//! links, so a driver never names a loader.

use std::sync::Arc;

use hal_core::{Executable, Result};

use crate::heap_allocator::HostMemorySource;
use crate::imports::ImportProvider;

/// What a loader is asked to load.
#[derive(Clone, Copy)]
pub struct LoadRequest<'a> {
    /// The format string.
    pub format: &'a str,
    /// The executable bytes.
    pub data: &'a [u8],
    /// Executable-level constants.
    pub constants: &'a [u32],
    /// Host functions the library may import.
    pub imports: &'a dyn ImportProvider,
}

/// Loads executables of one or more formats.
pub trait ExecutableLoader: Send + Sync + 'static {
    /// The loader's name, for listings.
    fn name(&self) -> &str;
    /// The formats it loads.
    fn formats(&self) -> Vec<String>;
    /// Whether it loads `format`.
    fn supports_format(&self, format: &str) -> bool {
        self.formats().iter().any(|f| f == format)
    }
    /// The format of `data`, if the loader recognises it.
    fn infer_format(&self, _data: &[u8]) -> Option<String> {
        None
    }
    /// Loads the executable, says the data is not this loader's (the cache then tries the next
    /// one), or fails with an error saying what is wrong.
    fn try_load(&self, request: &LoadRequest<'_>) -> Result<LoadOutcome>;
    /// Host memory its kernels are shown without copies, offered as the buffer memory of devices
    /// that enable this loader ([`crate::MemorySource::Loaders`], the default). `None` (the
    /// default) for loaders whose kernels reach any host memory, as native code does.
    fn memory_source(&self) -> Option<Arc<dyn HostMemorySource>> {
        None
    }
}

/// What a loader made of a request.
pub enum LoadOutcome {
    /// Loaded.
    Loaded(Executable),
    /// Not this loader's data; the reason ends up in the error if no loader takes it.
    NotMine(String),
}

/// A loader's entry in the registry.
pub struct LoaderRegistration {
    /// The loader name.
    pub name: &'static str,
    /// Creates the loader.
    pub create: fn() -> Arc<dyn ExecutableLoader>,
}

inventory::collect!(LoaderRegistration);

/// Every loader linked into this program, created fresh, sorted by name.
pub fn registered_loaders() -> Vec<Arc<dyn ExecutableLoader>> {
    let mut registrations: Vec<_> = inventory::iter::<LoaderRegistration>.into_iter().collect();
    registrations.sort_by_key(|r| r.name);
    registrations.into_iter().map(|r| (r.create)()).collect()
}

/// Every format the given loaders load, sorted and de-duplicated.
pub fn loader_formats(loaders: &[Arc<dyn ExecutableLoader>]) -> Vec<String> {
    let mut formats: Vec<String> = loaders.iter().flat_map(|l| l.formats()).collect();
    formats.sort();
    formats.dedup();
    formats
}

/// The loaders named in `list` (comma-separated, as in a device URI's `loaders` parameter),
/// picked from `available` in the order given; an unknown name is an error naming it.
pub fn select_loaders(
    list: &str,
    available: &[Arc<dyn ExecutableLoader>],
) -> hal_core::Result<Vec<Arc<dyn ExecutableLoader>>> {
    let mut selected: Vec<Arc<dyn ExecutableLoader>> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let loader = available.iter().find(|l| l.name() == name).ok_or_else(|| {
            let names: Vec<&str> = available.iter().map(|l| l.name()).collect();
            hal_core::Status::invalid_argument(format!(
                "parameter 'loaders' names unknown loader '{name}'; linked loaders: {names:?}"
            ))
        })?;
        if !selected.iter().any(|l| Arc::ptr_eq(l, loader)) {
            selected.push(loader.clone());
        }
    }
    Ok(selected)
}
