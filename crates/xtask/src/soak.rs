//! `cargo xtask soak [--seconds N] [--driver NAME] [--format NAME] [--threads N] [--seed N]
//! [--debug]`: builds the soak runner (`crates/soak`) in release (`--debug`: the dev profile,
//! which CI uses because its dependencies are already built by the test step) and runs it.
//!
//! What it promises (see `crates/soak/src/main.rs`): for every driver configuration
//! (`local-sync`, `local-sync/deferred`, `local-task`) × executable format (`static`,
//! `embedded-elf-x86_64`, `system-elf-x86_64`, `system-wasm-wasm_32`), `--threads` host threads
//! (4) share one device for `--seconds` (10) and submit a random mix of queue transfers,
//! dispatches, one-shot and shared reusable command buffers, host calls, host signals and waits,
//! queue allocas, work ordered across threads by one semaphore, and injected failures; every
//! result is checked against a host model. It prints operations per second per driver × format,
//! the operations checked and the results lost (wrong, missing, duplicated or hung), and fails
//! if any result was lost.

use anyhow::{bail, Context as _, Result};

/// Options passed through to the runner (each takes a value).
const PASSED: &[&str] = &["--seconds", "--driver", "--format", "--threads", "--seed"];

/// Builds and runs the soak; `Ok(true)` when no result was lost.
pub(crate) fn run(args: &[String]) -> Result<bool> {
    let mut release = true;
    let mut passed = Vec::new();
    let mut index = 0;
    while index < args.len() {
        match args[index].as_str() {
            "--debug" => release = false,
            flag if PASSED.contains(&flag) => {
                passed.push(flag.to_string());
                passed.push(crate::take_value(args, &mut index, flag)?);
            }
            other => bail!(
                "unknown option '{other}' for soak; usage: cargo xtask soak [--seconds N] \
                 [--driver NAME] [--format NAME] [--threads N] [--seed N] [--debug]"
            ),
        }
        index += 1;
    }

    let profile = if release { "release" } else { "debug" };
    let mut build = crate::cargo();
    build.args(["build", "-p", "soak"]);
    if release {
        build.arg("--release");
    }
    println!(
        "xtask soak: cargo build -p soak{}",
        if release { " --release" } else { "" }
    );
    let status = build.status().context("running cargo build -p soak")?;
    if !status.success() {
        bail!("building the soak runner failed ({status})");
    }

    let binary = crate::target_dir().join(profile).join("soak");
    println!("xtask soak: {} {}", binary.display(), passed.join(" "));
    let status = std::process::Command::new(&binary)
        .args(&passed)
        .current_dir(crate::workspace_root())
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    match status.code() {
        Some(0) => Ok(true),
        Some(1) => {
            println!("xtask soak: results were lost (see above)");
            Ok(false)
        }
        _ => bail!("the soak runner failed to run to the end ({status})"),
    }
}
