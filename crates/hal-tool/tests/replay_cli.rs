//! `hal-tool replay` as a user runs it: the built binary in a subprocess, on a committed capture.

mod common;

use std::path::PathBuf;

use common::{hal_tool, repository, text};

fn fixture(name: &str) -> PathBuf {
    repository("crates/hal-replay/fixtures").join(name)
}

#[test]
fn replay_matches_the_expected_results_and_writes_them() {
    let mlp = fixture("mlp");
    let out = std::env::temp_dir().join(format!("hal-tool-replay-{}", std::process::id()));
    let output = hal_tool(&[
        "replay",
        mlp.join("capture.ireereplay").to_str().unwrap(),
        "--device",
        "local-sync",
        "--executables",
        "system-elf",
        "--schedule",
        "pipelined",
        "--repetitions",
        "3",
        "--expect",
        mlp.join("expected").to_str().unwrap(),
        "--outputs",
        out.to_str().unwrap(),
    ]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("run 3: "), "{printed}");
    assert!(
        printed.contains("output 0: buffer 18 (320 bytes): bit-exact"),
        "{printed}"
    );
    assert!(
        printed.contains("output 1: buffer 19 (4096 bytes): bit-exact"),
        "{printed}"
    );
    // The written results are the expected arrays: element type, shape and every byte.
    for name in ["output_0.npy", "output_1.npy"] {
        let written = hal_replay::NpyArray::read(&out.join(name)).unwrap();
        let expected = hal_replay::NpyArray::read(&mlp.join("expected").join(name)).unwrap();
        assert_eq!(written, expected, "{name}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn different_results_exit_with_code_3_naming_the_first_difference() {
    // convnet's expected output is not mlp's: sizes differ.
    let output = hal_tool(&[
        "replay",
        fixture("mlp").join("capture.ireereplay").to_str().unwrap(),
        "--device",
        "local-sync",
        "--expect",
        fixture("convnet").join("expected").to_str().unwrap(),
    ]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(3), "{printed}");
    assert!(
        printed.contains("320 bytes produced, 80 expected"),
        "{printed}"
    );
}

#[test]
fn bad_arguments_are_errors_that_name_them() {
    let capture = fixture("mlp").join("capture.ireereplay");
    let capture = capture.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["replay", capture, "--schedule", "eager"],
            "--schedule 'eager'",
        ),
        (
            vec!["replay", capture, "--tolerance", "1e-5"],
            "--tolerance '1e-5'",
        ),
        (
            vec!["replay", capture, "--executables", "nowhere"],
            "--executables nowhere",
        ),
        (
            vec!["replay", capture, "--device", "no-such-driver"],
            "no-such-driver",
        ),
        (
            vec!["replay", "/nonexistent.ireereplay"],
            "/nonexistent.ireereplay",
        ),
        (
            vec!["replay", capture, "--repetitions", "0"],
            "--repetitions",
        ),
    ] {
        let output = hal_tool(&args);
        let printed = text(&output);
        assert!(!output.status.success(), "{args:?}: {printed}");
        assert!(printed.contains(needle), "{args:?}: {printed}");
    }
}
