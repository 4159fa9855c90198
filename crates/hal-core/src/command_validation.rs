//! Checks shared by recorded commands (the `CommandBuffer` handle) and queued ones (the device's
//! queue calls): a dispatch's counts against its export, indirect workgroup-count references, and
//! resolving references that must name a buffer (binding tables, queue dispatch bindings).

use crate::buffer::Buffer;
use crate::buffer_ref::{BindingTableEntry, BufferOrSlot, BufferRef};
use crate::executable::{Executable, ExportInfo};
use crate::memory::DeviceSize;
use crate::status::{Result, Status};

/// Checks the counts of a dispatch against the export, and returns the export.
#[inline]
pub(crate) fn validate_dispatch_shape<'e>(
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
pub(crate) fn check_indirect_parameters(
    offset: DeviceSize,
    length: Option<DeviceSize>,
) -> Result<()> {
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
pub(crate) fn resolve_binding_table(
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
pub(crate) fn resolve_direct_refs(
    refs: &[BufferRef<'_>],
    what: &str,
) -> Result<Vec<BindingTableEntry>> {
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
