//! Shared by the tests and the benchmark: the committed fixtures, the IREE programs' inputs
//! (the same values `cargo xtask fixtures dylib` gave `iree-run-module`), and a one-dispatch
//! runner.

#![allow(dead_code)] // each test target uses part of this module

pub mod mutation;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBuffer, CommandBufferParams, Device, Executable,
    ExecutableParams, Result, Workgroups,
};

/// The workspace's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The bytes of `fixtures/elf/<name>.<form>.so` (`form`: `embedded` or `system`), or of the
/// same file in `$LOADER_DYLIB_ELF_DIR` when set (the benchmark's host-tuned copies).
pub fn library(name: &str, form: &str) -> Vec<u8> {
    let dir = std::env::var_os("LOADER_DYLIB_ELF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| fixtures().join("elf"));
    let path = dir.join(format!("{name}.{form}.so"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Builds cdylib-kernels (a no-op when `cargo test --workspace` already has) and returns the
/// shared library's path. Cargo runs once per test binary: it may wait for the build lock.
pub fn built_cdylib() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_cdylib).clone()
}

fn build_cdylib() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "--quiet", "--offline", "-p", "cdylib-kernels"])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building cdylib-kernels failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| workspace.join(dir))
        .unwrap_or_else(|| workspace.join("target"));
    // The name `cdylib_kernels::LIBRARY_FILE_NAME` documents (not linked: the test must not
    // carry a second copy of the query symbol).
    target.join("debug").join("libcdylib_kernels.so")
}

/// The two ELF forms: file infix and format string.
pub const FORMS: [(&str, &str); 2] = [
    ("embedded", loader_dylib::EMBEDDED_ELF_FORMAT),
    ("system", loader_dylib::SYSTEM_ELF_FORMAT),
];

/// One IREE program: its inputs, output length and workgroup count.
pub struct Program {
    /// The fixture name.
    pub name: &'static str,
    /// The inputs, in binding order.
    pub inputs: Vec<Vec<f32>>,
    /// Output elements.
    pub output_len: usize,
    /// Workgroups per dispatch (not stored in the library; see IREE.md).
    pub workgroups: [u32; 3],
}

/// The add program (1,048,576 floats, 256 workgroups).
pub fn add() -> Program {
    let n = 1_048_576usize;
    Program {
        name: "add",
        inputs: vec![
            (0..n).map(|i| (i % 251) as f32 * 0.25 - 31.0).collect(),
            (0..n).map(|i| (i % 127) as f32 * 0.5 - 16.0).collect(),
        ],
        output_len: n,
        workgroups: [256, 1, 1],
    }
}

/// The 512³ matmul program (64 workgroups).
pub fn matmul() -> Program {
    let n = 512 * 512usize;
    Program {
        name: "matmul",
        inputs: vec![
            (0..n).map(|j| ((j * 7) % 97) as f32 / 16.0 - 3.0).collect(),
            (0..n).map(|j| ((j * 5) % 89) as f32 / 8.0 - 5.0).collect(),
        ],
        output_len: n,
        workgroups: [64, 1, 1],
    }
}

/// A program prepared on a device: executable, buffers, and a reusable command buffer with its
/// one dispatch.
pub struct Prepared {
    /// The device.
    pub device: Device,
    /// The executable.
    pub executable: Executable,
    /// Inputs then output.
    pub buffers: Vec<Buffer>,
    /// One dispatch of export 0.
    pub commands: CommandBuffer,
}

/// Prepares `program` in `format` on a device of `driver`.
pub fn prepare(driver: &str, program: &Program, format: &str, data: &[u8]) -> Result<Prepared> {
    let device = hal_core::create_device(driver)?;
    let cache = device.create_executable_cache()?;
    let executable = cache.prepare_executable(&ExecutableParams::new(format, data))?;
    let mut buffers = Vec::new();
    for input in &program.inputs {
        let buffer = device.allocate_buffer(BufferParams::default(), (input.len() * 4) as u64)?;
        buffer.write_elements(0, input)?;
        buffers.push(buffer);
    }
    buffers.push(device.allocate_buffer(BufferParams::default(), (program.output_len * 4) as u64)?);
    let refs: Vec<BufferRef> = buffers.iter().map(BufferRef::whole).collect();
    let mut commands = device.create_command_buffer(CommandBufferParams::reusable(0))?;
    commands.begin()?;
    commands.dispatch(
        &executable,
        0,
        Workgroups::Static(program.workgroups),
        &[],
        &refs,
    )?;
    commands.end()?;
    Ok(Prepared {
        device,
        executable,
        buffers,
        commands,
    })
}

impl Prepared {
    /// Submits the command buffer once and waits for it.
    pub fn run(&self) -> Result<()> {
        let done = self.device.create_semaphore(0)?;
        self.device
            .queue_execute(&[], &[done.at(1)], &self.commands, &[])?;
        done.wait(1, Duration::from_secs(60))
    }

    /// The output buffer's bytes.
    pub fn output_bytes(&self) -> Result<Vec<u8>> {
        let output = self.buffers.last().expect("an output buffer");
        let mut bytes = vec![0u8; output.len() as usize];
        output.read(0, &mut bytes)?;
        Ok(bytes)
    }
}
