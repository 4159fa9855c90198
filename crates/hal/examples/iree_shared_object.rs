//! Runs a kernel library built by the IREE compiler: `fixtures/elf/add.embedded.so`, IREE 3.13's
//! build of `fixtures/mlir/add.mlir` (the elementwise sum of two 1,048,576-float tensors) for
//! x86-64, in IREE's default `embedded-elf-x86_64` form.
//!
//! It infers the file's format, loads it with the `dylib` loader (which checks the ELF before
//! anything is mapped), lists its exports, dispatches the one export with IREE's binding order
//! on `local-task`, and compares the result bit for bit with what IREE's own `iree-run-module`
//! computed (`fixtures/expected/add.f32`).
//!
//! ```sh
//! cargo run -p hal --example iree_shared_object
//! ```
//!
//! Needs the features `local-task` and `loader-dylib` (both defaults).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use hal::{BufferParams, BufferRef, CommandBufferParams, ExecutableParams, Workgroups};

/// Elements of each tensor.
const LEN: usize = 1_048_576;
/// How many workgroups the dispatch needs. The library does not say: IREE's host program (the
/// `.vmfb` the compiler builds beside the kernels) computes it; for this build each workgroup
/// adds 4096 elements, so 256.
const WORKGROUPS: u32 = 256;

fn main() -> Result<()> {
    // The committed fixtures, found from this crate's directory so that the example runs from
    // any working directory.
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let path = fixtures.join("elf/add.embedded.so");
    let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;

    // Which linked loader recognises these bytes, and as what: an ELF shared object that needs
    // no other library is IREE's embedded form, one that needs libc is the system form.
    let format = hal::infer_format(&data).context("no linked loader recognises the file")?;
    ensure!(format == "embedded-elf-x86_64", "inferred {format}");

    let device = hal::create_device("local-task")?;
    let executable = device
        .create_executable_cache()?
        .prepare_executable(&ExecutableParams::new(&format, &data))?;

    // What the library declares about itself. IREE 3.13 describes no parameters, so the
    // exports carry no binding flags (nothing says which bindings are read-only).
    println!(
        "fixtures/elf/add.embedded.so: format {format}, library '{}', {} export(s)",
        executable.library_name(),
        executable.export_count()
    );
    for export in executable.exports() {
        println!(
            "  {}: {} push constants, {} bindings, workgroup size {:?}",
            export.name, export.constant_count, export.binding_count, export.workgroup_size
        );
    }
    ensure!(executable.export_count() == 1, "add.mlir has one dispatch");
    let export = executable.export(0)?;
    ensure!(
        (export.constant_count, export.binding_count) == (0, 3),
        "expected no constants and 3 bindings, got {export:?}"
    );

    // The same inputs `cargo xtask fixtures dylib` gave iree-run-module (every value exact in
    // f32, so the sums are too).
    let a: Vec<f32> = (0..LEN).map(|i| (i % 251) as f32 * 0.25 - 31.0).collect();
    let b: Vec<f32> = (0..LEN).map(|i| (i % 127) as f32 * 0.5 - 16.0).collect();
    let bytes = (LEN * 4) as u64;
    let lhs = device.allocate_buffer(BufferParams::default(), bytes)?;
    let rhs = device.allocate_buffer(BufferParams::default(), bytes)?;
    let out = device.allocate_buffer(BufferParams::default(), bytes)?;
    lhs.write_elements(0, &a)?;
    rhs.write_elements(0, &b)?;

    // IREE's binding order: the dispatch's inputs in operand order, then its results. A compiled
    // kernel cannot see a binding's length, so the buffers must be as large as the program's
    // tensors.
    let mut commands = device.create_command_buffer(CommandBufferParams::one_shot_inline())?;
    commands.begin()?;
    commands.dispatch(
        &executable,
        0,
        Workgroups::Static([WORKGROUPS, 1, 1]),
        &[],
        &[
            BufferRef::whole(&lhs),
            BufferRef::whole(&rhs),
            BufferRef::whole(&out),
        ],
    )?;
    commands.end()?;
    let done = device.create_semaphore(0)?;
    device.queue_execute(&[], &[done.at(1)], &commands, &[])?;
    done.wait(1, Duration::from_secs(10))?;

    let mut got = vec![0u8; LEN * 4];
    out.read(0, &mut got)?;
    let expected = std::fs::read(fixtures.join("expected/add.f32"))?;
    let first_difference = got.iter().zip(&expected).position(|(g, e)| g != e);
    ensure!(
        got.len() == expected.len() && first_difference.is_none(),
        "the output differs from iree-run-module's at byte {first_difference:?}"
    );
    // And from the sums computed here, for good measure.
    let sums = out.read_elements::<f32>(0, LEN)?;
    ensure!(sums
        .iter()
        .zip(a.iter().zip(&b))
        .all(|(s, (x, y))| *s == x + y));
    println!(
        "{LEN} sums on local-task, bit for bit iree-run-module's; out[{}] = {}",
        LEN - 1,
        sums[LEN - 1]
    );
    Ok(())
}
