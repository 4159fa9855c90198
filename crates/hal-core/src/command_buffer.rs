//! Command buffers: recorded fills, updates, copies, dispatches, barriers and events.
//!
//! The [`CommandBuffer`] handle validates every command once for all drivers (recording state,
//! categories, ranges, alignment, usage, counts) and then hands it to the driver's
//! [`CommandBufferImpl`]. Recording takes `&mut self`, so a command buffer is recorded by one
//! thread without locks; once ended it can be shared and submitted from anywhere.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bitflags::bitflags;

use crate::buffer::{check_no_overlap, Buffer};
use crate::buffer_ref::{BindingTableEntry, BufferOrSlot, BufferRange, BufferRef, SlotRequirement};
use crate::event::Event;
use crate::executable::{Executable, ExportInfo};
use crate::fill_pattern::{check_fill_alignment, FillPattern};
use crate::memory::{BufferUsage, DeviceSize, MAX_UPDATE_SIZE, WHOLE_BUFFER};
use crate::status::{Result, Status};
use crate::workgroups::{workgroup_total, Workgroups};

bitflags! {
    /// How a command buffer will be used.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CommandBufferMode: u32 {
        /// Submitted at most once.
        const ONE_SHOT = 1 << 0;
        /// The driver may execute commands while they are recorded (one-shot only).
        const ALLOW_INLINE_EXECUTION = 1 << 4;
    }
}

bitflags! {
    /// The kinds of commands a command buffer may hold.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CommandCategory: u32 {
        /// Fill, update and copy.
        const TRANSFER = 1 << 0;
        /// Dispatch.
        const DISPATCH = 1 << 1;
        /// Everything.
        const ANY = Self::TRANSFER.bits() | Self::DISPATCH.bits();
    }
}

/// How to create a command buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandBufferParams {
    /// One-shot or reusable, inline execution allowed or not.
    pub mode: CommandBufferMode,
    /// What commands it may hold.
    pub categories: CommandCategory,
    /// How many binding-table slots its commands may reference (0: direct references only).
    pub binding_capacity: u32,
}

impl CommandBufferParams {
    /// A one-shot buffer of any category that drivers may execute inline.
    pub fn one_shot_inline() -> CommandBufferParams {
        CommandBufferParams {
            mode: CommandBufferMode::ONE_SHOT | CommandBufferMode::ALLOW_INLINE_EXECUTION,
            categories: CommandCategory::ANY,
            binding_capacity: 0,
        }
    }

    /// A reusable buffer of any category with `binding_capacity` table slots.
    pub fn reusable(binding_capacity: u32) -> CommandBufferParams {
        CommandBufferParams {
            mode: CommandBufferMode::empty(),
            categories: CommandCategory::ANY,
            binding_capacity,
        }
    }

    /// Checks the combination of flags.
    pub fn validate(&self) -> Result<()> {
        if self
            .mode
            .contains(CommandBufferMode::ALLOW_INLINE_EXECUTION)
            && !self.mode.contains(CommandBufferMode::ONE_SHOT)
        {
            return Err(Status::invalid_argument(
                "inline execution is only allowed for one-shot command buffers",
            ));
        }
        if self.categories.is_empty() {
            return Err(Status::invalid_argument(
                "a command buffer needs at least one category",
            ));
        }
        Ok(())
    }
}

/// The most bytes of dynamic workgroup local memory one dispatch may request
/// ([`DispatchOptions::dynamic_local_memory`]): 16 MiB. Every thread that runs the dispatch's
/// workgroups holds this much on top of the export's static local memory, and keeps it for later
/// dispatches. IREE's local-task gives each worker 64 KiB by default.
pub const MAX_DYNAMIC_LOCAL_MEMORY: u32 = 16 << 20;

/// What a dispatch may ask for beyond its executable, workgroups, constants and bindings (see
/// [`CommandBuffer::dispatch_with`] and [`crate::Device::queue_dispatch_with`]). The default asks
/// for nothing more, which is what [`CommandBuffer::dispatch`] and
/// [`crate::Device::queue_dispatch`] use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DispatchOptions {
    /// Bytes of workgroup local memory to provide on top of the export's static local memory
    /// ([`crate::ExportInfo::local_memory_size`]): IREE's `dynamic_workgroup_local_memory`.
    /// Each workgroup then gets at least `local_memory_size + dynamic_local_memory` bytes of
    /// scratch memory through its workgroup state's `local_memory` pointer and
    /// `local_memory_size` (which reports everything it may use, possibly more). At most
    /// [`MAX_DYNAMIC_LOCAL_MEMORY`]; 0 asks for nothing extra.
    pub dynamic_local_memory: u32,
}

impl DispatchOptions {
    /// Checks the options against `export`: the dynamic local memory is at most
    /// [`MAX_DYNAMIC_LOCAL_MEMORY`], and with the export's static local memory fits in 32 bits.
    /// Both errors are `OUT_OF_RANGE` and name the values.
    #[inline]
    pub fn validate(&self, export: &ExportInfo) -> Result<()> {
        if self.dynamic_local_memory == 0 {
            return Ok(());
        }
        self.check_local_memory(export)
    }

    #[cold]
    #[inline(never)]
    fn check_local_memory(&self, export: &ExportInfo) -> Result<()> {
        let dynamic = self.dynamic_local_memory;
        if dynamic > MAX_DYNAMIC_LOCAL_MEMORY {
            return Err(Status::out_of_range(format!(
                "dispatch of '{}' requests {dynamic} bytes of dynamic local memory; the limit is {MAX_DYNAMIC_LOCAL_MEMORY}",
                export.name
            )));
        }
        if export.local_memory_size.checked_add(dynamic).is_none() {
            return Err(Status::out_of_range(format!(
                "dispatch of '{}' requests {dynamic} bytes of dynamic local memory on top of the export's {} static bytes, more than 32 bits can count",
                export.name, export.local_memory_size
            )));
        }
        Ok(())
    }
}

/// A validated dispatch, as drivers receive it.
#[derive(Clone, Copy, Debug)]
pub struct Dispatch<'a> {
    /// The executable.
    pub executable: &'a Executable,
    /// The export's ordinal.
    pub ordinal: u32,
    /// The workgroup counts.
    pub workgroups: Workgroups<'a>,
    /// Push constants (exactly the export's count).
    pub constants: &'a [u32],
    /// Bindings (exactly the export's count).
    pub bindings: &'a [BufferRef<'a>],
    /// Bytes of workgroup local memory to provide on top of the export's static local memory
    /// (validated: at most [`MAX_DYNAMIC_LOCAL_MEMORY`], and the sum fits in a `u32`).
    pub dynamic_local_memory: u32,
}

/// What a queue execute receives from a driver's command buffer, and what the queued operation
/// holds until it runs (cloning shares the recorded commands).
#[derive(Clone)]
pub enum Submission {
    /// The commands already ran while recorded; `Some` holds the failure that stopped them.
    Executed(Option<Status>),
    /// Recorded commands to run at submit; the driver downcasts them.
    Deferred(Arc<dyn Any + Send + Sync>),
}

/// What drivers implement for command buffers. Every call arrives validated.
pub trait CommandBufferImpl: Send + Sync + 'static {
    /// Starts recording.
    fn begin(&mut self) -> Result<()>;
    /// Finishes recording.
    fn end(&mut self) -> Result<()>;
    /// Orders everything before against everything after.
    fn execution_barrier(&mut self) -> Result<()>;
    /// Signals an event once prior work completes.
    fn signal_event(&mut self, event: &Event) -> Result<()>;
    /// Resets an event once prior work completes.
    fn reset_event(&mut self, event: &Event) -> Result<()>;
    /// Waits for events before later work starts.
    fn wait_events(&mut self, events: &[Event]) -> Result<()>;
    /// Fills a range with a pattern (offset and length aligned to it).
    fn fill(&mut self, target: BufferRef<'_>, pattern: FillPattern) -> Result<()>;
    /// Writes `source` at the target (its length equals `source.len()` or is whole).
    fn update(&mut self, source: &[u8], target: BufferRef<'_>) -> Result<()>;
    /// Copies `source`'s range to `target` (same length, or the target's is whole).
    fn copy(&mut self, source: BufferRef<'_>, target: BufferRef<'_>) -> Result<()>;
    /// Dispatches a kernel.
    fn dispatch(&mut self, dispatch: &Dispatch<'_>) -> Result<()>;
    /// What a queue execute should run.
    fn submission(&self) -> Submission;
    /// For drivers that downcast their own command buffers.
    fn as_any(&self) -> &dyn Any;
}

/// Where a command buffer is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordingState {
    /// Created, not begun.
    Initial,
    /// Between `begin` and `end`.
    Recording,
    /// Ended: can be submitted.
    Executable,
}

/// A command buffer being recorded or ready to submit.
pub struct CommandBuffer {
    inner: Box<dyn CommandBufferImpl>,
    params: CommandBufferParams,
    state: RecordingState,
    slot_requirements: Vec<Option<SlotRequirement>>,
    /// Slot uses of the command being validated, merged into `slot_requirements` only once the
    /// command is accepted, so a rejected command leaves no requirement behind.
    pending_slots: Vec<(u32, SlotRequirement)>,
    submitted: AtomicBool,
}

impl fmt::Debug for CommandBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandBuffer")
            .field("params", &self.params)
            .field("state", &self.state)
            .finish()
    }
}

impl CommandBuffer {
    /// Wraps a driver's command buffer created for `params` (already validated).
    pub fn new(inner: Box<dyn CommandBufferImpl>, params: CommandBufferParams) -> CommandBuffer {
        CommandBuffer {
            inner,
            params,
            state: RecordingState::Initial,
            slot_requirements: Vec::new(),
            pending_slots: Vec::new(),
            submitted: AtomicBool::new(false),
        }
    }

    /// The parameters the buffer was created with.
    pub fn params(&self) -> &CommandBufferParams {
        &self.params
    }

    /// The recording state.
    pub fn state(&self) -> RecordingState {
        self.state
    }

    /// The driver's command buffer.
    pub fn inner(&self) -> &dyn CommandBufferImpl {
        self.inner.as_ref()
    }

    /// What each used binding-table slot requires (index = slot).
    pub fn slot_requirements(&self) -> &[Option<SlotRequirement>] {
        &self.slot_requirements
    }

    /// Starts recording. A command buffer is recorded exactly once.
    pub fn begin(&mut self) -> Result<()> {
        if self.state != RecordingState::Initial {
            return Err(Status::failed_precondition(format!(
                "begin on a command buffer in state {:?}; command buffers are recorded once",
                self.state
            )));
        }
        self.inner.begin()?;
        self.state = RecordingState::Recording;
        Ok(())
    }

    /// Finishes recording; the buffer can then be submitted.
    pub fn end(&mut self) -> Result<()> {
        self.require_recording("end")?;
        self.inner.end()?;
        self.state = RecordingState::Executable;
        Ok(())
    }

    #[inline]
    fn require_recording(&mut self, what: &str) -> Result<()> {
        self.pending_slots.clear();
        if self.state != RecordingState::Recording {
            return Err(Status::failed_precondition(format!(
                "{what} on a command buffer in state {:?}; commands are recorded between begin and end",
                self.state
            )));
        }
        Ok(())
    }

    #[inline]
    fn require_category(&mut self, category: CommandCategory, what: &str) -> Result<()> {
        self.require_recording(what)?;
        if !self.params.categories.contains(category) {
            return Err(Status::invalid_argument(format!(
                "{what} needs category {category:?}, but the command buffer allows only {:?}",
                self.params.categories
            )));
        }
        Ok(())
    }

    /// Validates a reference and returns its length if known now (direct refs, or slots with a
    /// concrete length). Slot uses are recorded for checking at submit.
    #[inline]
    fn check_ref(
        &mut self,
        r: &BufferRef<'_>,
        usage: BufferUsage,
        what: &str,
    ) -> Result<Option<DeviceSize>> {
        self.check_ref_for(r, usage, false, what)
    }

    /// As `check_ref`; `dispatch` marks a dispatch binding, which needs a dispatch usage.
    #[inline]
    fn check_ref_for(
        &mut self,
        r: &BufferRef<'_>,
        usage: BufferUsage,
        dispatch: bool,
        what: &str,
    ) -> Result<Option<DeviceSize>> {
        match r.buffer {
            BufferOrSlot::Buffer(buffer) => {
                buffer.require_usage(usage, what)?;
                match buffer.resolve_range(r.offset, r.length) {
                    Ok(length) => Ok(Some(length)),
                    Err(status) => Err(status.with_context(what.to_string())),
                }
            }
            BufferOrSlot::Slot(_) => self.record_slot_use(r, usage, dispatch, what),
        }
    }

    /// Notes a slot reference's requirement on the binding table (checked at submit); it takes
    /// effect when the command is accepted ([`CommandBuffer::accept`]).
    #[inline(never)]
    fn record_slot_use(
        &mut self,
        r: &BufferRef<'_>,
        usage: BufferUsage,
        dispatch: bool,
        what: &str,
    ) -> Result<Option<DeviceSize>> {
        let BufferRange {
            buffer,
            offset,
            length,
        } = *r;
        match buffer {
            BufferOrSlot::Buffer(_) => unreachable!("only called for slots"),
            BufferOrSlot::Slot(slot) => {
                if slot >= self.params.binding_capacity {
                    return Err(Status::out_of_range(format!(
                        "{what}: binding table slot {slot} is beyond the command buffer's binding capacity {}",
                        self.params.binding_capacity
                    )));
                }
                let min_length = if length == WHOLE_BUFFER {
                    offset
                } else {
                    offset.checked_add(length).ok_or_else(|| {
                        Status::out_of_range(format!(
                            "{what}: offset {offset} + length {length} overflows"
                        ))
                    })?
                };
                let requirement = SlotRequirement {
                    min_length,
                    usage,
                    dispatch,
                };
                self.pending_slots.push((slot, requirement));
                Ok((length != WHOLE_BUFFER).then_some(length))
            }
        }
    }

    /// Completes a command: if the driver accepted it, its slot uses become requirements.
    #[inline]
    fn accept(&mut self, result: Result<()>) -> Result<()> {
        if result.is_ok() && !self.pending_slots.is_empty() {
            for (slot, requirement) in std::mem::take(&mut self.pending_slots) {
                let index = slot as usize;
                if self.slot_requirements.len() <= index {
                    self.slot_requirements.resize(index + 1, None);
                }
                match &mut self.slot_requirements[index] {
                    Some(existing) => existing.merge(requirement),
                    empty => *empty = Some(requirement),
                }
            }
        }
        result
    }

    /// An execution barrier: commands after it start only after commands before it finish.
    #[inline]
    pub fn execution_barrier(&mut self) -> Result<()> {
        self.require_recording("execution_barrier")?;
        self.inner.execution_barrier()
    }

    /// Signals `event` once the commands before it complete.
    pub fn signal_event(&mut self, event: &Event) -> Result<()> {
        self.require_recording("signal_event")?;
        self.inner.signal_event(event)
    }

    /// Resets `event` once the commands before it complete.
    pub fn reset_event(&mut self, event: &Event) -> Result<()> {
        self.require_recording("reset_event")?;
        self.inner.reset_event(event)
    }

    /// Makes later commands wait for `events`.
    pub fn wait_events(&mut self, events: &[Event]) -> Result<()> {
        self.require_recording("wait_events")?;
        self.inner.wait_events(events)
    }

    /// Fills `target` with `pattern`; its offset and length must be multiples of the pattern
    /// length.
    pub fn fill(&mut self, target: BufferRef<'_>, pattern: FillPattern) -> Result<()> {
        self.require_category(CommandCategory::TRANSFER, "fill")?;
        let length = self.check_ref(&target, BufferUsage::TRANSFER_TARGET, "fill target")?;
        check_fill_alignment(target.offset(), length.unwrap_or(0), pattern)?;
        let result = self.inner.fill(target, pattern);
        self.accept(result)
    }

    /// Writes `source` (at most 64 KiB, captured now) at `target`, whose length must be
    /// `source.len()` or whole.
    pub fn update(&mut self, source: &[u8], target: BufferRef<'_>) -> Result<()> {
        self.require_category(CommandCategory::TRANSFER, "update")?;
        if source.len() > MAX_UPDATE_SIZE {
            return Err(Status::invalid_argument(format!(
                "update of {} bytes exceeds the {MAX_UPDATE_SIZE}-byte limit; use a queue update or copy",
                source.len()
            )));
        }
        let target = with_source_length(target, source.len() as DeviceSize, "update")?;
        self.check_ref(&target, BufferUsage::TRANSFER_TARGET, "update target")?;
        let result = self.inner.update(source, target);
        self.accept(result)
    }

    /// Copies `source`'s range to `target`. Lengths must agree (or the target's be whole);
    /// overlapping ranges of one allocation are rejected.
    pub fn copy(&mut self, source: BufferRef<'_>, target: BufferRef<'_>) -> Result<()> {
        self.require_category(CommandCategory::TRANSFER, "copy")?;
        let length = self
            .check_ref(&source, BufferUsage::TRANSFER_SOURCE, "copy source")?
            .ok_or_else(|| {
                Status::invalid_argument("copy from a binding-table slot needs a concrete length")
            })?;
        let target = with_source_length(target, length, "copy")?;
        self.check_ref(&target, BufferUsage::TRANSFER_TARGET, "copy target")?;
        if let (BufferOrSlot::Buffer(a), BufferOrSlot::Buffer(b)) = (source.buffer, target.buffer) {
            if a.same_allocation(b) {
                check_no_overlap(
                    a.storage_offset() + source.offset,
                    b.storage_offset() + target.offset,
                    length,
                )?;
            }
        }
        let result = self.inner.copy(source, target);
        self.accept(result)
    }

    /// Dispatches export `ordinal` of `executable` over `workgroups` with `constants` and
    /// `bindings`, whose counts must match the export's. The same as
    /// [`CommandBuffer::dispatch_with`] with default [`DispatchOptions`].
    #[inline]
    pub fn dispatch(
        &mut self,
        executable: &Executable,
        ordinal: u32,
        workgroups: Workgroups<'_>,
        constants: &[u32],
        bindings: &[BufferRef<'_>],
    ) -> Result<()> {
        self.dispatch_with(
            executable,
            ordinal,
            workgroups,
            constants,
            bindings,
            DispatchOptions::default(),
        )
    }

    /// [`CommandBuffer::dispatch`] with `options`: dynamic workgroup local memory beyond the
    /// export's static amount. Options out of range ([`DispatchOptions::validate`]) are
    /// `OUT_OF_RANGE` errors naming the value and the limit, and record nothing.
    #[inline]
    pub fn dispatch_with(
        &mut self,
        executable: &Executable,
        ordinal: u32,
        workgroups: Workgroups<'_>,
        constants: &[u32],
        bindings: &[BufferRef<'_>],
        options: DispatchOptions,
    ) -> Result<()> {
        self.require_category(CommandCategory::DISPATCH, "dispatch")?;
        let export = validate_dispatch_shape(executable, ordinal, constants, bindings)?;
        options.validate(export)?;
        if let Workgroups::Static(counts) = workgroups {
            workgroup_total(counts)?;
        }
        for (index, binding) in bindings.iter().enumerate() {
            self.check_ref_for(binding, BufferUsage::empty(), true, "dispatch binding")
                .and_then(|_| require_dispatch_usage(binding))
                .map_err(|status| status.with_context(format!("in dispatch binding {index}")))?;
        }
        if let Workgroups::Indirect(parameters) = &workgroups {
            let length = self.check_ref(
                parameters,
                BufferUsage::DISPATCH_INDIRECT_PARAMETERS,
                "indirect workgroup count",
            )?;
            check_indirect_parameters(parameters.offset(), length)?;
        }
        let result = self.inner.dispatch(&Dispatch {
            executable,
            ordinal,
            workgroups,
            constants,
            bindings,
            dynamic_local_memory: options.dynamic_local_memory,
        });
        self.accept(result)
    }

    /// Checks that the buffer can be submitted with `binding_table` and resolves the table.
    ///
    /// Every entry is a direct reference inside its buffer, or `None`: an empty slot, allowed
    /// where no recorded command uses that slot (IREE's slot numbers have gaps). A slot a command
    /// uses must be present, long enough and of the right usage; an empty one is
    /// `INVALID_ARGUMENT` naming the slot and its use.
    ///
    /// A one-shot buffer is claimed for this submission: the claim is given back when the
    /// returned [`SubmitClaim`] drops uncommitted (the submission was refused after all), so a
    /// refused call leaves the buffer submittable.
    pub fn prepare_submit(
        &self,
        binding_table: &[Option<BufferRef<'_>>],
    ) -> Result<(Vec<Option<BindingTableEntry>>, SubmitClaim<'_>)> {
        if self.state != RecordingState::Executable {
            return Err(Status::failed_precondition(format!(
                "cannot submit a command buffer in state {:?}; call end first",
                self.state
            )));
        }
        let table = resolve_binding_table(binding_table)?;
        for (slot, requirement) in self.slot_requirements.iter().enumerate() {
            let Some(requirement) = requirement else {
                continue;
            };
            let entry = match table.get(slot) {
                Some(Some(entry)) => entry,
                Some(None) => {
                    return Err(Status::invalid_argument(format!(
                        "binding table slot {slot} is empty, but the command buffer uses it ({})",
                        requirement.describe()
                    )))
                }
                None => {
                    return Err(Status::invalid_argument(format!(
                        "the command buffer uses binding table slot {slot}, but the table has {} entries",
                        table.len()
                    )))
                }
            };
            if entry.length < requirement.min_length {
                return Err(Status::out_of_range(format!(
                    "binding table slot {slot} has {} bytes; the command buffer uses up to {}",
                    entry.length, requirement.min_length
                )));
            }
            entry
                .buffer
                .require_usage(requirement.usage, &format!("binding table slot {slot}"))?;
            if requirement.dispatch
                && !entry
                    .buffer
                    .usage()
                    .intersects(BufferUsage::DISPATCH_STORAGE | BufferUsage::DISPATCH_UNIFORM_READ)
            {
                return Err(Status::permission_denied(format!(
                    "binding table slot {slot} is bound to a dispatch and needs a DISPATCH_STORAGE usage, but its buffer allows only {:?}",
                    entry.buffer.usage()
                )));
            }
        }
        let claimed = if self.params.mode.contains(CommandBufferMode::ONE_SHOT) {
            if self.submitted.swap(true, Ordering::AcqRel) {
                return Err(Status::failed_precondition(
                    "a one-shot command buffer can be submitted only once",
                ));
            }
            Some(&self.submitted)
        } else {
            None
        };
        Ok((table, SubmitClaim { claimed }))
    }
}

/// A one-shot command buffer's claim on its single submission, from
/// [`CommandBuffer::prepare_submit`]: dropped without [`SubmitClaim::commit`], it gives the claim
/// back.
#[must_use = "drop the claim only when the submission was refused"]
pub struct SubmitClaim<'a> {
    claimed: Option<&'a AtomicBool>,
}

impl SubmitClaim<'_> {
    /// The submission was accepted: the buffer stays submitted.
    pub fn commit(mut self) {
        self.claimed = None;
    }
}

impl Drop for SubmitClaim<'_> {
    fn drop(&mut self) {
        if let Some(submitted) = self.claimed {
            submitted.store(false, Ordering::Release);
        }
    }
}

/// `target` with the source's `length`: its own length must be that or whole.
fn with_source_length<'a>(
    target: BufferRef<'a>,
    length: DeviceSize,
    what: &str,
) -> Result<BufferRef<'a>> {
    if target.length() != WHOLE_BUFFER && target.length() != length {
        return Err(Status::invalid_argument(format!(
            "{what} target length {} differs from the {length}-byte source",
            target.length()
        )));
    }
    Ok(BufferRange { length, ..target })
}

#[inline]
fn require_dispatch_usage(binding: &BufferRef<'_>) -> Result<()> {
    if let BufferOrSlot::Buffer(buffer) = binding.buffer {
        if !buffer
            .usage()
            .intersects(BufferUsage::DISPATCH_STORAGE | BufferUsage::DISPATCH_UNIFORM_READ)
        {
            return Err(Status::permission_denied(format!(
                "dispatch bindings need a DISPATCH_STORAGE usage, but the buffer allows only {:?}",
                buffer.usage()
            )));
        }
    }
    Ok(())
}

/// Checks the counts of a dispatch against the export, and returns the export.
#[inline]
pub fn validate_dispatch_shape<'e>(
    executable: &'e Executable,
    ordinal: u32,
    constants: &[u32],
    bindings: &[BufferRef<'_>],
) -> Result<&'e ExportInfo> {
    let export = executable.export(ordinal)?;
    if constants.len() != export.constant_count as usize {
        return Err(Status::invalid_argument(format!(
            "export '{}' takes {} constants, but {} were given",
            export.name,
            export.constant_count,
            constants.len()
        )));
    }
    if bindings.len() != export.binding_count as usize {
        return Err(Status::invalid_argument(format!(
            "export '{}' takes {} bindings, but {} were given",
            export.name,
            export.binding_count,
            bindings.len()
        )));
    }
    Ok(export)
}

/// Checks an indirect-parameters reference at `offset` with `length` bytes (if known now):
/// 4-byte aligned, at least 12 bytes.
pub fn check_indirect_parameters(offset: DeviceSize, length: Option<DeviceSize>) -> Result<()> {
    if !offset.is_multiple_of(4) {
        return Err(Status::invalid_argument(format!(
            "indirect workgroup count offset {offset} is not 4-byte aligned"
        )));
    }
    match length {
        Some(length) if length < 12 => Err(Status::out_of_range(format!(
            "indirect workgroup count needs 12 bytes, but the reference has {length}"
        ))),
        _ => Ok(()),
    }
}

/// Resolves a binding table given at submit: every entry must be a direct reference inside its
/// buffer, or `None` (an empty slot).
pub fn resolve_binding_table(
    table: &[Option<BufferRef<'_>>],
) -> Result<Vec<Option<BindingTableEntry>>> {
    table
        .iter()
        .enumerate()
        .map(|(slot, entry)| {
            entry
                .as_ref()
                .map(|entry| resolve_direct(entry, "binding table entry", slot))
                .transpose()
        })
        .collect()
}

/// Resolves references that must all be direct (a queue dispatch's bindings).
pub fn resolve_direct_refs(refs: &[BufferRef<'_>], what: &str) -> Result<Vec<BindingTableEntry>> {
    refs.iter()
        .enumerate()
        .map(|(index, r)| resolve_direct(r, what, index))
        .collect()
}

/// Resolves one direct reference, entry `index` of a list of `what`.
fn resolve_direct(r: &BufferRef<'_>, what: &str, index: usize) -> Result<BindingTableEntry> {
    match r.buffer {
        BufferOrSlot::Buffer(buffer) => {
            let length = buffer
                .resolve_range(r.offset, r.length)
                .map_err(|status| status.with_context(format!("in {what} {index}")))?;
            Ok(BindingTableEntry {
                buffer: Buffer::clone(buffer),
                offset: r.offset,
                length,
            })
        }
        BufferOrSlot::Slot(slot) => Err(Status::invalid_argument(format!(
            "{what} {index} is a reference to binding table slot {slot}; it must be a buffer"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{buffer, executable, export, RecordingDevice};
    use crate::{QueueWork, StatusCode};

    /// A reusable buffer with `capacity` slots whose only command copies slot `from` to `to`.
    fn copy_between_slots(
        device: &crate::Device,
        capacity: u32,
        from: u32,
        to: u32,
    ) -> CommandBuffer {
        let mut command_buffer = device
            .create_command_buffer(CommandBufferParams::reusable(capacity))
            .unwrap();
        command_buffer.begin().unwrap();
        command_buffer
            .copy(BufferRef::slot(from, 0, 16), BufferRef::slot(to, 0, 16))
            .unwrap();
        command_buffer.end().unwrap();
        command_buffer
    }

    fn expect(status: Status, code: StatusCode, needles: &[&str]) {
        assert_eq!(status.code(), code, "{status}");
        let text = status.to_string();
        for needle in needles {
            assert!(text.contains(needle), "'{text}' does not name '{needle}'");
        }
    }

    #[test]
    fn empty_slots_no_command_uses_are_accepted_and_stay_empty() {
        let (_, device) = RecordingDevice::create();
        let command_buffer = copy_between_slots(&device, 5, 1, 3);
        let (a, b) = (buffer(16), buffer(32));
        let (table, claim) = command_buffer
            .prepare_submit(&[
                None,
                Some(BufferRef::whole(&a)),
                None,
                Some(BufferRef::range(&b, 8, 16)),
                None,
            ])
            .unwrap();
        claim.commit();
        assert_eq!(table.len(), 5);
        assert!(table[0].is_none() && table[2].is_none() && table[4].is_none());
        let entry = table[3].as_ref().expect("slot 3 is filled");
        assert!(entry.buffer.ptr_eq(&b));
        assert_eq!((entry.offset, entry.length), (8, 16));
    }

    #[test]
    fn an_empty_slot_a_command_uses_is_refused_naming_the_slot_and_its_use() {
        let (_, device) = RecordingDevice::create();
        let command_buffer = copy_between_slots(&device, 4, 1, 3);
        let a = buffer(16);
        let error = command_buffer
            .prepare_submit(&[None, Some(BufferRef::whole(&a)), None, None])
            .map(|_| ())
            .unwrap_err();
        expect(
            error,
            StatusCode::InvalidArgument,
            &["slot 3", "empty", "TRANSFER_TARGET"],
        );
        let error = command_buffer
            .prepare_submit(&[None, None, None, Some(BufferRef::whole(&a))])
            .map(|_| ())
            .unwrap_err();
        expect(
            error,
            StatusCode::InvalidArgument,
            &["slot 1", "empty", "TRANSFER_SOURCE"],
        );
        // A table that stops before a used slot is still the old error.
        let error = command_buffer
            .prepare_submit(&[None, Some(BufferRef::whole(&a))])
            .map(|_| ())
            .unwrap_err();
        expect(error, StatusCode::InvalidArgument, &["slot 3", "2 entries"]);
    }

    #[test]
    fn an_empty_slot_a_dispatch_binds_is_refused_as_a_dispatch_binding() {
        let (_, device) = RecordingDevice::create();
        let exe = executable(vec![export("k", 0, 2)]).unwrap();
        let mut command_buffer = device
            .create_command_buffer(CommandBufferParams::reusable(3))
            .unwrap();
        command_buffer.begin().unwrap();
        command_buffer
            .dispatch(
                &exe,
                0,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::slot(0, 0, 4), BufferRef::slot(2, 0, 4)],
            )
            .unwrap();
        command_buffer.end().unwrap();
        let a = buffer(16);
        let error = command_buffer
            .prepare_submit(&[Some(BufferRef::whole(&a)), Some(BufferRef::whole(&a)), None])
            .map(|_| ())
            .unwrap_err();
        expect(
            error,
            StatusCode::InvalidArgument,
            &["slot 2", "empty", "dispatch binding"],
        );
        let (table, claim) = command_buffer
            .prepare_submit(&[Some(BufferRef::whole(&a)), None, Some(BufferRef::whole(&a))])
            .unwrap();
        claim.commit();
        assert!(table[1].is_none());
    }

    #[test]
    fn a_one_shot_buffer_refused_for_an_empty_slot_can_still_be_submitted() {
        let (_, device) = RecordingDevice::create();
        let mut command_buffer = device
            .create_command_buffer(CommandBufferParams {
                mode: CommandBufferMode::ONE_SHOT,
                categories: CommandCategory::ANY,
                binding_capacity: 2,
            })
            .unwrap();
        command_buffer.begin().unwrap();
        command_buffer
            .fill(BufferRef::slot(1, 0, 4), FillPattern::U8(1))
            .unwrap();
        command_buffer.end().unwrap();
        let a = buffer(16);
        assert!(command_buffer
            .prepare_submit(&[Some(BufferRef::whole(&a)), None])
            .is_err());
        let (_, claim) = command_buffer
            .prepare_submit(&[None, Some(BufferRef::whole(&a))])
            .unwrap();
        claim.commit();
        let again = command_buffer.prepare_submit(&[None, Some(BufferRef::whole(&a))]);
        expect(
            again.map(|_| ()).unwrap_err(),
            StatusCode::FailedPrecondition,
            &["only once"],
        );
    }

    #[test]
    fn a_table_entry_must_be_a_buffer_and_inside_it() {
        let (_, device) = RecordingDevice::create();
        let command_buffer = copy_between_slots(&device, 2, 0, 1);
        let a = buffer(16);
        let error = command_buffer
            .prepare_submit(&[Some(BufferRef::whole(&a)), Some(BufferRef::slot(0, 0, 16))])
            .map(|_| ())
            .unwrap_err();
        expect(error, StatusCode::InvalidArgument, &["entry 1", "slot 0"]);
        let error = command_buffer
            .prepare_submit(&[
                Some(BufferRef::whole(&a)),
                Some(BufferRef::range(&a, 8, 16)),
            ])
            .map(|_| ())
            .unwrap_err();
        expect(error, StatusCode::OutOfRange, &["entry 1"]);
    }

    #[test]
    fn resolving_an_empty_or_missing_slot_names_it() {
        let table = [
            None,
            Some(BindingTableEntry {
                buffer: buffer(8),
                offset: 0,
                length: 8,
            }),
        ];
        let error = BufferRef::slot(0, 0, 4).resolve(&table).unwrap_err();
        expect(error, StatusCode::InvalidArgument, &["slot 0", "empty"]);
        let error = BufferRef::slot(2, 0, 4).resolve(&table).unwrap_err();
        expect(error, StatusCode::OutOfRange, &["slot 2", "2 entries"]);
        let reference = BufferRef::slot(1, 4, 4);
        let resolved = reference.resolve(&table).unwrap();
        assert_eq!((resolved.offset, resolved.length), (4, 4));
    }

    fn recording(device: &crate::Device) -> CommandBuffer {
        let mut command_buffer = device
            .create_command_buffer(CommandBufferParams::one_shot_inline())
            .unwrap();
        command_buffer.begin().unwrap();
        command_buffer
    }

    #[test]
    fn dispatch_options_reach_the_driver() {
        let (recording_device, device) = RecordingDevice::create();
        let exe = executable(vec![export("k", 0, 1)]).unwrap();
        let a = buffer(16);
        let mut command_buffer = recording(&device);
        command_buffer
            .dispatch(
                &exe,
                0,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
            )
            .unwrap();
        for dynamic_local_memory in [1, 4096, MAX_DYNAMIC_LOCAL_MEMORY] {
            command_buffer
                .dispatch_with(
                    &exe,
                    0,
                    Workgroups::Static([1, 1, 1]),
                    &[],
                    &[BufferRef::whole(&a)],
                    DispatchOptions {
                        dynamic_local_memory,
                    },
                )
                .unwrap();
        }
        let seen: Vec<u32> = recording_device
            .command_buffer_dispatches
            .lock()
            .iter()
            .map(|d| d.dynamic_local_memory)
            .collect();
        assert_eq!(seen, [0, 1, 4096, MAX_DYNAMIC_LOCAL_MEMORY]);
    }

    #[test]
    fn dynamic_local_memory_past_the_limit_is_refused_naming_value_and_limit() {
        let (recording_device, device) = RecordingDevice::create();
        let mut big = export("big", 0, 1);
        big.local_memory_size = u32::MAX - 100;
        let exe = executable(vec![export("k", 0, 1), big]).unwrap();
        let a = buffer(16);
        let mut command_buffer = recording(&device);
        let too_much = MAX_DYNAMIC_LOCAL_MEMORY + 1;
        let error = command_buffer
            .dispatch_with(
                &exe,
                0,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
                DispatchOptions {
                    dynamic_local_memory: too_much,
                },
            )
            .unwrap_err();
        expect(
            error,
            StatusCode::OutOfRange,
            &[
                "'k'",
                &too_much.to_string(),
                &MAX_DYNAMIC_LOCAL_MEMORY.to_string(),
            ],
        );
        // Within the limit, but not with the export's static local memory in 32 bits.
        let error = command_buffer
            .dispatch_with(
                &exe,
                1,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
                DispatchOptions {
                    dynamic_local_memory: 101,
                },
            )
            .unwrap_err();
        expect(
            error,
            StatusCode::OutOfRange,
            &["'big'", "101", &(u32::MAX - 100).to_string()],
        );
        assert!(recording_device.command_buffer_dispatches.lock().is_empty());
        // The same options through the queue: refused, nothing queued.
        let error = device
            .queue_dispatch_with(
                &[],
                &[],
                &exe,
                0,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
                DispatchOptions {
                    dynamic_local_memory: too_much,
                },
            )
            .unwrap_err();
        expect(
            error,
            StatusCode::OutOfRange,
            &[&too_much.to_string(), &MAX_DYNAMIC_LOCAL_MEMORY.to_string()],
        );
        assert!(recording_device.operations.lock().is_empty());
    }

    #[test]
    fn queue_dispatch_with_carries_the_dynamic_local_memory() {
        let (recording_device, device) = RecordingDevice::create();
        let exe = executable(vec![export("k", 0, 1)]).unwrap();
        let a = buffer(16);
        for dynamic_local_memory in [0, 8192] {
            device
                .queue_dispatch_with(
                    &[],
                    &[],
                    &exe,
                    0,
                    Workgroups::Static([2, 1, 1]),
                    &[],
                    &[BufferRef::whole(&a)],
                    DispatchOptions {
                        dynamic_local_memory,
                    },
                )
                .unwrap();
        }
        device
            .queue_dispatch(
                &[],
                &[],
                &exe,
                0,
                Workgroups::Static([2, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
            )
            .unwrap();
        let seen: Vec<u32> = recording_device
            .operations
            .lock()
            .iter()
            .map(|operation| match &operation.work {
                QueueWork::Dispatch {
                    dynamic_local_memory,
                    ..
                } => *dynamic_local_memory,
                other => panic!("expected a dispatch, got {other:?}"),
            })
            .collect();
        assert_eq!(seen, [0, 8192, 0]);
    }

    #[test]
    fn queue_execute_hands_empty_slots_to_the_driver() {
        let (recording, device) = RecordingDevice::create();
        let command_buffer = copy_between_slots(&device, 3, 0, 2);
        let a = buffer(16);
        device
            .queue_execute(
                &[],
                &[],
                &command_buffer,
                &[Some(BufferRef::whole(&a)), None, Some(BufferRef::whole(&a))],
            )
            .unwrap();
        let operations = recording.operations.lock();
        let QueueWork::Execute { binding_table, .. } = &operations[0].work else {
            panic!("expected an execute, got {:?}", operations[0].work);
        };
        let filled: Vec<bool> = binding_table.iter().map(Option::is_some).collect();
        assert_eq!(filled, [true, false, true]);
    }
}
