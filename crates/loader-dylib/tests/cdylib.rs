//! A Rust `cdylib` (crates/cdylib-kernels, the conformance kernels of cts-kernels) built by Cargo,
//! loaded from its path and from bytes, and dispatched on every driver.

mod common;

use std::time::Duration;

use hal_core::{BufferParams, BufferRef, CommandBufferParams, Executable, Workgroups};
use hal_local::NoImports;
use loader_dylib::{check_shared_object, DylibLoader, SYSTEM_ELF_FORMAT};

use driver_sync as _;
use driver_task as _;

fn scale_offset(device: &hal_core::Device, executable: &Executable) -> Vec<f32> {
    let input = device
        .allocate_buffer(BufferParams::default(), 400)
        .unwrap();
    let output = device
        .allocate_buffer(BufferParams::default(), 400)
        .unwrap();
    let values: Vec<f32> = (0..100).map(|i| i as f32 - 50.0).collect();
    input.write_elements(0, &values).unwrap();
    let mut commands = device
        .create_command_buffer(CommandBufferParams::one_shot_inline())
        .unwrap();
    commands.begin().unwrap();
    commands
        .dispatch(
            executable,
            executable.lookup_export("scale_offset").unwrap(),
            Workgroups::Static([2, 1, 1]),
            &[3, 10],
            &[BufferRef::whole(&input), BufferRef::whole(&output)],
        )
        .unwrap();
    commands.end().unwrap();
    let done = device.create_semaphore(0).unwrap();
    device
        .queue_execute(&[], &[done.at(1)], &commands, &[])
        .unwrap();
    done.wait(1, Duration::from_secs(10)).unwrap();
    output.read_elements::<f32>(0, 100).unwrap()
}

#[test]
fn a_rust_cdylib_loads_from_a_path_and_from_bytes_on_every_driver() {
    let path = common::built_cdylib();
    let bytes = std::fs::read(&path).unwrap();
    let facts = check_shared_object(&bytes).unwrap();
    assert!(
        facts.needed.iter().any(|n| n.starts_with("libc.so")),
        "a Rust cdylib needs libc: {facts:?}"
    );
    let expected: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) * 3.0 + 10.0).collect();
    let loader = DylibLoader::new();
    for registration in hal_core::registered_drivers() {
        let device = hal_core::create_device(registration.name).unwrap();
        let from_path = loader.load_file(&path, &[], &NoImports).unwrap();
        let from_bytes = device
            .create_executable_cache()
            .unwrap()
            .prepare_executable(&hal_core::ExecutableParams::new(SYSTEM_ELF_FORMAT, &bytes))
            .unwrap();
        assert_eq!(from_path.export_count(), 10);
        assert_eq!(
            scale_offset(&device, &from_path),
            expected,
            "{}",
            registration.name
        );
        assert_eq!(
            scale_offset(&device, &from_bytes),
            expected,
            "{}",
            registration.name
        );
    }
}

/// An embedded ELF must be self-contained: a library that needs libc is refused in that format.
#[test]
fn the_embedded_format_refuses_a_library_that_needs_libc() {
    let bytes = std::fs::read(common::built_cdylib()).unwrap();
    let device = hal_core::create_device("local-sync").unwrap();
    let error = device
        .create_executable_cache()
        .unwrap()
        .prepare_executable(&hal_core::ExecutableParams::new(
            loader_dylib::EMBEDDED_ELF_FORMAT,
            &bytes,
        ))
        .unwrap_err();
    assert!(error.to_string().contains("self-contained"), "{error}");
}
