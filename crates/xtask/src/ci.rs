//! `cargo xtask ci`: exactly what CI runs (`.ci/run` calls it), in order, stopping at the first
//! failure: formatting, clippy with warnings as errors, every test of the workspace (unit,
//! integration, doc tests and each driver's conformance suite), a two-second-per-combination
//! soak (`cargo xtask soak --debug --seconds 2`), the loom model checks in their own target
//! directory, and the conformance matrix. `cargo xtask sanitize` is not part of CI: CI's machines
//! have only the Rust toolchain, gcc and python3 (see `.ci/run`), no valgrind. Where valgrind is
//! installed, its memcheck half (`--tool memcheck`, about 2.5 minutes on the programs the tests
//! step already built) would fit CI's 30 minutes; the helgrind half needs a second, mirror build.

use anyhow::{bail, Context as _, Result};

/// One step: a name and the cargo arguments (plus environment) that run it.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step {
        name: "format",
        args: &["fmt", "--all", "--", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "tests",
        args: &["test", "--workspace"],
        env: &[],
    },
    // A short soak (2 s per driver × format, 12 of them) in the dev profile, whose
    // dependencies the tests step has just built: mixed work from 4 threads, every result
    // checked; fails if one is lost. `cargo xtask soak` runs it longer, in release.
    Step {
        name: "soak",
        args: &["xtask", "soak", "--debug", "--seconds", "2"],
        env: &[],
    },
    Step {
        name: "loom: access gate",
        args: &[
            "test",
            "-p",
            "hal-core",
            "--test",
            "loom_access_gate",
            "--release",
        ],
        env: LOOM,
    },
    Step {
        name: "loom: semaphore, waits and wait lists",
        args: &[
            "test",
            "-p",
            "hal-local",
            "--test",
            "loom_semaphore",
            "--release",
        ],
        env: LOOM,
    },
    Step {
        name: "loom: task-driver sleep and region hand-off",
        args: &[
            "test",
            "-p",
            "driver-task",
            "--test",
            "loom_task",
            "--release",
        ],
        env: LOOM,
    },
];

/// Loom builds with `--cfg loom` in a target directory of their own.
const LOOM: &[(&str, &str)] = &[
    ("RUSTFLAGS", "--cfg loom"),
    ("CARGO_TARGET_DIR", "target/loom"),
];

/// Runs every step; `Ok(true)` when all passed.
pub(crate) fn run(args: &[String]) -> Result<bool> {
    if let Some(extra) = args.first() {
        bail!("ci takes no options (got '{extra}')");
    }
    for step in STEPS {
        println!("xtask ci: {} — cargo {}", step.name, step.args.join(" "));
        let mut command = crate::cargo();
        command.args(step.args);
        for (key, value) in step.env {
            command.env(key, value);
        }
        let status = command
            .status()
            .with_context(|| format!("running the {} step", step.name))?;
        if !status.success() {
            println!("xtask ci: step '{}' failed ({status})", step.name);
            return Ok(false);
        }
    }
    println!("xtask ci: conformance matrix");
    crate::cts::run(&[])
}
