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
use crate::local_export::LocalExport;
use crate::transfer::read_workgroup_counts;

/// One command, resolved and checked, borrowing what it names for `'a`.
///
/// Only this crate's constructors make the commands' payloads (their fields are private), so
/// whoever runs one may rely on its checks: memory safety of the transfers depends on them.
#[derive(Clone, Copy, Debug)]
pub enum ResolvedCommand<'a> {
    /// Fill a range with a pattern.
    Fill(ResolvedFill<'a>),
    /// Write bytes to a range.
    Update(ResolvedUpdate<'a>),
    /// Copy a range to another.
    Copy(ResolvedCopy<'a>),
    /// Run a kernel.
    Dispatch(ResolvedDispatch<'a>),
}

/// A fill whose range is aligned to its pattern.
#[derive(Clone, Copy, Debug)]
pub struct ResolvedFill<'a> {
    pub(crate) target: ResolvedRef<'a>,
    pub(crate) pattern: FillPattern,
}

impl<'a> ResolvedFill<'a> {
    /// The range filled.
    pub fn target(&self) -> &ResolvedRef<'a> {
        &self.target
    }

    /// The pattern.
    pub fn pattern(&self) -> FillPattern {
        self.pattern
    }
}

/// An update whose range is exactly as long as its bytes.
#[derive(Clone, Copy, Debug)]
pub struct ResolvedUpdate<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) target: ResolvedRef<'a>,
}

impl<'a> ResolvedUpdate<'a> {
    /// The bytes written.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The range written (`data().len()` bytes).
    pub fn target(&self) -> &ResolvedRef<'a> {
        &self.target
    }
}

/// A copy between ranges of equal length that do not overlap in one allocation.
#[derive(Clone, Copy, Debug)]
pub struct ResolvedCopy<'a> {
    pub(crate) source: ResolvedRef<'a>,
    pub(crate) target: ResolvedRef<'a>,
}

impl<'a> ResolvedCopy<'a> {
    /// The range read.
    pub fn source(&self) -> &ResolvedRef<'a> {
        &self.source
    }

    /// The range written (as long as the source).
    pub fn target(&self) -> &ResolvedRef<'a> {
        &self.target
    }
}

/// A dispatch, with its executable downcast and its export found (made only by
/// [`ResolvedDispatch::new`] and [`ResolvedDispatch::of_export`]).
#[derive(Clone, Copy, Debug)]
pub struct ResolvedDispatch<'a> {
    pub(crate) executable: &'a Executable,
    pub(crate) local: &'a LocalExecutable,
    pub(crate) export: &'a ExportEntry,
    pub(crate) workgroups: WorkgroupCount<ResolvedRef<'a>>,
    pub(crate) constants: &'a [u32],
    pub(crate) bindings: DispatchBindings<'a>,
    pub(crate) dynamic_local_memory: u32,
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
        Ok(ResolvedCommand::Fill(ResolvedFill { target, pattern }))
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
        Ok(ResolvedCommand::Update(ResolvedUpdate { data, target }))
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
        Ok(ResolvedCommand::Copy(ResolvedCopy { source, target }))
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
            ResolvedCommand::Fill(fill) => note(&fill.target, RangeUse::WRITE),
            ResolvedCommand::Update(update) => note(&update.target, RangeUse::WRITE),
            ResolvedCommand::Copy(copy) => {
                note(&copy.source, RangeUse::READ);
                note(&copy.target, RangeUse::WRITE);
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
            workgroups,
            constants,
            bindings,
            dynamic_local_memory,
        })
    }

    /// A dispatch of `export`, found before (by a recorded program): no downcast, no lookup.
    #[inline]
    pub fn of_export(
        export: &'a LocalExport,
        workgroups: WorkgroupCount<ResolvedRef<'a>>,
        constants: &'a [u32],
        bindings: DispatchBindings<'a>,
        dynamic_local_memory: u32,
    ) -> ResolvedDispatch<'a> {
        ResolvedDispatch {
            executable: export.executable(),
            local: export.local(),
            export: export.entry(),
            workgroups,
            constants,
            bindings,
            dynamic_local_memory,
        }
    }

    /// The dispatch's export, held (for work that outlives this borrow).
    pub fn to_export(&self) -> LocalExport {
        LocalExport::of(self.executable, self.local, self.export)
    }

    /// The executable's handle.
    pub fn executable(&self) -> &'a Executable {
        self.executable
    }

    /// The executable, as the local drivers' type.
    pub fn local(&self) -> &'a LocalExecutable {
        self.local
    }

    /// The export run.
    pub fn export(&self) -> &'a ExportEntry {
        self.export
    }

    /// The workgroup counts, or the range they are read from when the dispatch runs.
    pub fn workgroups(&self) -> &WorkgroupCount<ResolvedRef<'a>> {
        &self.workgroups
    }

    /// Push constants (the export's count).
    pub fn constants(&self) -> &'a [u32] {
        self.constants
    }

    /// The bindings (the export's count), resolved as they are read.
    pub fn bindings(&self) -> &DispatchBindings<'a> {
        &self.bindings
    }

    /// Bytes of workgroup local memory on top of the export's static local memory.
    pub fn dynamic_local_memory(&self) -> u32 {
        self.dynamic_local_memory
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
