//! Running the built `hal-tool` as a user does, for the command-line tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `path` relative to the repository's root.
pub fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Runs the built binary with `args` (no backtraces, so errors read as users see them).
pub fn hal_tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hal-tool"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("hal-tool runs")
}

/// Everything the run printed: standard output, then standard error.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
