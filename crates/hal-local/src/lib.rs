//! # hal-local: what every CPU driver shares
//!
//! - [`abi`]: IREE's executable-library ABI (version 6), byte for byte, checked at compile time.
//! - [`ExecutableLoader`] and its registry; [`LocalExecutableCache`] tries loaders in turn.
//! - [`LocalExecutable`] and the workgroup loop ([`run_workgroups`]): 64-byte aligned bindings,
//!   per-workgroup local memory, flushed denormals, CPU feature bits in the environment; a
//!   [`WorkgroupRunner`] runs the workgroups of executables whose kernels are not native code,
//!   with a per-dispatch session ([`DispatchSession`]) for what its threads share.
//! - [`DeviceScope`]: the allocations a unit of device work holds, and the byte ranges it claims
//!   in them, as its kernels see them ([`BindingViews`]), so unordered work never races with
//!   Rust code (see `hal_core::RangeClaims`).
//! - [`HeapAllocator`]: zeroed, aligned heap buffers (with an optional memory limit) and
//!   host-memory imports.
//! - [`ResolvedCommand`]: the one form every command runs in, whichever way it came (recorded
//!   inline, in a [`RecordedProgram`] with a binding table, or queued alone); [`run_command`]
//!   runs it on the calling thread, local-task cuts it into tiles.
//! - [`InlineCommandBuffer`] (runs each command as it is recorded) and [`DeferredCommandBuffer`]
//!   (records a [`RecordedProgram`] run per submit with a binding table).
//! - [`LocalSemaphore`]: timepoint callbacks fired outside the lock, one notification per wait,
//!   real deadlines; [`wait_timepoints`] waits on several.
//! - [`QueueSignals`] (an accepted operation's signals, completed exactly once),
//!   [`when_reached`] (parking it on its waits) and [`liveness`] (failing parked work nothing can
//!   release any more).
//! - [`execute_work`]: runs a queue operation on the calling thread.

pub mod abi;
mod binding_views;
mod blocking;
mod cpu;
mod deferred_command_buffer;
mod device_scope;
mod dispatch_state;
mod event;
mod executable_cache;
mod heap_allocator;
mod imports;
mod inline_command_buffer;
mod inline_dispatch;
mod library;
pub mod liveness;
mod loader;
mod local_device;
mod local_device_options;
mod local_driver;
mod local_executable;
mod local_export;
mod local_memory;
mod multi_wait;
mod queue_signals;
mod queue_work;
mod ready_queue;
mod recorded_program;
mod resolved_command;
mod run_command;
mod semaphore;
mod sync;
mod transfer;
mod wait_list;
mod workgroup_batch;
mod workgroup_loop;
mod workgroup_runner;

pub use binding_views::{BindingViews, ReferenceKernelRegistration};
pub use blocking::Notification;
pub use cpu::{current_processor_id, processor_info, DenormalsFlushed};
pub use deferred_command_buffer::DeferredCommandBuffer;
pub use device_scope::DeviceScope;
pub use dispatch_state::{dispatch_state, local_memory_size, DispatchArgs};
pub use event::LocalEvent;
pub use executable_cache::LocalExecutableCache;
pub use heap_allocator::{HeapAllocator, HeapStorage, HostImportStorage, HostMemorySource};
pub use imports::{resolve_imports, HostImport, HostImports, ImportProvider, NoImports};
pub use inline_command_buffer::InlineCommandBuffer;
pub use library::{
    export_info, read_c_string, verify_library, ExportEntry, VerifiedLibrary, MAX_EXPORT_COUNT,
};
pub use loader::{
    loader_formats, registered_loaders, select_loaders, ExecutableLoader, LoadOutcome, LoadRequest,
    LoaderRegistration,
};
pub use local_device::{LocalDevice, QueueExecutor};
pub use local_device_options::{LocalDeviceOptions, MemorySource, COMMON_PARAMETERS};
pub use local_driver::{LocalDriver, LOCAL_DEVICE_PATH};
pub use local_executable::{query_library_name, LocalExecutable};
pub use local_export::LocalExport;
pub use local_memory::{with_thread_local_memory, LocalMemory};
pub use multi_wait::wait_timepoints;
pub use queue_signals::QueueSignals;
pub use queue_work::{execute_work, not_local};
pub use ready_queue::{run_nested, run_or_defer};
pub use recorded_program::{Command, RecordedProgram};
pub use resolved_command::{
    DispatchBindings, ResolvedCommand, ResolvedCopy, ResolvedDispatch, ResolvedFill, ResolvedUpdate,
};
pub use run_command::{run_command, run_dispatch, run_program};
pub use semaphore::{LocalSemaphore, TimepointCallback, TimepointId, WaitHelper};
pub use transfer::read_workgroup_counts;
pub use wait_list::{when_reached, OnWaitsResolved};
pub use workgroup_batch::{WorkgroupBatch, WorkgroupIds};
pub use workgroup_loop::run_workgroups;
pub use workgroup_runner::{DispatchSession, WorkgroupRunner};

/// Re-exported for loader crates' registrations.
pub use inventory;
