//! Device memory is the device's choice: with only native loaders enabled it is the heap, the
//! `memory` parameter is described and checked, and the options' common fields stay reachable.

use driver_sync::{SyncDevice, SyncDeviceOptions, DEVICE_PATH, PARAMETERS};
use hal_core::{create_device, Device, DeviceInfo, StatusCode};
use hal_local::{HeapAllocator, MemorySource};

use loader_static as _;

/// What the device's allocator says its memory is.
fn memory(device: &Device) -> String {
    HeapAllocator::memory_of(&device.allocator()).expect("a local device's allocator")
}

#[test]
fn only_the_static_loader_means_heap_memory() {
    let device = create_device("local-sync://?loaders=static").unwrap();
    assert_eq!(device.executable_formats(), ["static"]);
    assert_eq!(memory(&device), "heap");
    assert_eq!(
        memory(&create_device("local-sync://?memory=heap").unwrap()),
        "heap"
    );
}

#[test]
fn a_bad_memory_value_is_an_invalid_argument_naming_it() {
    let status = create_device("local-sync://?memory=pool").unwrap_err();
    assert_eq!(status.code(), StatusCode::InvalidArgument, "{status}");
    assert!(status.to_string().contains("'pool'"), "{status}");
    let described = PARAMETERS.iter().find(|p| p.name == "memory").unwrap();
    assert!(described.description.contains("heap"), "{described:?}");
}

#[test]
fn options_built_directly_keep_their_fields() {
    let mut options = SyncDeviceOptions::default();
    options.loaders.retain(|loader| loader.name() == "static");
    options.memory_limit = Some(1 << 20);
    options.memory = MemorySource::Heap;
    options.inline_execution = false;
    let info = DeviceInfo {
        id: 0,
        name: "test".into(),
        path: DEVICE_PATH.into(),
    };
    let device = SyncDevice::create(info, options);
    assert_eq!(device.driver_name(), "local-sync");
    assert_eq!(memory(&device), "heap");
    let status = device
        .allocate_buffer(Default::default(), 2 << 20)
        .unwrap_err();
    assert_eq!(status.code(), StatusCode::ResourceExhausted, "{status}");
}
