//! # soak: nothing lost, nothing crashes
//!
//! ```text
//! soak [--seconds N] [--driver NAME] [--format NAME] [--threads N] [--seed N]
//! ```
//!
//! For every driver — `local-sync`, `local-sync/deferred` (`local-sync://?inline_execution=false`)
//! and `local-task` — and every executable format of `cts_fixtures::formats()` (`static`,
//! `embedded-elf-x86_64`, `system-elf-x86_64`, `system-wasm-wasm_32`), one device is shared by
//! `--threads` host threads (4) for `--seconds` (10, fractions allowed). Each thread runs
//! scenarios picked at random (see `scenarios.rs`): chains of queue fills, updates and copies;
//! queue dispatches of the conformance kernels (`negate`, `double`, `abs`, `workgroup_ids`,
//! `write_constants`, `scale_offset`, `copy_via_local_memory`, `visit`; whole 64-element
//! tiles, 1-3D grids, static and indirect counts); one-shot command buffers (inline and
//! deferred); a reusable command buffer shared by all threads, submitted with binding tables;
//! host calls; host signals and waits (from this thread and another); queue alloca/dealloca;
//! executables prepared while others dispatch; a ring of work ordered across all threads by one
//! semaphore; and injected failures (host calls that fail or panic, semaphores failed by the
//! host, the `fail` kernel where the format can fail) whose downstream must fail with the
//! injected status and leave its buffers untouched, while independent work beside it must
//! complete. Most chains are submitted out of order, so much of the work parks before it runs.
//!
//! Every result is checked against a model computed on the host. A *lost result* is any wrong,
//! missing, duplicated or hung result (a wait bounded at 30 s), an unexpected error or panic, a
//! ring that did not end where its tickets say, a device that no longer works afterwards, or
//! device memory still allocated once every buffer is dropped. A watchdog ends the process if a
//! driver × format runs far past its time (a thread blocked for good).
//!
//! Prints one row per driver × format: operations, operations per second, operations checked,
//! comparisons made, injected failures contained, ring tickets, results lost; then the first
//! losses in full. Operations are queue operations, commands recorded into command buffers (once
//! per submission that runs them), host calls, and host signals, fails and waits.
//!
//! Exit status: 0 when nothing was lost, 1 when anything was (or a run hung), 2 for a usage or
//! setup error. `cargo xtask soak` builds this in release and runs it.

mod env;
mod rng;
mod run;
mod scenarios;
mod timeout;
mod worker;

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};

// Referenced so that the linker keeps the drivers' registrations.
use driver_sync as _;
use driver_task as _;

/// Every driver configuration: the row label and the device URI.
const DRIVERS: &[(&str, &str)] = &[
    ("local-sync", "local-sync"),
    (
        "local-sync/deferred",
        "local-sync://?inline_execution=false",
    ),
    ("local-task", "local-task"),
];

const USAGE: &str =
    "usage: soak [--seconds N] [--driver NAME] [--format NAME] [--threads N] [--seed N]";

struct Options {
    seconds: f64,
    driver: Option<String>,
    format: Option<String>,
    threads: usize,
    seed: Option<u64>,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut options = Options {
        seconds: 10.0,
        driver: None,
        format: None,
        threads: 4,
        seed: None,
    };
    let mut index = 0;
    while index < args.len() {
        let flag = args[index].as_str();
        let mut value = || -> Result<&String> {
            index += 1;
            args.get(index)
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag {
            "--seconds" => {
                let text = value()?;
                options.seconds = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .with_context(|| format!("--seconds takes a positive number, not '{text}'"))?;
            }
            "--driver" => options.driver = Some(value()?.clone()),
            "--format" => options.format = Some(value()?.clone()),
            "--threads" => {
                let text = value()?;
                options.threads = text
                    .parse()
                    .ok()
                    .filter(|&n: &usize| (1..=64).contains(&n))
                    .with_context(|| format!("--threads takes 1 to 64, not '{text}'"))?;
            }
            "--seed" => {
                let text = value()?;
                options.seed = Some(
                    text.parse()
                        .with_context(|| format!("--seed takes an integer, not '{text}'"))?,
                );
            }
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown option '{other}'\n{USAGE}"),
        }
        index += 1;
    }
    Ok(Some(options))
}

/// Keeps injected panics (host calls that panic on purpose) out of the output; every other
/// panic is printed as usual.
fn quiet_injected_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        if !message.starts_with(scenarios::INJECTED) {
            default_hook(info);
        }
    }));
}

fn run(args: &[String]) -> Result<bool> {
    let Some(options) = parse(args)? else {
        println!("{USAGE}");
        return Ok(true);
    };
    let drivers: Vec<(&str, &str)> = DRIVERS
        .iter()
        .copied()
        .filter(|(label, _)| match &options.driver {
            None => true,
            Some(name) => label == name || label.split('/').next() == Some(name.as_str()),
        })
        .collect();
    if drivers.is_empty() {
        let known: Vec<&str> = DRIVERS.iter().map(|(label, _)| *label).collect();
        bail!(
            "no driver named '{}'; known drivers: {known:?}",
            options.driver.as_deref().unwrap_or_default()
        );
    }
    let all_formats = cts_fixtures::formats();
    let formats: Vec<cts::Format> = all_formats
        .iter()
        .copied()
        .filter(|f| options.format.as_deref().is_none_or(|name| f.name == name))
        .collect();
    if formats.is_empty() {
        let known: Vec<&str> = all_formats.iter().map(|f| f.name).collect();
        bail!(
            "no executable format named '{}'; known formats: {known:?}",
            options.format.as_deref().unwrap_or_default()
        );
    }
    let seed = options.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    quiet_injected_panics();
    println!(
        "soak: {} thread(s), {} s per driver × format, {} × {} combinations, seed {seed}",
        options.threads,
        options.seconds,
        drivers.len(),
        formats.len()
    );

    let mut outcomes = Vec::new();
    for &(driver, uri) in &drivers {
        for &format in &formats {
            let outcome = run::run(driver, uri, format, options.seconds, options.threads, seed)?;
            let s = &outcome.stats;
            println!(
                "soak: {driver} × {}: {} ops in {:.1} s ({:.0}/s), {} checked, {} injected failures contained, {} lost",
                outcome.format,
                s.ops,
                outcome.elapsed.as_secs_f64(),
                s.ops as f64 / outcome.elapsed.as_secs_f64(),
                s.checked,
                s.injected,
                s.lost
            );
            outcomes.push(outcome);
        }
    }

    println!();
    println!(
        "{:<20} {:<20} {:>10} {:>9} {:>10} {:>10} {:>8} {:>8} {:>5}",
        "driver", "format", "ops", "ops/s", "checked", "checks", "injected", "tickets", "lost"
    );
    let mut total = worker::Stats::default();
    for outcome in &outcomes {
        let s = &outcome.stats;
        println!(
            "{:<20} {:<20} {:>10} {:>9.0} {:>10} {:>10} {:>8} {:>8} {:>5}",
            outcome.driver,
            outcome.format,
            s.ops,
            s.ops as f64 / outcome.elapsed.as_secs_f64(),
            s.checked,
            s.checks,
            s.injected,
            s.tickets,
            s.lost
        );
        total.add(s);
    }
    println!(
        "{:<20} {:<20} {:>10} {:>9} {:>10} {:>10} {:>8} {:>8} {:>5}",
        "total",
        "",
        total.ops,
        "",
        total.checked,
        total.checks,
        total.injected,
        total.tickets,
        total.lost
    );
    for outcome in outcomes.iter().filter(|o| o.stats.lost > 0) {
        println!(
            "\nlost results on {} × {} (seed {seed}):",
            outcome.driver, outcome.format
        );
        for loss in &outcome.stats.losses {
            println!("  {loss}");
        }
        let described = outcome.stats.losses.len() as u64;
        if outcome.stats.lost > described {
            println!("  … and {} more", outcome.stats.lost - described);
        }
    }
    println!(
        "soak: {} operations, {} checked, {} results lost",
        total.ops, total.checked, total.lost
    );
    Ok(total.lost == 0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("soak: {error:#}");
            ExitCode::from(2)
        }
    }
}
