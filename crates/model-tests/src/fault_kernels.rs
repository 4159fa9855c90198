//! The `model_faults` static kernel library: kernels that fail on purpose.

use std::num::NonZeroI32;

use loader_static::{kernel_library, KernelError, KernelResult, Workgroup};

/// The code `fail_at` returns from its failing workgroup.
pub const FAIL_AT_CODE: KernelError = KernelError::code(NonZeroI32::new(42).unwrap());

/// Workgroup k adds 1 (wrapping) to u32 element k of binding 0, except the workgroup whose
/// linear id is push constant 0, which fails.
fn fail_at(workgroup: &Workgroup<'_>) -> KernelResult {
    if workgroup.linear_id() == u64::from(workgroup.constants()[0]) {
        return Err(FAIL_AT_CODE);
    }
    for value in workgroup.tile::<u32>(0)? {
        *value = value.wrapping_add(1);
    }
    Ok(())
}

kernel_library! {
    /// Query function of the `model_faults` library.
    pub fn model_faults_library_query;
    library = "model_faults";
    executable_constants = 0;
    export "fail_at" => fail_at { constants: 1, bindings: [ReadWrite(Tile::Bytes(4))] }
}
