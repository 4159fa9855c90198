//! A recorded program: the commands of a deferred command buffer, frozen when it ends, shared by
//! every submission, and resolved command by command against each submission's binding table.

use std::ops::Range;

use hal_core::{BindingTableEntry, Event, FillPattern, RecordedRef, Result, WorkgroupCount};

use crate::local_export::LocalExport;
use crate::resolved_command::{DispatchBindings, ResolvedCommand, ResolvedDispatch};

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
        target: RecordedRef,
        /// Pattern.
        pattern: FillPattern,
    },
    /// Write recorded bytes.
    Update {
        /// The bytes, as a range of [`RecordedProgram::data`].
        data: Range<usize>,
        /// Target range.
        target: RecordedRef,
    },
    /// Copy a range.
    Copy {
        /// Source range.
        source: RecordedRef,
        /// Target range.
        target: RecordedRef,
    },
    /// Dispatch a kernel.
    Dispatch {
        /// The export, found when recorded.
        export: LocalExport,
        /// Workgroup counts.
        workgroups: WorkgroupCount<RecordedRef>,
        /// Constants, as a range of [`RecordedProgram::constants`].
        constants: Range<usize>,
        /// Bindings, as a range of [`RecordedProgram::bindings`].
        bindings: Range<usize>,
        /// Bytes of local memory on top of the export's static local memory.
        dynamic_local_memory: u32,
    },
}

impl Command {
    /// Whether the command orders everything before it against everything after it (a barrier,
    /// or an event wait, which CPU drivers treat as one).
    pub fn is_barrier(&self) -> bool {
        matches!(self, Command::Barrier | Command::WaitEvents(_))
    }
}

/// A recorded program, immutable once the command buffer ends.
#[derive(Debug, Default)]
pub struct RecordedProgram {
    /// Commands in record order.
    pub commands: Vec<Command>,
    /// All dispatch constants, back to back.
    pub constants: Vec<u32>,
    /// All dispatch bindings, back to back.
    pub bindings: Vec<RecordedRef>,
    /// All update payloads, back to back.
    pub data: Vec<u8>,
}

impl RecordedProgram {
    /// Resolves `command` (one of this program's) against `table`: `None` for commands that
    /// only order work (barriers and events), which CPU drivers run by running in order.
    #[inline]
    pub fn resolve<'a>(
        &'a self,
        command: &'a Command,
        table: &'a [Option<BindingTableEntry>],
    ) -> Result<Option<ResolvedCommand<'a>>> {
        Ok(Some(match command {
            Command::Barrier
            | Command::SignalEvent(_)
            | Command::ResetEvent(_)
            | Command::WaitEvents(_) => return Ok(None),
            Command::Fill { target, pattern } => {
                ResolvedCommand::fill(target.resolve(table)?, *pattern)?
            }
            Command::Update { data, target } => {
                ResolvedCommand::update(&self.data[data.clone()], target.resolve(table)?)?
            }
            Command::Copy { source, target } => {
                ResolvedCommand::copy(source.resolve(table)?, target.resolve(table)?)?
            }
            Command::Dispatch {
                export,
                workgroups,
                constants,
                bindings,
                dynamic_local_memory,
            } => ResolvedCommand::Dispatch(ResolvedDispatch::of_export(
                export,
                workgroups.try_map(|parameters| parameters.resolve(table))?,
                &self.constants[constants.clone()],
                DispatchBindings::Recorded(&self.bindings[bindings.clone()], table),
                *dynamic_local_memory,
            )),
        }))
    }
}
