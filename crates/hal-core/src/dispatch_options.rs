//! Dispatch options: what a dispatch may ask for beyond its executable, workgroups, constants and
//! bindings (dynamic workgroup local memory), and the limits they are checked against.

use crate::executable::ExportInfo;
use crate::status::{Result, Status};

/// The most bytes of dynamic workgroup local memory one dispatch may request
/// ([`DispatchOptions::dynamic_local_memory`]): 16 MiB. Every thread that runs the dispatch's
/// workgroups holds this much on top of the export's static local memory, and keeps it for later
/// dispatches. IREE's local-task gives each worker 64 KiB by default.
pub const MAX_DYNAMIC_LOCAL_MEMORY: u32 = 16 << 20;

/// What a dispatch may ask for beyond its executable, workgroups, constants and bindings (see
/// [`CommandBuffer::dispatch_with`] and [`Device::queue_dispatch_with`]). The default asks for
/// nothing more, which is what [`CommandBuffer::dispatch`] and [`Device::queue_dispatch`] use.
///
/// [`CommandBuffer::dispatch_with`]: crate::command_buffer::CommandBuffer::dispatch_with
/// [`CommandBuffer::dispatch`]: crate::command_buffer::CommandBuffer::dispatch
/// [`Device::queue_dispatch_with`]: crate::device::Device::queue_dispatch_with
/// [`Device::queue_dispatch`]: crate::device::Device::queue_dispatch
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DispatchOptions {
    /// Bytes of workgroup local memory to provide on top of the export's static local memory
    /// ([`ExportInfo::local_memory_size`]): IREE's `dynamic_workgroup_local_memory`.
    /// Each workgroup then gets at least `local_memory_size + dynamic_local_memory` bytes of
    /// scratch memory through its workgroup state's `local_memory` pointer and
    /// `local_memory_size` (which reports everything it may use, possibly more). At most
    /// [`MAX_DYNAMIC_LOCAL_MEMORY`]; 0 asks for nothing extra.
    pub dynamic_local_memory: u32,
}

impl DispatchOptions {
    /// Checks the options against `export`: the dynamic local memory is at most
    /// [`MAX_DYNAMIC_LOCAL_MEMORY`], and with the export's static local memory fits in 32 bits.
    /// Both errors are `OUT_OF_RANGE` and name the values.
    #[inline]
    pub fn validate(&self, export: &ExportInfo) -> Result<()> {
        if self.dynamic_local_memory == 0 {
            return Ok(());
        }
        self.check_local_memory(export)
    }

    #[cold]
    #[inline(never)]
    fn check_local_memory(&self, export: &ExportInfo) -> Result<()> {
        let dynamic = self.dynamic_local_memory;
        if dynamic > MAX_DYNAMIC_LOCAL_MEMORY {
            return Err(Status::out_of_range(format!(
                "dispatch of '{}' requests {dynamic} bytes of dynamic local memory; the limit is {MAX_DYNAMIC_LOCAL_MEMORY}",
                export.name
            )));
        }
        if export.local_memory_size.checked_add(dynamic).is_none() {
            return Err(Status::out_of_range(format!(
                "dispatch of '{}' requests {dynamic} bytes of dynamic local memory on top of the export's {} static bytes, more than 32 bits can count",
                export.name, export.local_memory_size
            )));
        }
        Ok(())
    }
}
