//! Stand-ins for driver objects, so hal-core's validation can be tested without a driver: heap
//! buffers and an executable with chosen exports, and a check that an error names what it must. A command buffer that records what reaches it
//! is in `recording_command_buffer.rs`; a device that does so is in `device_queue.rs`'s tests.

use std::any::Any;
use std::sync::Arc;

use crate::access_gate::AccessGate;
use crate::buffer::{Buffer, BufferStorage};
use crate::executable::{Executable, ExecutableImpl, ExecutableInfo, ExportInfo};
use crate::memory::{BufferParams, BufferUsage, DeviceSize};
use crate::status::{Result, Status, StatusCode};

struct HeapStorage {
    gate: AccessGate,
    bytes: Box<[u8]>,
}

impl BufferStorage for HeapStorage {
    fn allocation_size(&self) -> DeviceSize {
        self.bytes.len() as DeviceSize
    }
    fn gate(&self) -> &AccessGate {
        &self.gate
    }
    fn host_ptr(&self) -> *mut u8 {
        self.bytes.as_ptr().cast_mut()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A zeroed `size`-byte buffer with every usage.
pub(crate) fn buffer(size: usize) -> Buffer {
    let storage = HeapStorage {
        gate: AccessGate::committed(),
        bytes: vec![0; size].into(),
    };
    Buffer::from_storage(
        Arc::new(storage),
        0,
        size as DeviceSize,
        BufferParams::with_usage(BufferUsage::all()).canonicalize(),
    )
    .expect("a whole-storage buffer")
}

struct NoExecutable;

impl ExecutableImpl for NoExecutable {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An export named `name` with `constants` push constants and `bindings` bindings, no flags.
pub(crate) fn export(name: &str, constants: u32, bindings: u32) -> ExportInfo {
    ExportInfo::new(name, constants, bindings)
}

/// An executable of library `test` with `exports`, whose driver object does nothing.
pub(crate) fn executable(exports: Vec<ExportInfo>) -> Result<Executable> {
    let info = ExecutableInfo {
        library_name: "test".to_string(),
        constant_count: 0,
    };
    Executable::new(info, exports, Arc::new(NoExecutable))
}

/// Asserts that `status` has `code` and that its text names every one of `needles`.
pub fn expect_status(status: Status, code: StatusCode, needles: &[&str]) {
    assert_eq!(status.code(), code, "{status}");
    let text = status.to_string();
    for needle in needles {
        assert!(text.contains(needle), "'{text}' does not name '{needle}'");
    }
}
