//! IREE 3.13 from PyPI, in `.venv-iree` at the workspace root: the peer for benchmarks and the
//! compiler for fixtures. Created on first use; nothing else in the repository needs it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{ensure, Context as _, Result};

const IREE_PACKAGES: &[&str] = &["iree-base-compiler==3.13.0", "iree-base-runtime==3.13.0"];

/// What the replay fixtures need beside IREE: the ONNX light model zoo and reference outputs
/// (`onnx`; `iree-import-onnx` needs it too), onnxruntime (the random-weight network's check)
/// and wasmtime (reading the wasm32 substitutes' export tables).
const FIXTURE_PACKAGES: &[&str] = &["onnx==1.23.2", "onnxruntime==1.32.0", "wasmtime==50.0.1"];

/// The `bin` directory of the IREE virtual environment, installing IREE if it is missing.
pub(crate) fn iree_bin() -> Result<PathBuf> {
    let venv = crate::workspace_root().join(".venv-iree");
    let bin = venv.join("bin");
    if bin.join("iree-benchmark-executable").exists() && bin.join("iree-compile").exists() {
        return Ok(bin);
    }
    println!("xtask: installing IREE 3.13 into {}", venv.display());
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet"])
        .args(IREE_PACKAGES))?;
    Ok(bin)
}

/// [`iree_bin`], with [`FIXTURE_PACKAGES`] installed into the environment if they are missing.
pub(crate) fn iree_fixture_bin() -> Result<PathBuf> {
    let bin = iree_bin()?;
    let checks: Vec<String> = FIXTURE_PACKAGES
        .iter()
        .filter_map(|p| p.split_once("=="))
        .map(|(name, version)| format!("version('{name}') == '{version}'"))
        .collect();
    let check = format!(
        "from importlib.metadata import version; import sys; sys.exit(0 if {} else 1)",
        checks.join(" and ")
    );
    let installed = Command::new(bin.join("python"))
        .args(["-c", &check])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        println!("xtask: installing {FIXTURE_PACKAGES:?} into the IREE environment");
        run(Command::new(bin.join("pip"))
            .args(["install", "--quiet"])
            .args(FIXTURE_PACKAGES))?;
    }
    Ok(bin)
}

/// Runs a command to completion; its standard output, or an error with its standard error.
pub(crate) fn run(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(
        output.status.success(),
        "{command:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
