//! What one dispatch hands its kernels: the checked dispatch state every workgroup shares, and
//! how much local memory each workgroup gets.

use std::ffi::c_void;

use hal_core::{workgroup_total, Result, Status, MAX_BINDING_COUNT};

use crate::abi::DispatchStateV0;
use crate::library::ExportEntry;

/// Everything a dispatch passes to its kernel, with binding pointers already resolved.
#[derive(Clone, Copy, Debug)]
pub struct DispatchArgs<'a> {
    /// The export.
    pub export: &'a ExportEntry,
    /// Workgroup counts.
    pub workgroup_count: [u32; 3],
    /// Push constants.
    pub constants: &'a [u32],
    /// Binding base pointers (buffer memory + binding offset).
    pub binding_ptrs: &'a [*mut c_void],
    /// Binding lengths in bytes.
    pub binding_lengths: &'a [usize],
    /// How many workgroups may run at once (1 for inline execution).
    pub max_concurrency: u8,
}

/// Checks the counts and builds the dispatch state shared by every workgroup.
#[inline]
pub fn dispatch_state(args: &DispatchArgs<'_>) -> Result<DispatchStateV0> {
    let export = args.export;
    // Every path to a kernel comes through here: static counts were checked when recorded, but
    // indirect ones are only known now.
    workgroup_total(args.workgroup_count)?;
    let [x, y, z] = args.workgroup_count;
    let z = z as u16; // Checked against MAX_WORKGROUP_COUNT_Z above.
    if args.binding_ptrs.len() > MAX_BINDING_COUNT as usize
        || args.binding_ptrs.len() != args.binding_lengths.len()
    {
        return Err(Status::invalid_argument(format!(
            "dispatch has {} binding pointers and {} lengths",
            args.binding_ptrs.len(),
            args.binding_lengths.len()
        )));
    }
    let [size_x, size_y, size_z] = export.info.workgroup_size;
    Ok(DispatchStateV0 {
        workgroup_size_x: size_x,
        workgroup_size_y: size_y,
        workgroup_size_z: size_z as u16,
        constant_count: args.constants.len() as u16,
        workgroup_count_x: x,
        workgroup_count_y: y,
        workgroup_count_z: z,
        max_concurrency: args.max_concurrency.max(1),
        binding_count: args.binding_ptrs.len() as u8,
        constants: args.constants.as_ptr(),
        binding_ptrs: args.binding_ptrs.as_ptr(),
        binding_lengths: args.binding_lengths.as_ptr(),
    })
}

/// The bytes of local memory each workgroup of a dispatch of `export` gets: the export's static
/// local memory plus the dispatch's `dynamic` local memory (hal-core checked that the sum fits;
/// it saturates rather than wraps if a caller did not).
#[inline(always)]
pub fn local_memory_size(export: &ExportEntry, dynamic: u32) -> u32 {
    export.info.local_memory_size.saturating_add(dynamic)
}
