//! Helpers shared by the loader's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBufferParams, Device, Executable, ExecutableParams,
    Result, Workgroups,
};

use driver_sync as _;
use loader_wasm as _;

/// Runs `body` in a child process (this test binary, filtered to `test`, the calling test's
/// name), so that a crash fails that test with the signal instead of killing the whole test
/// binary. In the child, runs `body` itself.
pub fn isolated(test: &str, body: impl FnOnce()) {
    const CHILD: &str = "LOADER_WASM_ISOLATED_TEST";
    if std::env::var_os(CHILD).is_some() {
        body();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{test} failed in its child process ({}):\n{text}",
        output.status
    );
    assert!(
        text.contains("1 passed"),
        "{test} did not run in its child process:\n{text}"
    );
}

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

/// Imports `host` as a buffer (outside the pool, so its bindings are staged).
///
/// # Safety
/// `host` outlives the buffer and nothing else touches it while the buffer lives.
pub unsafe fn import<T: bytemuck::Pod>(device: &Device, host: &mut [T]) -> Buffer {
    // SAFETY: per the caller.
    unsafe {
        device.allocator().import_host_memory(
            BufferParams::default(),
            host.as_mut_ptr().cast(),
            std::mem::size_of_val(host),
            None,
        )
    }
    .unwrap()
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
