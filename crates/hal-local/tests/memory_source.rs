//! A device's buffer memory is its options' choice: the first enabled loader that offers memory,
//! else the heap, or always the heap; the `memory` parameter is checked.

use std::ptr::NonNull;
use std::sync::Arc;

use hal_core::{DeviceParams, Result, StatusCode};
use hal_local::{
    ExecutableLoader, HeapAllocator, HostMemorySource, LoadOutcome, LoadRequest,
    LocalDeviceOptions, MemorySource,
};

/// A loader that offers `memory` (or none, like the native loaders).
struct Loader(&'static str, Option<Arc<dyn HostMemorySource>>);

impl ExecutableLoader for Loader {
    fn name(&self) -> &str {
        self.0
    }
    fn formats(&self) -> Vec<String> {
        Vec::new()
    }
    fn try_load(&self, _: &LoadRequest<'_>) -> Result<LoadOutcome> {
        Ok(LoadOutcome::NotMine(String::new()))
    }
    fn memory_source(&self) -> Option<Arc<dyn HostMemorySource>> {
        self.1.clone()
    }
}

/// A source that never has room (the heap is used).
struct Full;

impl HostMemorySource for Full {
    fn name(&self) -> &str {
        "full"
    }
    fn allocate(&self, _: usize) -> Option<NonNull<u8>> {
        None
    }
    unsafe fn free(&self, _: NonNull<u8>, _: usize) {}
}

fn memory_of(loaders: Vec<Arc<dyn ExecutableLoader>>, memory: MemorySource) -> String {
    let options = LocalDeviceOptions {
        loaders,
        memory,
        ..LocalDeviceOptions::default()
    };
    let allocator = HeapAllocator::with_memory(u64::MAX, options.host_memory());
    allocator.memory().to_owned()
}

#[test]
fn memory_comes_from_the_first_enabled_loader_that_offers_some() {
    let native: Arc<dyn ExecutableLoader> = Arc::new(Loader("native", None));
    let offers: Arc<dyn ExecutableLoader> = Arc::new(Loader("offers", Some(Arc::new(Full))));
    assert_eq!(
        memory_of(vec![native.clone()], MemorySource::Loaders),
        "heap"
    );
    assert_eq!(
        memory_of(vec![native.clone(), offers.clone()], MemorySource::Loaders),
        "full"
    );
    assert_eq!(memory_of(vec![native, offers], MemorySource::Heap), "heap");
}

#[test]
fn the_memory_parameter_is_checked() {
    let parse =
        |value| LocalDeviceOptions::from_params(&DeviceParams::from_pairs(&[("memory", value)]));
    assert_eq!(parse("heap").unwrap().memory, MemorySource::Heap);
    assert_eq!(parse("loaders").unwrap().memory, MemorySource::Loaders);
    let status = parse("pool").err().unwrap();
    assert_eq!(status.code(), StatusCode::InvalidArgument, "{status}");
    assert!(status.to_string().contains("'pool'"), "{status}");
}
