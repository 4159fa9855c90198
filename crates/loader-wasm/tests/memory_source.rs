//! Where a device's buffer memory comes from: the wasm loader offers its pool, and a device that
//! enables the loader takes its buffers there by default (`memory=loaders`), so wasm kernels see
//! them without copies; `memory=heap` keeps them on the heap and they are copied per dispatch.

mod common;

use common::{buffer_with, dispatch, prepare, sandbox};
use hal_core::{create_device, Device, StatusCode};
use hal_local::HeapAllocator;

use driver_task as _;

/// What the device's allocator says its memory is.
fn memory(device: &Device) -> String {
    HeapAllocator::memory_of(&device.allocator()).expect("a local device's allocator")
}

#[test]
fn the_memory_parameter_picks_the_pool_or_the_heap() {
    for driver in ["local-sync", "local-task"] {
        let with = |query: &str| create_device(&format!("{driver}://{query}")).unwrap();
        assert_eq!(memory(&with("")), "wasm-pool", "{driver} by default");
        assert_eq!(memory(&with("?memory=loaders")), "wasm-pool", "{driver}");
        assert_eq!(memory(&with("?memory=heap")), "heap", "{driver}");
        // No enabled loader offers memory: the heap, though the wasm loader is linked.
        assert_eq!(memory(&with("?loaders=")), "heap", "{driver}");
    }
}

#[test]
fn pool_buffers_are_shown_in_place_and_heap_buffers_copied() {
    // One test: the copy counters are global to the process.
    for (uri, in_place) in [
        ("local-sync", true),
        ("local-sync://?memory=heap", false),
        ("local-task://?memory=heap&workers=1", false),
    ] {
        let device = create_device(uri).unwrap();
        let executable = prepare(&device, &sandbox()).unwrap();
        let data = buffer_with(&device, &[1u32, 2, 3]);
        let before = loader_wasm::copy_statistics();
        dispatch(&device, &executable, "double", [1, 1, 1], &[], &[&data]).unwrap();
        let after = loader_wasm::copy_statistics();
        assert_eq!(data.read_elements::<u32>(0, 3).unwrap(), [2, 4, 6], "{uri}");
        let (zero_copy, copied) = (
            after.zero_copy_bindings - before.zero_copy_bindings,
            after.copied_bindings - before.copied_bindings,
        );
        if in_place {
            assert_eq!((zero_copy, copied), (1, 0), "{uri}");
        } else {
            assert_eq!((zero_copy, copied), (0, 1), "{uri}");
        }
    }
}

#[test]
fn a_bad_memory_value_is_refused_naming_it() {
    for driver in ["local-sync", "local-task"] {
        let status = create_device(&format!("{driver}://?memory=wasm")).unwrap_err();
        assert_eq!(status.code(), StatusCode::InvalidArgument, "{status}");
        assert!(status.to_string().contains("'wasm'"), "{status}");
        assert!(status.to_string().contains("memory"), "{status}");
    }
}
