//! `cargo xtask bench-replay [--only NAME] [--seconds S]`: every committed program
//! (`crates/hal-replay/fixtures/*/capture.ireereplay`) replayed by this runtime (`hal-tool replay`,
//! release build) and by IREE's `iree-benchmark-replay --replay_scope=execute` on the same capture
//! and executables, per driver, in one run, interleaved so that the machine's noise hits both
//! sides alike; plus this runtime's pipelined schedule, which IREE's replayer has no equal of.
//!
//! Both sides time the capture's `execute` scope (the program's main call: input upload, queue
//! allocations, the main command buffer, the readback) and run the whole capture each iteration.
//! IREE reports the median over repetitions of its per-iteration mean; we report the median of
//! per-run times. Where a program's manifest gives `flops` (per run), GFLOP/s is printed too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use crate::google_benchmark::median_ns_per_item;
use crate::iree::{iree_bin, run};
use crate::report::{Family, Row, Section};

const DRIVERS: &[&str] = &["local-sync", "local-task"];

/// Which programs, and about how long each side runs each.
pub(crate) struct Options {
    only: Option<String>,
    seconds: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            only: None,
            seconds: 2.0,
        }
    }
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => options.only = Some(args.next().context("--only needs a name")?.clone()),
            "--seconds" => {
                let value = args.next().context("--seconds needs a number")?;
                options.seconds = value
                    .parse()
                    .with_context(|| format!("--seconds '{value}'"))?;
            }
            other => bail!(
                "unknown option '{other}'; usage: cargo xtask bench-replay [--only NAME] [--seconds S]"
            ),
        }
    }
    Ok(options)
}

/// The committed programs, sorted by name, with their manifests' `flops` when given.
fn programs(only: Option<&str>) -> Result<Vec<(String, PathBuf, Option<f64>)>> {
    let root = crate::workspace_root().join("crates/hal-replay/fixtures");
    let mut programs = Vec::new();
    for entry in std::fs::read_dir(&root).with_context(|| format!("{}", root.display()))? {
        let directory = entry?.path();
        let capture = directory.join("capture.ireereplay");
        if !capture.exists() {
            continue;
        }
        let name = directory
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if only.is_some_and(|only| only != name) {
            continue;
        }
        let manifest = std::fs::read_to_string(directory.join("program.txt")).unwrap_or_default();
        let flops = manifest.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "flops").then(|| value.trim().parse().ok())?
        });
        programs.push((name, capture, flops));
    }
    programs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(programs)
}

/// IREE's median time per replay of the execute scope, in ns.
fn iree_ns(bin: &Path, capture: &Path, driver: &str, iterations: usize) -> Result<f64> {
    let output = run(Command::new(bin.join("iree-benchmark-replay"))
        .arg(format!("--device={driver}"))
        .arg("--replay_scope=execute")
        .arg(format!("--benchmark_min_time={iterations}x"))
        .arg("--benchmark_repetitions=5")
        .arg(capture))?;
    median_ns_per_item(&output)
}

/// Our median time per run of the execute scope, in ns, from `hal-tool replay`.
fn ours_ns(tool: &Path, capture: &Path, driver: &str, schedule: &str, runs: usize) -> Result<f64> {
    let output = run(Command::new(tool)
        .arg("replay")
        .arg(capture)
        .args(["--device", driver, "--schedule", schedule])
        .args(["--repetitions", &runs.to_string()]))?;
    let line = output
        .lines()
        .find(|line| line.contains("median"))
        .with_context(|| format!("no median in hal-tool's output:\n{output}"))?;
    let value = line
        .split("median ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|ms| ms.trim().parse::<f64>().ok())
        .with_context(|| format!("cannot read the median from '{line}'"))?;
    Ok(value * 1e6)
}

fn ms(ns: f64) -> String {
    if ns < 1e5 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// Runs both sides for every program and prints one table. Writes no report:
/// `cargo xtask bench --only replay` does.
pub(crate) fn run_bench(args: &[String]) -> Result<bool> {
    let options = parse(args)?;
    section(&options, Some(&iree_bin()?))?;
    Ok(true)
}

/// Runs both sides (ours only when `bin`, IREE's, is `None`) for every program, printing each
/// row as it comes, and returns the rows: serial and pipelined, each against IREE's time.
pub(crate) fn section(options: &Options, bin: Option<&Path>) -> Result<Section> {
    let status = Command::new("cargo")
        .current_dir(crate::workspace_root())
        .args(["build", "--release", "-q", "-p", "hal-tool"])
        .status()?;
    if !status.success() {
        bail!("building hal-tool failed");
    }
    let tool = crate::target_dir().join("release/hal-tool");
    let programs = programs(options.only.as_deref())?;
    if programs.is_empty() {
        bail!("no programs to run");
    }
    println!(
        "| program | driver | IREE 3.13 | ours, serial | ratio | ours, pipelined | ratio | GFLOP/s (ours serial) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for (name, capture, flops) in &programs {
        for driver in DRIVERS {
            // One run sizes both sides to about `seconds` of work each.
            let probe = match bin {
                Some(bin) => iree_ns(bin, capture, driver, 1)?,
                None => ours_ns(&tool, capture, driver, "serial", 1)?,
            };
            let budget = Duration::from_secs_f64(options.seconds).as_nanos() as f64;
            let iterations = ((budget / 5.0 / probe.max(1.0)) as usize).clamp(1, 2000);
            let runs = ((budget / probe.max(1.0)) as usize).clamp(5, 10_000);
            let iree = match bin {
                Some(bin) => Some(iree_ns(bin, capture, driver, iterations)?),
                None => None,
            };
            let serial = ours_ns(&tool, capture, driver, "serial", runs)?;
            let pipelined = ours_ns(&tool, capture, driver, "pipelined", runs)?;
            let gflops = flops.map(|flops| format!("{:.1}", flops / serial));
            let ratio = |ours: f64| iree.map_or("–".into(), |iree| format!("{:.2}", ours / iree));
            println!(
                "| {name} | {driver} | {} | {} | {} | {} | {} | {} |",
                iree.map_or("–".into(), ms),
                ms(serial),
                ratio(serial),
                ms(pipelined),
                ratio(pipelined),
                gflops.as_deref().unwrap_or("–")
            );
            let row = |schedule: &str, ours_ns: f64, note: String| Row {
                family: Family::Replay,
                name: format!("{name}, {schedule}"),
                driver: driver.to_string(),
                ours_ns,
                iree_ns: iree,
                note,
            };
            let per_run = match &gflops {
                Some(gflops) => format!("per run; {gflops} GFLOP/s"),
                None => "per run".to_string(),
            };
            rows.push(row("serial", serial, per_run));
            rows.push(row(
                "pipelined",
                pipelined,
                "per run; IREE's replayer has serial only".into(),
            ));
        }
    }
    Ok(Section {
        family: Family::Replay,
        command: format!(
            "`cargo xtask bench-replay` (ours: `hal-tool replay CAPTURE --device D --schedule \
             serial|pipelined --repetitions N`, release build; IREE: `iree-benchmark-replay \
             --device=D --replay_scope=execute --benchmark_repetitions=5`), about {} s per side",
            options.seconds
        ),
        timed: "the execute scope of every committed capture (`crates/hal-replay/fixtures/`): \
                the program's main call with its input upload, queue allocations, main command \
                buffer and readback, the whole capture run each iteration. IREE's figure is the \
                median over repetitions of its per-iteration mean; ours the median of per-run \
                times. Serial waits for each queue operation as IREE's replayer does; \
                pipelined submits as the captured semaphores allow."
            .into(),
        rows,
    })
}
