//! Window reuse, alone in its process so the process-wide statistics count only its runs.

mod common;

use common::{buffer_with, device, dispatch, prepare, sandbox};

#[test]
fn windows_are_kept_while_the_same_buffers_are_bound() {
    // The steady state of a program that binds the same buffers again maps nothing; a run that
    // binds different buffers maps new windows.
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let a = buffer_with(&device, &[1u32; 64]);
    let b = buffer_with(&device, &[1u32; 64]);
    dispatch(&device, &executable, "double", [1, 1, 1], &[], &[&a]).unwrap();
    let before = loader_wasm::copy_statistics();
    for _ in 0..10 {
        dispatch(&device, &executable, "double", [1, 1, 1], &[], &[&a]).unwrap();
    }
    let steady = loader_wasm::copy_statistics();
    dispatch(&device, &executable, "double", [1, 1, 1], &[], &[&b]).unwrap();
    let switched = loader_wasm::copy_statistics();
    assert_eq!(a.read_elements::<u32>(0, 1).unwrap(), [1 << 11]);
    assert_eq!(b.read_elements::<u32>(0, 1).unwrap(), [2]);
    assert_eq!(steady.zero_copy_bindings, before.zero_copy_bindings + 10);
    assert_eq!(
        steady.windows_mapped, before.windows_mapped,
        "the steady state maps nothing"
    );
    assert_eq!(switched.windows_mapped, steady.windows_mapped + 1);
}
