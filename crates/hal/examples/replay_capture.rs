//! Replays a whole program IREE ran: `crates/hal-replay/fixtures/mlp/capture.ireereplay`, a
//! three-layer perceptron (batch 8, 64-256-128-10, ReLU, softmax) that `iree-run-module` 3.13
//! ran on its local-task device with `--device_replay_output`. The capture holds every HAL call
//! the program made, its compiled kernels (`embedded-elf-x86_64`) and every byte the host wrote,
//! so replaying it needs nothing else; it does not hold the results, which the replay
//! recomputes and this example compares with IREE's outputs (`expected/output_N.npy`), bit for
//! bit.
//!
//! ```sh
//! cargo run -p hal --example replay_capture
//! ```
//!
//! Needs the features `local-task` and `loader-dylib` (both defaults) and the `hal-replay`
//! crate. `cargo run -p hal-tool -- replay CAPTURE ...` does the same from the command line, on
//! any device, format and schedule.

use std::path::PathBuf;

use anyhow::{ensure, Context as _, Result};
use hal_replay::{Capture, Comparison, NpyArray, ReplayOptions, Replayer, Schedule};

fn main() -> Result<()> {
    let program = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hal-replay/fixtures/mlp");

    // The capture is read without trusting it: every length and every object an operation
    // names is checked, and anything wrong is an error naming the record.
    let capture = Capture::read(&program.join("capture.ireereplay"))?;
    println!("mlp capture: {:?}", capture.summary());

    // The captured executables are prepared once here, by whichever loader takes their format.
    let device = hal::create_device("local-task")?;
    let mut replayer = Replayer::new(
        &device,
        &capture,
        ReplayOptions {
            // Submit each queue operation as soon as it is read, ordered only by the captured
            // semaphores (`Schedule::Serial` waits after each one, as IREE's replayer does).
            schedule: Schedule::Pipelined,
            ..ReplayOptions::default()
        },
    )?;
    // Each run replays the whole program on fresh objects.
    let run = replayer.run()?;
    println!(
        "replayed on local-task in {:?} (the program's `execute` scope: {:?})",
        run.total, run.timed
    );

    // The outputs are the buffers the program mapped for reading, in the order it read them,
    // which is the order of iree-run-module's `--output` files.
    ensure!(run.outputs.len() == 2, "{} outputs", run.outputs.len());
    for (index, output) in run.outputs.iter().enumerate() {
        let path = program.join(format!("expected/output_{index}.npy"));
        let expected = NpyArray::read(&path).with_context(|| path.display().to_string())?;
        // No tolerance: the same compiled kernels on the same inputs give the same bits.
        let comparison = Comparison::of(&output.bytes, &expected, None);
        ensure!(
            comparison == Comparison::BitExact,
            "output {index}: {comparison}"
        );
        let first: Vec<f32> = output
            .bytes
            .chunks_exact(4)
            .take(4)
            .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        println!(
            "output {index}: {} {:?}, bit for bit IREE's; first values {first:?}",
            expected.dtype, expected.shape
        );
    }
    Ok(())
}
