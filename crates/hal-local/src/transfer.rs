//! Fill, update and copy on host memory, as device work, for commands already resolved and
//! checked ([`crate::ResolvedCommand`]).
//!
//! These run with device access held (see [`crate::DeviceScope`]), so no host mapping can alias
//! the memory; they touch it only through raw pointers, never through references.

use hal_core::{FillPattern, RangeUse, ResolvedRef, Result, Status};

use crate::device_scope::DeviceScope;

/// Fills `target` with `pattern` (its length a multiple of the pattern's width).
pub fn fill(scope: &mut DeviceScope, target: &ResolvedRef<'_>, pattern: FillPattern) -> Result<()> {
    if target.length == 0 {
        return Ok(());
    }
    let ptr = scope.pointer(target, RangeUse::WRITE)?;
    let length = target.length as usize;
    match pattern {
        // SAFETY: device access to the allocation is held and [ptr, ptr + length) lies inside it.
        FillPattern::U8(value) => unsafe { std::ptr::write_bytes(ptr, value, length) },
        _ => {
            let word = pattern.repeated_word();
            let step = pattern.width() as usize;
            let mut offset = 0;
            while offset < length {
                // SAFETY: as above; `length` is a multiple of `step` (checked when the command
                // was resolved).
                unsafe { std::ptr::copy_nonoverlapping(word.as_ptr(), ptr.add(offset), step) };
                offset += step;
            }
        }
    }
    Ok(())
}

/// Writes `data` to `target` (whose length is `data.len()`).
pub fn update(scope: &mut DeviceScope, data: &[u8], target: &ResolvedRef<'_>) -> Result<()> {
    debug_assert_eq!(target.length, data.len() as u64);
    if data.is_empty() {
        return Ok(());
    }
    let ptr = scope.pointer(target, RangeUse::WRITE)?;
    // SAFETY: device access is held, the target range lies in the allocation and is
    // `data.len()` long (checked when the command was resolved), and `data` is
    // host memory distinct from buffer memory mapped by nobody (the gate excludes mappings).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
    Ok(())
}

/// Copies `source` to `target` (equal lengths; ranges of one allocation do not overlap).
pub fn copy(
    scope: &mut DeviceScope,
    source: &ResolvedRef<'_>,
    target: &ResolvedRef<'_>,
) -> Result<()> {
    debug_assert_eq!(source.length, target.length);
    if source.length == 0 {
        return Ok(());
    }
    let from = scope.pointer(source, RangeUse::READ)?;
    let to = scope.pointer(target, RangeUse::WRITE)?;
    // SAFETY: device access to both allocations is held; both ranges lie inside them, are
    // equally long and do not overlap (checked when the command was resolved).
    unsafe { std::ptr::copy_nonoverlapping(from, to, source.length as usize) };
    Ok(())
}

/// Reads three u32 workgroup counts from `parameters`.
pub fn read_workgroup_counts(
    scope: &mut DeviceScope,
    parameters: &ResolvedRef<'_>,
) -> Result<[u32; 3]> {
    if parameters.length < 12 || !parameters.offset.is_multiple_of(4) {
        return Err(Status::out_of_range(format!(
            "indirect workgroup counts need 12 aligned bytes, got {} at offset {}",
            parameters.length, parameters.offset
        )));
    }
    let ptr = scope.pointer(parameters, RangeUse::READ)?;
    let mut counts = [0u32; 3];
    // SAFETY: device access is held and 12 bytes lie inside the allocation (checked above);
    // an unaligned read is used because subspans may shift alignment.
    unsafe { std::ptr::copy_nonoverlapping(ptr, counts.as_mut_ptr().cast::<u8>(), 12) };
    hal_core::workgroup_total(counts)
        .map_err(|status| status.with_context("read as indirect workgroup counts"))?;
    Ok(counts)
}
