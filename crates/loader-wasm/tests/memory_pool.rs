//! One huge allocation does not push later buffers out of the pool (into copies): the pool adds
//! memory-file segments as it fills. Alone in its process because the pool is process-wide.

mod common;

use common::{device, dispatch_refs, prepare, sandbox};
use hal_core::{BufferParams, BufferRef};

#[test]
fn buffers_after_a_huge_one_are_still_shown_in_place() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    // Nearly all of the first 256 GiB segment (address space only: nothing touches it).
    let huge = device
        .allocate_buffer(BufferParams::default(), 255 << 30)
        .unwrap();
    // More than what is left of that segment, then a small one.
    let large = device
        .allocate_buffer(BufferParams::default(), 2 << 30)
        .unwrap();
    let small = common::buffer_with(&device, &[1u32; 64]);
    for buffer in [&huge, &large, &small] {
        buffer.write_elements(0, &[3u32; 64]).unwrap();
        let before = loader_wasm::copy_statistics();
        dispatch_refs(
            &device,
            &executable,
            "double",
            [1, 1, 1],
            &[],
            &[BufferRef::range(buffer, 0, 256)],
        )
        .unwrap();
        let after = loader_wasm::copy_statistics();
        assert_eq!(buffer.read_elements::<u32>(0, 64).unwrap(), [6; 64]);
        assert_eq!(after.copied_bindings, before.copied_bindings, "copied");
        assert_eq!(after.zero_copy_bindings, before.zero_copy_bindings + 1);
    }
}
