//! References to buffer ranges in commands: direct, or a slot of a binding table given at submit.

use crate::buffer::{resolve_range, Buffer};
use crate::memory::{BufferUsage, DeviceSize, WHOLE_BUFFER};
use crate::{Result, Status};

/// A range of a buffer named by a command.
#[derive(Clone, Copy, Debug)]
pub enum BufferRef<'a> {
    /// A buffer given at record time.
    Direct {
        /// The buffer.
        buffer: &'a Buffer,
        /// Byte offset into the buffer.
        offset: DeviceSize,
        /// Byte length, or [`WHOLE_BUFFER`] for the rest of the buffer.
        length: DeviceSize,
    },
    /// A slot of the binding table given when the command buffer is submitted.
    Slot {
        /// Index into the binding table.
        slot: u32,
        /// Byte offset into the table entry's range.
        offset: DeviceSize,
        /// Byte length, or [`WHOLE_BUFFER`] for the rest of the entry's range.
        length: DeviceSize,
    },
}

impl<'a> BufferRef<'a> {
    /// The whole of `buffer`.
    pub fn whole(buffer: &'a Buffer) -> BufferRef<'a> {
        BufferRef::Direct {
            buffer,
            offset: 0,
            length: WHOLE_BUFFER,
        }
    }

    /// `[offset, offset + length)` of `buffer`.
    pub fn range(buffer: &'a Buffer, offset: DeviceSize, length: DeviceSize) -> BufferRef<'a> {
        BufferRef::Direct {
            buffer,
            offset,
            length,
        }
    }

    /// `[offset, offset + length)` of binding-table slot `slot`.
    pub fn slot(slot: u32, offset: DeviceSize, length: DeviceSize) -> BufferRef<'static> {
        BufferRef::Slot {
            slot,
            offset,
            length,
        }
    }

    /// The byte offset of the reference.
    #[inline]
    pub fn offset(&self) -> DeviceSize {
        match *self {
            BufferRef::Direct { offset, .. } | BufferRef::Slot { offset, .. } => offset,
        }
    }

    /// The byte length of the reference ([`WHOLE_BUFFER`] when not given).
    #[inline]
    pub fn length(&self) -> DeviceSize {
        match *self {
            BufferRef::Direct { length, .. } | BufferRef::Slot { length, .. } => length,
        }
    }

    /// Resolves the reference to a buffer range, using `table` for slots. A slot beyond the
    /// table is `OUT_OF_RANGE` and an empty slot (`None`) `INVALID_ARGUMENT`, each naming the
    /// slot; submission checks both first ([`crate::CommandBuffer::prepare_submit`]), so this
    /// only guards drivers.
    #[inline]
    pub fn resolve<'t>(&self, table: &'t [Option<BindingTableEntry>]) -> Result<ResolvedRef<'t>>
    where
        'a: 't,
    {
        match *self {
            BufferRef::Direct {
                buffer,
                offset,
                length,
            } => {
                let length = buffer.resolve_range(offset, length)?;
                Ok(ResolvedRef {
                    buffer,
                    offset,
                    length,
                })
            }
            BufferRef::Slot {
                slot,
                offset,
                length,
            } => {
                let entry = match table.get(slot as usize) {
                    Some(Some(entry)) => entry,
                    Some(None) => return Err(empty_slot_error(slot)),
                    None => {
                        return Err(Status::out_of_range(format!(
                            "binding table slot {slot} is out of range; the table has {} entries",
                            table.len()
                        )))
                    }
                };
                let length = resolve_range(entry.length, offset, length).map_err(|status| {
                    status.with_context(format!("in binding table slot {slot}"))
                })?;
                Ok(ResolvedRef {
                    buffer: &entry.buffer,
                    offset: entry.offset + offset,
                    length,
                })
            }
        }
    }
}

#[cold]
#[inline(never)]
fn empty_slot_error(slot: u32) -> Status {
    Status::invalid_argument(format!(
        "binding table slot {slot} is empty, but a command uses it"
    ))
}

/// A reference resolved to a concrete buffer range.
#[derive(Clone, Copy, Debug)]
pub struct ResolvedRef<'a> {
    /// The buffer.
    pub buffer: &'a Buffer,
    /// Byte offset into the buffer.
    pub offset: DeviceSize,
    /// Byte length.
    pub length: DeviceSize,
}

impl ResolvedRef<'_> {
    /// Offset within the buffer's allocation.
    pub fn storage_offset(&self) -> DeviceSize {
        self.buffer.storage_offset() + self.offset
    }
}

/// One entry of a binding table, as held by a queued submission (a resolved table is a
/// `Vec<Option<BindingTableEntry>>`: `None` is an empty slot, which no command uses).
#[derive(Clone, Debug)]
pub struct BindingTableEntry {
    /// The buffer.
    pub buffer: Buffer,
    /// Byte offset into the buffer.
    pub offset: DeviceSize,
    /// Byte length (concrete).
    pub length: DeviceSize,
}

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
