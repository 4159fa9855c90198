//! `hal-tool` as a user runs it: `list`, `inspect`, `sample`, and how bad command lines end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn hal_tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hal-tool"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("hal-tool runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn list_names_drivers_with_their_parameters_loaders_and_formats() {
    let output = hal_tool(&["list"]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    for needle in [
        "drivers: local-sync, local-task",
        "?inline_execution=",
        "?workers=",
        "loaders: dylib, static, wasm",
        "system-wasm-wasm_32",
    ] {
        assert!(printed.contains(needle), "{needle}: {printed}");
    }
}

#[test]
fn inspect_reads_every_executable_format_iree_makes() {
    let fixtures = repository("crates/hal-replay/fixtures/convnet");
    // The dylib loader cannot tell IREE's system and embedded ELFs apart when the library needs
    // nothing from the system (it loads both the same way), so either name is right for a .so.
    for (file, format) in [
        ("executables/system-elf/0.so", "elf-x86_64 (inferred)"),
        (
            "executables/wasm32/0.wasm",
            "system-wasm-wasm_32 (inferred)",
        ),
    ] {
        let path = fixtures.join(file);
        let output = hal_tool(&["inspect", path.to_str().unwrap()]);
        let printed = text(&output);
        assert!(output.status.success(), "{file}: {printed}");
        assert!(printed.contains(format), "{format}: {printed}");
        assert!(printed.contains("library: main_dispatch_0"), "{printed}");
        assert!(printed.contains("0: main_dispatch_0_"), "{printed}");
        assert!(printed.contains("workgroup size: 1x1x1"), "{printed}");
    }
    // Executable constants, binding flags, local memory and export flags.
    let specialized = repository("fixtures/elf/cts_specialized.system.so");
    let specialized = specialized.to_str().unwrap();
    let output = hal_tool(&["inspect", specialized, "--constants", "1,2"]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    for needle in [
        "executable constants: 2",
        "1: local_memory_size",
        "bindings: 0 (read-only), 1 (read-write)",
        "local memory: 4096 bytes",
        "SEQUENTIAL",
    ] {
        assert!(printed.contains(needle), "{needle}: {printed}");
    }
    let output = hal_tool(&["inspect", specialized]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("takes 2 executable constants"));
}

#[test]
fn sample_runs_and_checks_the_workload_on_the_given_device() {
    let output = hal_tool(&["sample", "--device", "local-sync", "--repetitions", "1"]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("local-sync"), "{printed}");
}

#[test]
fn bad_command_lines_exit_non_zero_naming_what_is_wrong() {
    let readme = repository("README.md");
    for (args, code, needle) in [
        (vec!["bogus"], 2, "unrecognized subcommand 'bogus'"),
        (vec!["sample", "--repetitions", "x"], 2, "invalid value 'x'"),
        (
            vec!["sample", "--repetitions", "0"],
            1,
            "--repetitions must be at least 1",
        ),
        (vec!["sample", "--device", "nowhere"], 1, "nowhere"),
        (vec!["inspect", "/nonexistent.so"], 1, "/nonexistent.so"),
        (
            vec!["inspect", readme.to_str().unwrap()],
            1,
            "no linked loader recognises it",
        ),
        (
            vec![
                "inspect",
                readme.to_str().unwrap(),
                "--format",
                "system-elf-x86_64",
            ],
            1,
            "ELF",
        ),
    ] {
        let output = hal_tool(&args);
        let printed = text(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {printed}");
        assert!(printed.contains(needle), "{args:?}: {printed}");
    }
}
