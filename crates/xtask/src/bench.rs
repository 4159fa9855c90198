//! `cargo xtask bench`: this runtime's criterion benchmarks and IREE 3.13 timing the same kind
//! of work, run one after the other in one invocation (this machine is noisy, so only ratios
//! taken side by side mean anything), printed as one table.
//!
//! IREE comes from PyPI into `.venv-iree` at the workspace root (created on first use); its
//! programs are generated from `shared/peer/mlir` and compiled into `target/bench/peer`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context as _, Result};

use crate::google_benchmark::median_ns_per_item as google_benchmark_median_ns;
use crate::iree::{iree_bin, run};

const COMPILE_FLAGS: &[&str] = &[
    "--iree-hal-target-device=local",
    "--iree-hal-local-target-device-backends=llvm-cpu",
    "--iree-llvmcpu-target-cpu=host",
];

/// One row of the table: our figure, IREE's, and the target it is held to.
struct Row {
    metric: &'static str,
    ours_ns: f64,
    iree_ns: Option<f64>,
    target: &'static str,
}

/// The median of a criterion benchmark, in ns.
fn criterion_median_ns(group: &str, name: &str) -> Result<f64> {
    let path = crate::target_dir()
        .join("criterion")
        .join(group)
        .join(name)
        .join("new/estimates.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
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
    Ok(rest[start..end].trim().parse()?)
}

/// Compiles the chain program of `n` dispatches; returns the module and (for n = 1) the
/// dumped system-library executable.
fn compile_chain(bin: &Path, dir: &Path, n: usize) -> Result<(PathBuf, Option<PathBuf>)> {
    let generator = crate::workspace_root().join("../shared/peer/mlir/gen_chain_region.py");
    let source = dir.join(format!("chain{n}.mlir"));
    let mlir = run(Command::new("python3").arg(&generator).arg(n.to_string()))?;
    std::fs::write(&source, mlir)?;
    let module = dir.join(format!("chain{n}.vmfb"));
    let dump = dir.join(format!("chain{n}-executables"));
    run(Command::new(bin.join("iree-compile"))
        .args(COMPILE_FLAGS)
        .arg("--iree-llvmcpu-link-embedded=false")
        .arg(&source)
        .arg("-o")
        .arg(&module)
        .arg(format!(
            "--iree-hal-dump-executable-binaries-to={}",
            dump.display()
        )))?;
    let library = std::fs::read_dir(&dump)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "so"));
    Ok((module, library))
}

/// IREE's per-dispatch cost (64-dispatch batches) and one-dispatch call time on `device`.
fn iree_rows(bin: &Path, device: &str) -> Result<(f64, f64)> {
    let dir = crate::target_dir().join("bench/peer");
    std::fs::create_dir_all(&dir)?;
    let (module, library) = compile_chain(bin, &dir, 1)?;
    let library = library.context("iree-compile dumped no .so for the chain dispatch")?;
    let per_dispatch =
        google_benchmark_median_ns(&run(Command::new(bin.join("iree-benchmark-executable"))
            .arg(format!("--device={device}"))
            .arg("--executable_format=system-elf-x86_64")
            .arg(format!("--executable_file={}", library.display()))
            .args([
                "--entry_point=0",
                "--binding=64xf32=1",
                "--binding=64xf32",
                "--workgroup_count=1,1,1",
            ])
            .args(["--batch_size=64", "--benchmark_repetitions=10"]))?)?;
    let call = google_benchmark_median_ns(&run(Command::new(bin.join("iree-benchmark-module"))
        .arg(format!("--module={}", module.display()))
        .args([
            "--function=chain",
            "--input=64xf32=1",
            "--benchmark_repetitions=10",
        ])
        .arg(format!("--device={device}")))?)?;
    Ok((per_dispatch, call))
}

/// Runs the benchmarks and prints the table; `Ok(true)` unless something failed to run.
pub(crate) fn run_bench(args: &[String]) -> Result<bool> {
    let skip_iree = args.iter().any(|a| a == "--no-iree");
    if let Some(other) = args.iter().find(|a| *a != "--no-iree") {
        bail!("unknown option '{other}' for bench; usage: cargo xtask bench [--no-iree]");
    }
    let status = crate::cargo()
        .args(["bench", "-p", "driver-sync", "--bench", "dispatch"])
        .status()?;
    ensure!(status.success(), "cargo bench failed ({status})");
    let status = crate::cargo()
        .args(["bench", "-p", "driver-task", "--bench", "task"])
        .status()?;
    ensure!(status.success(), "cargo bench failed ({status})");
    let (iree, iree_task) = if skip_iree {
        (None, None)
    } else {
        let bin = iree_bin()?;
        (
            Some(iree_rows(&bin, "local-sync")?),
            Some(iree_rows(&bin, "local-task")?),
        )
    };
    let rows = [
        Row {
            metric: "local-sync: per dispatch, 64-dispatch one-shot inline command buffer",
            ours_ns: criterion_median_ns("cb64", "one_shot_inline_record_submit_wait")? / 64.0,
            iree_ns: iree.map(|(per_dispatch, _)| per_dispatch),
            target: "<= 0.5x IREE",
        },
        Row {
            metric: "local-sync: per dispatch, 64-dispatch reusable command buffer",
            ours_ns: criterion_median_ns("cb64", "reusable_replay_submit_wait")? / 64.0,
            iree_ns: iree.map(|(per_dispatch, _)| per_dispatch),
            target: "<= 0.5x IREE",
        },
        Row {
            metric: "local-sync: the tiny kernel called directly (physical limit)",
            ours_ns: criterion_median_ns("cb64", "direct_call_64")? / 64.0,
            iree_ns: None,
            target: "",
        },
        Row {
            metric: "local-sync: one dispatch, record + submit + wait",
            ours_ns: criterion_median_ns("single", "one_shot_inline_record_submit_wait")?,
            iree_ns: iree.map(|(_, call)| call),
            target: "<= 0.5x IREE",
        },
        Row {
            metric: "local-sync: one queue dispatch + wait",
            ours_ns: criterion_median_ns("single", "queue_dispatch_wait")?,
            iree_ns: iree.map(|(_, call)| call),
            target: "<= 0.5x IREE",
        },
        Row {
            metric: "local-task: one queue dispatch + wait",
            ours_ns: criterion_median_ns("latency_local-task", "")?,
            iree_ns: iree_task.map(|(_, call)| call),
            target: "<= 5 us",
        },
        Row {
            metric: "local-task: per dispatch, 64-dispatch reusable command buffer",
            ours_ns: criterion_median_ns("cb64_local-task", "")? / 64.0,
            iree_ns: iree_task.map(|(per_dispatch, _)| per_dispatch),
            target: "<= 500 ns",
        },
    ];
    println!(
        "\n{:<72} {:>12} {:>12} {:>7}  target",
        "metric", "ours", "IREE 3.13", "ratio"
    );
    for row in &rows {
        let iree = row
            .iree_ns
            .map_or("-".to_string(), |ns| format!("{:.1} ns", ns));
        let ratio = row
            .iree_ns
            .map_or("-".to_string(), |ns| format!("{:.2}", row.ours_ns / ns));
        println!(
            "{:<72} {:>9.1} ns {:>12} {:>7}  {}",
            row.metric, row.ours_ns, iree, ratio, row.target
        );
    }
    println!("\nlarge sample kernels (Rust, static), local-task against local-sync in this run:");
    for kernel in ["add", "matmul"] {
        let task = criterion_median_ns("large", &format!("{kernel}_local-task"))?;
        let sync = criterion_median_ns("large", &format!("{kernel}_local-sync"))?;
        println!(
            "  {kernel:<7} local-task {:>10.1} us   local-sync {:>10.1} us   speedup {:.2}x (target >= 1.9x)",
            task / 1e3,
            sync / 1e3,
            sync / task
        );
    }
    println!("IREE-compiled add and matmul on both drivers against iree-benchmark-executable: cargo xtask bench-kernels");
    println!("\nIREE: per dispatch from iree-benchmark-executable --batch_size=64 (its chain kernel, 64 floats);");
    println!("one dispatch from iree-benchmark-module on a one-dispatch chain program. Ours: cts-kernels 'tiny'.");
    Ok(true)
}
