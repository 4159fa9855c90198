//! `cargo xtask cts [--driver NAME] [--format NAME]`: runs the conformance suite of each driver
//! (`cargo test -p <package> --test cts -- --report target/cts/<driver>.tsv`), then reads the
//! reports and prints one row per driver × format × suite with passed, failed and skipped
//! counts. Fails if any case failed (FAIL or XPASS) or a test binary did not run to the end.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _, Result};

/// One instantiation of the suite: the row label (the driver name, plus a variant after `/`),
/// the package and its test target.
const DRIVERS: &[(&str, &str, &str)] = &[
    ("local-sync", "driver-sync", "cts"),
    ("local-sync/deferred", "driver-sync", "cts_deferred"),
    ("local-task", "driver-task", "cts"),
];

#[derive(Default, Clone, Copy)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

struct Options {
    driver: Option<String>,
    format: Option<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        driver: None,
        format: None,
    };
    let mut index = 0;
    while index < args.len() {
        match args[index].as_str() {
            "--driver" => options.driver = Some(crate::take_value(args, &mut index, "--driver")?),
            "--format" => options.format = Some(crate::take_value(args, &mut index, "--format")?),
            other => bail!("unknown option '{other}' for cts; usage: cargo xtask cts [--driver NAME] [--format NAME]"),
        }
        index += 1;
    }
    Ok(options)
}

/// One line of a report: driver, format, suite, case id, status, detail.
struct Row {
    driver: String,
    format: String,
    suite: String,
    id: String,
    status: String,
    detail: String,
}

fn read_report(path: &Path) -> Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.splitn(6, '\t').collect();
        let [driver, format, suite, id, status, detail] = fields[..] else {
            bail!(
                "{}:{}: expected 6 tab-separated fields, got {}",
                path.display(),
                number + 1,
                fields.len()
            );
        };
        rows.push(Row {
            driver: driver.into(),
            format: format.into(),
            suite: suite.into(),
            id: id.into(),
            status: status.into(),
            detail: detail.into(),
        });
    }
    Ok(rows)
}

fn counts_of(status: &str) -> Result<Counts> {
    Ok(match status {
        "PASS" | "XFAIL" => Counts {
            passed: 1,
            ..Counts::default()
        },
        "FAIL" | "XPASS" => Counts {
            failed: 1,
            ..Counts::default()
        },
        "SKIP" => Counts {
            skipped: 1,
            ..Counts::default()
        },
        other => bail!("unknown status '{other}' in a report"),
    })
}

/// Runs the suite; `Ok(true)` when everything passed.
pub(crate) fn run(args: &[String]) -> Result<bool> {
    let options = parse(args)?;
    let drivers: Vec<(&str, &str, &str)> = match &options.driver {
        None => DRIVERS.to_vec(),
        Some(name) => {
            let chosen: Vec<_> = DRIVERS
                .iter()
                .copied()
                .filter(|(label, _, _)| label.split('/').next() == Some(name.as_str()))
                .collect();
            if chosen.is_empty() {
                let known: Vec<&str> = DRIVERS.iter().map(|(label, _, _)| *label).collect();
                bail!("no driver named '{name}'; known drivers: {known:?}");
            }
            chosen
        }
    };
    let report_dir = crate::target_dir().join("cts");
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;

    let mut rows = Vec::new();
    let mut broken = Vec::new();
    for (driver, package, test) in &drivers {
        let report = report_dir.join(format!("{}.tsv", driver.replace('/', "-")));
        let _ = std::fs::remove_file(&report);
        let mut command = crate::cargo();
        command
            .args(["test", "-p", package, "--test", test, "--", "--report"])
            .arg(&report);
        if let Some(format) = &options.format {
            command.args(["--format", format]);
        }
        println!(
            "xtask: {driver}: cargo test -p {package} --test {test} -- --report {}",
            report.display()
        );
        let status = command
            .status()
            .with_context(|| format!("running the cts test of {package}"))?;
        if !report.exists() {
            broken.push(format!(
                "{driver}: the test binary wrote no report ({status})"
            ));
            continue;
        }
        let mut driver_rows = read_report(&report)?;
        for row in &mut driver_rows {
            row.driver = driver.to_string();
        }
        let failures = driver_rows
            .iter()
            .filter(|r| r.status == "FAIL" || r.status == "XPASS")
            .count();
        if !status.success() && failures == 0 {
            broken.push(format!(
                "{driver}: the test binary exited with {status} without reporting a failed case"
            ));
        }
        if status.success() && failures > 0 {
            broken.push(format!(
                "{driver}: the test binary exited successfully although {failures} case(s) failed"
            ));
        }
        rows.extend(driver_rows);
    }

    let mut matrix: BTreeMap<(String, String, String), Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for row in &rows {
        let counts = counts_of(&row.status)?;
        matrix
            .entry((row.driver.clone(), row.format.clone(), row.suite.clone()))
            .or_default()
            .add(counts);
        total.add(counts);
    }
    println!();
    println!(
        "{:<20} {:<10} {:<20} {:>7} {:>7} {:>8}",
        "driver", "format", "suite", "passed", "failed", "skipped"
    );
    for ((driver, format, suite), counts) in &matrix {
        println!(
            "{driver:<20} {format:<10} {suite:<20} {:>7} {:>7} {:>8}",
            counts.passed, counts.failed, counts.skipped
        );
    }
    println!(
        "{:<20} {:<10} {:<20} {:>7} {:>7} {:>8}",
        "total", "", "", total.passed, total.failed, total.skipped
    );

    let failed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.status == "FAIL" || r.status == "XPASS")
        .collect();
    if !failed.is_empty() {
        println!("\nfailed cases:");
        for row in &failed {
            println!("  {} {} {}: {}", row.driver, row.status, row.id, row.detail);
        }
    }
    for problem in &broken {
        println!("xtask: {problem}");
    }
    println!(
        "cts: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    Ok(failed.is_empty() && broken.is_empty())
}
