//! `cargo xtask ci`: exactly what CI runs (`.ci/run` calls it), in order, stopping at the first
//! failure: formatting, clippy with warnings as errors, every test of the workspace (unit,
//! integration, doc tests and each driver's conformance suite), every example of the `hal` crate
//! (run, each checking its own results), a two-second-per-combination
//! soak (`cargo xtask soak --debug --seconds 2`), the loom model checks in their own target
//! directory, and the conformance matrix. `cargo xtask sanitize` is not part of CI: CI's machines
//! have only the Rust toolchain, gcc and python3 (see `.ci/run`), no valgrind. Where valgrind is
//! installed, its memcheck half (`--tool memcheck`, about 2.5 minutes on the programs the tests
//! step already built) would fit CI's 30 minutes; the helgrind half needs a second, mirror build.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

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
        // The examples run on the programs the tests step has just built.
        if step.name == "tests" && !run_examples()? {
            return Ok(false);
        }
    }
    println!("xtask ci: conformance matrix");
    crate::cts::run(&[])
}

/// The longest an example may take; each takes well under a second on a dev build.
const EXAMPLE_TIME_LIMIT: Duration = Duration::from_secs(60);

/// Runs every example of the `hal` crate (the ones the README's "Embedding" section lists for
/// users to copy), each of which checks its results and exits non-zero when one is wrong.
///
/// `cargo test --workspace` builds every example of the workspace (to check it compiles), with
/// the workspace's unified features (`loader-wasm` included, for `sandboxed_wasm`), so the build
/// here only asks cargo where they are: it compiles nothing after the tests step. Running each
/// with `cargo run -p hal --example NAME` instead would resolve features for `hal` alone and
/// rebuild the runtime's crates a second time.
fn run_examples() -> Result<bool> {
    let args = [
        "build",
        "--workspace",
        "--examples",
        "--message-format=json-render-diagnostics",
    ];
    println!(
        "xtask ci: examples — cargo {}, then each of hal's",
        args.join(" ")
    );
    let output = crate::cargo()
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .context("building the examples")?;
    if !output.status.success() {
        println!("xtask ci: building the examples failed ({})", output.status);
        return Ok(false);
    }
    let examples = hal_examples(&String::from_utf8_lossy(&output.stdout));
    if examples.is_empty() {
        bail!("cargo built no example of the hal crate");
    }
    for (name, executable) in &examples {
        let started = Instant::now();
        let mut child = std::process::Command::new(executable)
            .current_dir(crate::workspace_root())
            .spawn()
            .with_context(|| format!("starting example {name} ({})", executable.display()))?;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if started.elapsed() > EXAMPLE_TIME_LIMIT {
                child.kill()?;
                child.wait()?;
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match status {
            Some(status) if status.success() => println!(
                "xtask ci: example {name} passed in {:.2} s",
                started.elapsed().as_secs_f64()
            ),
            Some(status) => {
                println!("xtask ci: example {name} failed ({status})");
                return Ok(false);
            }
            None => {
                println!("xtask ci: example {name} took more than {EXAMPLE_TIME_LIMIT:?}: killed");
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The `hal` crate's examples among the artifacts in cargo's JSON messages: name and
/// executable, sorted by name.
fn hal_examples(messages: &str) -> Vec<(String, PathBuf)> {
    let mut examples: Vec<(String, PathBuf)> = messages
        .lines()
        .filter(|line| {
            line.contains(r#""reason":"compiler-artifact""#)
                && line.contains(r#""kind":["example"]"#)
                && json_string(line, "package_id").is_some_and(|id| id.contains("/crates/hal#"))
        })
        .filter_map(|line| {
            Some((
                json_string(line, "name")?,
                PathBuf::from(json_string(line, "executable")?),
            ))
        })
        .collect();
    examples.sort();
    examples.dedup();
    examples
}

/// The value of the first `"key":"value"` in a line of cargo's JSON (values without quotes or
/// escapes, as package ids, target names and paths here are).
fn json_string(line: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":\"");
    let start = line.find(&pattern)? + pattern.len();
    let end = start + line[start..].find('"')?;
    Some(line[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_hal_examples_in_cargo_messages() {
        let messages = [
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/hal#0.1.0","manifest_path":"/w/crates/hal/Cargo.toml","target":{"kind":["example"],"crate_types":["bin"],"name":"sync_static_kernel","src_path":"/w/crates/hal/examples/sync_static_kernel.rs"},"executable":"/w/target/debug/examples/sync_static_kernel","fresh":true}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/hal-replay#0.1.0","target":{"kind":["example"],"name":"replay"},"executable":"/w/target/debug/examples/replay","fresh":true}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/hal#0.1.0","target":{"kind":["lib"],"name":"hal"},"executable":null,"fresh":true}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(
            hal_examples(&messages),
            [(
                "sync_static_kernel".to_string(),
                PathBuf::from("/w/target/debug/examples/sync_static_kernel")
            )]
        );
    }
}
