//! # xtask: project automation, run as `cargo xtask <command>`
//!
//! One function and one file per subcommand:
//! - `cts [--driver NAME] [--format NAME]` ([`cts`]): runs each driver's conformance suite and
//!   prints a driver × format × suite matrix.
//! - `ci` ([`ci`]): exactly what CI runs.
//! - `bench [--no-iree] [--only runtime,kernels,replay]` ([`bench`]): every benchmark family
//!   beside IREE's, each printed as a table, then written to `docs/benchmarks.md` with a chart of
//!   the ratios, `docs/benchmarks.svg` ([`report`]).
//! - `bench-kernels` ([`bench_kernels`]): IREE-compiled add and matmul through this runtime and
//!   `iree-benchmark-executable`, as one table (no report).
//! - `bench-replay [--only NAME] [--seconds S]` ([`bench_replay`]): every committed IREE capture
//!   replayed by this runtime and by `iree-benchmark-replay`, per driver, as one table (no
//!   report).
//! - `fixtures [FAMILY...]` ([`fixtures`]): regenerates committed executable fixtures with IREE.
//! - `soak [--seconds N] [--driver NAME] [--format NAME]` ([`soak`]): mixed submissions from
//!   several threads on every driver × format, every result checked; fails if any is lost.
//! - `sanitize [--tool NAME] [--only SUBSTRING] [--full]` ([`sanitize`]): the conformance suite
//!   and the model-based tests under valgrind (memcheck and helgrind), static and ELF formats.

mod bench;
mod bench_kernels;
mod bench_replay;
mod chain_program;
mod ci;
mod cts;
mod fixtures;
mod google_benchmark;
mod iree;
mod report;
mod sanitize;
mod soak;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};

const USAGE: &str = "usage: cargo xtask <command> [options]

commands:
  cts [--driver NAME] [--format NAME]   run the conformance suite of every (or one) driver
  ci                                    run exactly what CI runs (fmt, clippy, tests, loom, cts)
  bench [--no-iree] [--only runtime,kernels,replay]
                                        every benchmark family beside IREE 3.13's, in one run;
                                        writes docs/benchmarks.md and docs/benchmarks.svg
  bench-kernels                         IREE-compiled add and matmul: ours vs iree-benchmark-executable
  bench-replay [--only NAME] [--seconds S]
                                        whole programs: hal-tool replay vs iree-benchmark-replay
  fixtures [dylib | wasm | replay[:PROGRAM,...]]
                                        regenerate committed executable fixtures with IREE 3.13
  soak [--seconds N] [--driver NAME] [--format NAME] [--threads N] [--seed N] [--debug]
                                        mixed work from 4 threads on every driver × format, every
                                        result checked; ops/s, results lost (must be 0)
  sanitize [--tool memcheck|helgrind] [--only SUBSTRING] [--full]
                                        cts and model-based tests under valgrind memcheck and
                                        helgrind (static and ELF formats; wasm cannot run under
                                        valgrind); errors must be 0";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let result = match command.as_deref() {
        Some("cts") => cts::run(&rest),
        Some("ci") => ci::run(&rest),
        Some("bench") => bench::run_bench(&rest),
        Some("bench-kernels") => bench_kernels::run(&rest),
        Some("bench-replay") => bench_replay::run_bench(&rest),
        Some("fixtures") => fixtures::run(&rest),
        Some("soak") => soak::run(&rest),
        Some("sanitize") => sanitize::run(&rest),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        Some(other) => Err(anyhow::anyhow!("unknown command '{other}'\n\n{USAGE}")),
        None => Err(anyhow::anyhow!("no command given\n\n{USAGE}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (this crate lives in `crates/xtask`).
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// The Cargo target directory, honouring `CARGO_TARGET_DIR`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// The cargo that runs us (so `cargo +toolchain xtask` stays on that toolchain).
fn cargo() -> std::process::Command {
    let mut command =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Takes the value of `flag` from `args`, if present.
fn take_value(args: &[String], index: &mut usize, flag: &str) -> Result<String> {
    *index += 1;
    match args.get(*index) {
        Some(value) => Ok(value.clone()),
        None => bail!("{flag} needs a value"),
    }
}
