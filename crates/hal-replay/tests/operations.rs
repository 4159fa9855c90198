//! Operations the committed programs capture only in one form, replayed in the other.

use anyhow::{ensure, Context, Result};
use hal_replay::{Capture, Comparison, NpyArray, Operation, ReplayOptions, Replayer, Schedule};

const RECORD_HEADER: usize = 96;
const STATUS_CODE: usize = 76;

/// `convnet`'s capture with its failed `allocator.import_buffer` turned into a successful one.
fn with_successful_import() -> Result<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/convnet/capture.ireereplay"
    );
    let mut file = std::fs::read(path).context(path)?;
    // Walk the records to the import (operation 103) and clear its status.
    let mut offset = 24;
    while offset < file.len() {
        let length = u64::from_le_bytes(file[offset..offset + 8].try_into()?) as usize;
        let operation = u32::from_le_bytes(file[offset + 72..offset + 76].try_into()?);
        if operation == 103 {
            file[offset + STATUS_CODE..offset + STATUS_CODE + 4].fill(0);
            return Ok(file);
        }
        ensure!(length >= RECORD_HEADER, "bad record length");
        offset += length;
    }
    anyhow::bail!("no import_buffer record in {path}")
}

#[test]
fn a_successful_host_buffer_import_is_replayed_with_its_bytes() -> Result<()> {
    let capture = Capture::parse(with_successful_import()?)?;
    let imported = capture
        .steps()
        .iter()
        .find_map(|step| match &step.operation {
            Operation::ImportBuffer { contents, .. } => Some(*contents),
            _ => None,
        })
        .context("the import was not decoded")?;
    ensure!(imported.length == 46464, "{imported:?}");
    let expected = NpyArray::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/convnet/expected/output_0.npy")
            .as_path(),
    )?;
    for uri in ["local-sync", "local-task"] {
        let device = hal::create_device(uri)?;
        let run = Replayer::new(&device, &capture, ReplayOptions::default())?.run()?;
        let comparison = Comparison::of(&run.outputs[0].bytes, &expected, None);
        ensure!(comparison.matches(), "{uri}: {comparison}");
    }
    Ok(())
}

/// A queue operation whose wait only a later record signals: the serial schedule refuses it (it
/// runs records in order); the pipelined one submits it and waits at host sync points only for
/// work that can finish, so it neither hangs nor loses the later record.
#[test]
fn a_wait_that_a_later_record_signals_runs_pipelined_and_is_refused_serially() -> Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/malformed/execute-waits-for-a-later-signal.ireereplay"
    );
    let capture = std::sync::Arc::new(Capture::read(std::path::Path::new(path))?);
    for uri in ["local-sync", "local-task"] {
        let device = hal::create_device(uri)?;
        let error = match Replayer::new(&device, &capture, ReplayOptions::default())?.run() {
            Ok(_) => anyhow::bail!("{uri}: the serial schedule ran a wait on a later record"),
            Err(error) => error,
        };
        ensure!(
            error.code() == hal::StatusCode::FailedPrecondition,
            "{error}"
        );
        ensure!(error.message().contains("later record"), "{error}");
        let (sender, receiver) = std::sync::mpsc::channel();
        let pipelined = capture.clone();
        std::thread::spawn(move || {
            let options = ReplayOptions {
                schedule: Schedule::Pipelined,
                ..ReplayOptions::default()
            };
            let result = Replayer::new(&device, &pipelined, options).and_then(|mut r| r.run());
            let _ = sender.send(result.map(|run| run.outputs.len()));
        });
        let outputs = receiver
            .recv_timeout(std::time::Duration::from_secs(20))
            .with_context(|| format!("{uri}: the pipelined replay hung"))??;
        ensure!(outputs == 1, "{uri}: {outputs} outputs");
    }
    Ok(())
}
