//! Measures what the pre-load checks miss: damages valid libraries at random, keeps the copies
//! that pass `check_shared_object`, and loads each of them through the runtime in a child process
//! (so a crash is counted, not fatal), counting how each load ends.
//!
//! ```sh
//! cargo run -p loader-dylib --release --example damage_survey -- --mutations 20000 --seed 1
//! ```
//!
//! Options: `--mutations N` (damaged copies to make), `--seed S` (the figures reproduce for the
//! same seed, libraries and checks), `--timeout-ms T` (a load that takes longer is counted as
//! hung), `--no-cdylib` (leave out the Rust cdylib, which is otherwise built with Cargo like
//! `tests/cdylib.rs` does), `--show N` (print the edits of the first N crashes and hangs),
//! `--save DIR` (write every crashing or hanging library there).
//!
//! The valid libraries are `fixtures/elf/*.so` (IREE's embedded and system ELF, and the C
//! `cts_specialized`) and the debug build of `cdylib-kernels`. Damage is what
//! `tests/mutations.rs` does: one to five overwritten bytes or words, truncations and
//! insertions. Each surviving copy is prepared as an executable on a `local-sync` device in the
//! format of the library it came from, then dropped; nothing is dispatched. A load that ends
//! in a signal, or in the system loader's own fatal error (exit status 127 after a failed
//! internal assertion), counts as a crash.
//!
//! The committed fixtures make every row but the cdylib's reproduce exactly; the cdylib is
//! whatever the local toolchain builds.
//!
//! # Figures
//!
//! Seed 1, 20,000 damaged copies (about 2,000 of each of the ten libraries), before and after
//! the checks of what the system loader reads (`src/image.rs`, `dynamic.rs`, `symbols.rs`,
//! `versions.rs`, `relocations.rs`):
//!
//! | checks | passed the checks | loaded | refused at load | crashed | hung |
//! |---|---|---|---|---|---|
//! | headers, segments and sections in the file; the query in `.dynsym` | 2,844 | 2,042 | 340 | 462 (16.2%) | 0 |
//! | and everything the system loader reads, writes or calls; allocated sections where the segments map them | 1,948 | 1,890 | 51 | 7 (0.4%) | 0 |
//!
//! The fixtures alone (`--no-cdylib`), which reproduce exactly: seed 1, 487 of 2,833 survivors
//! crashed before (17.2%), 11 of 1,912 after (0.6%); seed 2, 523 of 2,931 before (17.8%), 20
//! of 1,964 after (1.0%). Every crash after was a crash before. What still crashes is damage to
//! machine code (mostly the query function) and to the data the query returns, or a relocation
//! moved to another plausible place: native code and its data are trusted, not checked.
//! `dlopen` no longer refuses any survivor; what is still refused at load is the runtime's
//! verification of the tables the query returns, and a few copies whose damaged hash chains
//! hide the query from `dlsym`.

#[path = "../tests/common/mutation.rs"]
mod mutation;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use hal_core::ExecutableParams;
use loader_dylib::{check_shared_object, EMBEDDED_ELF_FORMAT, SYSTEM_ELF_FORMAT};
use mutation::Mutation;
use proptest::strategy::{Strategy as _, ValueTree as _};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use driver_sync as _;

/// The child's exit code when the runtime refused the library with an error.
const REFUSED: i32 = 3;
/// The child's exit code when it could not even read its input.
const CHILD_FAILED: i32 = 4;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let format = args.get(1).map(String::as_str).unwrap_or("");
        return child(format, args.get(2).map_or(0, |n| n.parse().unwrap_or(0)));
    }
    match survey(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("damage_survey: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the library on stdin in `format` with `constants` executable constants as the runtime
/// would, then drops it.
fn child(format: &str, constants: usize) -> ExitCode {
    let mut data = Vec::new();
    if std::io::stdin().read_to_end(&mut data).is_err() {
        return ExitCode::from(CHILD_FAILED as u8);
    }
    let loaded = hal_core::create_device("local-sync").and_then(|device| {
        let cache = device.create_executable_cache()?;
        let constants: Vec<u32> = (1..=constants as u32).collect();
        let executable = cache.prepare_executable(&ExecutableParams {
            constants: &constants,
            ..ExecutableParams::new(format, &data)
        })?;
        drop(executable);
        drop(cache);
        drop(device);
        Ok(())
    });
    match loaded {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => {
            println!("{status}");
            ExitCode::from(REFUSED as u8)
        }
    }
}

struct Options {
    mutations: usize,
    seed: u64,
    timeout: Duration,
    cdylib: bool,
    show: usize,
    save: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        mutations: 20000,
        seed: 1,
        timeout: Duration::from_secs(5),
        cdylib: true,
        show: 0,
        save: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|e| format!("{name} {text:?}: {e}"))
        };
        match arg.as_str() {
            "--mutations" => options.mutations = number(arg, value(arg)?)? as usize,
            "--seed" => options.seed = number(arg, value(arg)?)?,
            "--timeout-ms" => options.timeout = Duration::from_millis(number(arg, value(arg)?)?),
            "--show" => options.show = number(arg, value(arg)?)? as usize,
            "--save" => options.save = Some(PathBuf::from(value(arg)?)),
            "--no-cdylib" => options.cdylib = false,
            other => {
                return Err(format!(
                    "unknown argument {other:?} (see the example's docs)"
                ))
            }
        }
    }
    Ok(options)
}

/// A valid library: name, format, how many executable constants it takes, and bytes.
struct Library {
    name: String,
    format: &'static str,
    constants: usize,
    data: Vec<u8>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn libraries(cdylib: bool) -> Result<Vec<Library>, String> {
    let dir = workspace().join("fixtures/elf");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "so"))
        .collect();
    paths.sort();
    let mut libraries = Vec::new();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let format = if name.contains(".embedded.") {
            EMBEDDED_ELF_FORMAT
        } else {
            SYSTEM_ELF_FORMAT
        };
        // The C library of `cts_specialized.c` takes two executable constants; IREE's libraries
        // take none (IREE 3.13 drops them; see `tests/programs.rs`).
        let constants = if name.starts_with("cts_specialized.") {
            2
        } else {
            0
        };
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        libraries.push(Library {
            name,
            format,
            constants,
            data,
        });
    }
    if cdylib {
        let path = build_cdylib()?;
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        libraries.push(Library {
            name: "libcdylib_kernels.so (debug)".into(),
            format: SYSTEM_ELF_FORMAT,
            constants: 0,
            data,
        });
    }
    for library in &libraries {
        check_shared_object(&library.data)
            .map_err(|e| format!("the valid library {} fails the checks: {e}", library.name))?;
    }
    Ok(libraries)
}

/// Builds cdylib-kernels as `tests/cdylib.rs` does and returns its path.
fn build_cdylib() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--quiet", "--offline", "-p", "cdylib-kernels"])
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building cdylib-kernels failed (use --no-cdylib to leave it out):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| workspace().join(dir))
        .unwrap_or_else(|| workspace().join("target"));
    Ok(target.join("debug").join("libcdylib_kernels.so"))
}

/// How the load of one damaged library that passed the checks ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Loaded,
    Refused,
    Crashed,
    Hung,
    /// The child panicked or failed otherwise: a bug in the runtime, never acceptable.
    Failed,
}

/// Loads `data` (`library`, possibly damaged) in a child process.
fn load_in_child(
    library: &Library,
    data: &[u8],
    timeout: Duration,
) -> Result<(Outcome, String), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--child", library.format, &library.constants.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning a child: {e}"))?;
    // The child reads all of its input before it does anything else, so this cannot block on a
    // full output pipe.
    let written = child.stdin.take().unwrap().write_all(data);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("waiting: {e}"))? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let Some(status) = status else {
        return Ok((Outcome::Hung, String::new()));
    };
    if let Some(signal) = status.signal() {
        return Ok((Outcome::Crashed, signal_name(signal)));
    }
    match status.code() {
        Some(0) => Ok((Outcome::Loaded, String::new())),
        Some(REFUSED) => Ok((Outcome::Refused, stdout.trim().to_string())),
        // The system loader's fatal errors (a failed internal assertion) end the process with
        // 127: a crash at load as much as a signal is.
        Some(127) if stderr.contains("ld.so") => Ok((Outcome::Crashed, stderr.trim().to_string())),
        code => {
            written.map_err(|e| format!("writing to the child: {e}"))?;
            Ok((Outcome::Failed, format!("exit {code:?}: {}", stderr.trim())))
        }
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGTRAP => "SIGTRAP".into(),
        other => format!("signal {other}"),
    }
}

#[derive(Default)]
struct Tally {
    mutated: usize,
    passed: usize,
    outcomes: BTreeMap<Outcome, usize>,
}

impl Tally {
    fn count(&self, outcome: Outcome) -> usize {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }

    fn row(&self, name: &str) -> String {
        let percent = |n: usize| {
            if self.passed == 0 {
                0.0
            } else {
                100.0 * n as f64 / self.passed as f64
            }
        };
        let crashed = self.count(Outcome::Crashed);
        format!(
            "{name:<36} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5} {:>5} {:>6.1}%",
            self.mutated,
            self.passed,
            self.count(Outcome::Loaded),
            self.count(Outcome::Refused),
            crashed,
            self.count(Outcome::Hung),
            self.count(Outcome::Failed),
            percent(crashed + self.count(Outcome::Hung)),
        )
    }
}

fn survey(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let libraries = libraries(options.cdylib)?;
    // Undamaged, every library loads; otherwise the figures would mean nothing.
    for library in &libraries {
        let (outcome, detail) = load_in_child(library, &library.data, options.timeout)?;
        if outcome != Outcome::Loaded {
            return Err(format!(
                "the valid library {} does not load: {outcome:?} {detail}",
                library.name
            ));
        }
    }
    if let Some(dir) = &options.save {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // ChaCha seeded from the seed alone: the same seed gives the same damage.
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&options.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let strategy = (0..libraries.len(), mutation::mutations());

    let mut tallies: Vec<Tally> = libraries.iter().map(|_| Tally::default()).collect();
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    let mut shown = 0;
    let started = Instant::now();
    for case in 0..options.mutations {
        let (which, edits): (usize, Vec<Mutation>) = strategy
            .new_tree(&mut runner)
            .map_err(|e| format!("generating damage: {e}"))?
            .current();
        let library = &libraries[which];
        let tally = &mut tallies[which];
        tally.mutated += 1;
        let data = mutation::apply_all(library.data.clone(), &edits);
        if check_shared_object(&data).is_err() {
            continue;
        }
        tally.passed += 1;
        let (outcome, detail) = load_in_child(library, &data, options.timeout)?;
        *tally.outcomes.entry(outcome).or_default() += 1;
        match outcome {
            Outcome::Refused => *refusals.entry(refusal_kind(&detail)).or_default() += 1,
            Outcome::Crashed | Outcome::Hung | Outcome::Failed => {
                if shown < options.show {
                    shown += 1;
                    println!(
                        "case {case}: {} {outcome:?} {detail}: {edits:?}",
                        library.name
                    );
                }
                if let Some(dir) = &options.save {
                    let path = dir.join(format!("{case:06}-{outcome:?}-{}", library.name));
                    std::fs::write(&path, &data).map_err(|e| format!("{}: {e}", path.display()))?;
                }
            }
            Outcome::Loaded => {}
        }
    }

    println!(
        "damage survey: seed {}, {} damaged libraries, {:.0} s",
        options.seed,
        options.mutations,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<36} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5} {:>5} {:>7}",
        "library",
        "damaged",
        "passed",
        "loaded",
        "refused",
        "crashed",
        "hung",
        "fail",
        "crash+hung/passed"
    );
    let mut total = Tally::default();
    for (library, tally) in libraries.iter().zip(&tallies) {
        println!("{}", tally.row(&library.name));
        total.mutated += tally.mutated;
        total.passed += tally.passed;
        for (outcome, n) in &tally.outcomes {
            *total.outcomes.entry(*outcome).or_default() += n;
        }
    }
    println!("{}", total.row("all"));
    if !refusals.is_empty() {
        println!("refused at load, by reason:");
        let mut reasons: Vec<_> = refusals.into_iter().collect();
        reasons.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for (reason, n) in reasons {
            println!("  {n:>6}  {reason}");
        }
    }
    Ok(())
}

/// A refusal message without the values that vary between cases (numbers, paths), so that
/// refusals of one kind are counted together.
fn refusal_kind(message: &str) -> String {
    let mut kind = String::new();
    let mut digits = false;
    let message = message.split("; while").next().unwrap_or(message);
    for c in message.chars().take(160) {
        if c.is_ascii_digit() {
            if !digits {
                kind.push('N');
            }
            digits = true;
        } else {
            digits = false;
            kind.push(c);
        }
    }
    kind
}
