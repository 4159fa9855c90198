//! The numbers of IREE's HAL capture format (`runtime/src/iree/hal/replay/format.h` in IREE's
//! source, format 2.0 as IREE 3.13 writes it): magic, versions, record kinds, object kinds,
//! operation codes and payload schemas, with the names IREE's `iree-dump-replay` prints, so
//! errors read the same as IREE's tools.

/// `"IRRP"` read as a little-endian `u32`: the first four bytes of every capture.
pub const FILE_MAGIC: u32 = 0x5052_5249;
/// The major format version this crate reads; any other major version is refused.
pub const VERSION_MAJOR: u16 = 2;
/// The newest minor version this crate was written against (newer minors are read: a minor
/// version only adds what readers may skip).
pub const VERSION_MINOR: u16 = 0;
/// Bytes in the file header.
pub const FILE_HEADER_LENGTH: usize = 24;
/// Bytes in every record header.
pub const RECORD_HEADER_LENGTH: usize = 96;
/// `record_flags` bit: a reader may skip the record if it does not understand it.
pub const RECORD_FLAG_OPTIONAL: u16 = 1;

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    /// Capture session metadata.
    Session,
    /// An object's creation or description.
    Object,
    /// One HAL API call, in call order.
    Operation,
    /// Opaque bytes in the blob store.
    Blob,
    /// A note that the capture could not record something faithfully.
    Unsupported,
    /// A kind this reader does not know.
    Unknown(u16),
}

impl RecordType {
    /// The kind for a header's `record_type` field.
    pub fn from_code(code: u16) -> RecordType {
        match code {
            1 => RecordType::Session,
            2 => RecordType::Object,
            3 => RecordType::Operation,
            4 => RecordType::Blob,
            5 => RecordType::Unsupported,
            other => RecordType::Unknown(other),
        }
    }

    /// The name `iree-dump-replay` prints.
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Session => "session",
            RecordType::Object => "object",
            RecordType::Operation => "operation",
            RecordType::Blob => "blob",
            RecordType::Unsupported => "unsupported",
            RecordType::Unknown(_) => "unknown",
        }
    }
}

/// Object kinds (`iree_hal_replay_object_type_e`).
pub mod object_type {
    /// The device.
    pub const DEVICE: u32 = 1;
    /// The device's allocator.
    pub const ALLOCATOR: u32 = 2;
    /// A memory pool.
    pub const POOL: u32 = 3;
    /// A buffer.
    pub const BUFFER: u32 = 4;
    /// A command buffer.
    pub const COMMAND_BUFFER: u32 = 5;
    /// An executable cache.
    pub const EXECUTABLE_CACHE: u32 = 6;
    /// An executable.
    pub const EXECUTABLE: u32 = 7;
    /// A timeline semaphore.
    pub const SEMAPHORE: u32 = 8;
    /// A file.
    pub const FILE: u32 = 9;
    /// An event.
    pub const EVENT: u32 = 10;
    /// A collective channel.
    pub const CHANNEL: u32 = 11;
    /// A host call.
    pub const HOST_CALL: u32 = 12;

    /// The name `iree-dump-replay` prints for an object kind.
    pub fn name(code: u32) -> &'static str {
        match code {
            0 => "none",
            DEVICE => "device",
            ALLOCATOR => "allocator",
            POOL => "pool",
            BUFFER => "buffer",
            COMMAND_BUFFER => "command_buffer",
            EXECUTABLE_CACHE => "executable_cache",
            EXECUTABLE => "executable",
            SEMAPHORE => "semaphore",
            FILE => "file",
            EVENT => "event",
            CHANNEL => "channel",
            HOST_CALL => "host_call",
            _ => "unknown",
        }
    }
}

/// Operation codes (`iree_hal_replay_operation_code_e`), and `replay.scope_*` markers.
pub mod op {
    #![allow(missing_docs)] // Each name is IREE's operation, spelled as its dump tool does.
    pub const DEVICE_TRIM: u32 = 1;
    pub const DEVICE_QUERY_I64: u32 = 2;
    pub const DEVICE_QUERY_CAPABILITIES: u32 = 3;
    pub const DEVICE_REFINE_TOPOLOGY_EDGE: u32 = 4;
    pub const DEVICE_ASSIGN_TOPOLOGY_INFO: u32 = 5;
    pub const DEVICE_CREATE_CHANNEL: u32 = 6;
    pub const DEVICE_CREATE_COMMAND_BUFFER: u32 = 7;
    pub const DEVICE_CREATE_EVENT: u32 = 8;
    pub const DEVICE_CREATE_EXECUTABLE_CACHE: u32 = 9;
    pub const DEVICE_IMPORT_FILE: u32 = 10;
    pub const DEVICE_CREATE_SEMAPHORE: u32 = 11;
    pub const DEVICE_QUERY_QUEUE_POOL_BACKEND: u32 = 12;
    pub const DEVICE_QUEUE_ALLOCA: u32 = 13;
    pub const DEVICE_QUEUE_DEALLOCA: u32 = 14;
    pub const DEVICE_QUEUE_FILL: u32 = 15;
    pub const DEVICE_QUEUE_UPDATE: u32 = 16;
    pub const DEVICE_QUEUE_COPY: u32 = 17;
    pub const DEVICE_QUEUE_READ: u32 = 18;
    pub const DEVICE_QUEUE_WRITE: u32 = 19;
    pub const DEVICE_QUEUE_HOST_CALL: u32 = 20;
    pub const DEVICE_QUEUE_DISPATCH: u32 = 21;
    pub const DEVICE_QUEUE_EXECUTE: u32 = 22;
    pub const DEVICE_QUEUE_FLUSH: u32 = 23;
    pub const DEVICE_PROFILING_BEGIN: u32 = 24;
    pub const DEVICE_PROFILING_FLUSH: u32 = 25;
    pub const DEVICE_PROFILING_END: u32 = 26;
    pub const DEVICE_EXTERNAL_CAPTURE_BEGIN: u32 = 27;
    pub const DEVICE_EXTERNAL_CAPTURE_END: u32 = 28;
    pub const REPLAY_SCOPE_BEGIN: u32 = 50;
    pub const REPLAY_SCOPE_END: u32 = 51;
    pub const ALLOCATOR_TRIM: u32 = 100;
    pub const ALLOCATOR_QUERY_MEMORY_HEAPS: u32 = 101;
    pub const ALLOCATOR_ALLOCATE_BUFFER: u32 = 102;
    pub const ALLOCATOR_IMPORT_BUFFER: u32 = 103;
    pub const ALLOCATOR_EXPORT_BUFFER: u32 = 104;
    pub const BUFFER_MAP_RANGE: u32 = 200;
    pub const BUFFER_UNMAP_RANGE: u32 = 201;
    pub const BUFFER_INVALIDATE_RANGE: u32 = 202;
    pub const BUFFER_FLUSH_RANGE: u32 = 203;
    pub const COMMAND_BUFFER_BEGIN: u32 = 300;
    pub const COMMAND_BUFFER_END: u32 = 301;
    pub const COMMAND_BUFFER_BEGIN_DEBUG_GROUP: u32 = 302;
    pub const COMMAND_BUFFER_END_DEBUG_GROUP: u32 = 303;
    pub const COMMAND_BUFFER_EXECUTION_BARRIER: u32 = 304;
    pub const COMMAND_BUFFER_SIGNAL_EVENT: u32 = 305;
    pub const COMMAND_BUFFER_RESET_EVENT: u32 = 306;
    pub const COMMAND_BUFFER_WAIT_EVENTS: u32 = 307;
    pub const COMMAND_BUFFER_ADVISE_BUFFER: u32 = 308;
    pub const COMMAND_BUFFER_FILL_BUFFER: u32 = 309;
    pub const COMMAND_BUFFER_UPDATE_BUFFER: u32 = 310;
    pub const COMMAND_BUFFER_COPY_BUFFER: u32 = 311;
    pub const COMMAND_BUFFER_COLLECTIVE: u32 = 312;
    pub const COMMAND_BUFFER_DISPATCH: u32 = 313;
    pub const EXECUTABLE_CACHE_INFER_FORMAT: u32 = 400;
    pub const EXECUTABLE_CACHE_CAN_PREPARE_FORMAT: u32 = 401;
    pub const EXECUTABLE_CACHE_PREPARE_EXECUTABLE: u32 = 402;
    pub const EXECUTABLE_EXPORT_COUNT: u32 = 500;
    pub const EXECUTABLE_EXPORT_INFO: u32 = 501;
    pub const EXECUTABLE_EXPORT_PARAMETERS: u32 = 502;
    pub const EXECUTABLE_LOOKUP_EXPORT_BY_NAME: u32 = 503;

    /// The name `iree-dump-replay` prints for an operation code.
    pub fn name(code: u32) -> &'static str {
        match code {
            DEVICE_TRIM => "device.trim",
            DEVICE_QUERY_I64 => "device.query_i64",
            DEVICE_QUERY_CAPABILITIES => "device.query_capabilities",
            DEVICE_REFINE_TOPOLOGY_EDGE => "device.refine_topology_edge",
            DEVICE_ASSIGN_TOPOLOGY_INFO => "device.assign_topology_info",
            DEVICE_CREATE_CHANNEL => "device.create_channel",
            DEVICE_CREATE_COMMAND_BUFFER => "device.create_command_buffer",
            DEVICE_CREATE_EVENT => "device.create_event",
            DEVICE_CREATE_EXECUTABLE_CACHE => "device.create_executable_cache",
            DEVICE_IMPORT_FILE => "device.import_file",
            DEVICE_CREATE_SEMAPHORE => "device.create_semaphore",
            DEVICE_QUERY_QUEUE_POOL_BACKEND => "device.query_queue_pool_backend",
            DEVICE_QUEUE_ALLOCA => "device.queue_alloca",
            DEVICE_QUEUE_DEALLOCA => "device.queue_dealloca",
            DEVICE_QUEUE_FILL => "device.queue_fill",
            DEVICE_QUEUE_UPDATE => "device.queue_update",
            DEVICE_QUEUE_COPY => "device.queue_copy",
            DEVICE_QUEUE_READ => "device.queue_read",
            DEVICE_QUEUE_WRITE => "device.queue_write",
            DEVICE_QUEUE_HOST_CALL => "device.queue_host_call",
            DEVICE_QUEUE_DISPATCH => "device.queue_dispatch",
            DEVICE_QUEUE_EXECUTE => "device.queue_execute",
            DEVICE_QUEUE_FLUSH => "device.queue_flush",
            DEVICE_PROFILING_BEGIN => "device.profiling_begin",
            DEVICE_PROFILING_FLUSH => "device.profiling_flush",
            DEVICE_PROFILING_END => "device.profiling_end",
            DEVICE_EXTERNAL_CAPTURE_BEGIN => "device.external_capture_begin",
            DEVICE_EXTERNAL_CAPTURE_END => "device.external_capture_end",
            REPLAY_SCOPE_BEGIN => "replay.scope_begin",
            REPLAY_SCOPE_END => "replay.scope_end",
            ALLOCATOR_TRIM => "allocator.trim",
            ALLOCATOR_QUERY_MEMORY_HEAPS => "allocator.query_memory_heaps",
            ALLOCATOR_ALLOCATE_BUFFER => "allocator.allocate_buffer",
            ALLOCATOR_IMPORT_BUFFER => "allocator.import_buffer",
            ALLOCATOR_EXPORT_BUFFER => "allocator.export_buffer",
            105..=113 => "allocator.virtual_memory",
            BUFFER_MAP_RANGE => "buffer.map_range",
            BUFFER_UNMAP_RANGE => "buffer.unmap_range",
            BUFFER_INVALIDATE_RANGE => "buffer.invalidate_range",
            BUFFER_FLUSH_RANGE => "buffer.flush_range",
            COMMAND_BUFFER_BEGIN => "command_buffer.begin",
            COMMAND_BUFFER_END => "command_buffer.end",
            COMMAND_BUFFER_BEGIN_DEBUG_GROUP => "command_buffer.begin_debug_group",
            COMMAND_BUFFER_END_DEBUG_GROUP => "command_buffer.end_debug_group",
            COMMAND_BUFFER_EXECUTION_BARRIER => "command_buffer.execution_barrier",
            COMMAND_BUFFER_SIGNAL_EVENT => "command_buffer.signal_event",
            COMMAND_BUFFER_RESET_EVENT => "command_buffer.reset_event",
            COMMAND_BUFFER_WAIT_EVENTS => "command_buffer.wait_events",
            COMMAND_BUFFER_ADVISE_BUFFER => "command_buffer.advise_buffer",
            COMMAND_BUFFER_FILL_BUFFER => "command_buffer.fill_buffer",
            COMMAND_BUFFER_UPDATE_BUFFER => "command_buffer.update_buffer",
            COMMAND_BUFFER_COPY_BUFFER => "command_buffer.copy_buffer",
            COMMAND_BUFFER_COLLECTIVE => "command_buffer.collective",
            COMMAND_BUFFER_DISPATCH => "command_buffer.dispatch",
            EXECUTABLE_CACHE_INFER_FORMAT => "executable_cache.infer_format",
            EXECUTABLE_CACHE_CAN_PREPARE_FORMAT => "executable_cache.can_prepare_format",
            EXECUTABLE_CACHE_PREPARE_EXECUTABLE => "executable_cache.prepare_executable",
            EXECUTABLE_EXPORT_COUNT => "executable.export_count",
            EXECUTABLE_EXPORT_INFO => "executable.export_info",
            EXECUTABLE_EXPORT_PARAMETERS => "executable.export_parameters",
            EXECUTABLE_LOOKUP_EXPORT_BY_NAME => "executable.lookup_function_by_name",
            _ => "unknown",
        }
    }
}

/// Payload schemas (`iree_hal_replay_payload_type_e`).
pub mod payload_type {
    #![allow(missing_docs)] // Each name is IREE's payload schema.
    pub const NONE: u32 = 0;
    pub const BUFFER_OBJECT: u32 = 1;
    pub const ALLOCATOR_ALLOCATE_BUFFER: u32 = 2;
    pub const BUFFER_RANGE: u32 = 3;
    pub const BUFFER_RANGE_DATA: u32 = 4;
    pub const COMMAND_BUFFER_OBJECT: u32 = 5;
    pub const EXECUTABLE_CACHE_OBJECT: u32 = 6;
    pub const EXECUTABLE_PREPARE: u32 = 7;
    pub const DISPATCH: u32 = 8;
    pub const DEVICE_QUEUE_EXECUTE: u32 = 9;
    pub const SEMAPHORE_OBJECT: u32 = 10;
    pub const COMMAND_BUFFER_COPY_BUFFER: u32 = 11;
    pub const DEVICE_QUEUE_ALLOCA: u32 = 12;
    pub const COMMAND_BUFFER_EXECUTION_BARRIER: u32 = 13;
    pub const DEVICE_QUEUE_DEALLOCA: u32 = 14;
    pub const DEVICE_QUEUE_FILL: u32 = 15;
    pub const DEVICE_QUEUE_UPDATE: u32 = 16;
    pub const DEVICE_QUEUE_COPY: u32 = 17;
    pub const COMMAND_BUFFER_FILL_BUFFER: u32 = 18;
    pub const COMMAND_BUFFER_UPDATE_BUFFER: u32 = 19;
    pub const EVENT_OBJECT: u32 = 20;
    pub const COMMAND_BUFFER_EVENT: u32 = 21;
    pub const COMMAND_BUFFER_WAIT_EVENTS: u32 = 22;
    pub const FILE_OBJECT: u32 = 23;
    pub const DEVICE_QUEUE_READ: u32 = 24;
    pub const DEVICE_QUEUE_WRITE: u32 = 25;
    pub const REPLAY_SCOPE: u32 = 27;
}

/// `file_object.reference_type`: the file's bytes follow inline.
pub const FILE_REFERENCE_INLINE_BYTES: u32 = 2;
/// `file_object.reference_type`: the file is named by a path outside the capture.
pub const FILE_REFERENCE_EXTERNAL_PATH: u32 = 1;
