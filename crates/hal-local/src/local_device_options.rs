//! The options every local device shares (loaders, imports, memory limit, where buffer memory
//! comes from), their URI parameters, and the helpers that let each driver's options extend them.

use std::sync::Arc;

use hal_core::{DeviceParams, ParameterInfo, Result};

use crate::heap_allocator::HostMemorySource;
use crate::imports::{ImportProvider, NoImports};
use crate::loader::{registered_loaders, select_loaders, ExecutableLoader};

/// Where a local device's buffer memory comes from (URI parameter `memory=loaders|heap`); its
/// allocator reports the outcome ([`crate::HeapAllocator::memory`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MemorySource {
    /// The default: the memory offered by the first of the device's loaders that offers any
    /// ([`ExecutableLoader::memory_source`]; the wasm loader's pool, so its kernels see buffers
    /// without copies), else the process heap.
    #[default]
    Loaders,
    /// The process heap, whatever the loaders offer (wasm kernels get per-dispatch copies).
    Heap,
}

/// The options every local device shares; each driver's options add their own.
#[derive(Clone)]
pub struct LocalDeviceOptions {
    /// The executable loaders the device's caches use (default: every linked loader).
    pub loaders: Vec<Arc<dyn ExecutableLoader>>,
    /// Host functions kernels may import (default: none).
    pub imports: Arc<dyn ImportProvider>,
    /// The most bytes of buffer memory the device's allocator keeps live at once (default:
    /// unlimited); an allocation past it is `RESOURCE_EXHAUSTED`.
    pub memory_limit: Option<u64>,
    /// Where buffer memory comes from (default: what the loaders offer, else the heap).
    pub memory: MemorySource,
}

impl Default for LocalDeviceOptions {
    /// Every linked loader, no imports, no memory limit, the loaders' memory.
    fn default() -> LocalDeviceOptions {
        LocalDeviceOptions {
            loaders: registered_loaders(),
            imports: Arc::new(NoImports),
            memory_limit: None,
            memory: MemorySource::default(),
        }
    }
}

/// The URI parameters every local device accepts ([`LocalDeviceOptions::from_params`]); a
/// driver lists them with its own through [`crate::with_common_parameters!`].
pub const COMMON_PARAMETERS: [ParameterInfo; 3] = [
    ParameterInfo::new(
        "loaders",
        "comma-separated executable loader names to enable (default: every linked loader)",
    ),
    ParameterInfo::new(
        "memory_limit",
        "bytes of buffer memory the allocator keeps live at once (default unlimited)",
    ),
    ParameterInfo::new(
        "memory",
        "loaders | heap: buffer memory from the first enabled loader that offers some (wasm: its \
        pool, so kernels see buffers without copies), else the heap; or always the heap \
        (default loaders)",
    ),
];

/// A driver's URI parameters as a `&'static [ParameterInfo]`: [`COMMON_PARAMETERS`], then its
/// own given as arguments. (Destructured, so a common parameter added later cannot be missed.)
#[macro_export]
macro_rules! with_common_parameters {
    ($($own:expr),* $(,)?) => {
        &{
            let [loaders, memory_limit, memory] = $crate::COMMON_PARAMETERS;
            [loaders, memory_limit, memory, $($own),*]
        }
    };
}

/// Lets a driver's options type with a `common: LocalDeviceOptions` field be used as the common
/// options (`options.loaders`, `options.memory_limit = ...`).
#[macro_export]
macro_rules! deref_common_options {
    ($options:ty) => {
        impl ::std::ops::Deref for $options {
            type Target = $crate::LocalDeviceOptions;
            fn deref(&self) -> &$crate::LocalDeviceOptions {
                &self.common
            }
        }
        impl ::std::ops::DerefMut for $options {
            fn deref_mut(&mut self) -> &mut $crate::LocalDeviceOptions {
                &mut self.common
            }
        }
    };
}

impl LocalDeviceOptions {
    /// Defaults overridden by the [`COMMON_PARAMETERS`] in `params` (others are not read here);
    /// a bad value is an error naming it.
    pub fn from_params(params: &DeviceParams) -> Result<LocalDeviceOptions> {
        let mut options = LocalDeviceOptions::default();
        if let Some(list) = params.get("loaders") {
            options.loaders = select_loaders(list, &options.loaders)?;
        }
        options.memory_limit = params.get_u64("memory_limit", 0, u64::MAX)?;
        let memories = [
            ("loaders", MemorySource::Loaders),
            ("heap", MemorySource::Heap),
        ];
        options.memory = params
            .get_choice("memory", &memories)?
            .unwrap_or(options.memory);
        Ok(options)
    }

    /// The source of buffer memory these options choose; `None` for the process heap.
    pub fn host_memory(&self) -> Option<Arc<dyn HostMemorySource>> {
        match self.memory {
            MemorySource::Loaders => self.loaders.iter().find_map(|l| l.memory_source()),
            MemorySource::Heap => None,
        }
    }
}
