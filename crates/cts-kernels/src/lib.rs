//! # cts-kernels: the conformance suite's test kernels
//!
//! Two libraries, registered with the `static` loader when this crate is linked:
//! [`KERNELS_LIBRARY_NAME`] (no executable constants) and [`SPECIALIZED_LIBRARY_NAME`] (two, and
//! the export `local_memory_size`, which reports the local memory its workgroups get).
//! Tiles: elementwise kernels own 64 elements per workgroup; id kernels one element.

use loader_static::{kernel_library, KernelError, KernelResult, Pod, Workgroup};

/// The library of conformance kernels.
pub const KERNELS_LIBRARY_NAME: &str = "cts_kernels";
/// The library whose kernel reads two executable constants; it also exports
/// `local_memory_size`, as the C and WebAssembly fixtures of the same library do.
pub const SPECIALIZED_LIBRARY_NAME: &str = "cts_specialized";
/// Elements of 4 bytes each workgroup of an elementwise kernel owns.
pub const ELEMENTS_PER_WORKGROUP: usize = 64;

/// Elements `[64k, 64k + 64)` of read binding `binding`, at most `len` of them.
fn input_tile<'a, T: Pod>(
    workgroup: &Workgroup<'a>,
    binding: usize,
    len: usize,
) -> Result<&'a [T], KernelError> {
    let input = workgroup.read::<T>(binding)?;
    let start = (workgroup.linear_id() as usize)
        .saturating_mul(ELEMENTS_PER_WORKGROUP)
        .min(input.len());
    let end = start.saturating_add(len).min(input.len());
    Ok(&input[start..end])
}

fn abs(workgroup: &Workgroup<'_>) -> KernelResult {
    for value in workgroup.tile::<f32>(0)? {
        *value = value.abs();
    }
    Ok(())
}

fn write_constants(workgroup: &Workgroup<'_>) -> KernelResult {
    let out = workgroup.tile::<u32>(0)?;
    let n = out.len();
    out.copy_from_slice(&workgroup.constants()[..n]);
    Ok(())
}

fn map_elements(workgroup: &Workgroup<'_>, f: impl Fn(f32) -> f32) -> KernelResult {
    let out = workgroup.tile::<f32>(1)?;
    let input = input_tile::<f32>(workgroup, 0, out.len())?;
    for (o, &x) in out.iter_mut().zip(input) {
        *o = f(x);
    }
    Ok(())
}

fn scale_offset(workgroup: &Workgroup<'_>) -> KernelResult {
    let [scale, offset] = [
        workgroup.constants()[0] as f32,
        workgroup.constants()[1] as f32,
    ];
    map_elements(workgroup, |x| x * scale + offset)
}

fn negate(workgroup: &Workgroup<'_>) -> KernelResult {
    map_elements(workgroup, |x| -x)
}

fn double(workgroup: &Workgroup<'_>) -> KernelResult {
    map_elements(workgroup, |x| 2.0 * x)
}

fn tiny(workgroup: &Workgroup<'_>) -> KernelResult {
    map_elements(workgroup, |x| x * 1.0001 + 0.5)
}

fn workgroup_ids(workgroup: &Workgroup<'_>) -> KernelResult {
    let id = workgroup.linear_id() as u32;
    for value in workgroup.tile::<u32>(0)? {
        *value = id;
    }
    Ok(())
}

fn visit(workgroup: &Workgroup<'_>) -> KernelResult {
    for value in workgroup.tile::<u32>(0)? {
        *value += 1;
    }
    Ok(())
}

fn fail(_workgroup: &Workgroup<'_>) -> KernelResult {
    Err(KernelError::FAILED)
}

fn copy_via_local_memory(workgroup: &Workgroup<'_>) -> KernelResult {
    let out = workgroup.tile::<u32>(1)?;
    let local = workgroup.local_memory()?;
    if local.len() < 4096 {
        return Err(KernelError::FAILED);
    }
    let start = (workgroup.linear_id() as usize) * 1024;
    let input = workgroup.read::<u32>(0)?;
    let input = &input[start.min(input.len())..(start + out.len()).min(input.len())];
    for (slot, value) in local.chunks_exact_mut(4).zip(input) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
    for (o, slot) in out.iter_mut().zip(local.chunks_exact(4)) {
        *o = u32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]);
    }
    Ok(())
}

/// Fills every word i of the workgroup's local memory with `seed ^ i` (seed: element 0 of
/// binding 0, or 0), reads them back, and writes the local memory size it was given to its
/// one-element tile of binding 1 (see `fixtures/elf/cts_specialized.c`).
fn local_memory_size(workgroup: &Workgroup<'_>) -> KernelResult {
    let seed = workgroup.read::<u32>(0)?.first().copied().unwrap_or(0);
    let local = workgroup.local_memory()?;
    for (i, word) in local.chunks_exact_mut(4).enumerate() {
        word.copy_from_slice(&(seed ^ i as u32).to_le_bytes());
    }
    for (i, word) in local.chunks_exact(4).enumerate() {
        if word != (seed ^ i as u32).to_le_bytes() {
            return Err(KernelError::FAILED);
        }
    }
    let size = local.len() as u32;
    for out in workgroup.tile::<u32>(1)? {
        *out = size;
    }
    Ok(())
}

fn executable_constants(workgroup: &Workgroup<'_>) -> KernelResult {
    let out = workgroup.tile::<u32>(0)?;
    let constants = workgroup.executable_constants();
    let n = out.len().min(constants.len());
    out[..n].copy_from_slice(&constants[..n]);
    Ok(())
}

kernel_library! {
    /// Query function of the `cts_kernels` library.
    pub fn cts_kernels_library_query;
    library = "cts_kernels";
    executable_constants = 0;
    export "abs" => abs { constants: 0, bindings: [ReadWrite(Tile::Bytes(256))] }
    export "write_constants" => write_constants { constants: 4, bindings: [Write(Tile::Bytes(16))] }
    export "scale_offset" => scale_offset { constants: 2, bindings: [Read, Write(Tile::Bytes(256))] }
    export "negate" => negate { constants: 0, bindings: [Read, Write(Tile::Bytes(256))] }
    export "double" => double { constants: 0, bindings: [Read, Write(Tile::Bytes(256))] }
    export "workgroup_ids" => workgroup_ids { constants: 0, bindings: [Write(Tile::Bytes(4))] }
    export "visit" => visit { constants: 0, bindings: [ReadWrite(Tile::Bytes(4))] }
    export "fail" => fail { constants: 0, bindings: [] }
    export "tiny" => tiny { constants: 0, bindings: [Read, Write(Tile::Bytes(256))] }
    export "copy_via_local_memory" => copy_via_local_memory {
        constants: 0,
        bindings: [Read, Write(Tile::Bytes(4096))],
        local_memory_pages: 1,
    }
}

kernel_library! {
    /// Query function of the `cts_specialized` library (two executable constants).
    pub fn cts_specialized_library_query;
    library = "cts_specialized";
    executable_constants = 2;
    export "executable_constants" => executable_constants { constants: 0, bindings: [Write(Tile::Bytes(8))] }
    export "local_memory_size" => local_memory_size {
        constants: 0,
        bindings: [Read, Write(Tile::Bytes(4))],
        local_memory_pages: 1,
        flags: ExportFlags::SEQUENTIAL,
    }
}
