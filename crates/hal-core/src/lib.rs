//! # hal-core: the public hardware abstraction layer
//!
//! Handles ([`Device`], [`Buffer`], [`CommandBuffer`], [`Semaphore`], [`Executable`], …) wrap
//! driver implementations behind object-safe traits. Every argument is validated here, once for
//! all drivers, and errors are typed [`Status`] values that name the bad value. Drivers register
//! through [`DriverRegistration`] and users pick one by name or URI with [`create_device`].
//!
//! No safe function here can cause undefined behaviour: host mappings and device work on the
//! same allocation exclude each other through an [`AccessGate`], and the one call that takes raw
//! memory ([`Allocator::import_host_memory`]) is `unsafe` with its contract written down.

mod access_gate;
mod allocator;
mod buffer;
mod buffer_ref;
mod command_buffer;
mod command_buffer_impl;
mod command_buffer_params;
mod command_validation;
mod device;
mod device_access;
mod device_params;
mod device_queue;
mod device_uri;
mod dispatch_options;
mod driver;
mod event;
mod executable;
mod executable_cache;
mod fill_pattern;
mod mapping;
mod memory;
mod queue;
pub mod race_annotations;
mod range_claims;
#[cfg(test)]
mod recording_command_buffer;
mod semaphore;
mod slot_requirements;
mod status;
#[cfg(test)]
mod test_support;
mod timeout;
mod workgroups;

pub use access_gate::AccessGate;
pub use allocator::{Allocator, AllocatorImpl, AllocatorStatistics, HostAllocation};
pub use buffer::{check_no_overlap, resolve_range, Buffer, BufferStorage};
pub use buffer_ref::{
    BindingTableEntry, BufferOrSlot, BufferRange, BufferRef, RecordedRef, ResolvedRef,
};
pub use command_buffer::{CommandBuffer, RecordingState, SubmitClaim, MAX_UPDATE_SIZE};
pub use command_buffer_impl::{CommandBufferImpl, Dispatch, Submission};
pub use command_buffer_params::{CommandBufferMode, CommandBufferParams, CommandCategory};
pub use device::{Device, DeviceImpl, DeviceInfo};
pub use device_access::DeviceAccess;
pub use device_params::{DeviceParams, ParameterInfo};
pub use device_uri::{DeviceSelector, DeviceUri};
pub use dispatch_options::{DispatchOptions, MAX_DYNAMIC_LOCAL_MEMORY};
pub use driver::{create_device, registered_drivers, Driver, DriverImpl, DriverRegistration};
pub use event::{Event, EventImpl};
pub use executable::{
    BindingFlags, Executable, ExecutableImpl, ExecutableInfo, ExportFlags, ExportInfo,
    MAX_BINDING_COUNT, MAX_CONSTANT_COUNT, MAX_EXECUTABLE_CONSTANT_COUNT,
};
pub use executable_cache::{ExecutableCache, ExecutableCacheImpl, ExecutableParams};
pub use fill_pattern::{check_fill_alignment, fill_bytes, FillPattern};
pub use mapping::{MappedRead, MappedWrite};
pub use memory::{
    BufferCompatibility, BufferParams, BufferUsage, DeviceSize, MemoryAccess, MemoryType,
    BUFFER_ALIGNMENT, WHOLE_BUFFER,
};
pub use queue::{HostCall, QueueOperation, QueueWork};
pub use range_claims::{RangeClaims, RangeUse};
pub use semaphore::{Semaphore, SemaphoreImpl, Timepoint, WaitMode};
pub use slot_requirements::SlotRequirement;
pub use status::{Result, ResultExt, Status, StatusCode};
pub use timeout::Timeout;
pub use workgroups::{workgroup_total, WorkgroupCount, Workgroups, MAX_WORKGROUP_COUNT_Z};

/// Re-exported so that driver crates can register without depending on `inventory` themselves.
pub use inventory;
