//! The command-line runner: selects instances, runs each under `catch_unwind` with a watchdog,
//! prints one line per case, a per-suite summary and a libtest-style result line, and writes
//! the TSV report.

use std::fs::File;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::case::{expand, Instance};
use crate::ctx::Ctx;
use crate::{Backend, Format};

/// A case running longer than this ends the process (a hang is a failure, not a stuck CI).
/// `CTS_WATCHDOG_SECS` overrides it, for slow instrumented runs.
fn watchdog_limit() -> Duration {
    std::env::var("CTS_WATCHDOG_SECS")
        .ok()
        .and_then(|secs| secs.parse::<u64>().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs)
}

#[derive(Default)]
struct Options {
    format: Option<String>,
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    report: Option<PathBuf>,
    list: bool,
    ignored_only: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--format" => options.format = Some(value("--format")?),
            "--filter" => options.filters.push(value("--filter")?),
            "--skip" => options.skips.push(value("--skip")?),
            "--report" => options.report = Some(PathBuf::from(value("--report")?)),
            "--list" => options.list = true,
            "--exact" => options.exact = true,
            "--ignored" => options.ignored_only = true,
            // libtest flags that take a value: accepted and ignored.
            "--test-threads" | "--color" | "--logfile" | "-Z" | "--shuffle-seed" => {
                value(&arg)?;
            }
            _ if arg.starts_with('-') => {} // any other libtest flag (--nocapture, -q, --format=x, …)
            _ => options.filters.push(arg),
        }
    }
    // `--list --format terse` is how test listers ask libtest for names: not one of our formats.
    if options.list && matches!(options.format.as_deref(), Some("terse" | "json" | "pretty")) {
        options.format = None;
    }
    Ok(options)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    Skip,
    XFail,
    XPass,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
            Outcome::XFail => "XFAIL",
            Outcome::XPass => "XPASS",
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    passed: usize,
    failed: usize,
    ignored: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass | Outcome::XFail => self.passed += 1,
            Outcome::Fail | Outcome::XPass => self.failed += 1,
            Outcome::Skip => self.ignored += 1,
        }
    }

    fn result_line(&self) -> String {
        format!(
            "test result: {}. {} passed; {} failed; {} ignored; 0 measured; 0 filtered out",
            if self.failed > 0 { "FAILED" } else { "ok" },
            self.passed,
            self.failed,
            self.ignored
        )
    }
}

/// What the watchdog and the report share with the main thread.
struct Shared {
    current: Option<(String, String, String, Instant)>, // id, format, suite, start
    report: Option<File>,
    tally: Tally,
    driver: &'static str,
}

static SHARED: Mutex<Option<Shared>> = Mutex::new(None);
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn clean(detail: &str) -> String {
    detail.replace(['\t', '\n', '\r'], " ")
}

fn write_report(
    shared: &mut Shared,
    format: &str,
    suite: &str,
    id: &str,
    outcome: Outcome,
    detail: &str,
) {
    if let Some(file) = shared.report.as_mut() {
        let line = format!(
            "{}\t{format}\t{suite}\t{id}\t{}\t{}\n",
            shared.driver,
            outcome.name(),
            clean(detail)
        );
        if let Err(error) = file.write_all(line.as_bytes()) {
            eprintln!("cts: cannot write the report: {error}");
        }
    }
}

fn start_watchdog() {
    let limit = watchdog_limit();
    std::thread::Builder::new()
        .name("cts-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let mut guard = SHARED.lock();
            let Some(shared) = guard.as_mut() else {
                continue;
            };
            let Some((id, format, suite, start)) = shared.current.clone() else {
                continue;
            };
            if start.elapsed() > limit {
                let detail = format!("watchdog: still running after {} s", limit.as_secs());
                println!("FAIL {id}: {detail}");
                write_report(shared, &format, &suite, &id, Outcome::Fail, &detail);
                shared.tally.add(Outcome::Fail);
                println!("{}", shared.tally.result_line());
                let _ = std::io::stdout().flush();
                std::process::exit(1);
            }
        })
        .expect("spawning the watchdog thread");
}

fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let mut first = FIRST_PANIC.lock();
        if first.is_none() {
            *first = Some(info.to_string());
        }
        drop(first);
        default_hook(info);
    }));
}

fn panic_detail(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    match FIRST_PANIC.lock().take() {
        Some(first) => format!("panicked: {}", first.replace('\n', " ")),
        None => format!("panicked: {message}"),
    }
}

fn prefix_match<'l>(list: &'l [(&'static str, &'static str)], id: &str) -> Option<&'l str> {
    list.iter()
        .find(|(prefix, _)| id.starts_with(prefix))
        .map(|(_, reason)| *reason)
}

/// Runs one instance and returns its outcome and detail.
fn run_instance(backend: &Backend, instance: &Instance<'_>) -> (Outcome, String) {
    if let Some(reason) = prefix_match(backend.unsupported, &instance.id) {
        return (Outcome::Skip, format!("unsupported: {reason}"));
    }
    if let Some(format) = instance.format {
        if let Some(reason) = prefix_match(format.unsupported, &instance.id) {
            return (
                Outcome::Skip,
                format!("unsupported by format {}: {reason}", format.name),
            );
        }
    }
    if let Some(tag) = instance
        .tags()
        .into_iter()
        .find(|tag| !backend.tags.contains(tag))
    {
        return (Outcome::Skip, format!("backend lacks tag {}", tag.name()));
    }
    *FIRST_PANIC.lock() = None;
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<()> {
        let device = hal_core::create_device(backend.uri)
            .map_err(|status| anyhow::anyhow!("creating device '{}': {status}", backend.uri))?;
        let ctx = Ctx::new(backend, device, instance.format, instance.mode);
        (instance.case.run)(&ctx)
    }));
    let elapsed = start.elapsed();
    let failure = match result {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(format!("{error:#}")),
        Err(payload) => Some(panic_detail(payload.as_ref())),
    };
    match (
        failure,
        prefix_match(backend.expected_failures, &instance.id),
    ) {
        (None, None) => (Outcome::Pass, format!("{} ms", elapsed.as_millis())),
        (Some(error), None) => (Outcome::Fail, error),
        (Some(error), Some(reason)) => (
            Outcome::XFail,
            format!("expected failure ({reason}): {error}"),
        ),
        (None, Some(reason)) => (
            Outcome::XPass,
            format!("passed but listed as an expected failure: {reason}"),
        ),
    }
}

pub(crate) fn main(backend: Backend, formats: &[Format]) -> ! {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("cts: {error}");
            std::process::exit(2);
        }
    };
    let selected_formats: Vec<&Format> = match &options.format {
        None => formats.iter().collect(),
        Some(name) => {
            let chosen: Vec<&Format> = formats.iter().filter(|f| f.name == name).collect();
            if chosen.is_empty() {
                let names: Vec<&str> = formats.iter().map(|f| f.name).collect();
                eprintln!("cts: no executable format named '{name}' in this test binary; it has {names:?}");
                std::process::exit(2);
            }
            chosen
        }
    };
    let instances: Vec<Instance<'_>> = expand(&crate::suites::all(), &selected_formats)
        .into_iter()
        .filter(|instance| {
            let matches = |pattern: &String| {
                if options.exact {
                    instance.id == *pattern
                } else {
                    instance.id.contains(pattern.as_str())
                }
            };
            (options.filters.is_empty() || options.filters.iter().any(matches))
                && !options
                    .skips
                    .iter()
                    .any(|skip| instance.id.contains(skip.as_str()))
        })
        .collect();

    if options.list {
        if !options.ignored_only {
            for instance in &instances {
                println!("{}: test", instance.id);
            }
        }
        std::process::exit(0);
    }
    if options.ignored_only {
        println!("{}", Tally::default().result_line());
        std::process::exit(0);
    }

    // Cargo runs test binaries from the package directory: a relative path lands there.
    let report_path = options
        .report
        .as_ref()
        .map(|path| std::path::absolute(path).unwrap_or_else(|_| path.clone()));
    let report = report_path.as_ref().map(|path| {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        File::create(path).unwrap_or_else(|error| {
            eprintln!("cts: cannot create report {}: {error}", path.display());
            std::process::exit(2);
        })
    });
    *SHARED.lock() = Some(Shared {
        current: None,
        report,
        tally: Tally::default(),
        driver: backend.name,
    });
    install_panic_hook();
    start_watchdog();

    println!(
        "cts: {} case instance(s) on '{}' (device URI '{}')",
        instances.len(),
        backend.name,
        backend.uri
    );
    let mut suites: Vec<(&'static str, Tally)> = Vec::new();
    for instance in &instances {
        let format = instance.format.map_or("-", |f| f.name).to_string();
        let suite = instance.case.suite;
        if let Some(shared) = SHARED.lock().as_mut() {
            shared.current = Some((
                instance.id.clone(),
                format.clone(),
                suite.to_string(),
                Instant::now(),
            ));
        }
        let (outcome, detail) = run_instance(&backend, instance);
        match outcome {
            Outcome::Pass => println!("PASS {}", instance.id),
            _ => println!("{} {}: {detail}", outcome.name(), instance.id),
        }
        let _ = std::io::stdout().flush();
        if let Some(shared) = SHARED.lock().as_mut() {
            shared.current = None;
            shared.tally.add(outcome);
            write_report(shared, &format, suite, &instance.id, outcome, &detail);
        }
        match suites.iter_mut().find(|(name, _)| *name == suite) {
            Some((_, tally)) => tally.add(outcome),
            None => {
                let mut tally = Tally::default();
                tally.add(outcome);
                suites.push((suite, tally));
            }
        }
    }

    let tally = SHARED.lock().as_ref().map(|s| s.tally).unwrap_or_default();
    println!();
    println!(
        "{:<20} {:>7} {:>7} {:>8}",
        "suite", "passed", "failed", "skipped"
    );
    for (suite, t) in &suites {
        println!(
            "{suite:<20} {:>7} {:>7} {:>8}",
            t.passed, t.failed, t.ignored
        );
    }
    println!();
    if let Some(path) = &report_path {
        println!("cts: report written to {}", path.display());
    }
    println!("{}", tally.result_line());
    let _ = std::io::stdout().flush();
    if let Some(shared) = SHARED.lock().as_mut() {
        if let Some(file) = shared.report.as_mut() {
            let _ = file.flush();
        }
    }
    std::process::exit(if tally.failed > 0 { 1 } else { 0 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        parse_args(args.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn libtest_flags_are_ignored() {
        let options = parse(&[
            "--nocapture",
            "--test-threads",
            "2",
            "-q",
            "--color",
            "never",
            "--format=json",
            "abs",
        ]);
        assert_eq!(options.format, None);
        assert_eq!(options.filters, vec!["abs".to_string()]);
    }

    #[test]
    fn our_flags_are_read() {
        let options = parse(&[
            "--format",
            "static",
            "--filter",
            "dispatch/",
            "--report",
            "x.tsv",
            "--list",
        ]);
        assert_eq!(options.format.as_deref(), Some("static"));
        assert_eq!(options.filters, vec!["dispatch/".to_string()]);
        assert_eq!(options.report, Some(PathBuf::from("x.tsv")));
        assert!(options.list);
        assert_eq!(parse(&["--list", "--format", "terse"]).format, None);
    }

    #[test]
    fn result_line_is_libtest_shaped() {
        let mut tally = Tally::default();
        tally.add(Outcome::Pass);
        tally.add(Outcome::XFail);
        tally.add(Outcome::Skip);
        assert_eq!(
            tally.result_line(),
            "test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out"
        );
        tally.add(Outcome::XPass);
        assert!(tally
            .result_line()
            .starts_with("test result: FAILED. 2 passed; 1 failed;"));
    }
}
