//! Replays an IREE HAL capture on one device and prints what the program read.
//!
//! `cargo run -p hal-replay --example replay -- CAPTURE [DEVICE_URI] [serial|pipelined]`

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use hal_replay::{Capture, ReplayOptions, Replayer, Schedule};

// Links the drivers and loaders into this program.
use hal as _;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        bail!("usage: replay CAPTURE [DEVICE_URI] [serial|pipelined]");
    };
    let uri = args.next().unwrap_or_else(|| "local-task".to_string());
    let schedule = match args.next() {
        None => Schedule::Serial,
        Some(name) => Schedule::from_name(&name).with_context(|| format!("no schedule {name}"))?,
    };
    let capture = Capture::read(&PathBuf::from(&path))?;
    println!("{path}: {:?}", capture.summary());
    let device = hal::create_device(&uri)?;
    let mut replayer = Replayer::new(
        &device,
        &capture,
        ReplayOptions {
            schedule,
            ..ReplayOptions::default()
        },
    )?;
    let run = replayer.run()?;
    println!(
        "{uri} {}: execute scope {:?}, whole run {:?}",
        schedule.name(),
        run.timed,
        run.total
    );
    for output in &run.outputs {
        let floats: Vec<f32> = output
            .bytes
            .chunks_exact(4)
            .take(8)
            .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        println!(
            "output: buffer {} ({} bytes), first floats {floats:?}",
            output.buffer,
            output.bytes.len()
        );
    }
    Ok(())
}
