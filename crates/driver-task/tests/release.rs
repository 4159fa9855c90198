//! What a queue operation holds is released before its signals: once a wait on them returns,
//! the worker that ran the operation holds none of its buffers. (It used to drop them a moment
//! after signalling, so an imported buffer's release callback ran late and the conformance case
//! `allocator/import_host_memory` failed now and then.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hal_core::{create_device, BufferParams, FillPattern};

use driver_task as _;

#[test]
fn an_imported_buffer_is_released_when_the_user_drops_it_after_the_wait() {
    let device = create_device("local-task://?help_wait=false").unwrap();
    let allocator = device.allocator();
    let source = device.allocate_buffer(BufferParams::default(), 64).unwrap();
    for round in 1..=300u64 {
        let memory: &'static mut [u8] = Box::leak(vec![0u8; 64].into_boxed_slice());
        let (ptr, len) = (memory.as_mut_ptr(), memory.len());
        let released = Arc::new(AtomicUsize::new(0));
        let counter = released.clone();
        let owner = ptr as usize;
        let release = Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            // SAFETY: the memory was leaked from this Box above and is freed once, here.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(owner as *mut u8, len))
            });
        });
        // SAFETY: the memory is valid and only the buffer uses it until `release` runs.
        let imported = unsafe {
            allocator.import_host_memory(BufferParams::default(), ptr, len, Some(release))
        }
        .unwrap();
        let done = device.create_semaphore(0).unwrap();
        if round % 2 == 0 {
            device
                .queue_copy(&[], &[done.at(1)], &source, 0, &imported, 0, 64)
                .unwrap();
        } else {
            device
                .queue_fill(&[], &[done.at(1)], &imported, 0, 64, FillPattern::U8(7))
                .unwrap();
        }
        done.wait(1, Duration::from_secs(10)).unwrap();
        drop(imported);
        assert_eq!(
            released.load(Ordering::SeqCst),
            1,
            "round {round}: the release callback had not run when the last user handle dropped"
        );
    }
}
