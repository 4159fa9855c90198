//! The deferred command buffer: records commands for replay at submit, with binding tables.
//!
//! Recording copies everything a command needs (buffer handles, constants, update bytes) into a
//! [`RecordedCommands`] program, frozen at `end` and shared by every submission, so a reusable
//! buffer is recorded once and replayed with a different binding table each time.

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use hal_core::{
    BindingTableEntry, Buffer, BufferRef, CommandBufferImpl, DeviceSize, Dispatch, Event,
    Executable, FillPattern, Result, Status, Submission, Workgroups,
};

use crate::device_scope::DeviceScope;
use crate::inline_dispatch::{dispatch_inline, ResolvedBindings};
use crate::local_executable::LocalExecutable;
use crate::transfer;

/// A buffer reference that owns its buffer handle.
#[derive(Clone, Debug)]
pub enum OwnedRef {
    /// A buffer given at record time.
    Direct {
        /// The buffer.
        buffer: Buffer,
        /// Byte offset.
        offset: DeviceSize,
        /// Byte length (or whole).
        length: DeviceSize,
    },
    /// A binding-table slot.
    Slot {
        /// The slot.
        slot: u32,
        /// Byte offset into the entry.
        offset: DeviceSize,
        /// Byte length (or whole).
        length: DeviceSize,
    },
}

impl OwnedRef {
    /// Captures a borrowed reference.
    pub fn capture(r: &BufferRef<'_>) -> OwnedRef {
        match *r {
            BufferRef::Direct {
                buffer,
                offset,
                length,
            } => OwnedRef::Direct {
                buffer: buffer.clone(),
                offset,
                length,
            },
            BufferRef::Slot {
                slot,
                offset,
                length,
            } => OwnedRef::Slot {
                slot,
                offset,
                length,
            },
        }
    }

    /// Borrows it back.
    pub fn as_ref(&self) -> BufferRef<'_> {
        match self {
            OwnedRef::Direct {
                buffer,
                offset,
                length,
            } => BufferRef::Direct {
                buffer,
                offset: *offset,
                length: *length,
            },
            OwnedRef::Slot {
                slot,
                offset,
                length,
            } => BufferRef::Slot {
                slot: *slot,
                offset: *offset,
                length: *length,
            },
        }
    }
}

/// Workgroup counts of a recorded dispatch.
#[derive(Clone, Debug)]
pub enum RecordedWorkgroups {
    /// Known counts.
    Static([u32; 3]),
    /// Read from this range at execution.
    Indirect(OwnedRef),
}

/// One recorded command. Variable-length data lives in the program's shared arrays.
#[derive(Clone, Debug)]
pub enum Command {
    /// Everything before completes before anything after starts.
    Barrier,
    /// Signal an event.
    SignalEvent(Event),
    /// Reset an event.
    ResetEvent(Event),
    /// Wait for events (a barrier on CPU drivers).
    WaitEvents(Vec<Event>),
    /// Fill a range.
    Fill {
        /// Target range.
        target: OwnedRef,
        /// Pattern.
        pattern: FillPattern,
    },
    /// Write captured bytes.
    Update {
        /// The bytes, as a range of `RecordedCommands::data`.
        data: Range<usize>,
        /// Target range.
        target: OwnedRef,
    },
    /// Copy a range.
    Copy {
        /// Source range.
        source: OwnedRef,
        /// Target range.
        target: OwnedRef,
    },
    /// Dispatch a kernel.
    Dispatch {
        /// The executable.
        executable: Executable,
        /// Export ordinal.
        ordinal: u32,
        /// Workgroup counts.
        workgroups: RecordedWorkgroups,
        /// Constants, as a range of `RecordedCommands::constants`.
        constants: Range<usize>,
        /// Bindings, as a range of `RecordedCommands::bindings`.
        bindings: Range<usize>,
        /// Bytes of local memory on top of the export's static local memory.
        dynamic_local_memory: u32,
    },
}

/// A recorded program, immutable once the command buffer ends.
#[derive(Debug, Default)]
pub struct RecordedCommands {
    /// Commands in record order.
    pub commands: Vec<Command>,
    /// All dispatch constants, back to back.
    pub constants: Vec<u32>,
    /// All dispatch bindings, back to back.
    pub bindings: Vec<OwnedRef>,
    /// All update payloads, back to back.
    pub data: Vec<u8>,
}

/// Resolves a recorded reference against a binding table.
#[inline]
pub fn resolve<'a>(
    r: &'a OwnedRef,
    table: &'a [Option<BindingTableEntry>],
) -> Result<hal_core::ResolvedRef<'a>> {
    r.as_ref().resolve(table)
}

impl RecordedCommands {
    /// Runs the whole program on this thread in order, with `table` for slots. Stops at the
    /// first failure.
    pub fn replay(
        &self,
        table: &[Option<BindingTableEntry>],
        scope: &mut DeviceScope,
        processor_id: u32,
    ) -> Result<()> {
        // Once for the whole program instead of around every dispatch: nothing but runtime code
        // and kernels runs until it returns.
        let _fpu = crate::cpu::DenormalsFlushed::new();
        for command in &self.commands {
            self.run_command(command, table, scope, processor_id)?;
        }
        Ok(())
    }

    /// Runs one command on this thread.
    pub fn run_command(
        &self,
        command: &Command,
        table: &[Option<BindingTableEntry>],
        scope: &mut DeviceScope,
        processor_id: u32,
    ) -> Result<()> {
        match command {
            Command::Barrier
            | Command::SignalEvent(_)
            | Command::ResetEvent(_)
            | Command::WaitEvents(_) => Ok(()),
            Command::Fill { target, pattern } => {
                transfer::fill(scope, &resolve(target, table)?, *pattern)
            }
            Command::Update { data, target } => {
                transfer::update(scope, &self.data[data.clone()], &resolve(target, table)?)
            }
            Command::Copy { source, target } => {
                let source = resolve(source, table)?;
                let mut target = resolve(target, table)?;
                target.length = target.length.min(source.length);
                transfer::copy(scope, &source, &target)
            }
            Command::Dispatch {
                executable,
                ordinal,
                workgroups,
                constants,
                bindings,
                dynamic_local_memory,
            } => {
                let local = LocalExecutable::from_handle(executable)?;
                let counts = match workgroups {
                    RecordedWorkgroups::Static(counts) => *counts,
                    RecordedWorkgroups::Indirect(parameters) => {
                        transfer::read_workgroup_counts(scope, &resolve(parameters, table)?)?
                    }
                };
                let export = local.export(*ordinal)?;
                let mut resolved = ResolvedBindings::default();
                resolved.fill(
                    scope,
                    self.bindings[bindings.clone()]
                        .iter()
                        .map(|b| resolve(b, table)),
                    export.views,
                )?;
                dispatch_inline(
                    local,
                    export,
                    counts,
                    &self.constants[constants.clone()],
                    &mut resolved,
                    processor_id,
                    *dynamic_local_memory,
                )
            }
        }
    }
}

/// A command buffer that records for replay.
#[derive(Default)]
pub struct DeferredCommandBuffer {
    recording: RecordedCommands,
    finished: Option<Arc<RecordedCommands>>,
}

impl DeferredCommandBuffer {
    /// A new, empty deferred command buffer.
    pub fn new() -> DeferredCommandBuffer {
        DeferredCommandBuffer::default()
    }

    /// The recorded program, once ended.
    pub fn recorded(&self) -> Option<&Arc<RecordedCommands>> {
        self.finished.as_ref()
    }

    fn push(&mut self, command: Command) -> Result<()> {
        self.recording.commands.push(command);
        Ok(())
    }
}

impl CommandBufferImpl for DeferredCommandBuffer {
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        let mut program = std::mem::take(&mut self.recording);
        program.commands.shrink_to_fit();
        self.finished = Some(Arc::new(program));
        Ok(())
    }

    fn execution_barrier(&mut self) -> Result<()> {
        self.push(Command::Barrier)
    }

    fn signal_event(&mut self, event: &Event) -> Result<()> {
        self.push(Command::SignalEvent(event.clone()))
    }

    fn reset_event(&mut self, event: &Event) -> Result<()> {
        self.push(Command::ResetEvent(event.clone()))
    }

    fn wait_events(&mut self, events: &[Event]) -> Result<()> {
        self.push(Command::WaitEvents(events.to_vec()))
    }

    fn fill(&mut self, target: BufferRef<'_>, pattern: FillPattern) -> Result<()> {
        self.push(Command::Fill {
            target: OwnedRef::capture(&target),
            pattern,
        })
    }

    fn update(&mut self, source: &[u8], target: BufferRef<'_>) -> Result<()> {
        let start = self.recording.data.len();
        self.recording.data.extend_from_slice(source);
        let data = start..self.recording.data.len();
        self.push(Command::Update {
            data,
            target: OwnedRef::capture(&target),
        })
    }

    fn copy(&mut self, source: BufferRef<'_>, target: BufferRef<'_>) -> Result<()> {
        self.push(Command::Copy {
            source: OwnedRef::capture(&source),
            target: OwnedRef::capture(&target),
        })
    }

    fn dispatch(&mut self, dispatch: &Dispatch<'_>) -> Result<()> {
        LocalExecutable::from_handle(dispatch.executable)?;
        let program = &mut self.recording;
        let constants_start = program.constants.len();
        program.constants.extend_from_slice(dispatch.constants);
        let bindings_start = program.bindings.len();
        program
            .bindings
            .extend(dispatch.bindings.iter().map(OwnedRef::capture));
        let workgroups = match dispatch.workgroups {
            Workgroups::Static(counts) => RecordedWorkgroups::Static(counts),
            Workgroups::Indirect(parameters) => {
                RecordedWorkgroups::Indirect(OwnedRef::capture(&parameters))
            }
        };
        let command = Command::Dispatch {
            executable: dispatch.executable.clone(),
            ordinal: dispatch.ordinal,
            workgroups,
            constants: constants_start..program.constants.len(),
            bindings: bindings_start..program.bindings.len(),
            dynamic_local_memory: dispatch.dynamic_local_memory,
        };
        self.push(command)
    }

    fn submission(&self) -> Submission {
        match &self.finished {
            Some(program) => Submission::Deferred(program.clone()),
            None => Submission::Executed(Some(Status::failed_precondition(
                "command buffer was not ended",
            ))),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
