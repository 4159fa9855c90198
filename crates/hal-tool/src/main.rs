//! `hal-tool`: what this build of the runtime contains, the sample workload on every driver,
//! executables inspected, and IREE captures replayed.
//!
//! ```text
//! hal-tool                      list, then the sample workload on every driver
//! hal-tool list                 drivers (with their URI parameters), loaders, formats
//! hal-tool sample [--device URI]... [--repetitions N]
//! hal-tool inspect FILE [--format F] [--constants C,...]
//! hal-tool run FILE --export NAME|ORDINAL [--binding SPEC]... [--constant N]... [--workgroups X,Y,Z]
//!              [--device URI] [--output DIR]
//! hal-tool benchmark FILE --export ... [--warmup N] [--repetitions N] [--batch N] [--bytes B] [--flops F]
//! hal-tool replay CAPTURE [--device URI] [--executables FORMAT|DIR] [--schedule serial|pipelined]
//!                 [--repetitions N] [--outputs DIR] [--expect DIR] [--tolerance ATOL,RTOL]
//! ```
//! Every command takes `--trace FILE`: a Chrome/Perfetto trace of the runtime's spans.
//!
//! Exit codes: 0 success, 1 an error (printed, naming what was wrong), 2 a bad command line,
//! 3 replayed results that differ from the expected ones.

mod binding_spec;
mod executable_file;
mod inspect;
mod progress;
mod replay;
mod run;
mod sample;

use std::process::ExitCode;

use anyhow::{ensure, Result};
use clap::{Args, Parser, Subcommand};

/// What this runtime contains, its sample workload, executables and IREE captures.
#[derive(Parser, Debug)]
#[command(name = "hal-tool", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Write a Chrome/Perfetto trace of the runtime (submissions, dispatches, each worker's
    /// tiles) to this JSON file; open it in ui.perfetto.dev or chrome://tracing.
    #[arg(long, global = true)]
    trace: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Drivers (with their device URI parameters), executable loaders and formats compiled in.
    List,
    /// The sample workload (1M-float add, 512³ matmul) on devices, checked against a reference.
    Sample(SampleArgs),
    /// An executable file's format, library name and exports.
    Inspect(inspect::InspectArgs),
    /// Dispatches one export of an executable file once and prints its outputs.
    Run(run::RunArgs),
    /// Times one export of an executable file per dispatch.
    Benchmark(run::BenchmarkArgs),
    /// Runs an IREE HAL capture (`iree-run-module --device_replay_output=F.ireereplay`).
    Replay(replay::ReplayArgs),
}

#[derive(Args, Debug, Default)]
struct SampleArgs {
    /// A device URI; every registered driver's default device when none is given.
    #[arg(long = "device")]
    devices: Vec<String>,
    /// Timed repetitions of each kernel.
    #[arg(long, default_value_t = 10)]
    repetitions: usize,
}

fn list() {
    println!("drivers: {}", hal::registered_driver_names().join(", "));
    for registration in hal::registered_drivers() {
        println!("  {:<12} {}", registration.name, registration.description);
        if let Ok(driver) = hal::Driver::create(registration.name) {
            for parameter in driver.parameters() {
                println!("      ?{}=  {}", parameter.name, parameter.description);
            }
        }
    }
    println!("loaders: {}", hal::registered_loader_names().join(", "));
    println!("formats: {}", hal::registered_formats().join(", "));
}

fn sample(args: &SampleArgs) -> Result<()> {
    ensure!(args.repetitions > 0, "--repetitions must be at least 1");
    let devices = if args.devices.is_empty() {
        hal::registered_driver_names()
    } else {
        args.devices.clone()
    };
    ensure!(!devices.is_empty(), "no driver is compiled in");
    println!("sample workload, {} repetitions each:", args.repetitions);
    for uri in &devices {
        sample::run_on(uri, args.repetitions)?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        None => {
            list();
            sample(&SampleArgs {
                repetitions: 10,
                ..SampleArgs::default()
            })?;
        }
        Some(Command::List) => list(),
        Some(Command::Sample(args)) => sample(&args)?,
        Some(Command::Inspect(args)) => inspect::inspect(&args)?,
        Some(Command::Run(args)) => run::run(&args)?,
        Some(Command::Benchmark(args)) => run::benchmark(&args)?,
        Some(Command::Replay(args)) => {
            if !replay::replay(&args)? {
                eprintln!("hal-tool replay: the results differ from the expected ones");
                return Ok(ExitCode::from(replay::EXIT_MISMATCH));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The guard writes the trace out when it drops, after the command.
    let _trace = cli.trace.as_ref().map(|path| {
        use tracing_subscriber::prelude::*;
        let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
            .file(path)
            .include_args(true)
            .build();
        tracing_subscriber::registry().with(layer).init();
        guard
    });
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
