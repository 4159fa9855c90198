//! `hal-tool replay`: runs an IREE HAL capture on this runtime, times it, and checks what the
//! program read against expected results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use hal_replay::{
    Capture, Comparison, NpyArray, ReplayOptions, Replayer, Schedule, Substitute, Tolerance,
};

/// Replays an IREE HAL capture (`iree-run-module --device_replay_output=F.ireereplay`).
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The capture.
    pub file: PathBuf,
    /// The device to run on, for example `local-sync`, `local-task` or
    /// `local-sync://?inline_execution=false`.
    #[arg(long, default_value = "local-task")]
    pub device: String,
    /// Run other executables in place of the captured ones: a format (`system-elf` or `wasm32`,
    /// found in `executables/<format>/` beside the capture) or a directory holding `N.so`,
    /// `N.wasm` or `N.elf` for the N-th executable the capture prepares.
    #[arg(long)]
    pub executables: Option<String>,
    /// `serial` (wait after each queue operation, as IREE's replayer does) or `pipelined`.
    #[arg(long, default_value = "serial")]
    pub schedule: String,
    /// How many times to run the capture.
    #[arg(long, default_value_t = 1)]
    pub repetitions: usize,
    /// Write the results of the last run as `output_N.npy` into this directory.
    #[arg(long)]
    pub outputs: Option<PathBuf>,
    /// Compare the results with `output_N.npy` in this directory.
    #[arg(long)]
    pub expect: Option<PathBuf>,
    /// Accept float results within `ATOL,RTOL` of the expected ones instead of bit for bit.
    #[arg(long)]
    pub tolerance: Option<String>,
}

/// Exit code when the results differ from the expected ones.
pub const EXIT_MISMATCH: u8 = 3;

/// Runs the command; `Ok(false)` when the results do not match.
pub fn replay(args: &ReplayArgs) -> Result<bool> {
    ensure!(args.repetitions > 0, "--repetitions must be at least 1");
    let schedule = Schedule::from_name(&args.schedule)
        .with_context(|| format!("--schedule '{}': use serial or pipelined", args.schedule))?;
    let tolerance = args.tolerance.as_deref().map(parse_tolerance).transpose()?;
    let capture = Capture::read(&args.file)?;
    let substitutes = match &args.executables {
        None => BTreeMap::new(),
        Some(choice) => substitutes(&args.file, choice, capture.summary().executables)?,
    };
    let expected = args.expect.as_deref().map(read_expected).transpose()?;
    let device = hal::create_device(&args.device)
        .with_context(|| format!("creating device '{}'", args.device))?;
    let summary = capture.summary();
    println!(
        "{}: {} records, {} executable(s), {} dispatches, {} queue operations, {} output(s)",
        args.file.display(),
        summary.records,
        summary.executables,
        summary.dispatches,
        summary.queue_operations,
        summary.outputs
    );
    let mut replayer = Replayer::new(
        &device,
        &capture,
        ReplayOptions {
            schedule,
            substitutes,
            ..ReplayOptions::default()
        },
    )?;
    let mut times = Vec::with_capacity(args.repetitions);
    let mut last = None;
    let mut progress = crate::progress::Progress::new(args.repetitions, "replaying");
    for repetition in 0..args.repetitions {
        let run = replayer
            .run()
            .with_context(|| format!("run {} of {}", repetition + 1, args.repetitions))?;
        if args.repetitions <= 10 {
            progress.println(&format!("run {}: {}", repetition + 1, millis(run.timed)));
        }
        times.push(run.timed);
        last = Some(run);
        progress.step();
    }
    drop(progress);
    let run = last.expect("at least one repetition");
    let scope = if run.scope_found {
        "execute scope"
    } else {
        "whole capture"
    };
    times.sort();
    println!(
        "{} {}, {scope}: median {} (min {}, max {}) over {} run(s)",
        args.device,
        schedule.name(),
        millis(times[times.len() / 2]),
        millis(times[0]),
        millis(times[times.len() - 1]),
        times.len()
    );
    let mut all_match = true;
    for (index, output) in run.outputs.iter().enumerate() {
        let want = expected.as_ref().and_then(|e| e.get(index));
        let line = match want {
            Some(want) => {
                let comparison = Comparison::of(&output.bytes, want, tolerance);
                all_match &= comparison.matches();
                format!("{comparison}")
            }
            None => "no expected result".to_string(),
        };
        println!(
            "output {index}: buffer {} ({} bytes): {line}",
            output.buffer,
            output.bytes.len()
        );
    }
    if let Some(expected) = &expected {
        if expected.len() != run.outputs.len() {
            println!(
                "{} expected result(s), but the program read {}",
                expected.len(),
                run.outputs.len()
            );
            all_match = false;
        }
    }
    if let Some(directory) = &args.outputs {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
        for (index, output) in run.outputs.iter().enumerate() {
            let array = expected
                .as_ref()
                .and_then(|e| e.get(index))
                .and_then(|want| want.with_data(output.bytes.clone()))
                .unwrap_or_else(|| NpyArray::bytes(output.bytes.clone()));
            array.write(&directory.join(format!("output_{index}.npy")))?;
        }
        println!("results written to {}", directory.display());
    }
    Ok(all_match)
}

fn millis(duration: Duration) -> String {
    format!("{:.4} ms", duration.as_secs_f64() * 1e3)
}

fn parse_tolerance(text: &str) -> Result<Tolerance> {
    let parse = |part: &str| -> Result<f32> {
        part.trim()
            .parse()
            .with_context(|| format!("--tolerance '{text}': '{part}' is not a number"))
    };
    let Some((atol, rtol)) = text.split_once(',') else {
        bail!("--tolerance '{text}': give ATOL,RTOL");
    };
    Ok(Tolerance {
        atol: parse(atol)?,
        rtol: parse(rtol)?,
    })
}

/// `output_0.npy`, `output_1.npy`, … from `directory`, stopping at the first missing one.
fn read_expected(directory: &Path) -> Result<Vec<NpyArray>> {
    ensure!(
        directory.is_dir(),
        "--expect {}: not a directory",
        directory.display()
    );
    let mut arrays = Vec::new();
    loop {
        let path = directory.join(format!("output_{}.npy", arrays.len()));
        if !path.exists() {
            break;
        }
        arrays.push(NpyArray::read(&path)?);
    }
    ensure!(
        !arrays.is_empty(),
        "--expect {}: no output_0.npy there",
        directory.display()
    );
    Ok(arrays)
}

fn substitutes(capture: &Path, choice: &str, count: usize) -> Result<BTreeMap<usize, Substitute>> {
    let directory = match choice {
        "system-elf" | "wasm32" => capture
            .parent()
            .unwrap_or(Path::new("."))
            .join("executables")
            .join(choice),
        other => PathBuf::from(other),
    };
    ensure!(
        directory.is_dir(),
        "--executables {choice}: {} is not a directory (give system-elf, wasm32 or a directory)",
        directory.display()
    );
    let mut substitutes = BTreeMap::new();
    for index in 0..count {
        let found = ["so", "wasm", "elf"]
            .iter()
            .map(|extension| directory.join(format!("{index}.{extension}")))
            .find(|path| path.exists())
            .with_context(|| {
                format!(
                    "--executables {choice}: no {index}.so, {index}.wasm or {index}.elf in {}",
                    directory.display()
                )
            })?;
        substitutes.insert(index, Substitute::from_file(&found)?);
    }
    Ok(substitutes)
}
