//! Queue operations: work ordered only by semaphores.
//!
//! Every queue call of [`crate::Device`] becomes one [`QueueOperation`] with a wait list and a
//! signal list. The device validates it and the driver runs it once every wait is reached; if a
//! wait fails or the work fails, the signal semaphores fail with that status.

use std::fmt;

use crate::buffer::Buffer;
use crate::buffer_ref::BindingTableEntry;
use crate::command_buffer_impl::Submission;
use crate::executable::Executable;
use crate::fill_pattern::FillPattern;
use crate::semaphore::Timepoint;
use crate::status::Result;
use crate::workgroups::WorkgroupCount;

/// A host function run by a queue (see `Device::queue_host_call`).
pub type HostCall = Box<dyn FnOnce() -> Result<()> + Send>;

/// The work of one queue operation, owning everything it needs until it completes.
pub enum QueueWork {
    /// Nothing: only orders the waits before the signals.
    Barrier,
    /// Runs a command buffer's recorded commands with a binding table.
    Execute {
        /// What the command buffer produced.
        submission: Submission,
        /// The resolved binding table; `None` is an empty slot, which no command uses.
        binding_table: Vec<Option<BindingTableEntry>>,
    },
    /// Fills a range with a pattern.
    Fill {
        /// The target range.
        target: BindingTableEntry,
        /// The pattern.
        pattern: FillPattern,
    },
    /// Writes bytes captured at enqueue.
    Update {
        /// The captured bytes.
        data: Vec<u8>,
        /// The target range (its length is `data.len()`).
        target: BindingTableEntry,
    },
    /// Copies between ranges of equal length.
    Copy {
        /// The source range.
        source: BindingTableEntry,
        /// The target range.
        target: BindingTableEntry,
    },
    /// Dispatches a kernel.
    Dispatch {
        /// The executable.
        executable: Executable,
        /// The export's ordinal.
        ordinal: u32,
        /// Workgroup counts.
        workgroups: WorkgroupCount<BindingTableEntry>,
        /// Push constants.
        constants: Vec<u32>,
        /// Bindings.
        bindings: Vec<BindingTableEntry>,
        /// Bytes of workgroup local memory on top of the export's static local memory
        /// (validated like [`crate::Dispatch::dynamic_local_memory`]).
        dynamic_local_memory: u32,
    },
    /// Allocates the memory of a buffer created uncommitted.
    Alloca {
        /// The buffer.
        buffer: Buffer,
    },
    /// Releases a buffer's memory.
    Dealloca {
        /// The buffer.
        buffer: Buffer,
    },
    /// Calls a host function.
    HostCall {
        /// The function.
        call: HostCall,
    },
}

impl QueueWork {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            QueueWork::Barrier => "barrier",
            QueueWork::Execute { .. } => "execute",
            QueueWork::Fill { .. } => "fill",
            QueueWork::Update { .. } => "update",
            QueueWork::Copy { .. } => "copy",
            QueueWork::Dispatch { .. } => "dispatch",
            QueueWork::Alloca { .. } => "alloca",
            QueueWork::Dealloca { .. } => "dealloca",
            QueueWork::HostCall { .. } => "host call",
        }
    }
}

impl fmt::Debug for QueueWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One validated queue operation: wait for all `waits`, run `work`, then signal `signals`.
#[derive(Debug)]
pub struct QueueOperation {
    /// Timepoints that must all be reached first.
    pub waits: Vec<Timepoint>,
    /// Timepoints signalled when the work completes (or failed when it fails).
    pub signals: Vec<Timepoint>,
    /// The work.
    pub work: QueueWork,
}
