//! `cargo xtask sanitize [--tool memcheck|helgrind] [--only SUBSTRING] [--full]`: the
//! conformance suite and the model-based tests under valgrind, for the `static` and ELF formats.
//! Clean means: every program passes and valgrind reports 0 errors.
//!
//! # What runs
//! - Programs: the `cts` and `cts_deferred` test programs of driver-sync (local-sync with and
//!   without inline execution) and the `cts` program of driver-task (local-task), every case
//!   (the cases that need no executable, and every executable case for `static`,
//!   `embedded-elf-x86_64` and `system-elf-x86_64`, narrowed with `CTS_FIXTURE_FORMATS`, see
//!   `cts_fixtures::formats`); and the test programs of `crates/model-tests` when that package
//!   exists (picked up when present), one test thread (so that tests do not race each other
//!   through std's futex-based statics), 40 random programs per driver configuration under
//!   memcheck and 16 under helgrind (`--full`: 200), minus what valgrind cannot run (below).
//!   `--only SUBSTRING` keeps the programs whose label contains it.
//! - memcheck (`--leak-check=full`; definite leaks count as errors) on the normal debug test
//!   build (`target/debug`: the very programs `cargo test` runs).
//! - helgrind on a build in which `parking_lot` is replaced by a pthread-backed stand-in
//!   (`crates/xtask/valgrind/parking_lot`): helgrind understands pthread locks, not parking_lot's
//!   futex words, so with the stand-in every access to data behind a parking_lot lock is checked
//!   for real instead of reported falsely. The same build sets `--cfg hal_valgrind`, which turns
//!   the runtime's hand-offs through atomics (a region published to local-task's workers and its
//!   last finisher, a semaphore value reached, an allocation's access gate given back) into
//!   helgrind happens-before annotations (`hal_core::race_annotations`), so the data on both
//!   sides of them — tiles, plans, buffers — is checked too. That build lives in
//!   `target/valgrind`: a mirror of the workspace sources (so neither patch touches the real
//!   `Cargo.lock` or build) with its own target directory. What helgrind still cannot see (the
//!   atomic instructions themselves, std's futex-based locks and channels, `Arc` counts) is
//!   suppressed in `crates/xtask/valgrind/helgrind.supp`, one entry per primitive, each saying
//!   what orders the accesses.
//! - Not run: three cts cases under helgrind (`HELGRIND_SLOW_CASES`: the suite's fixed 10 s
//!   waits and 30 s stress budget do not hold at helgrind's speed, so they fail by timeout);
//!   model-tests' unit test of denormal flushing (valgrind ignores MXCSR's flush-to-zero and
//!   denormals-are-zero bits: a denormal product stays denormal under valgrind); model-tests'
//!   `faults` program (every scenario dispatches a WebAssembly fault kernel, see below).
//! - Time: about 6 minutes on two cores once the builds are done; the first run also builds the
//!   mirror (a few minutes more). Not part of CI, whose machines have no valgrind (see
//!   `ci.rs`).
//!
//! # wasm
//! The `system-wasm-wasm_32` format is not run under valgrind (nor is model-tests' `wasm_trap`
//! fault scenario). What valgrind 3.19 does with loader-wasm, as measured:
//! - loader-wasm keeps device buffers in a 256 GiB sparse memory-file mapping; valgrind refuses
//!   that mapping (its address-space manager fails the mmap with EINVAL), the pool is then
//!   unavailable, and every wasm dispatch fails with UNAVAILABLE ("wasm kernels see bindings
//!   only through the loader's memory pool, which the system refused"). Wasm dispatch cases
//!   would only test that refusal. (The other programs lose nothing: without the pool the local
//!   drivers allocate buffers from the heap, which memcheck then tracks block by block.)
//! - The 6 GiB reservation of each instance is accepted (memcheck warns "set address range
//!   perms: large range"), wasmtime's generated code runs (valgrind's default self-modifying-code
//!   check covers it), and executables load.
//! - Traps work but are reported: an out-of-bounds access traps on a guard page, which memcheck
//!   first reports as an "Invalid read" in a frame with no symbol (generated code) before the
//!   SIGSEGV reaches wasmtime's handler; an `unreachable` is a `ud2`, which valgrind reports as an
//!   unhandled instruction before raising SIGILL. Suppressing these would mean suppressing every
//!   error in generated code.
//!
//! The sandbox's memory safety rests on loader-wasm's own tests instead (sandbox, modules,
//! copies, windows, pool, stress, fork), which run natively.
//!
//! # Output
//! One row per tool × binary: cases passed and failed (from the program's own summary), valgrind
//! errors (must be 0), errors suppressed by our files, and the time taken; then every suppression
//! of ours that matched, with its count. Logs are in `target/sanitize/<tool>-<binary>.log`.
//! Fails if any program failed, any valgrind error remained, or valgrind did not finish.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

/// The formats run under valgrind (everything but wasm; see the module docs).
const FORMATS: &str = "static,embedded-elf-x86_64,system-elf-x86_64";

/// A tool and how valgrind runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Memcheck,
    Helgrind,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Memcheck => "memcheck",
            Tool::Helgrind => "helgrind",
        }
    }

    fn options(self) -> &'static [&'static str] {
        match self {
            Tool::Memcheck => &[
                "--tool=memcheck",
                "--leak-check=full",
                "--show-leak-kinds=definite",
                "--errors-for-leak-kinds=definite",
            ],
            Tool::Helgrind => &["--tool=helgrind"],
        }
    }
}

/// A test program: its row label, package and test target.
struct Program {
    label: String,
    package: &'static str,
    executable: PathBuf,
}

/// How one program runs under one tool: extra arguments, environment and suppression files.
#[derive(Default)]
struct Plan {
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    suppressions: Vec<&'static str>,
}

/// cts cases skipped under helgrind: fixed time bounds of the suite (10 s per wait, 30 s for the
/// stress case) that do not hold at helgrind's speed; they fail by timeout, not by a race.
const HELGRIND_SLOW_CASES: &[&str] = &[
    "queue/host_access_during_work",
    "queue/copies_64x64",
    "stress/random_dag",
];

/// Programs that cannot run under valgrind, with the reason.
fn excluded(program: &Program) -> Option<&'static str> {
    (program.label == "model-tests faults").then_some(
        "its fault kernels include a WebAssembly one in every scenario (the warm-up run \
         included), and wasm dispatches need loader-wasm's pool, which valgrind refuses",
    )
}

/// Unit tests of model-tests skipped under valgrind: valgrind ignores MXCSR's flush-to-zero and
/// denormals-are-zero bits, so a test that checks the runtime's flushing of denormals fails.
const VALGRIND_FP_TESTS: &[&str] = &["float_semantics_flush_denormals"];

/// What `tool` runs of `program`; `full` lifts the subset.
fn plan(tool: Tool, program: &Program, full: bool) -> Plan {
    let mut plan = Plan::default();
    if program.package == "model-tests" {
        // Random programs per driver configuration (× every format): the crate's default is
        // 1000; memcheck runs 40 and helgrind 16 by default (about a minute each), --full 200.
        let cases = match (full, tool) {
            (true, _) => "200",
            (false, Tool::Memcheck) => "40",
            (false, Tool::Helgrind) => "16",
        };
        plan.env = vec![("MODEL_TEST_CASES", cases)];
        plan.args.push("--test-threads=1");
        for test in VALGRIND_FP_TESTS {
            plan.args.extend(["--skip", test]);
        }
    }
    if tool == Tool::Helgrind && program.package != "model-tests" {
        for case in HELGRIND_SLOW_CASES {
            plan.args.extend(["--skip", case]);
        }
    }
    plan
}

/// Options of the command.
struct Options {
    tools: Vec<Tool>,
    only: Option<String>,
    full: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        tools: vec![Tool::Memcheck, Tool::Helgrind],
        only: None,
        full: false,
    };
    let mut index = 0;
    while index < args.len() {
        match args[index].as_str() {
            "--tool" => {
                options.tools = match crate::take_value(args, &mut index, "--tool")?.as_str() {
                    "memcheck" => vec![Tool::Memcheck],
                    "helgrind" => vec![Tool::Helgrind],
                    other => bail!("unknown tool '{other}'; sanitize runs memcheck or helgrind"),
                }
            }
            "--only" => options.only = Some(crate::take_value(args, &mut index, "--only")?),
            "--full" => options.full = true,
            other => bail!(
                "unknown option '{other}' for sanitize; usage: cargo xtask sanitize \
                 [--tool memcheck|helgrind] [--only SUBSTRING] [--full]"
            ),
        }
        index += 1;
    }
    Ok(options)
}

/// What one tool × program run found.
struct Row {
    tool: Tool,
    label: String,
    cases: String,
    program_ok: bool,
    errors: Option<u64>,
    suppressed: BTreeMap<String, u64>,
    elapsed: Duration,
    log: PathBuf,
}

/// Runs the sanitizers; `Ok(true)` when every program passed with no valgrind error.
pub(crate) fn run(args: &[String]) -> Result<bool> {
    let options = parse(args)?;
    let version = Command::new("valgrind")
        .arg("--version")
        .output()
        .context("running valgrind --version (is valgrind installed?)")?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    println!("xtask sanitize: {version}; formats {FORMATS}; wasm is not run under valgrind:");
    println!(
        "  valgrind refuses loader-wasm's 256 GiB buffer pool, so every wasm dispatch would fail \
         with UNAVAILABLE,\n  and every wasm trap (a guard-page fault in generated code) would be \
         a memcheck error (see crates/xtask/src/sanitize.rs)"
    );
    let started = Instant::now();
    let out_dir = crate::target_dir().join("sanitize");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let mut rows = Vec::new();
    for &tool in &options.tools {
        let (root, target_dir) = match tool {
            Tool::Memcheck => (crate::workspace_root(), crate::target_dir()),
            Tool::Helgrind => prepare_pthread_copy()?,
        };
        let programs = build(&root, &target_dir)?;
        for program in &programs {
            if options
                .only
                .as_ref()
                .is_some_and(|only| !program.label.contains(only.as_str()))
            {
                continue;
            }
            if let Some(reason) = excluded(program) {
                println!("xtask sanitize: not run: {}: {reason}", program.label);
                continue;
            }
            rows.push(run_program(tool, program, &root, &out_dir, options.full)?);
        }
    }
    Ok(report(&rows, started.elapsed()))
}

/// Builds the test programs in `root` into `target_dir` and returns them.
fn build(root: &Path, target_dir: &Path) -> Result<Vec<Program>> {
    println!(
        "xtask sanitize: building the test programs in {} (target {})",
        root.display(),
        target_dir.display()
    );
    let mut programs = cargo_test_programs(
        root,
        target_dir,
        &[
            "-p",
            "driver-sync",
            "-p",
            "driver-task",
            "--test",
            "cts",
            "--test",
            "cts_deferred",
        ],
    )?;
    if programs.len() != 3 {
        bail!(
            "cargo built {} cts program(s); expected local-sync's two and local-task's one",
            programs.len()
        );
    }
    if root.join("crates/model-tests/Cargo.toml").exists() {
        // Every test program of model-tests: its unit tests and each integration test.
        programs.extend(cargo_test_programs(
            root,
            target_dir,
            &["-p", "model-tests", "--tests"],
        )?);
    } else {
        println!("xtask sanitize: crates/model-tests does not exist: its tests are left out");
    }
    Ok(programs)
}

/// Runs `cargo test --no-run` with `selection` and returns the test programs it built.
fn cargo_test_programs(root: &Path, target_dir: &Path, selection: &[&str]) -> Result<Vec<Program>> {
    let output = crate::cargo()
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(selection)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running cargo test --no-run {}", selection.join(" ")))?;
    if !output.status.success() {
        bail!(
            "building the test programs ({}) failed ({})",
            selection.join(" "),
            output.status
        );
    }
    let mut programs = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if !line.contains(r#""reason":"compiler-artifact""#) {
            continue;
        }
        let (Some(executable), Some(package), Some(name)) = (
            json_string(line, "executable"),
            json_string(line, "package_id").and_then(|id| {
                ["driver-sync", "driver-task", "model-tests"]
                    .into_iter()
                    .find(|p| id.contains(&format!("/crates/{p}#")))
            }),
            json_string(line, "name"),
        ) else {
            continue;
        };
        let label = match (package, name.as_str()) {
            ("driver-sync", "cts") => "local-sync cts".to_string(),
            ("driver-sync", "cts_deferred") => "local-sync/deferred cts".to_string(),
            ("driver-task", "cts") => "local-task cts".to_string(),
            ("model-tests", name) => format!("model-tests {name}"),
            _ => continue,
        };
        programs.push(Program {
            label,
            package,
            executable: PathBuf::from(executable),
        });
    }
    programs.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(programs)
}

/// The value of the first `"key":"value"` in a line of cargo's JSON (values without quotes).
fn json_string(line: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":\"");
    let start = line.find(&pattern)? + pattern.len();
    let end = start + line[start..].find('"')?;
    Some(line[start..end].to_string())
}

/// Runs one program under `tool`.
fn run_program(
    tool: Tool,
    program: &Program,
    root: &Path,
    out_dir: &Path,
    full: bool,
) -> Result<Row> {
    let stem = format!("{}-{}", tool.name(), program.label.replace(['/', ' '], "-"));
    let log = out_dir.join(format!("{stem}.log"));
    let out = out_dir.join(format!("{stem}.out"));
    let plan = plan(tool, program, full);
    let valgrind_dir = crate::workspace_root().join("crates/xtask/valgrind");
    let mut command = Command::new("valgrind");
    command.args(tool.options()).args([
        "-v",
        "--num-callers=40",
        "--fair-sched=yes",
        "--gen-suppressions=all",
    ]);
    for file in std::iter::once(format!("{}.supp", tool.name()))
        .chain(plan.suppressions.iter().map(|s| s.to_string()))
    {
        command.arg(format!(
            "--suppressions={}",
            valgrind_dir.join(file).display()
        ));
    }
    command
        .arg(format!("--log-file={}", log.display()))
        .arg(&program.executable)
        .args(&plan.args)
        .current_dir(root.join("crates").join(program.package))
        .env("CTS_FIXTURE_FORMATS", FORMATS)
        .env("CTS_WATCHDOG_SECS", "1800")
        .env("RUST_BACKTRACE", "0")
        .envs(plan.env.iter().copied())
        .stdout(std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?)
        .stderr(std::process::Stdio::from(
            std::fs::OpenOptions::new().append(true).open(&out)?,
        ));
    println!(
        "xtask sanitize: {} {} ({})",
        tool.name(),
        program.label,
        program.executable.display()
    );
    let start = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("running valgrind on {}", program.executable.display()))?;
    let elapsed = start.elapsed();
    let output = std::fs::read_to_string(&out).unwrap_or_default();
    let cases = output
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))
        .map(|l| l.trim_start_matches("test result: ").to_string())
        .unwrap_or_else(|| "no test result line".to_string());
    let (errors, suppressed) = read_log(&log)?;
    let row = Row {
        tool,
        label: program.label.clone(),
        cases,
        program_ok: status.success(),
        errors,
        suppressed,
        elapsed,
        log,
    };
    println!(
        "xtask sanitize: {} {}: {} errors, program {} ({}), {:.0?}",
        tool.name(),
        row.label,
        row.errors.map_or("?".to_string(), |e| e.to_string()),
        if row.program_ok { "passed" } else { "FAILED" },
        row.cases,
        elapsed
    );
    Ok(row)
}

/// The error count of a valgrind log and the uses of our suppressions (name → count).
fn read_log(log: &Path) -> Result<(Option<u64>, BTreeMap<String, u64>)> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let mut errors = None;
    let mut suppressed = BTreeMap::new();
    for line in text.lines() {
        if let Some(at) = line.find("ERROR SUMMARY: ") {
            errors = line[at + "ERROR SUMMARY: ".len()..]
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok());
        }
        if let Some(at) = line.find("used_suppression:") {
            let fields: Vec<&str> = line[at + "used_suppression:".len()..]
                .split_whitespace()
                .collect();
            if let [count, name, location, ..] = fields[..] {
                if location.contains("crates/xtask/valgrind/") {
                    *suppressed.entry(name.to_string()).or_insert(0) +=
                        count.parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
    Ok((errors, suppressed))
}

/// Prints the summary; true when everything was clean.
fn report(rows: &[Row], elapsed: Duration) -> bool {
    println!();
    println!(
        "{:<9} {:<34} {:>7} {:>10} {:>8}  cases",
        "tool", "program", "errors", "suppressed", "time"
    );
    let mut clean = true;
    for row in rows {
        let suppressed: u64 = row.suppressed.values().sum();
        println!(
            "{:<9} {:<34} {:>7} {:>10} {:>7.0}s  {}{}",
            row.tool.name(),
            row.label,
            row.errors.map_or("?".to_string(), |e| e.to_string()),
            suppressed,
            row.elapsed.as_secs_f64(),
            if row.program_ok { "" } else { "FAILED: " },
            row.cases
        );
        if row.errors != Some(0) || !row.program_ok {
            clean = false;
            println!("          log: {}", row.log.display());
        }
    }
    let mut by_name: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for row in rows {
        for (name, count) in &row.suppressed {
            *by_name.entry((row.tool.name(), name)).or_insert(0) += count;
        }
    }
    if !by_name.is_empty() {
        println!("\nsuppressed errors by suppression (crates/xtask/valgrind/*.supp says why):");
        for ((tool, name), count) in &by_name {
            println!("  {tool:<9} {name:<60} {count:>8}");
        }
    }
    println!(
        "xtask sanitize: {} in {:.0?}",
        if clean { "clean" } else { "NOT clean" },
        elapsed
    );
    clean
}

/// Mirrors the workspace sources into `target/valgrind/workspace` (only files that changed are
/// rewritten, so cargo rebuilds only what changed), patches `parking_lot` there with the
/// pthread stand-in, and returns the copy's root and its target directory.
fn prepare_pthread_copy() -> Result<(PathBuf, PathBuf)> {
    let source = crate::workspace_root();
    let base = crate::target_dir().join("valgrind");
    let copy = base.join("workspace");
    let manifest = source.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let stand_in = source.join("crates/xtask/valgrind/parking_lot");
    text.push_str(&format!(
        "\n# Added by cargo xtask sanitize: helgrind understands pthread locks, not parking_lot's.\n\
         [patch.crates-io]\nparking_lot = {{ path = \"{}\" }}\n",
        stand_in.display()
    ));
    // And the runtime's race annotations: its hand-offs through atomics become helgrind's
    // happens-before client requests (hal_core::race_annotations).
    let config = source.join(".cargo/config.toml");
    let mut config_text = std::fs::read_to_string(&config)
        .with_context(|| format!("reading {}", config.display()))?;
    config_text.push_str(
        "\n# Added by cargo xtask sanitize: hand-offs through atomics annotated for helgrind.\n\
         [build]\nrustflags = [\"--cfg\", \"hal_valgrind\"]\n",
    );
    let overrides = BTreeMap::from([
        (manifest, text.into_bytes()),
        (config, config_text.into_bytes()),
    ]);
    mirror(&source, &copy, &overrides)?;
    Ok((copy, base.join("target")))
}

/// Makes `to` hold exactly the files of `from` (with the contents of `overrides` for the files
/// it names), minus build outputs and VCS data; the copy's `Cargo.lock` is left to cargo.
fn mirror(from: &Path, to: &Path, overrides: &BTreeMap<PathBuf, Vec<u8>>) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "target" || name_str == ".git" || name_str.starts_with(".venv") {
            continue;
        }
        seen.insert(name.clone());
        let (source, target) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            mirror(&source, &target, overrides)?;
        } else if entry.file_type()?.is_file() {
            if name_str == "Cargo.lock" && target.exists() {
                continue;
            }
            let bytes = match overrides.get(&source) {
                Some(bytes) => bytes.clone(),
                None => std::fs::read(&source)
                    .with_context(|| format!("reading {}", source.display()))?,
            };
            write_if_changed(&target, &bytes)?;
        }
    }
    for entry in std::fs::read_dir(to)? {
        let entry = entry?;
        if !seen.contains(&entry.file_name()) {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` unless it already holds them (keeping its mtime for cargo).
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
