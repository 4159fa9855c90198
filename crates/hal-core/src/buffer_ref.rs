//! Buffer ranges, one type for every way a range is held: a command's reference (a buffer or a
//! binding-table slot, borrowed while recording or kept by a recorded program), and the concrete
//! range it resolves to (borrowed while running, or owned by a queued operation).

use std::borrow::Borrow;

use crate::buffer::{resolve_range, Buffer};
use crate::memory::{DeviceSize, WHOLE_BUFFER};
use crate::status::{Result, Status};

/// Bytes `[offset, offset + length)` of a buffer held as `H`.
///
/// `H` says how the buffer is held, and with it what the range promises:
/// - [`ResolvedRef`] (`&Buffer`) and [`BindingTableEntry`] (`Buffer`): a concrete range, checked
///   to lie inside the buffer;
/// - [`BufferRef`] (`BufferOrSlot<&Buffer>`) and [`RecordedRef`] (`BufferOrSlot<Buffer>`): what a
///   command names, a buffer or a binding-table slot; its length may be [`WHOLE_BUFFER`] (the rest
///   of the buffer or entry) until it is resolved.
#[derive(Clone, Copy, Debug)]
pub struct BufferRange<H> {
    /// The buffer (or where to find it).
    pub buffer: H,
    /// Byte offset into the buffer (for a slot: into the table entry's range).
    pub offset: DeviceSize,
    /// Byte length.
    pub length: DeviceSize,
}

/// Where a command's range lives: a buffer given at record time, or a slot of the binding table
/// given at submit.
#[derive(Clone, Copy, Debug)]
pub enum BufferOrSlot<B> {
    /// A buffer given at record time.
    Buffer(B),
    /// Index into the binding table given when the command buffer is submitted.
    Slot(u32),
}

/// A range named by a command while it is recorded: borrowed, possibly a slot, possibly whole.
pub type BufferRef<'a> = BufferRange<BufferOrSlot<&'a Buffer>>;

/// A range named by a recorded command, holding its buffer until the program is dropped.
pub type RecordedRef = BufferRange<BufferOrSlot<Buffer>>;

/// A concrete range, borrowed: what a reference resolves to when a command runs.
pub type ResolvedRef<'a> = BufferRange<&'a Buffer>;

/// A concrete range that owns its buffer handle: one entry of a resolved binding table, or a
/// range held by a queued operation (a resolved table is a `Vec<Option<BindingTableEntry>>`:
/// `None` is an empty slot, which no command uses).
pub type BindingTableEntry = BufferRange<Buffer>;

impl<'a> BufferRef<'a> {
    /// The whole of `buffer`.
    pub fn whole(buffer: &'a Buffer) -> BufferRef<'a> {
        BufferRef::range(buffer, 0, WHOLE_BUFFER)
    }

    /// `[offset, offset + length)` of `buffer`.
    pub fn range(buffer: &'a Buffer, offset: DeviceSize, length: DeviceSize) -> BufferRef<'a> {
        BufferRange {
            buffer: BufferOrSlot::Buffer(buffer),
            offset,
            length,
        }
    }

    /// `[offset, offset + length)` of binding-table slot `slot`.
    pub fn slot(slot: u32, offset: DeviceSize, length: DeviceSize) -> BufferRef<'static> {
        BufferRange {
            buffer: BufferOrSlot::Slot(slot),
            offset,
            length,
        }
    }
}

impl<B: Borrow<Buffer>> BufferRange<BufferOrSlot<B>> {
    /// The byte offset of the reference.
    #[inline]
    pub fn offset(&self) -> DeviceSize {
        self.offset
    }

    /// The byte length of the reference ([`WHOLE_BUFFER`] when not given).
    #[inline]
    pub fn length(&self) -> DeviceSize {
        self.length
    }

    /// The same reference with another length.
    #[inline]
    pub fn with_length(&self, length: DeviceSize) -> BufferRef<'_> {
        BufferRange {
            buffer: self.buffer_or_slot(),
            offset: self.offset,
            length,
        }
    }

    /// The buffer or slot, borrowed.
    #[inline]
    pub fn buffer_or_slot(&self) -> BufferOrSlot<&Buffer> {
        match &self.buffer {
            BufferOrSlot::Buffer(buffer) => BufferOrSlot::Buffer(buffer.borrow()),
            BufferOrSlot::Slot(slot) => BufferOrSlot::Slot(*slot),
        }
    }

    /// The reference as a recorded program keeps it (holding the buffer handle).
    pub fn to_recorded(&self) -> RecordedRef {
        BufferRange {
            buffer: match &self.buffer {
                BufferOrSlot::Buffer(buffer) => BufferOrSlot::Buffer(buffer.borrow().clone()),
                BufferOrSlot::Slot(slot) => BufferOrSlot::Slot(*slot),
            },
            offset: self.offset,
            length: self.length,
        }
    }

    /// Resolves the reference to a concrete range, using `table` for slots. A slot beyond the
    /// table is `OUT_OF_RANGE` and an empty slot (`None`) `INVALID_ARGUMENT`, each naming the
    /// slot; submission checks both first ([`crate::CommandBuffer::prepare_submit`]), so this
    /// only guards drivers.
    #[inline]
    pub fn resolve<'t>(
        &'t self,
        table: &'t [Option<BindingTableEntry>],
    ) -> Result<ResolvedRef<'t>> {
        match &self.buffer {
            BufferOrSlot::Buffer(buffer) => {
                let buffer = buffer.borrow();
                let length = buffer.resolve_range(self.offset, self.length)?;
                Ok(BufferRange {
                    buffer,
                    offset: self.offset,
                    length,
                })
            }
            BufferOrSlot::Slot(slot) => {
                let slot = *slot;
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
                let length =
                    resolve_range(entry.length, self.offset, self.length).map_err(|status| {
                        status.with_context(format!("in binding table slot {slot}"))
                    })?;
                Ok(BufferRange {
                    buffer: &entry.buffer,
                    offset: entry.offset + self.offset,
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

impl<B: Borrow<Buffer>> BufferRange<B> {
    /// The concrete range, borrowed.
    #[inline]
    pub fn borrowed(&self) -> ResolvedRef<'_> {
        BufferRange {
            buffer: self.buffer.borrow(),
            offset: self.offset,
            length: self.length,
        }
    }

    /// The concrete range holding its own buffer handle.
    pub fn to_entry(&self) -> BindingTableEntry {
        BufferRange {
            buffer: self.buffer.borrow().clone(),
            offset: self.offset,
            length: self.length,
        }
    }

    /// Offset within the buffer's allocation.
    #[inline]
    pub fn storage_offset(&self) -> DeviceSize {
        self.buffer.borrow().storage_offset() + self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusCode;
    use crate::test_support::buffer;
    use crate::test_support::expect_status;

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
        expect_status(error, StatusCode::InvalidArgument, &["slot 0", "empty"]);
        let error = BufferRef::slot(2, 0, 4).resolve(&table).unwrap_err();
        expect_status(error, StatusCode::OutOfRange, &["slot 2", "2 entries"]);
        let reference = BufferRef::slot(1, 4, 4);
        let resolved = reference.resolve(&table).unwrap();
        assert_eq!((resolved.offset, resolved.length), (4, 4));
    }
}
