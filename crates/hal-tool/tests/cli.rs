//! `hal-tool` as a user runs it: `list`, `inspect`, `sample`, and how bad command lines end.

mod common;

use std::path::Path;

use common::{hal_tool, repository, text};

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

const ADD_BINDINGS: [&str; 6] = [
    "--binding",
    "1048576xf32=1",
    "--binding",
    "1048576xf32=2",
    "--binding",
    "1048576xf32",
];

#[test]
fn run_prints_the_results_of_iree_executables_in_every_format() {
    for (file, device) in [
        ("fixtures/elf/add.embedded.so", "local-sync"),
        ("fixtures/elf/add.system.so", "local-task"),
        ("fixtures/wasm/add.wasm", "local-sync"),
    ] {
        let path = repository(file);
        let mut args = vec!["run", path.to_str().unwrap(), "--export", "0"];
        args.extend(ADD_BINDINGS);
        args.extend(["--workgroups", "256,1,1", "--device", device]);
        let output = hal_tool(&args);
        let printed = text(&output);
        assert!(output.status.success(), "{file}: {printed}");
        assert!(
            printed.contains("binding 2: 1048576xf32=[3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3"),
            "{file}: {printed}"
        );
    }
    let matmul = repository("fixtures/elf/matmul.system.so");
    let output = hal_tool(&[
        "run",
        matmul.to_str().unwrap(),
        "--export",
        "0",
        "--binding",
        "512x512xf32=1",
        "--binding",
        "512x512xf32=2",
        "--binding",
        "512x512xf32",
        "--workgroups",
        "64,1,1",
        "--print-limit",
        "4",
    ]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains("512x512xf32=[1024 1024 1024 1024"),
        "{printed}"
    );
}

#[test]
fn npy_files_go_in_and_come_out() {
    let directory = std::env::temp_dir().join(format!("hal-tool-npy-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let values: Vec<f32> = (0..1 << 20).map(|i| (i % 1000) as f32 * 0.5).collect();
    let input = hal_replay::NpyArray {
        dtype: "<f4".into(),
        shape: vec![1 << 20],
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    let input_path = directory.join("a.npy");
    input.write(&input_path).unwrap();
    let add = repository("fixtures/elf/add.system.so");
    let output = hal_tool(&[
        "run",
        add.to_str().unwrap(),
        "--export",
        "add_dispatch_0_elementwise_1048576_f32",
        "--binding",
        &format!("@{}", input_path.display()),
        "--binding",
        "1048576xf32=0.25",
        "--binding",
        "1048576xf32",
        "--workgroups",
        "256,1,1",
        "--output",
        directory.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let result = hal_replay::NpyArray::read(&directory.join("binding_2.npy")).unwrap();
    assert_eq!(result.dtype, "<f4");
    assert_eq!(result.shape, [1 << 20]);
    let got = result.as_f32().unwrap();
    assert!(got.iter().zip(&values).all(|(g, v)| *g == v + 0.25));
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn benchmark_reports_time_per_dispatch_and_throughput() {
    let add = repository("fixtures/elf/add.system.so");
    let mut args = vec!["benchmark", add.to_str().unwrap(), "--export", "0"];
    args.extend(ADD_BINDINGS);
    args.extend([
        "--workgroups",
        "256,1,1",
        "--repetitions",
        "3",
        "--batch",
        "2",
        "--bytes",
        "12582912",
        "--device",
        "local-task",
    ]);
    let output = hal_tool(&args);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains("3 submissions of 2 dispatch(es)"),
        "{printed}"
    );
    assert!(printed.contains("per dispatch: median"), "{printed}");
    assert!(printed.contains("GB/s"), "{printed}");
}

#[test]
fn bad_run_arguments_are_named() {
    let add = repository("fixtures/elf/add.system.so");
    let add = add.to_str().unwrap();
    for (extra, needle) in [
        (
            vec!["--workgroups", "1,2"],
            "--workgroups '1,2': give X,Y,Z",
        ),
        (vec!["--workgroups", "1,x,1"], "'x' is not a count"),
        (vec!["--export", "nope"], "no export named 'nope'"),
        (vec!["--export", "7"], "export ordinal 7 is out of range"),
        (vec!["--binding", "4xq1"], "'q1' is not an element type"),
        (vec!["--constant", "5"], "takes 0 push constants, but 1"),
    ] {
        let mut args = vec!["run", add];
        if !extra.contains(&"--export") {
            args.extend(["--export", "0"]);
        }
        if extra[0] != "--binding" {
            args.extend(ADD_BINDINGS);
        } else {
            args.extend(&ADD_BINDINGS[..4]);
        }
        args.extend(&extra);
        let output = hal_tool(&args);
        let printed = text(&output);
        assert_eq!(output.status.code(), Some(1), "{extra:?}: {printed}");
        assert!(printed.contains(needle), "{extra:?}: {printed}");
    }
    let output = hal_tool(&["run", add, "--export", "0", "--binding", "4xf32"]);
    assert!(text(&output).contains("takes 3 bindings, but 1 --binding were given"));
}

/// The messages of the instant events in a Chrome trace file.
fn trace_events(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("the trace was written");
    let events: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    events
        .as_array()
        .expect("a Chrome trace is an array of events")
        .iter()
        .filter(|event| event["ph"] == "i")
        .filter_map(|event| event["args"]["message"].as_str().map(str::to_string))
        .collect()
}

/// The names and threads of the spans that begin in a Chrome trace file.
fn trace_spans(path: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).expect("the trace was written");
    let events: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    events
        .as_array()
        .expect("a Chrome trace is an array of events")
        .iter()
        .filter(|event| event["ph"] == "B")
        .map(|event| {
            (
                event["name"].as_str().unwrap_or_default().to_string(),
                event["tid"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_trace_shows_each_workers_tiles_and_the_sync_drivers_dispatches() {
    let directory = std::env::temp_dir().join(format!("hal-tool-trace-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    // The 512³ matmul: 64 workgroups of about 0.1 ms each, five times over, so both workers
    // take tiles however busy the machine is.
    let matmul = repository("fixtures/elf/matmul.system.so");
    for (device, span) in [
        ("local-task://?workers=2", "tiles"),
        ("local-sync", "dispatch"),
    ] {
        let trace = directory.join("trace.json");
        let mut args = vec!["benchmark", matmul.to_str().unwrap(), "--export", "0"];
        for binding in ["512x512xf32=1", "512x512xf32=2", "512x512xf32"] {
            args.extend(["--binding", binding]);
        }
        args.extend(["--workgroups", "64,1,1", "--device", device]);
        args.extend(["--warmup", "0", "--repetitions", "5"]);
        args.extend(["--trace", trace.to_str().unwrap()]);
        let output = hal_tool(&args);
        assert!(output.status.success(), "{}", text(&output));
        let spans = trace_spans(&trace);
        let threads: std::collections::BTreeSet<u64> = spans
            .iter()
            .filter(|(name, _)| name == span)
            .map(|(_, thread)| *thread)
            .collect();
        assert!(
            !threads.is_empty(),
            "{device}: no '{span}' spans in {spans:?}"
        );
        if span == "tiles" {
            // Two workers: both take tiles.
            assert!(threads.len() >= 2, "tiles ran on {threads:?} only");
            let events = trace_events(&trace);
            for message in [
                "queue operation started",
                "region opened",
                "queue operation finished",
            ] {
                assert!(events.iter().any(|e| e == message), "{message}: {events:?}");
            }
        } else {
            assert!(
                spans.iter().any(|(name, _)| name == "queue_operation"),
                "{spans:?}"
            );
        }
    }
    std::fs::remove_dir_all(&directory).unwrap();
}
