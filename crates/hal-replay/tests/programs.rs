//! Every committed program (crates/hal-replay/fixtures/*/) replayed on every driver, with every
//! executable format and both schedules, gives IREE's results: bit for bit with the x86
//! executables, within the stated tolerance with wasm32; the networks' results also agree with
//! ONNX's own reference outputs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use hal_replay::{
    Capture, Comparison, NpyArray, ReplayOptions, Replayer, Schedule, Substitute, Tolerance,
};

const DRIVERS: &[&str] = &[
    "local-sync",
    "local-sync://?inline_execution=false",
    "local-task",
];

struct Program {
    name: String,
    directory: PathBuf,
    manifest: HashMap<String, String>,
}

impl Program {
    fn get(&self, key: &str) -> Option<&str> {
        self.manifest.get(key).map(String::as_str)
    }

    fn tolerance(&self, key: &str) -> Result<Option<Tolerance>> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        let (first, second) = text
            .split_once(',')
            .with_context(|| format!("{}: {key} = {text}", self.name))?;
        let (first, second): (f32, f32) = (first.trim().parse()?, second.trim().parse()?);
        // wasm32_tolerance is ATOL,RTOL; onnx_tolerance is RTOL,ATOL (the order ONNX's backend
        // test runner states them in).
        Ok(Some(if key == "onnx_tolerance" {
            Tolerance {
                atol: second,
                rtol: first,
            }
        } else {
            Tolerance {
                atol: first,
                rtol: second,
            }
        }))
    }
}

fn programs() -> Result<Vec<Program>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut programs = Vec::new();
    for entry in std::fs::read_dir(&root).with_context(|| format!("{}", root.display()))? {
        let directory = entry?.path();
        let manifest_path = directory.join("program.txt");
        if !manifest_path.exists() {
            continue;
        }
        let mut manifest = HashMap::new();
        for line in std::fs::read_to_string(&manifest_path)?.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .with_context(|| format!("{}: '{line}'", manifest_path.display()))?;
            manifest.insert(key.trim().to_string(), value.trim().to_string());
        }
        programs.push(Program {
            name: directory
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            directory,
            manifest,
        });
    }
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    ensure!(!programs.is_empty(), "no programs in {}", root.display());
    Ok(programs)
}

fn arrays(directory: &Path) -> Result<Vec<NpyArray>> {
    let mut arrays = Vec::new();
    loop {
        let path = directory.join(format!("output_{}.npy", arrays.len()));
        if !path.exists() {
            return Ok(arrays);
        }
        arrays.push(NpyArray::read(&path)?);
    }
}

fn substitutes(
    program: &Program,
    format: &str,
    count: usize,
) -> Result<BTreeMap<usize, Substitute>> {
    let directory = program.directory.join("executables").join(format);
    (0..count)
        .map(|index| {
            let extension = if format == "wasm32" { "wasm" } else { "so" };
            let path = directory.join(format!("{index}.{extension}"));
            Ok((index, Substitute::from_file(&path)?))
        })
        .collect()
}

/// Replays `capture` on `uri` with both schedules and checks the outputs; returns the failures.
fn check(
    program: &Program,
    capture: &Capture,
    capture_name: &str,
    uri: &str,
    format: &str,
    expected: &[NpyArray],
    tolerance: Option<Tolerance>,
) -> Result<Vec<String>> {
    let device = hal::create_device(uri)?;
    let substitutes = match format {
        "captured" => BTreeMap::new(),
        other => substitutes(program, other, capture.summary().executables)?,
    };
    let mut replayer = Replayer::new(
        &device,
        capture,
        ReplayOptions {
            substitutes,
            ..ReplayOptions::default()
        },
    )?;
    let mut failures = Vec::new();
    for schedule in [Schedule::Serial, Schedule::Pipelined] {
        replayer.set_schedule(schedule);
        let case = format!(
            "{} {capture_name} on {uri} with {format} executables, {}",
            program.name,
            schedule.name()
        );
        let run = replayer.run().with_context(|| case.clone())?;
        if run.outputs.len() != expected.len() {
            failures.push(format!(
                "{case}: {} outputs, {} expected",
                run.outputs.len(),
                expected.len()
            ));
            continue;
        }
        for (index, (output, want)) in run.outputs.iter().zip(expected).enumerate() {
            let comparison = Comparison::of(&output.bytes, want, tolerance);
            if comparison != Comparison::BitExact {
                println!("{case}: output {index}: {comparison}");
            }
            if !comparison.matches() {
                failures.push(format!("{case}: output {index}: {comparison}"));
            }
        }
    }
    Ok(failures)
}

/// One program's replays: every capture × driver × format × schedule; returns the failures and
/// the number of replays.
fn check_program(program: &Program) -> Result<(Vec<String>, usize)> {
    let expected = arrays(&program.directory.join("expected"))?;
    ensure!(
        !expected.is_empty(),
        "{}: no expected outputs",
        program.name
    );
    let mut formats = vec![("captured", None), ("system-elf", None)];
    match program.get("wasm32") {
        Some("yes") => formats.push(("wasm32", program.tolerance("wasm32_tolerance")?)),
        Some(reason) if reason.starts_with("no") => {
            println!("{}: no wasm32 run ({reason})", program.name)
        }
        other => bail!("{}: wasm32 = {other:?}", program.name),
    }
    let mut failures = Vec::new();
    let mut cases = 0;
    for capture_name in ["capture.ireereplay", "capture-sync.ireereplay"] {
        let path = program.directory.join(capture_name);
        if !path.exists() {
            continue;
        }
        let capture = Capture::read(&path)?;
        for uri in DRIVERS {
            for (format, tolerance) in &formats {
                failures.extend(check(
                    program,
                    &capture,
                    capture_name,
                    uri,
                    format,
                    &expected,
                    *tolerance,
                )?);
                cases += 2;
            }
        }
    }
    Ok((failures, cases))
}

#[test]
fn every_program_gives_irees_results_on_every_driver_format_and_schedule() -> Result<()> {
    let programs = programs()?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Programs are independent: replay them on every core (each replay is checked in full).
    let results: Vec<Result<(Vec<String>, usize)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut results = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(program) = programs.get(index) else {
                            return results;
                        };
                        results.push(check_program(program));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a replay thread panicked"))
            .collect()
    });
    let mut failures = Vec::new();
    let mut cases = 0;
    for result in results {
        let (program_failures, program_cases) = result?;
        failures.extend(program_failures);
        cases += program_cases;
    }
    println!("{cases} replays of {} programs checked", programs.len());
    ensure!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

#[test]
fn networks_agree_with_onnx_reference_outputs() -> Result<()> {
    for program in programs()? {
        let references = arrays(&program.directory.join("onnx"))?;
        if references.is_empty() {
            continue;
        }
        let tolerance = program
            .tolerance("onnx_tolerance")?
            .with_context(|| format!("{}: onnx/ outputs but no onnx_tolerance", program.name))?;
        let capture = Capture::read(&program.directory.join("capture.ireereplay"))?;
        let device = hal::create_device("local-task")?;
        let run = Replayer::new(&device, &capture, ReplayOptions::default())?.run()?;
        ensure!(
            run.outputs.len() == references.len(),
            "{}: output count",
            program.name
        );
        for (index, (output, reference)) in run.outputs.iter().zip(&references).enumerate() {
            let comparison = Comparison::of(&output.bytes, reference, Some(tolerance));
            ensure!(
                comparison.matches(),
                "{} output {index} against ONNX's reference: {comparison}",
                program.name
            );
        }
    }
    Ok(())
}

#[test]
fn a_substitute_with_other_exports_is_refused_naming_the_difference() -> Result<()> {
    let programs = programs()?;
    let [first, second, ..] = programs.as_slice() else {
        return Ok(());
    };
    let capture = Capture::read(&first.directory.join("capture.ireereplay"))?;
    let foreign = substitutes(second, "system-elf", 1)?;
    let device = hal::create_device("local-sync")?;
    let error = match Replayer::new(
        &device,
        &capture,
        ReplayOptions {
            substitutes: foreign,
            ..ReplayOptions::default()
        },
    ) {
        Ok(_) => bail!(
            "{}'s executable accepted in place of {}'s",
            second.name,
            first.name
        ),
        Err(error) => error,
    };
    assert_eq!(error.code(), hal::StatusCode::Incompatible, "{error}");
    assert!(
        error.message().contains("substitute for executable 0"),
        "{error}"
    );
    Ok(())
}
