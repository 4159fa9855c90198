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

/// Dispatches `export` once and waits; the submission's result.
pub fn dispatch(
    device: &Device,
    executable: &Executable,
    export: &str,
    count: [u32; 3],
    constants: &[u32],
    buffers: &[&Buffer],
) -> Result<()> {
    let ordinal = executable.lookup_export(export)?;
    let mut commands = device.create_command_buffer(CommandBufferParams::one_shot_inline())?;
    commands.begin()?;
    let refs: Vec<BufferRef> = buffers.iter().map(|b| BufferRef::whole(b)).collect();
    commands.dispatch(
        executable,
        ordinal,
        Workgroups::Static(count),
        constants,
        &refs,
    )?;
    commands.end()?;
    let done = device.create_semaphore(0)?;
    device.queue_execute(&[], &[done.at(1)], &commands, &[])?;
    done.wait(1, Duration::from_secs(60))
}
