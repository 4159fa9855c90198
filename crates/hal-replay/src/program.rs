//! A capture decoded into the program it records: the operations to replay, in call order,
//! each with the record it came from. Decoding checks everything that does not need a device —
//! every payload's lengths, that every object an operation names was created before it with the
//! right kind, and that every semaphore wait can be reached — so a damaged or unsupported capture
//! is refused before anything runs.

use std::collections::HashMap;

use hal_core::{FillPattern, Result, Status, WHOLE_BUFFER};

use crate::container::{Container, RecordHeader};
use crate::format::{self, object_type, op, RecordType};
use crate::payloads::{
    self, BufferRequest, CapturedDispatch, CapturedFunction, CapturedRef, CapturedTimepoint,
    ObjectId,
};
use crate::reader::{ByteRange, Reader};

/// One operation of the captured program.
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    /// The start of a named region of the program (`init`, `execute`, `deinit`).
    ScopeBegin(String),
    /// The end of a named region.
    ScopeEnd(String),
    /// Prepares an executable from captured bytes.
    PrepareExecutable {
        /// The new executable's id.
        executable: ObjectId,
        /// The captured format, for example `embedded-elf-x86_64`.
        format: String,
        /// The executable's bytes.
        data: ByteRange,
        /// Executable-level constants.
        constants: Vec<u32>,
        /// What the capture says about each export, by ordinal (may be empty).
        functions: Vec<CapturedFunction>,
    },
    /// Creates a command buffer.
    CreateCommandBuffer {
        /// The new command buffer's id.
        command_buffer: ObjectId,
        /// IREE's mode bits.
        mode: u32,
        /// IREE's command categories.
        categories: u32,
        /// Binding-table slots its commands may use.
        binding_capacity: u32,
    },
    /// Creates a timeline semaphore.
    CreateSemaphore {
        /// The new semaphore's id.
        semaphore: ObjectId,
        /// Its initial value.
        initial_value: u64,
    },
    /// Creates an event.
    CreateEvent {
        /// The new event's id.
        event: ObjectId,
    },
    /// Imports a file whose contents the capture holds.
    ImportFile {
        /// The new file's id.
        file: ObjectId,
        /// Its contents.
        contents: ByteRange,
    },
    /// Allocates a buffer.
    AllocateBuffer {
        /// The new buffer's id.
        buffer: ObjectId,
        /// What was asked for.
        request: BufferRequest,
    },
    /// Imports host memory holding captured bytes as a buffer.
    ImportBuffer {
        /// The new buffer's id.
        buffer: ObjectId,
        /// What was asked for.
        request: BufferRequest,
        /// The imported bytes.
        contents: ByteRange,
    },
    /// A view of part of another buffer.
    Subspan {
        /// The new buffer's id.
        buffer: ObjectId,
        /// The buffer it views.
        parent: ObjectId,
        /// Byte offset into the parent.
        offset: u64,
        /// Byte length.
        length: u64,
    },
    /// The host wrote bytes into a buffer through a mapping.
    HostWrite {
        /// The buffer.
        buffer: ObjectId,
        /// Byte offset of the write.
        offset: u64,
        /// The bytes written.
        data: ByteRange,
    },
    /// The host mapped a buffer range for reading: the program reads a result.
    HostRead {
        /// The buffer.
        buffer: ObjectId,
        /// Byte offset of the range.
        offset: u64,
        /// Byte length of the range.
        length: u64,
    },
    /// Begins recording a command buffer.
    Begin(ObjectId),
    /// Ends recording a command buffer.
    End(ObjectId),
    /// A command recorded into a command buffer.
    Command {
        /// The command buffer.
        command_buffer: ObjectId,
        /// The command.
        command: Command,
    },
    /// A queue operation.
    Queue {
        /// Timepoints reached before it runs.
        waits: Vec<CapturedTimepoint>,
        /// Timepoints it signals when done.
        signals: Vec<CapturedTimepoint>,
        /// What it does.
        work: QueueWork,
    },
    /// Flushes the queue.
    Flush,
}

/// A command recorded into a command buffer.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// An execution barrier.
    Barrier,
    /// Signals an event.
    SignalEvent(ObjectId),
    /// Resets an event.
    ResetEvent(ObjectId),
    /// Waits for events.
    WaitEvents(Vec<ObjectId>),
    /// Fills a range with a pattern.
    Fill {
        /// The range.
        target: CapturedRef,
        /// The pattern.
        pattern: FillPattern,
    },
    /// Writes captured bytes into a range.
    Update {
        /// The range.
        target: CapturedRef,
        /// The bytes.
        data: ByteRange,
    },
    /// Copies one range into another.
    Copy {
        /// Where from.
        source: CapturedRef,
        /// Where to.
        target: CapturedRef,
    },
    /// A dispatch.
    Dispatch(CapturedDispatch),
}

/// What a queue operation does.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueWork {
    /// Allocates a buffer in queue order.
    Alloca {
        /// The new buffer's id.
        buffer: ObjectId,
        /// What was asked for.
        request: BufferRequest,
    },
    /// Frees a queue-allocated buffer in queue order.
    Dealloca(ObjectId),
    /// A fill, update, copy or dispatch submitted on its own (never a barrier or an event
    /// command): the same commands a command buffer records, with direct references only.
    Command(Command),
    /// Reads a captured file's bytes into a range.
    Read {
        /// The file.
        file: ObjectId,
        /// Byte offset in the file.
        file_offset: u64,
        /// The range written.
        target: CapturedRef,
        /// The bytes the read saw, when the capture kept them (files referenced by path).
        captured: Option<ByteRange>,
    },
    /// Runs a command buffer with a binding table, or (without one) only waits and signals.
    Execute {
        /// The command buffer, if any.
        command_buffer: Option<ObjectId>,
        /// The binding table: entry `i` is slot `i`; buffer id 0 leaves the slot empty.
        binding_table: Vec<CapturedRef>,
    },
}

/// One operation with the record it was decoded from.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The record (its index and kind name the step in errors).
    pub record: RecordHeader,
    /// What to do.
    pub operation: Operation,
}

/// Object kinds as the decoder tracks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Device,
    Allocator,
    Buffer,
    CommandBuffer,
    ExecutableCache,
    Executable,
    Semaphore,
    File,
    Event,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Device => "device",
            Kind::Allocator => "allocator",
            Kind::Buffer => "buffer",
            Kind::CommandBuffer => "command buffer",
            Kind::ExecutableCache => "executable cache",
            Kind::Executable => "executable",
            Kind::Semaphore => "semaphore",
            Kind::File => "file",
            Kind::Event => "event",
        }
    }

    /// The name with its indefinite article: "an executable", "a buffer".
    fn a(self) -> String {
        format!("{} {}", article(self.name()), self.name())
    }
}

/// The indefinite article for `word`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The decoder's view of the objects created so far and the semaphore values reachable.
#[derive(Default)]
struct Symbols {
    objects: HashMap<ObjectId, Kind>,
    /// Every buffer's size in bytes, as the capture created it.
    buffer_sizes: HashMap<ObjectId, u64>,
    /// The highest value any decoded step signals (or the initial value) per semaphore.
    reachable: HashMap<ObjectId, u64>,
    /// Waits no earlier step reaches, checked again at the end against every signal.
    pending_waits: Vec<(usize, CapturedTimepoint)>,
    /// Every semaphore's initial value.
    initial_values: HashMap<ObjectId, u64>,
    /// Every queue operation's record index, waits and signals, in record order.
    queue_operations: Vec<QueueDependencies>,
}

/// What a queue operation waits for and signals.
struct QueueDependencies {
    index: usize,
    waits: Vec<CapturedTimepoint>,
    signals: Vec<CapturedTimepoint>,
}

impl Symbols {
    fn create(&mut self, id: ObjectId, kind: Kind) -> Result<()> {
        if id == 0 {
            return Err(Status::invalid_argument(format!(
                "creates {} with id 0, which means no object",
                kind.a()
            )));
        }
        self.objects.insert(id, kind);
        Ok(())
    }

    fn create_buffer(&mut self, id: ObjectId, size: u64) -> Result<()> {
        self.create(id, Kind::Buffer)?;
        self.buffer_sizes.insert(id, size);
        Ok(())
    }

    /// Checks that bytes `offset..offset + length` (`length` [`WHOLE_BUFFER`]: to the end) of
    /// buffer `id` exist, and returns how many they are. Host mappings and sub-spans are checked
    /// so: no damaged length is taken for the size of host memory to set aside.
    fn require_range(&self, id: ObjectId, offset: u64, length: u64, role: &str) -> Result<u64> {
        self.require(id, Kind::Buffer, role)?;
        let size = self.buffer_sizes.get(&id).copied().unwrap_or(0);
        let end = if length == WHOLE_BUFFER {
            Some(offset)
        } else {
            offset.checked_add(length)
        };
        match end {
            Some(end) if end <= size => Ok(if length == WHOLE_BUFFER {
                size - offset
            } else {
                length
            }),
            _ => Err(Status::out_of_range(format!(
                "{role} covers {} at offset {offset} of buffer {id}, which has {size}",
                if length == WHOLE_BUFFER {
                    "the rest".to_string()
                } else {
                    format!("{length} bytes")
                }
            ))),
        }
    }

    fn require(&self, id: ObjectId, kind: Kind, role: &str) -> Result<()> {
        match self.objects.get(&id) {
            Some(&found) if found == kind => Ok(()),
            Some(&found) => Err(Status::invalid_argument(format!(
                "{role} names object {id}, which is {}, not {}",
                found.a(),
                kind.a()
            ))),
            None => Err(Status::not_found(format!(
                "{role} names {} {id}, which no earlier record created",
                kind.name()
            ))),
        }
    }

    fn require_ref(&self, reference: &CapturedRef, role: &str, slots: bool) -> Result<()> {
        if reference.buffer == 0 {
            if slots {
                return Ok(());
            }
            return Err(Status::invalid_argument(format!(
                "{role} names binding-table slot {}, but it is not in a command buffer",
                reference.slot
            )));
        }
        self.require(reference.buffer, Kind::Buffer, role)
    }

    fn queue(
        &mut self,
        index: usize,
        waits: &[CapturedTimepoint],
        signals: &[CapturedTimepoint],
    ) -> Result<()> {
        for wait in waits {
            self.require(wait.semaphore, Kind::Semaphore, "a wait")?;
            if self.reachable.get(&wait.semaphore).copied().unwrap_or(0) < wait.value {
                self.pending_waits.push((index, *wait));
            }
        }
        for signal in signals {
            self.require(signal.semaphore, Kind::Semaphore, "a signal")?;
            let value = self.reachable.entry(signal.semaphore).or_insert(0);
            *value = (*value).max(signal.value);
        }
        self.queue_operations.push(QueueDependencies {
            index,
            waits: waits.to_vec(),
            signals: signals.to_vec(),
        });
        Ok(())
    }

    /// The first wait (record index and timepoint) of a queue operation that can never run:
    /// one whose waits are reached in no order of the queue operations, because it waits,
    /// directly or through others, for its own signals (or for a value nothing signals). A
    /// replay that submitted it would wait forever.
    fn first_wait_never_reached(&self) -> Option<(usize, CapturedTimepoint)> {
        let operations = &self.queue_operations;
        let mut values = self.initial_values.clone();
        let reached = |values: &HashMap<ObjectId, u64>, wait: &CapturedTimepoint| {
            values.get(&wait.semaphore).copied().unwrap_or(0) >= wait.value
        };
        // Runs every operation whose waits are reached, raising the values it signals, until
        // none is left that can run; each wait is looked at once when noted, once when reached.
        let mut unmet = vec![0usize; operations.len()];
        let mut waiting: HashMap<ObjectId, Vec<(u64, usize)>> = HashMap::new();
        let mut ready = Vec::new();
        for (position, operation) in operations.iter().enumerate() {
            for wait in operation.waits.iter().filter(|w| !reached(&values, w)) {
                unmet[position] += 1;
                waiting
                    .entry(wait.semaphore)
                    .or_default()
                    .push((wait.value, position));
            }
            if unmet[position] == 0 {
                ready.push(position);
            }
        }
        for list in waiting.values_mut() {
            // Highest value first, so the lowest comes off the end.
            list.sort_unstable_by_key(|&(value, _)| std::cmp::Reverse(value));
        }
        while let Some(position) = ready.pop() {
            for signal in &operations[position].signals {
                let value = values.entry(signal.semaphore).or_insert(0);
                *value = (*value).max(signal.value);
                let Some(list) = waiting.get_mut(&signal.semaphore) else {
                    continue;
                };
                while let Some(&(needed, waiter)) = list.last() {
                    if needed > *value {
                        break;
                    }
                    list.pop();
                    unmet[waiter] -= 1;
                    if unmet[waiter] == 0 {
                        ready.push(waiter);
                    }
                }
            }
        }
        let position = unmet.iter().position(|&count| count > 0)?;
        let operation = &operations[position];
        let wait = operation.waits.iter().find(|w| !reached(&values, w))?;
        Some((operation.index, *wait))
    }
}

/// Decodes every record of `file` (already walked into `container`) into steps.
pub(crate) fn decode(file: &[u8], container: &Container) -> Result<Vec<Step>> {
    let mut symbols = Symbols::default();
    let mut steps = Vec::new();
    for record in &container.records {
        let decoded = decode_record(file, record, &mut symbols).map_err(|s| record.error(s))?;
        steps.extend(decoded.map(|operation| Step {
            record: *record,
            operation,
        }));
    }
    for (index, wait) in &symbols.pending_waits {
        let reachable = symbols.reachable.get(&wait.semaphore).copied().unwrap_or(0);
        if reachable < wait.value {
            let record = &container.records[*index];
            return Err(record.error(Status::failed_precondition(format!(
                "waits for semaphore {} to reach {}, but nothing in the capture signals it beyond \
                 {reachable} (host signals are not captured)",
                wait.semaphore, wait.value
            ))));
        }
    }
    if symbols.pending_waits.is_empty() {
        // Every wait is reached by earlier records: record order runs them all.
        return Ok(steps);
    }
    if let Some((index, wait)) = symbols.first_wait_never_reached() {
        return Err(
            container.records[index].error(Status::failed_precondition(format!(
            "waits for semaphore {} to reach {}, which only queue operations that can never run \
             signal: they wait, directly or through others, for this one (a wait cycle; no \
             replay could finish)",
            wait.semaphore, wait.value
        ))),
        );
    }
    Ok(steps)
}

fn decode_record(
    file: &[u8],
    record: &RecordHeader,
    symbols: &mut Symbols,
) -> Result<Option<Operation>> {
    let payload = record.payload.of(file);
    let mut reader = Reader::new(payload, record.payload.start);
    match record.record_type {
        RecordType::Session | RecordType::Blob => Ok(None),
        RecordType::Unsupported => {
            if record.optional {
                Ok(None)
            } else {
                Err(Status::unimplemented(
                    "the capture says it could not record a call faithfully",
                ))
            }
        }
        RecordType::Unknown(_) => {
            if record.optional {
                Ok(None)
            } else {
                Err(Status::unimplemented(
                    "an unknown record kind that the capture does not mark optional",
                ))
            }
        }
        RecordType::Object => decode_object(record, &mut reader, symbols),
        RecordType::Operation => {
            if record.status_code != 0 {
                // The captured call failed and had no effect; IREE's replayer skips it too.
                return Ok(None);
            }
            decode_operation(record, &mut reader, symbols)
        }
    }
}

fn decode_object(
    record: &RecordHeader,
    reader: &mut Reader<'_>,
    symbols: &mut Symbols,
) -> Result<Option<Operation>> {
    let id = record.object_id;
    match record.object_type {
        object_type::DEVICE => symbols.create(id, Kind::Device).map(|_| None),
        object_type::ALLOCATOR => symbols.create(id, Kind::Allocator).map(|_| None),
        object_type::BUFFER if !symbols.objects.contains_key(&id) => {
            // A buffer nothing announced: a view of another buffer (a sub-span).
            let parent = record.related_object_id;
            symbols.require(parent, Kind::Buffer, "a sub-span's parent")?;
            let _allocation_size = reader.u64("allocation_size")?;
            let offset = reader.u64("byte_offset")?;
            let length = reader.u64("byte_length")?;
            let size = symbols.require_range(parent, offset, length, "the sub-span")?;
            symbols.create_buffer(id, size)?;
            Ok(Some(Operation::Subspan {
                buffer: id,
                parent,
                offset,
                length,
            }))
        }
        // The second announcement of an object an operation created; the operation carries
        // everything replay needs.
        _ if symbols.objects.contains_key(&id) => Ok(None),
        _ if record.optional => Ok(None),
        other => Err(Status::unimplemented(format!(
            "{} {} object ({other}) that no operation created cannot be replayed",
            article(object_type::name(other)),
            object_type::name(other)
        ))),
    }
}

fn decode_operation(
    record: &RecordHeader,
    reader: &mut Reader<'_>,
    symbols: &mut Symbols,
) -> Result<Option<Operation>> {
    let created = record.related_object_id;
    let receiver = record.object_id;
    let operation = match record.operation {
        op::REPLAY_SCOPE_BEGIN => Operation::ScopeBegin(payloads::scope_name(reader)?),
        op::REPLAY_SCOPE_END => Operation::ScopeEnd(payloads::scope_name(reader)?),
        op::DEVICE_CREATE_EXECUTABLE_CACHE => {
            symbols.create(created, Kind::ExecutableCache)?;
            return Ok(None);
        }
        op::EXECUTABLE_CACHE_PREPARE_EXECUTABLE => {
            symbols.require(receiver, Kind::ExecutableCache, "the preparation")?;
            let prepared = payloads::prepare(reader)?;
            symbols.create(created, Kind::Executable)?;
            Operation::PrepareExecutable {
                executable: created,
                format: prepared.format,
                data: prepared.data,
                constants: prepared.constants,
                functions: prepared.functions,
            }
        }
        op::DEVICE_CREATE_COMMAND_BUFFER => {
            let mode = reader.u32("mode")?;
            let categories = reader.u32("command_categories")?;
            let _queue_affinity = reader.u64("queue_affinity")?;
            let binding_capacity = reader.u64("binding_capacity")?;
            let binding_capacity = u32::try_from(binding_capacity).map_err(|_| {
                Status::out_of_range(format!("binding_capacity {binding_capacity} is too large"))
            })?;
            symbols.create(created, Kind::CommandBuffer)?;
            Operation::CreateCommandBuffer {
                command_buffer: created,
                mode,
                categories,
                binding_capacity,
            }
        }
        op::DEVICE_CREATE_SEMAPHORE => {
            let _queue_affinity = reader.u64("queue_affinity")?;
            let initial_value = reader.u64("initial_value")?;
            symbols.create(created, Kind::Semaphore)?;
            symbols.reachable.insert(created, initial_value);
            symbols.initial_values.insert(created, initial_value);
            Operation::CreateSemaphore {
                semaphore: created,
                initial_value,
            }
        }
        op::DEVICE_CREATE_EVENT => {
            symbols.create(created, Kind::Event)?;
            Operation::CreateEvent { event: created }
        }
        op::DEVICE_IMPORT_FILE => {
            let file = payloads::file(reader)?;
            if file.reference_type != format::FILE_REFERENCE_INLINE_BYTES {
                return Err(Status::unimplemented(format!(
                    "the file's contents are not in the capture (reference type {}; capture \
                     with the default file policy so that they are)",
                    file.reference_type
                )));
            }
            if file.reference.length as u64 != file.length {
                return Err(Status::invalid_argument(format!(
                    "file_length is {}, but the captured contents are {} bytes",
                    file.length, file.reference.length
                )));
            }
            symbols.create(created, Kind::File)?;
            Operation::ImportFile {
                file: created,
                contents: file.reference,
            }
        }
        op::ALLOCATOR_ALLOCATE_BUFFER => {
            let request = payloads::allocation_request(reader)?;
            symbols.create_buffer(created, request.size)?;
            Operation::AllocateBuffer {
                buffer: created,
                request,
            }
        }
        op::ALLOCATOR_IMPORT_BUFFER => {
            // Host memory handed to the device (IREE's modules import their constant data this
            // way when the device accepts it); the capture holds the bytes.
            let request = payloads::allocation_request(reader)?;
            let _external_type = reader.u32("external_type")?;
            let _external_flags = reader.u32("external_flags")?;
            let length = reader.u64("data_length")?;
            let contents = reader.take_range(length, "the imported bytes")?;
            if length != request.size {
                return Err(Status::invalid_argument(format!(
                    "imports {length} captured bytes into a {}-byte buffer",
                    request.size
                )));
            }
            symbols.create_buffer(created, request.size)?;
            Operation::ImportBuffer {
                buffer: created,
                request,
                contents,
            }
        }
        op::BUFFER_MAP_RANGE => {
            symbols.require(receiver, Kind::Buffer, "the mapping")?;
            let offset = reader.u64("byte_offset")?;
            let length = reader.u64("byte_length")?;
            let _mode = reader.u32("mapping_mode")?;
            let access = reader.u16("memory_access")?;
            // Read-only mappings are where the program reads its results; writable ones are
            // replayed from the bytes their unmapping captured.
            const READ: u16 = 1;
            const WRITE: u16 = 2;
            if access & READ != 0 && access & WRITE == 0 {
                symbols.require_range(receiver, offset, length, "the mapping")?;
                Operation::HostRead {
                    buffer: receiver,
                    offset,
                    length,
                }
            } else {
                return Ok(None);
            }
        }
        op::BUFFER_UNMAP_RANGE | op::BUFFER_FLUSH_RANGE => {
            symbols.require(receiver, Kind::Buffer, "the mapping")?;
            if record.payload_type != format::payload_type::BUFFER_RANGE_DATA {
                return Ok(None);
            }
            let offset = reader.u64("byte_offset")?;
            let _length = reader.u64("byte_length")?;
            let data_length = reader.u64("data_length")?;
            reader.skip(16, "mapping mode, access and reserved fields")?;
            let data = reader.take_range(data_length, "the written bytes")?;
            symbols.require_range(receiver, offset, data_length, "the write")?;
            Operation::HostWrite {
                buffer: receiver,
                offset,
                data,
            }
        }
        op::COMMAND_BUFFER_BEGIN => {
            symbols.require(receiver, Kind::CommandBuffer, "the command buffer")?;
            Operation::Begin(receiver)
        }
        op::COMMAND_BUFFER_END => {
            symbols.require(receiver, Kind::CommandBuffer, "the command buffer")?;
            Operation::End(receiver)
        }
        op::COMMAND_BUFFER_EXECUTION_BARRIER
        | op::COMMAND_BUFFER_SIGNAL_EVENT
        | op::COMMAND_BUFFER_RESET_EVENT
        | op::COMMAND_BUFFER_WAIT_EVENTS
        | op::COMMAND_BUFFER_FILL_BUFFER
        | op::COMMAND_BUFFER_UPDATE_BUFFER
        | op::COMMAND_BUFFER_COPY_BUFFER
        | op::COMMAND_BUFFER_DISPATCH => {
            symbols.require(receiver, Kind::CommandBuffer, "the command buffer")?;
            Operation::Command {
                command_buffer: receiver,
                command: decode_command(record.operation, reader, symbols)?,
            }
        }
        op::COMMAND_BUFFER_BEGIN_DEBUG_GROUP
        | op::COMMAND_BUFFER_END_DEBUG_GROUP
        | op::COMMAND_BUFFER_ADVISE_BUFFER => {
            symbols.require(receiver, Kind::CommandBuffer, "the command buffer")?;
            return Ok(None);
        }
        op::DEVICE_QUEUE_ALLOCA
        | op::DEVICE_QUEUE_DEALLOCA
        | op::DEVICE_QUEUE_FILL
        | op::DEVICE_QUEUE_UPDATE
        | op::DEVICE_QUEUE_COPY
        | op::DEVICE_QUEUE_READ
        | op::DEVICE_QUEUE_DISPATCH
        | op::DEVICE_QUEUE_EXECUTE => decode_queue(record, reader, symbols)?,
        op::DEVICE_QUEUE_FLUSH => Operation::Flush,
        // Calls that change nothing a replay must reproduce: queries, lookups, hints, profiling.
        op::DEVICE_TRIM
        | op::DEVICE_QUERY_I64
        | op::DEVICE_QUERY_CAPABILITIES
        | op::DEVICE_REFINE_TOPOLOGY_EDGE
        | op::DEVICE_ASSIGN_TOPOLOGY_INFO
        | op::DEVICE_QUERY_QUEUE_POOL_BACKEND
        | op::DEVICE_PROFILING_BEGIN
        | op::DEVICE_PROFILING_FLUSH
        | op::DEVICE_PROFILING_END
        | op::DEVICE_EXTERNAL_CAPTURE_BEGIN
        | op::DEVICE_EXTERNAL_CAPTURE_END
        | op::ALLOCATOR_TRIM
        | op::ALLOCATOR_QUERY_MEMORY_HEAPS
        | op::BUFFER_INVALIDATE_RANGE
        | op::EXECUTABLE_CACHE_INFER_FORMAT
        | op::EXECUTABLE_CACHE_CAN_PREPARE_FORMAT
        | op::EXECUTABLE_EXPORT_COUNT
        | op::EXECUTABLE_EXPORT_INFO
        | op::EXECUTABLE_EXPORT_PARAMETERS
        | op::EXECUTABLE_LOOKUP_EXPORT_BY_NAME => return Ok(None),
        _ if record.optional => return Ok(None),
        other => {
            return Err(Status::unimplemented(format!(
                "operation {} ({other}) cannot be replayed on this runtime",
                op::name(other)
            )))
        }
    };
    Ok(Some(operation))
}

fn decode_command(code: u32, reader: &mut Reader<'_>, symbols: &Symbols) -> Result<Command> {
    Ok(match code {
        op::COMMAND_BUFFER_EXECUTION_BARRIER => {
            reader.skip(24, "stage masks and flags")?;
            let memory_count = reader.count("memory_barrier_count", 8)?;
            let buffer_count = reader.u64("buffer_barrier_count")?;
            reader.skip(memory_count as u64 * 8, "memory barriers")?;
            let buffer_count = reader.check_count(buffer_count, "buffer_barrier_count", 40)?;
            reader.skip(buffer_count as u64 * 40, "buffer barriers")?;
            Command::Barrier
        }
        op::COMMAND_BUFFER_SIGNAL_EVENT | op::COMMAND_BUFFER_RESET_EVENT => {
            let event = reader.u64("event_id")?;
            symbols.require(event, Kind::Event, "the event command")?;
            if code == op::COMMAND_BUFFER_SIGNAL_EVENT {
                Command::SignalEvent(event)
            } else {
                Command::ResetEvent(event)
            }
        }
        op::COMMAND_BUFFER_WAIT_EVENTS => {
            reader.skip(16, "stage masks")?;
            let event_count = reader.u64("event_count")?;
            let memory_count = reader.u64("memory_barrier_count")?;
            let buffer_count = reader.u64("buffer_barrier_count")?;
            reader.skip(8, "reserved")?;
            let event_count = reader.check_count(event_count, "event_count", 8)?;
            let events = (0..event_count)
                .map(|_| reader.u64("an event id"))
                .collect::<Result<Vec<_>>>()?;
            for &event in &events {
                symbols.require(event, Kind::Event, "the wait")?;
            }
            let memory_count = reader.check_count(memory_count, "memory_barrier_count", 8)?;
            reader.skip(memory_count as u64 * 8, "memory barriers")?;
            let buffer_count = reader.check_count(buffer_count, "buffer_barrier_count", 40)?;
            reader.skip(buffer_count as u64 * 40, "buffer barriers")?;
            Command::WaitEvents(events)
        }
        op::COMMAND_BUFFER_FILL_BUFFER => {
            let target = payloads::buffer_ref(reader, "target")?;
            symbols.require_ref(&target, "the fill target", true)?;
            reader.skip(8, "flags")?;
            let length = reader.u64("pattern_length")?;
            Command::Fill {
                target,
                pattern: payloads::fill_pattern(reader, length)?,
            }
        }
        op::COMMAND_BUFFER_UPDATE_BUFFER => {
            let target = payloads::buffer_ref(reader, "target")?;
            symbols.require_ref(&target, "the update target", true)?;
            reader.skip(16, "flags and source_offset")?;
            let length = reader.u64("data_length")?;
            Command::Update {
                target,
                data: reader.take_range(length, "the update's bytes")?,
            }
        }
        op::COMMAND_BUFFER_COPY_BUFFER => {
            let source = payloads::buffer_ref(reader, "source")?;
            let target = payloads::buffer_ref(reader, "target")?;
            symbols.require_ref(&source, "the copy source", true)?;
            symbols.require_ref(&target, "the copy target", true)?;
            Command::Copy { source, target }
        }
        _ => {
            let (dispatch, lists) = payloads::dispatch(reader)?;
            if !lists.waits.is_empty() || !lists.signals.is_empty() {
                return Err(Status::invalid_argument(
                    "a dispatch in a command buffer carries semaphores",
                ));
            }
            check_dispatch(&dispatch, symbols, true)?;
            Command::Dispatch(dispatch)
        }
    })
}

fn check_dispatch(dispatch: &CapturedDispatch, symbols: &Symbols, slots: bool) -> Result<()> {
    symbols.require(dispatch.executable, Kind::Executable, "the dispatch")?;
    for (index, binding) in dispatch.bindings.iter().enumerate() {
        symbols.require_ref(binding, &format!("dispatch binding {index}"), slots)?;
    }
    if let Some(count) = &dispatch.indirect_count {
        symbols.require_ref(count, "the indirect workgroup count", slots)?;
    }
    Ok(())
}

fn decode_queue(
    record: &RecordHeader,
    reader: &mut Reader<'_>,
    symbols: &mut Symbols,
) -> Result<Operation> {
    let (lists, work) = match record.operation {
        op::DEVICE_QUEUE_ALLOCA => {
            let request = payloads::allocation_request(reader)?;
            reader.skip(16, "queue affinity and flags")?;
            let (waits, signals) = (reader.u64("wait_count")?, reader.u64("signal_count")?);
            let lists = payloads::queue_lists(reader, waits, signals)?;
            let buffer = record.related_object_id;
            symbols.create_buffer(buffer, request.size)?;
            (lists, QueueWork::Alloca { buffer, request })
        }
        op::DEVICE_QUEUE_DEALLOCA => {
            let target = payloads::buffer_ref(reader, "buffer_ref")?;
            symbols.require_ref(&target, "the deallocation", false)?;
            reader.skip(16, "queue affinity and flags")?;
            let (waits, signals) = (reader.u64("wait_count")?, reader.u64("signal_count")?);
            let lists = payloads::queue_lists(reader, waits, signals)?;
            (lists, QueueWork::Dealloca(target.buffer))
        }
        op::DEVICE_QUEUE_FILL => {
            let target = payloads::buffer_ref(reader, "target_ref")?;
            symbols.require_ref(&target, "the fill target", false)?;
            reader.skip(16, "queue affinity and flags")?;
            let (waits, signals) = (reader.u64("wait_count")?, reader.u64("signal_count")?);
            let pattern_length = reader.u64("pattern_length")?;
            let lists = payloads::queue_lists(reader, waits, signals)?;
            let pattern = payloads::fill_pattern(reader, pattern_length)?;
            (lists, QueueWork::Command(Command::Fill { target, pattern }))
        }
        op::DEVICE_QUEUE_UPDATE => {
            let target = payloads::buffer_ref(reader, "target_ref")?;
            symbols.require_ref(&target, "the update target", false)?;
            reader.skip(24, "queue affinity, flags and source_offset")?;
            let data_length = reader.u64("data_length")?;
            let (waits, signals) = (reader.u64("wait_count")?, reader.u64("signal_count")?);
            let lists = payloads::queue_lists(reader, waits, signals)?;
            let data = reader.take_range(data_length, "the update's bytes")?;
            (lists, QueueWork::Command(Command::Update { target, data }))
        }
        op::DEVICE_QUEUE_COPY => {
            let source = payloads::buffer_ref(reader, "source_ref")?;
            let target = payloads::buffer_ref(reader, "target_ref")?;
            symbols.require_ref(&source, "the copy source", false)?;
            symbols.require_ref(&target, "the copy target", false)?;
            reader.skip(16, "queue affinity and flags")?;
            let (waits, signals) = (reader.u64("wait_count")?, reader.u64("signal_count")?);
            let lists = payloads::queue_lists(reader, waits, signals)?;
            (lists, QueueWork::Command(Command::Copy { source, target }))
        }
        op::DEVICE_QUEUE_READ => {
            let file = reader.u64("source_file_id")?;
            symbols.require(file, Kind::File, "the read")?;
            let file_offset = reader.u64("source_offset")?;
            let target = payloads::buffer_ref(reader, "target_ref")?;
            symbols.require_ref(&target, "the read target", false)?;
            reader.skip(16, "queue affinity and flags")?;
            let captured_length = reader.u64("captured_length")?;
            let (waits, signals) = (reader.u64("wait_count")?, reader.u64("signal_count")?);
            let lists = payloads::queue_lists(reader, waits, signals)?;
            // With a file referenced by path, the capture keeps the bytes each read saw.
            let captured = reader.take_range(captured_length, "the bytes the read saw")?;
            (
                lists,
                QueueWork::Read {
                    file,
                    file_offset,
                    target,
                    captured: (captured_length > 0).then_some(captured),
                },
            )
        }
        op::DEVICE_QUEUE_DISPATCH => {
            let (dispatch, lists) = payloads::dispatch(reader)?;
            check_dispatch(&dispatch, symbols, false)?;
            (lists, QueueWork::Command(Command::Dispatch(dispatch)))
        }
        _ => {
            let command_buffer = reader.u64("command_buffer_id")?;
            reader.skip(16, "queue affinity and flags")?;
            let waits = reader.u64("wait_count")?;
            let signals = reader.u64("signal_count")?;
            let binding_count = reader.u64("binding_count")?;
            let lists = payloads::queue_lists(reader, waits, signals)?;
            let binding_count = reader.check_count(binding_count, "binding_count", 32)?;
            let binding_table = payloads::buffer_refs(reader, binding_count, "binding table")?;
            let command_buffer = (command_buffer != 0).then_some(command_buffer);
            if let Some(id) = command_buffer {
                symbols.require(id, Kind::CommandBuffer, "the execution")?;
            }
            for (slot, entry) in binding_table.iter().enumerate() {
                if entry.buffer != 0 {
                    symbols.require(
                        entry.buffer,
                        Kind::Buffer,
                        &format!("binding-table slot {slot}"),
                    )?;
                }
            }
            (
                lists,
                QueueWork::Execute {
                    command_buffer,
                    binding_table,
                },
            )
        }
    };
    symbols.queue(record.index, &lists.waits, &lists.signals)?;
    Ok(Operation::Queue {
        waits: lists.waits,
        signals: lists.signals,
        work,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(semaphore: ObjectId, value: u64) -> CapturedTimepoint {
        CapturedTimepoint { semaphore, value }
    }

    /// Symbols with semaphores 1 and 2 at 0 and `operations` queued, each as (waits, signals).
    fn queued(operations: &[(&[CapturedTimepoint], &[CapturedTimepoint])]) -> Symbols {
        let mut symbols = Symbols::default();
        for semaphore in [1, 2] {
            symbols.create(semaphore, Kind::Semaphore).unwrap();
            symbols.initial_values.insert(semaphore, 0);
        }
        for (index, (waits, signals)) in operations.iter().enumerate() {
            symbols.queue(index, waits, signals).unwrap();
        }
        symbols
    }

    #[test]
    fn a_wait_a_later_record_signals_can_run() {
        let symbols = queued(&[(&[at(1, 1)], &[at(2, 1)]), (&[], &[at(1, 1)])]);
        assert_eq!(symbols.first_wait_never_reached(), None);
    }

    #[test]
    fn waits_for_their_own_signals_never_run() {
        let symbols = queued(&[(&[at(1, 1)], &[at(1, 1)])]);
        assert_eq!(symbols.first_wait_never_reached(), Some((0, at(1, 1))));
        let symbols = queued(&[
            (&[], &[at(2, 1)]),
            (&[at(1, 1), at(2, 1)], &[at(2, 2)]),
            (&[at(2, 2)], &[at(1, 1)]),
        ]);
        assert_eq!(symbols.first_wait_never_reached(), Some((1, at(1, 1))));
    }
}
