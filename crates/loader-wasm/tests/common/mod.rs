//! Helpers shared by the loader's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBufferParams, Device, Executable, ExecutableParams,
    Result, Workgroups,
};

use driver_sync as _;
use loader_wasm as _;

/// A `local-sync` device.
pub fn device() -> Device {
    hal_core::create_device("local-sync").expect("local-sync device")
}

/// The misbehaving kernels of `tests/wat/sandbox.wat`, assembled.
pub fn sandbox() -> Vec<u8> {
    wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/wat/sandbox.wat"
    ))
    .unwrap()
}

/// Prepares wasm bytes as an executable.
pub fn prepare(device: &Device, wasm: &[u8]) -> Result<Executable> {
    device
        .create_executable_cache()?
        .prepare_executable(&ExecutableParams::new(loader_wasm::FORMAT, wasm))
}

/// A buffer holding `values`.
pub fn buffer_with<T: bytemuck::Pod>(device: &Device, values: &[T]) -> Buffer {
    let buffer = device
        .allocate_buffer(
            BufferParams::default(),
            std::mem::size_of_val(values) as u64,
        )
        .unwrap();
    buffer.write_elements(0, values).unwrap();
    buffer
}

/// Dispatches `export` once over whole buffers and waits; the submission's result.
pub fn dispatch(
    device: &Device,
    executable: &Executable,
    export: &str,
    count: [u32; 3],
    constants: &[u32],
    buffers: &[&Buffer],
) -> Result<()> {
    let refs: Vec<BufferRef> = buffers.iter().map(|b| BufferRef::whole(b)).collect();
    dispatch_refs(device, executable, export, count, constants, &refs)
}

/// Dispatches `export` once over buffer ranges and waits; the submission's result.
pub fn dispatch_refs(
    device: &Device,
    executable: &Executable,
    export: &str,
    count: [u32; 3],
    constants: &[u32],
    refs: &[BufferRef],
) -> Result<()> {
    let ordinal = executable.lookup_export(export)?;
    let mut commands = device.create_command_buffer(CommandBufferParams::one_shot_inline())?;
    commands.begin()?;
    commands.dispatch(
        executable,
        ordinal,
        Workgroups::Static(count),
        constants,
        refs,
    )?;
    commands.end()?;
    let done = device.create_semaphore(0)?;
    device.queue_execute(&[], &[done.at(1)], &commands, &[])?;
    done.wait(1, Duration::from_secs(60))
}
