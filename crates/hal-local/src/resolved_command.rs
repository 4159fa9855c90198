//! The one form every local driver runs a command in: references resolved against the binding
//! table, ranges made concrete, the executable downcast once, and the transfer checks done.
//!
//! Commands reach a CPU driver three ways: recorded by the inline command buffer (run as they
//! are recorded), recorded into a [`crate::RecordedProgram`] (run at submit with a binding
//! table), or queued one at a time (`queue_fill`, `queue_dispatch`, ...). Each way resolves its
//! command into a [`ResolvedCommand`] through the constructors here, so a command is checked in
//! one place, and every consumer applies the same form: [`crate::run_command`] runs it on the
//! calling thread; local-task cuts it into tiles.

use hal_core::{
    check_fill_alignment, check_no_overlap, BindingTableEntry, BufferRef, Executable, FillPattern,
    QueueWork, RangeUse, RecordedRef, ResolvedRef, Result, Status, WorkgroupCount,
};

use crate::device_scope::DeviceScope;
use crate::library::ExportEntry;
use crate::local_executable::LocalExecutable;
use crate::transfer::read_workgroup_counts;

/// One command, resolved and checked, borrowing what it names for `'a`.
///
/// Only this crate's constructors make one (the variants are `non_exhaustive`), so whoever runs
/// it may rely on its checks: memory safety of the transfers depends on them.
#[derive(Clone, Copy, Debug)]
pub enum ResolvedCommand<'a> {
    /// Fill `target` with `pattern` (offset and length aligned to the pattern).
    #[non_exhaustive]
    Fill {
        /// The range to fill.
        target: ResolvedRef<'a>,
        /// The pattern.
        pattern: FillPattern,
    },
    /// Write `data` to `target` (exactly `data.len()` bytes).
    #[non_exhaustive]
    Update {
        /// The bytes.
        data: &'a [u8],
        /// The range written.
        target: ResolvedRef<'a>,
    },
    /// Copy `source` to `target` (equal lengths; no overlap within one allocation).
    #[non_exhaustive]
    Copy {
        /// The range read.
        source: ResolvedRef<'a>,
        /// The range written.
        target: ResolvedRef<'a>,
    },
    /// Run a kernel (its [`ResolvedDispatch`] can only be made here).
    Dispatch(ResolvedDispatch<'a>),
}

/// A dispatch, with its executable downcast and its export found (made only by
/// [`ResolvedDispatch::new`]).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ResolvedDispatch<'a> {
    /// The executable handle (kept by work that outlives the command's borrow).
    pub executable: &'a Executable,
    /// The executable, as the local drivers' type.
    pub local: &'a LocalExecutable,
    /// The export run.
    pub export: &'a ExportEntry,
    /// The export's ordinal.
    pub ordinal: u32,
    /// The workgroup counts, or the range they are read from when the dispatch runs.
    pub workgroups: WorkgroupCount<ResolvedRef<'a>>,
    /// Push constants (the export's count).
    pub constants: &'a [u32],
    /// The bindings (the export's count), resolved as they are read.
    pub bindings: DispatchBindings<'a>,
    /// Bytes of workgroup local memory on top of the export's static local memory.
    pub dynamic_local_memory: u32,
}

/// A dispatch's bindings, as its source holds them. They are resolved one by one as a consumer
/// reads them, straight into its pointer table, instead of into a list first.
#[derive(Clone, Copy, Debug)]
pub enum DispatchBindings<'a> {
    /// References given while recording inline (no binding table).
    Recording(&'a [BufferRef<'a>]),
    /// References of a recorded program, with the submission's binding table.
    Recorded(&'a [RecordedRef], &'a [Option<BindingTableEntry>]),
    /// Concrete ranges of a queued dispatch.
    Queued(&'a [BindingTableEntry]),
}

impl<'a> DispatchBindings<'a> {
    /// How many bindings there are.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            DispatchBindings::Recording(refs) => refs.len(),
            DispatchBindings::Recorded(refs, _) => refs.len(),
            DispatchBindings::Queued(entries) => entries.len(),
        }
    }

    /// Whether there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `each(index, binding)` for every binding resolved, in order, stopping at the first
    /// error (of resolution or of `each`).
    #[inline]
    pub fn try_for_each(
        &self,
        mut each: impl FnMut(usize, ResolvedRef<'a>) -> Result<()>,
    ) -> Result<()> {
        // One loop, so that `each` (the per-dispatch path) is inlined once; the source's match
        // per binding is a branch the CPU predicts.
        for index in 0..self.len() {
            let binding = match *self {
                DispatchBindings::Recording(refs) => refs[index].resolve(&[])?,
                DispatchBindings::Recorded(refs, table) => refs[index].resolve(table)?,
                DispatchBindings::Queued(entries) => entries[index].borrowed(),
            };
            each(index, binding)?;
        }
        Ok(())
    }
}

impl<'a> ResolvedCommand<'a> {
    /// A fill of `target`; `INVALID_ARGUMENT` when the range is not aligned to the pattern.
    #[inline]
    pub fn fill(target: ResolvedRef<'a>, pattern: FillPattern) -> Result<ResolvedCommand<'a>> {
        check_fill_alignment(target.offset, target.length, pattern)?;
        Ok(ResolvedCommand::Fill { target, pattern })
    }

    /// A write of `data` to `target`; `INVALID_ARGUMENT` naming both lengths when they differ.
    #[inline]
    pub fn update(data: &'a [u8], target: ResolvedRef<'a>) -> Result<ResolvedCommand<'a>> {
        if target.length != data.len() as u64 {
            return Err(Status::invalid_argument(format!(
                "update of {} bytes into a {}-byte range",
                data.len(),
                target.length
            )));
        }
        Ok(ResolvedCommand::Update { data, target })
    }

    /// A copy of `source` into the first `source.length` bytes of `target`: `INVALID_ARGUMENT`
    /// naming both lengths when the target is shorter, and when the ranges overlap in one
    /// allocation.
    #[inline]
    pub fn copy(source: ResolvedRef<'a>, target: ResolvedRef<'a>) -> Result<ResolvedCommand<'a>> {
        // A target named as the whole rest of a table entry may be longer than the source.
        let target = ResolvedRef {
            length: target.length.min(source.length),
            ..target
        };
        if source.length != target.length {
            return Err(Status::invalid_argument(format!(
                "copy of {} bytes into a {}-byte range",
                source.length, target.length
            )));
        }
        if source.buffer.same_allocation(target.buffer) {
            check_no_overlap(
                source.storage_offset(),
                target.storage_offset(),
                source.length,
            )?;
        }
        Ok(ResolvedCommand::Copy { source, target })
    }

    /// The command a queue operation's work runs, if it is a command (fill, update, copy or
    /// dispatch); `None` for the rest (barriers, command buffers, allocation, host calls).
    // Inlined: returned by value, the resolved command was copied on every queued dispatch
    // (about 60 instructions of the queue path under callgrind).
    #[inline(always)]
    pub fn of_queue_work(work: &'a QueueWork) -> Result<Option<ResolvedCommand<'a>>> {
        Ok(Some(match work {
            QueueWork::Fill { target, pattern } => {
                ResolvedCommand::fill(target.borrowed(), *pattern)?
            }
            QueueWork::Update { data, target } => ResolvedCommand::update(data, target.borrowed())?,
            QueueWork::Copy { source, target } => {
                ResolvedCommand::copy(source.borrowed(), target.borrowed())?
            }
            QueueWork::Dispatch {
                executable,
                ordinal,
                workgroups,
                constants,
                bindings,
                dynamic_local_memory,
            } => ResolvedCommand::Dispatch(ResolvedDispatch::new(
                executable,
                *ordinal,
                workgroups.try_map(|parameters| Ok(parameters.borrowed()))?,
                constants,
                DispatchBindings::Queued(bindings),
                *dynamic_local_memory,
            )?),
            QueueWork::Barrier
            | QueueWork::Execute { .. }
            | QueueWork::Alloca { .. }
            | QueueWork::Dealloca { .. }
            | QueueWork::HostCall { .. } => return Ok(None),
        }))
    }

    /// Calls `note` for every range the command touches and how. Stops at the first binding
    /// that does not resolve and returns its error.
    pub fn for_each_use(&self, note: &mut dyn FnMut(&ResolvedRef<'a>, RangeUse)) -> Result<()> {
        match self {
            ResolvedCommand::Fill { target, .. } | ResolvedCommand::Update { target, .. } => {
                note(target, RangeUse::WRITE)
            }
            ResolvedCommand::Copy { source, target } => {
                note(source, RangeUse::READ);
                note(target, RangeUse::WRITE);
            }
            ResolvedCommand::Dispatch(dispatch) => {
                if let WorkgroupCount::Indirect(parameters) = &dispatch.workgroups {
                    note(parameters, RangeUse::READ);
                }
                let views = dispatch.export.views;
                dispatch.bindings.try_for_each(|index, binding| {
                    note(&binding, views.use_of(index));
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}

impl<'a> ResolvedDispatch<'a> {
    /// A dispatch of export `ordinal` of `executable`: `INVALID_ARGUMENT` when the executable is
    /// not a local one, `OUT_OF_RANGE` when the export does not exist.
    #[inline]
    pub fn new(
        executable: &'a Executable,
        ordinal: u32,
        workgroups: WorkgroupCount<ResolvedRef<'a>>,
        constants: &'a [u32],
        bindings: DispatchBindings<'a>,
        dynamic_local_memory: u32,
    ) -> Result<ResolvedDispatch<'a>> {
        let local = LocalExecutable::from_handle(executable)?;
        let export = local.export(ordinal)?;
        Ok(ResolvedDispatch {
            executable,
            local,
            export,
            ordinal,
            workgroups,
            constants,
            bindings,
            dynamic_local_memory,
        })
    }

    /// The workgroup counts: given, or read now through `scope` (checked like recorded ones).
    #[inline]
    pub fn counts(&self, scope: &mut DeviceScope) -> Result<[u32; 3]> {
        match &self.workgroups {
            WorkgroupCount::Static(counts) => Ok(*counts),
            WorkgroupCount::Indirect(parameters) => read_workgroup_counts(scope, parameters),
        }
    }
}
