//! What a command buffer's recorded commands require of the binding table given at submit: one
//! requirement per used slot, gathered while recording and checked against the table.
//!
//! A command's slot uses are held aside while it is validated and become requirements only once
//! the command is accepted, so a rejected command leaves no requirement behind.

use crate::buffer_ref::BindingTableEntry;
use crate::memory::{BufferUsage, DeviceSize};
use crate::status::{Result, Status};

/// What a command buffer requires of one binding-table slot, collected while recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRequirement {
    /// The table entry must be at least this long.
    pub min_length: DeviceSize,
    /// The entry's buffer must allow this usage.
    pub usage: BufferUsage,
    /// The slot is bound to a dispatch, so its buffer needs a dispatch usage.
    pub dispatch: bool,
}

impl SlotRequirement {
    /// How the slot is used, for messages: `a dispatch binding` and/or the usage bits required.
    pub fn describe(&self) -> String {
        match (self.dispatch, self.usage.is_empty()) {
            (true, true) => "as a dispatch binding".to_string(),
            (true, false) => format!("as a dispatch binding and with usage {:?}", self.usage),
            (false, _) => format!("with usage {:?}", self.usage),
        }
    }

    /// Folds in one more use of the slot.
    pub fn merge(&mut self, other: SlotRequirement) {
        self.min_length = self.min_length.max(other.min_length);
        self.usage |= other.usage;
        self.dispatch |= other.dispatch;
    }
}

/// The slot requirements of the commands recorded so far, and the slot uses of the command being
/// validated.
#[derive(Debug, Default)]
pub(crate) struct SlotRequirements {
    /// Index = slot.
    accepted: Vec<Option<SlotRequirement>>,
    pending: Vec<(u32, SlotRequirement)>,
}

impl SlotRequirements {
    /// What each used slot requires (index = slot).
    pub(crate) fn by_slot(&self) -> &[Option<SlotRequirement>] {
        &self.accepted
    }

    /// Starts validating a command: the uses of a previous, rejected one are dropped.
    #[inline]
    pub(crate) fn start_command(&mut self) {
        self.pending.clear();
    }

    /// Notes one slot use of the command being validated.
    pub(crate) fn note(&mut self, slot: u32, requirement: SlotRequirement) {
        self.pending.push((slot, requirement));
    }

    /// The command was accepted: its slot uses become requirements.
    #[inline]
    pub(crate) fn accept_command(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        for (slot, requirement) in std::mem::take(&mut self.pending) {
            let index = slot as usize;
            if self.accepted.len() <= index {
                self.accepted.resize(index + 1, None);
            }
            match &mut self.accepted[index] {
                Some(existing) => existing.merge(requirement),
                empty => *empty = Some(requirement),
            }
        }
    }

    /// Checks a resolved binding table against every requirement: a used slot must be present,
    /// long enough and of the right usage. An empty or missing one is `INVALID_ARGUMENT` naming
    /// the slot (and its use), a short one `OUT_OF_RANGE`, a wrong usage `PERMISSION_DENIED`.
    pub(crate) fn check(&self, table: &[Option<BindingTableEntry>]) -> Result<()> {
        for (slot, requirement) in self.accepted.iter().enumerate() {
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
        Ok(())
    }
}
