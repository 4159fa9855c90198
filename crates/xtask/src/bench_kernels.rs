//! `cargo xtask bench-kernels`: the IREE-compiled add (1M floats, 256 workgroups) and 512³ matmul
//! (64 workgroups) kernels through this runtime (criterion, `crates/loader-dylib/benches/kernels.rs`,
//! on local-sync and local-task) and through `iree-benchmark-executable` on the same `.so` files, in
//! one run, printed as one table of per-dispatch medians with the ratio ours / IREE.
//!
//! The libraries are compiled for this machine's CPU (`--iree-llvmcpu-target-cpu=host`, as
//! IREE.md does) into `target/bench-kernels/elf`; both sides record the same batch of
//! dispatch + barrier pairs per submission.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use crate::google_benchmark::median_time_ns as google_benchmark_median_ns;
use anyhow::{bail, ensure, Context as _, Result};

use crate::fixtures::dylib::{compile_program, FORMS, PROGRAMS};
use crate::iree::{self, iree_bin};
use crate::report::{format_ns, Family, Row, Section};

/// The drivers compared (IREE and the bench know them by the same names).
const DRIVERS: &[&str] = &["local-sync", "local-task"];

/// Dispatches per submission on both sides (the bench's `BATCH`).
const BATCH: usize = 16;

/// The shapes IREE binds, and the workgroup count, per program.
fn iree_bindings(program: &str) -> Result<(&'static [&'static str], &'static str)> {
    Ok(match program {
        "add" => (
            &[
                "--binding=1048576xf32=1",
                "--binding=1048576xf32=2",
                "--binding=1048576xf32",
            ],
            "256,1,1",
        ),
        "matmul" => (
            &[
                "--binding=512x512xf32=1",
                "--binding=512x512xf32=2",
                "--binding=512x512xf32",
            ],
            "64,1,1",
        ),
        other => bail!("no IREE bindings known for program '{other}'"),
    })
}

/// The median point estimate of a criterion benchmark written after `since`, in ns.
fn criterion_median_ns(dir: &Path, since: SystemTime) -> Result<Option<f64>> {
    let path = dir.join("new/estimates.json");
    let Ok(metadata) = std::fs::metadata(&path) else {
        return Ok(None);
    };
    if metadata.modified()? < since {
        return Ok(None); // left over from an earlier run (a driver no longer linked)
    }
    let text = std::fs::read_to_string(&path)?;
    let median = text
        .find("\"median\"")
        .context("no median in criterion estimates")?;
    let rest = &text[median..];
    let key = "\"point_estimate\":";
    let start = rest.find(key).context("no point estimate")? + key.len();
    let end = rest[start..]
        .find([',', '}'])
        .context("malformed estimate")?
        + start;
    Ok(Some(rest[start..end].trim().parse()?))
}

/// Runs both sides and prints the table; `Ok(true)` unless something failed to run. Writes no
/// report: `cargo xtask bench --only kernels` does.
pub(crate) fn run(args: &[String]) -> Result<bool> {
    if let Some(other) = args.first() {
        bail!("unknown option '{other}'; usage: cargo xtask bench-kernels");
    }
    section(Some(&iree_bin()?))?;
    Ok(true)
}

/// Runs both sides (ours only, on the committed baseline fixtures, when `bin`, IREE's, is
/// `None`), prints the table and returns its rows.
pub(crate) fn section(bin: Option<&Path>) -> Result<Section> {
    let out = crate::target_dir().join("bench-kernels");
    let elf = match bin {
        Some(bin) => {
            let elf = out.join("elf");
            std::fs::create_dir_all(&elf)?;
            let mlir = crate::workspace_root().join("fixtures/mlir");
            for program in PROGRAMS {
                let source = mlir.join(format!("{}.mlir", program.name));
                compile_program(bin, &source, program.name, "host", &elf, &out)?;
            }
            elf
        }
        None => crate::workspace_root().join("fixtures/elf"),
    };

    // Ours and IREE's alternate per configuration, so that load from other processes (this
    // machine is shared) hits both sides of a ratio alike.
    let criterion = crate::target_dir().join("criterion");
    let mut rows = Vec::new();
    for driver in DRIVERS {
        for program in PROGRAMS {
            for (form, _) in FORMS {
                let id = format!("kernels-{driver}/{}/{form}", program.name);
                let started = SystemTime::now();
                let mut bench = crate::cargo();
                bench
                    .args(["bench", "-p", "loader-dylib", "--bench", "kernels", "--"])
                    .args(["--exact", &id]);
                if bin.is_some() {
                    bench.env("LOADER_DYLIB_ELF_DIR", &elf);
                }
                let status = bench.status()?;
                ensure!(status.success(), "cargo bench failed ({status})");
                let Some(ours) = criterion_median_ns(&criterion.join(&id), started)? else {
                    println!("bench-kernels: no result for {id} (driver not linked?)");
                    continue;
                };
                let iree = match bin {
                    None => None,
                    Some(bin) => {
                        let (bindings, workgroups) = iree_bindings(program.name)?;
                        let library = elf.join(format!("{}.{form}.so", program.name));
                        let output = iree::run(
                            Command::new(bin.join("iree-benchmark-executable"))
                                .arg(format!("--device={driver}"))
                                .arg(format!("--executable_format={form}-elf-x86_64"))
                                .arg(format!("--executable_file={}", library.display()))
                                .arg("--entry_point=0")
                                .args(bindings)
                                .arg(format!("--workgroup_count={workgroups}"))
                                .arg(format!("--batch_size={BATCH}"))
                                .arg("--benchmark_repetitions=5"),
                        )?;
                        Some(google_benchmark_median_ns(&output)?)
                    }
                };
                rows.push(Row {
                    family: Family::Kernels,
                    name: format!("{} ({form} ELF)", program.name),
                    driver: driver.to_string(),
                    ours_ns: ours / BATCH as f64,
                    iree_ns: iree,
                    note: "per dispatch".into(),
                });
            }
        }
    }
    ensure!(
        !rows.is_empty(),
        "the bench wrote no results under {}",
        criterion.display()
    );

    println!(
        "\n{:<11} {:<22} {:>14} {:>14} {:>7}",
        "driver", "kernel", "ours", "IREE 3.13", "ratio"
    );
    for row in &rows {
        println!(
            "{:<11} {:<22} {:>14} {:>14} {:>7}",
            row.driver,
            row.name,
            format_ns(row.ours_ns),
            row.iree_ns.map_or("–".into(), format_ns),
            row.ratio().map_or("–".into(), |r| format!("{r:.2}"))
        );
    }
    println!(
        "\nPer dispatch, medians; both sides submit {BATCH} x (dispatch + barrier) per command buffer \
         on the same .so files ({}). Target: ratio <= 1.0.",
        elf.display()
    );
    let libraries = if bin.is_some() {
        "compiled by `iree-compile` for this machine's CPU (`--iree-llvmcpu-target-cpu=host`) into \
         `target/bench-kernels/elf`"
    } else {
        "the committed baseline x86-64 fixtures in `fixtures/elf` (IREE not run)"
    };
    Ok(Section {
        family: Family::Kernels,
        command: format!(
            "`cargo xtask bench-kernels` (criterion: `cargo bench -p loader-dylib --bench \
             kernels`; IREE: `iree-benchmark-executable --batch_size={BATCH} \
             --benchmark_repetitions=5` on the same `.so` files)"
        ),
        timed: format!(
            "one dispatch of IREE's own add (1M floats, 256 workgroups) and 512×512×512 matmul \
             (64 workgroups) kernels, {libraries}, in both ELF forms: both sides submit \
             {BATCH} × (dispatch + barrier) per command buffer and wait; the median divided by \
             {BATCH}."
        ),
        rows,
    })
}
