//! The command buffer handle: recorded fills, updates, copies, dispatches, barriers and events.
//!
//! The [`CommandBuffer`] handle validates every command once for all drivers (recording state,
//! categories, ranges, alignment, usage, counts) and then hands it to the driver's
//! [`CommandBufferImpl`]. Recording takes `&mut self`, so a command buffer is recorded by one
//! thread without locks; once ended it can be shared and submitted from anywhere.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::buffer::check_no_overlap;
use crate::buffer_ref::{BindingTableEntry, BufferOrSlot, BufferRange, BufferRef};
use crate::command_buffer_impl::{CommandBufferImpl, Dispatch};
use crate::command_buffer_params::{CommandBufferMode, CommandBufferParams, CommandCategory};
use crate::command_validation::{
    check_indirect_parameters, resolve_binding_table, validate_dispatch_shape,
};
use crate::dispatch_options::DispatchOptions;
use crate::event::Event;
use crate::executable::Executable;
use crate::fill_pattern::{check_fill_alignment, FillPattern};
use crate::memory::{BufferUsage, DeviceSize, WHOLE_BUFFER};
use crate::slot_requirements::{SlotRequirement, SlotRequirements};
use crate::status::{Result, Status};
use crate::workgroups::{workgroup_total, Workgroups};

/// The largest payload one `update` command may carry (IREE's limit).
pub const MAX_UPDATE_SIZE: usize = 64 * 1024;

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
    slot_requirements: SlotRequirements,
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
            slot_requirements: SlotRequirements::default(),
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
        self.slot_requirements.by_slot()
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
        self.slot_requirements.start_command();
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
        self.validate_reference(r, usage, false, what)
    }

    /// Validates a reference used as `usage` (as [`CommandBuffer::check_ref`]); `dispatch` marks a
    /// dispatch binding, which needs a dispatch usage.
    #[inline]
    fn validate_reference(
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
                self.slot_requirements.note(slot, requirement);
                Ok((length != WHOLE_BUFFER).then_some(length))
            }
        }
    }

    /// Completes a command: if the driver accepted it, its slot uses become requirements.
    #[inline]
    fn accept(&mut self, result: Result<()>) -> Result<()> {
        if result.is_ok() {
            self.slot_requirements.accept_command();
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
            self.validate_reference(binding, BufferUsage::empty(), true, "dispatch binding")
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
        self.slot_requirements.check(&table)?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::dispatch_options::MAX_DYNAMIC_LOCAL_MEMORY;
    use crate::recording_command_buffer::{RecordingCommandBuffer, SeenDispatch};
    use crate::status::StatusCode;
    use crate::test_support::{buffer, executable, expect_status, export};

    /// A command buffer for `params` over a driver that accepts every command, and the
    /// dispatches that driver receives.
    fn create(params: CommandBufferParams) -> (Arc<Mutex<Vec<SeenDispatch>>>, CommandBuffer) {
        params.validate().unwrap();
        let driver = RecordingCommandBuffer::default();
        let dispatches = driver.dispatches.clone();
        (dispatches, CommandBuffer::new(Box::new(driver), params))
    }

    /// A reusable buffer with `capacity` slots whose only command copies slot `from` to `to`.
    fn copy_between_slots(capacity: u32, from: u32, to: u32) -> CommandBuffer {
        let (_, mut command_buffer) = create(CommandBufferParams::reusable(capacity));
        command_buffer.begin().unwrap();
        command_buffer
            .copy(BufferRef::slot(from, 0, 16), BufferRef::slot(to, 0, 16))
            .unwrap();
        command_buffer.end().unwrap();
        command_buffer
    }

    #[test]
    fn empty_slots_no_command_uses_are_accepted_and_stay_empty() {
        let command_buffer = copy_between_slots(5, 1, 3);
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
        let command_buffer = copy_between_slots(4, 1, 3);
        let a = buffer(16);
        let error = command_buffer
            .prepare_submit(&[None, Some(BufferRef::whole(&a)), None, None])
            .map(|_| ())
            .unwrap_err();
        expect_status(
            error,
            StatusCode::InvalidArgument,
            &["slot 3", "empty", "TRANSFER_TARGET"],
        );
        let error = command_buffer
            .prepare_submit(&[None, None, None, Some(BufferRef::whole(&a))])
            .map(|_| ())
            .unwrap_err();
        expect_status(
            error,
            StatusCode::InvalidArgument,
            &["slot 1", "empty", "TRANSFER_SOURCE"],
        );
        // A table that stops before a used slot is still the old error.
        let error = command_buffer
            .prepare_submit(&[None, Some(BufferRef::whole(&a))])
            .map(|_| ())
            .unwrap_err();
        expect_status(error, StatusCode::InvalidArgument, &["slot 3", "2 entries"]);
    }

    #[test]
    fn an_empty_slot_a_dispatch_binds_is_refused_as_a_dispatch_binding() {
        let exe = executable(vec![export("k", 0, 2)]).unwrap();
        let (_, mut command_buffer) = create(CommandBufferParams::reusable(3));
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
        expect_status(
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
        let (_, mut command_buffer) = create(CommandBufferParams {
            mode: CommandBufferMode::ONE_SHOT,
            categories: CommandCategory::ANY,
            binding_capacity: 2,
        });
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
        expect_status(
            again.map(|_| ()).unwrap_err(),
            StatusCode::FailedPrecondition,
            &["only once"],
        );
    }

    #[test]
    fn a_table_entry_must_be_a_buffer_and_inside_it() {
        let command_buffer = copy_between_slots(2, 0, 1);
        let a = buffer(16);
        let error = command_buffer
            .prepare_submit(&[Some(BufferRef::whole(&a)), Some(BufferRef::slot(0, 0, 16))])
            .map(|_| ())
            .unwrap_err();
        expect_status(error, StatusCode::InvalidArgument, &["entry 1", "slot 0"]);
        let error = command_buffer
            .prepare_submit(&[
                Some(BufferRef::whole(&a)),
                Some(BufferRef::range(&a, 8, 16)),
            ])
            .map(|_| ())
            .unwrap_err();
        expect_status(error, StatusCode::OutOfRange, &["entry 1"]);
    }

    /// A one-shot inline command buffer, begun, and the dispatches its driver receives.
    fn recording() -> (Arc<Mutex<Vec<SeenDispatch>>>, CommandBuffer) {
        let (dispatches, mut command_buffer) = create(CommandBufferParams::one_shot_inline());
        command_buffer.begin().unwrap();
        (dispatches, command_buffer)
    }

    #[test]
    fn dispatch_options_reach_the_driver() {
        let exe = executable(vec![export("k", 0, 1)]).unwrap();
        let a = buffer(16);
        let (dispatches, mut command_buffer) = recording();
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
        let seen: Vec<u32> = dispatches
            .lock()
            .iter()
            .map(|d| d.dynamic_local_memory)
            .collect();
        assert_eq!(seen, [0, 1, 4096, MAX_DYNAMIC_LOCAL_MEMORY]);
    }
}
