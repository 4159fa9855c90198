//! A capture read into memory and decoded: the file's bytes and the program they record.

use std::path::Path;

use hal_core::{Result, Status};

use crate::container::Container;
use crate::program::{self, Operation, QueueWork, Step};

/// An IREE HAL capture, checked and decoded. Nothing in the file is trusted: every length is
/// checked against the file, every object an operation names must exist, and whatever cannot
/// be replayed is an error naming its record.
#[derive(Clone, Debug)]
pub struct Capture {
    file: Vec<u8>,
    version_minor: u16,
    record_count: usize,
    steps: Vec<Step>,
}

/// Counts that describe a capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records in the file.
    pub records: usize,
    /// Executables prepared.
    pub executables: usize,
    /// Dispatches, recorded or queued.
    pub dispatches: usize,
    /// Queue operations.
    pub queue_operations: usize,
    /// Command buffers created.
    pub command_buffers: usize,
    /// Buffers the program reads results from.
    pub outputs: usize,
}

impl Capture {
    /// Checks and decodes a capture's bytes.
    pub fn parse(file: Vec<u8>) -> Result<Capture> {
        let container = Container::parse(&file)?;
        let steps = program::decode(&file, &container)?;
        Ok(Capture {
            version_minor: container.version_minor,
            record_count: container.records.len(),
            steps,
            file,
        })
    }

    /// Reads and decodes the capture at `path`.
    pub fn read(path: &Path) -> Result<Capture> {
        let file = std::fs::read(path)
            .map_err(|error| Status::not_found(format!("reading {}: {error}", path.display())))?;
        Capture::parse(file).map_err(|status| status.with_context(format!("in {}", path.display())))
    }

    /// The file's bytes.
    pub fn file(&self) -> &[u8] {
        &self.file
    }

    /// The file's format version, as `(major, minor)`.
    pub fn version(&self) -> (u16, u16) {
        (crate::format::VERSION_MAJOR, self.version_minor)
    }

    /// The operations to replay, in call order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Counts describing the capture.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            records: self.record_count,
            ..Summary::default()
        };
        let mut read_buffers = std::collections::HashSet::new();
        for step in &self.steps {
            match &step.operation {
                Operation::PrepareExecutable { .. } => summary.executables += 1,
                Operation::CreateCommandBuffer { .. } => summary.command_buffers += 1,
                Operation::Command {
                    command: program::Command::Dispatch(_),
                    ..
                } => summary.dispatches += 1,
                Operation::Queue { work, .. } => {
                    summary.queue_operations += 1;
                    if matches!(work, QueueWork::Command(program::Command::Dispatch(_))) {
                        summary.dispatches += 1;
                    }
                }
                Operation::HostRead { buffer, .. } => {
                    read_buffers.insert(*buffer);
                }
                _ => {}
            }
        }
        summary.outputs = read_buffers.len();
        summary
    }
}
