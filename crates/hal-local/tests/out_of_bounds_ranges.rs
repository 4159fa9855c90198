//! Ranges built by hand past their buffers (the fields of a `BindingTableEntry` are public) are
//! refused where raw pointers are made, with an error naming the range, never written out of
//! bounds: a queued fill, update and copy each given such a range by a safe caller.

use std::sync::Arc;

use hal_core::{
    Allocator, BindingTableEntry, Buffer, BufferParams, FillPattern, QueueWork, StatusCode,
};
use hal_local::{execute_work, HeapAllocator};

fn buffer(size: u64) -> Buffer {
    Allocator::new(Arc::new(HeapAllocator::with_memory(u64::MAX, None)))
        .allocate_buffer(BufferParams::default(), size)
        .unwrap()
}

fn contents(buffer: &Buffer) -> Vec<u8> {
    let mut bytes = vec![0xFF; buffer.len() as usize];
    buffer.read(0, &mut bytes).unwrap();
    bytes
}

fn range(buffer: &Buffer, offset: u64, length: u64) -> BindingTableEntry {
    BindingTableEntry {
        buffer: buffer.clone(),
        offset,
        length,
    }
}

fn expect_refused(mut work: QueueWork, needle: &str) {
    let status = execute_work(&mut work).unwrap_err();
    assert_eq!(status.code(), StatusCode::OutOfRange, "{status}");
    assert!(status.message().contains(needle), "{status}");
}

#[test]
fn fills_past_the_buffer_are_refused_naming_the_range() {
    let target = buffer(64);
    for (offset, length) in [(0, 128), (60, 8), (u64::MAX, 4), (8, u64::MAX)] {
        expect_refused(
            QueueWork::Fill {
                target: range(&target, offset, length),
                pattern: FillPattern::U8(0xAB),
            },
            "outside its 64-byte buffer",
        );
    }
    // Nothing was written: the buffer is still zero.
    assert_eq!(contents(&target), vec![0; 64]);
}

#[test]
fn updates_and_copies_past_the_buffer_are_refused() {
    let small = buffer(16);
    let large = buffer(1024);
    expect_refused(
        QueueWork::Update {
            data: vec![1; 32],
            target: range(&small, 0, 32),
        },
        "[0, +32)",
    );
    expect_refused(
        QueueWork::Copy {
            source: range(&large, 0, 512),
            target: range(&small, 0, 512),
        },
        "outside its 16-byte buffer",
    );
    expect_refused(
        QueueWork::Copy {
            source: range(&small, 0, 512),
            target: range(&large, 0, 512),
        },
        "outside its 16-byte buffer",
    );
    assert_eq!(contents(&small), vec![0; 16]);
}
