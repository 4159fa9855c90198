//! Running a decoded capture on a device: the object table from captured ids to this runtime's
//! objects, each operation through the public HAL API, the schedule's waits, scope timing and
//! the results the program reads.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hal_core::{
    Buffer, BufferParams, BufferRef, BufferUsage, CommandBuffer, CommandBufferMode,
    CommandBufferParams, CommandCategory, Device, DispatchOptions, Event, Executable,
    ExecutableCache, ExecutableParams, MemoryAccess, MemoryType, Result, Semaphore, Status,
    Timeout, Timepoint, WaitMode, Workgroups, WHOLE_BUFFER,
};

use crate::capture::Capture;
use crate::payloads::{BufferRequest, CapturedDispatch, CapturedRef, CapturedTimepoint, ObjectId};
use crate::program::{Command, Operation, QueueWork, Step};
use crate::schedule::{InFlight, Schedule};
use crate::substitution::{check_shape, ExportShape, Substitute};

/// Captured ids to this runtime's objects. Ids are small integers the replay looks up for
/// every operand, so a fast non-cryptographic hash (the ids come from the capture, but a
/// collision costs only time) beats SipHash here.
type IdMap<T> = rustc_hash::FxHashMap<ObjectId, T>;

/// How to replay a capture.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// When to wait for the device.
    pub schedule: Schedule,
    /// Replacements for captured executables, keyed by the order the capture prepares them in
    /// (0 for the first).
    pub substitutes: BTreeMap<usize, Substitute>,
    /// The scope whose time [`Run::timed`] reports: IREE's `iree-run-module` captures name the
    /// main call `execute`.
    pub timed_scope: String,
}

impl Default for ReplayOptions {
    fn default() -> ReplayOptions {
        ReplayOptions {
            schedule: Schedule::Serial,
            substitutes: BTreeMap::new(),
            timed_scope: "execute".to_string(),
        }
    }
}

/// One result of a run: the contents of a buffer the program mapped for reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The buffer's captured id.
    pub buffer: ObjectId,
    /// The index of the record that (last) read it.
    pub record: usize,
    /// The bytes the program read.
    pub bytes: Vec<u8>,
}

/// What one run of a capture produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// The results, in the order the program first read them.
    pub outputs: Vec<Output>,
    /// The time spent in the timed scope (summed over its occurrences), or in the whole run
    /// when the capture has no such scope.
    pub timed: Duration,
    /// Whether the capture had the timed scope.
    pub scope_found: bool,
    /// The whole run.
    pub total: Duration,
}

/// Replays one capture on one device, as many times as asked. Executables are prepared once,
/// when the replayer is made; every run then replays the whole capture on fresh objects.
pub struct Replayer<'c> {
    capture: &'c Capture,
    device: Device,
    options: ReplayOptions,
    executables: IdMap<Executable>,
}

impl<'c> Replayer<'c> {
    /// Prepares every executable of `capture` on `device` (or its substitute, after checking
    /// that the substitute has the captured exports).
    pub fn new(
        device: &Device,
        capture: &'c Capture,
        options: ReplayOptions,
    ) -> Result<Replayer<'c>> {
        let cache = device.create_executable_cache()?;
        let mut executables = IdMap::default();
        let mut index = 0;
        for step in capture.steps() {
            if let Operation::PrepareExecutable {
                executable,
                format,
                data,
                constants,
                functions,
            } = &step.operation
            {
                let prepared = match options.substitutes.get(&index) {
                    None => prepare(&cache, format, data.of(capture.file()), constants),
                    Some(substitute) => {
                        let captured_shape: Vec<ExportShape> = if functions.is_empty() {
                            prepare(&cache, format, data.of(capture.file()), constants)?
                                .exports()
                                .iter()
                                .map(ExportShape::from_export)
                                .collect()
                        } else {
                            functions.iter().map(ExportShape::from_captured).collect()
                        };
                        prepare(&cache, &substitute.format, &substitute.data, constants)
                            .and_then(|prepared| {
                                check_shape(&captured_shape, &prepared)?;
                                Ok(prepared)
                            })
                            .map_err(|status| {
                                Status::new(
                                    status.code(),
                                    format!(
                                        "substitute for executable {index} ('{}'): {}",
                                        substitute.format,
                                        status.message()
                                    ),
                                )
                            })
                    }
                }
                .map_err(|status| step.record.error(status))?;
                executables.insert(*executable, prepared);
                index += 1;
            }
        }
        if let Some((&wanted, _)) = options.substitutes.range(index..).next() {
            return Err(Status::invalid_argument(format!(
                "a substitute is given for executable {wanted}, but the capture prepares {index} \
                 executable(s)"
            )));
        }
        Ok(Replayer {
            capture,
            device: device.clone(),
            options,
            executables,
        })
    }

    /// Changes the schedule of later runs.
    pub fn set_schedule(&mut self, schedule: Schedule) {
        self.options.schedule = schedule;
    }

    /// The executable prepared (after substitution) for captured executable `id`.
    pub fn executable(&self, id: ObjectId) -> Option<&Executable> {
        self.executables.get(&id)
    }

    /// Replays the whole capture once on fresh objects and returns what the program read.
    pub fn run(&mut self) -> Result<Run> {
        let mut session = Session {
            device: &self.device,
            file: self.capture.file(),
            executables: &self.executables,
            schedule: self.options.schedule,
            objects: Objects::default(),
            in_flight: InFlight::default(),
            outputs: Vec::new(),
            output_index: IdMap::default(),
        };
        let start = Instant::now();
        let mut timed = Duration::ZERO;
        let mut scope_found = false;
        let mut scope_start: Option<Instant> = None;
        for step in self.capture.steps() {
            match &step.operation {
                Operation::ScopeBegin(name) if *name == self.options.timed_scope => {
                    scope_found = true;
                    scope_start = Some(Instant::now());
                }
                Operation::ScopeEnd(name) if *name == self.options.timed_scope => {
                    // The scope's work is done only when the device says so (work waiting for
                    // later records is not the scope's).
                    session
                        .in_flight
                        .wait_ready(session.device)
                        .map_err(|status| step.record.error(status))?;
                    if let Some(begun) = scope_start.take() {
                        timed += begun.elapsed();
                    }
                }
                _ => session
                    .apply(step)
                    .map_err(|status| step.record.error(status))?,
            }
        }
        session
            .in_flight
            .wait_all(session.device)
            .map_err(|status| status.with_context("at the end of the replay"))?;
        let total = start.elapsed();
        Ok(Run {
            outputs: session.outputs,
            timed: if scope_found { timed } else { total },
            scope_found,
            total,
        })
    }
}

fn prepare(
    cache: &ExecutableCache,
    format: &str,
    data: &[u8],
    constants: &[u32],
) -> Result<Executable> {
    cache.prepare_executable(&ExecutableParams {
        format,
        data,
        constants,
    })
}

/// This runtime's objects for the captured ids of one run.
#[derive(Default)]
struct Objects {
    buffers: IdMap<Buffer>,
    semaphores: IdMap<Semaphore>,
    command_buffers: IdMap<CommandBuffer>,
    events: IdMap<Event>,
    /// Imported files, as buffers holding their captured contents.
    files: IdMap<Buffer>,
}

fn missing(kind: &str, id: ObjectId) -> Status {
    Status::not_found(format!(
        "{kind} {id} does not exist (anymore) in this replay"
    ))
}

fn buffer(buffers: &IdMap<Buffer>, id: ObjectId) -> Result<&Buffer> {
    buffers.get(&id).ok_or_else(|| missing("buffer", id))
}

fn buffer_ref<'a>(buffers: &'a IdMap<Buffer>, reference: &CapturedRef) -> Result<BufferRef<'a>> {
    if reference.buffer == 0 {
        return Ok(BufferRef::slot(
            reference.slot,
            reference.offset,
            reference.length,
        ));
    }
    Ok(BufferRef::range(
        buffer(buffers, reference.buffer)?,
        reference.offset,
        reference.length,
    ))
}

/// A direct reference resolved to its buffer, offset and length (never [`WHOLE_BUFFER`]).
fn direct_range<'a>(
    buffers: &'a IdMap<Buffer>,
    reference: &CapturedRef,
) -> Result<(&'a Buffer, u64, u64)> {
    let target = buffer(buffers, reference.buffer)?;
    let length = if reference.length == WHOLE_BUFFER {
        target.len().checked_sub(reference.offset).ok_or_else(|| {
            Status::out_of_range(format!(
                "offset {} is past the end of buffer {} ({} bytes)",
                reference.offset,
                reference.buffer,
                target.len()
            ))
        })?
    } else {
        reference.length
    };
    Ok((target, reference.offset, length))
}

/// Writes `data` at `offset` of `target` through a mapping that keeps the rest of the range (the
/// program asked for `WRITE`, not necessarily `DISCARD`).
fn host_write(target: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
    target
        .map_write(offset, data.len() as u64, false)?
        .copy_from_slice(data);
    Ok(())
}

fn buffer_params(request: &BufferRequest) -> BufferParams {
    BufferParams {
        memory_type: MemoryType::from_bits_truncate(request.memory_type),
        access: MemoryAccess::from_bits_truncate(u32::from(request.access)),
        usage: BufferUsage::from_bits_truncate(request.usage),
    }
}

struct Session<'r> {
    device: &'r Device,
    file: &'r [u8],
    executables: &'r IdMap<Executable>,
    schedule: Schedule,
    objects: Objects,
    in_flight: InFlight,
    outputs: Vec<Output>,
    output_index: IdMap<usize>,
}

impl Session<'_> {
    /// Where the pipelined schedule must wait: the captured program waited on the host here.
    fn host_sync(&mut self) -> Result<()> {
        self.in_flight.wait_ready(self.device)
    }

    fn executable(&self, id: ObjectId) -> Result<&Executable> {
        self.executables
            .get(&id)
            .ok_or_else(|| missing("executable", id))
    }

    fn apply(&mut self, step: &Step) -> Result<()> {
        match &step.operation {
            Operation::ScopeBegin(_) | Operation::ScopeEnd(_) => Ok(()),
            // Prepared once, when the replayer was made.
            Operation::PrepareExecutable { .. } => Ok(()),
            Operation::CreateCommandBuffer {
                command_buffer,
                mode,
                categories,
                binding_capacity,
            } => {
                // IREE's other mode bits (unvalidated, unretained) have no meaning here.
                let mut mode = CommandBufferMode::from_bits_truncate(*mode);
                if !mode.contains(CommandBufferMode::ONE_SHOT) {
                    mode.remove(CommandBufferMode::ALLOW_INLINE_EXECUTION);
                }
                let created = self.device.create_command_buffer(CommandBufferParams {
                    mode,
                    categories: CommandCategory::from_bits_truncate(*categories),
                    binding_capacity: *binding_capacity,
                })?;
                self.objects
                    .command_buffers
                    .insert(*command_buffer, created);
                Ok(())
            }
            Operation::CreateSemaphore {
                semaphore,
                initial_value,
            } => {
                let created = self.device.create_semaphore(*initial_value)?;
                self.objects.semaphores.insert(*semaphore, created);
                Ok(())
            }
            Operation::CreateEvent { event } => {
                let created = self.device.create_event()?;
                self.objects.events.insert(*event, created);
                Ok(())
            }
            Operation::ImportFile { file, contents } => {
                let bytes = contents.of(self.file);
                let staging = self.device.allocate_buffer(
                    BufferParams::with_usage(BufferUsage::TRANSFER | BufferUsage::MAPPING),
                    bytes.len() as u64,
                )?;
                staging.write(0, bytes)?;
                self.objects.files.insert(*file, staging);
                Ok(())
            }
            Operation::AllocateBuffer { buffer, request } => {
                let created = self
                    .device
                    .allocate_buffer(buffer_params(request), request.size)?;
                self.objects.buffers.insert(*buffer, created);
                Ok(())
            }
            Operation::ImportBuffer {
                buffer,
                request,
                contents,
            } => {
                // This runtime's import wraps caller memory the caller keeps alive; the replay
                // owns no such memory, so the buffer is allocated and given the bytes.
                let mut params = buffer_params(request);
                params.access |= MemoryAccess::WRITE;
                params.usage |= BufferUsage::MAPPING;
                let created = self.device.allocate_buffer(params, request.size)?;
                host_write(&created, 0, contents.of(self.file))?;
                self.objects.buffers.insert(*buffer, created);
                Ok(())
            }
            Operation::Subspan {
                buffer: id,
                parent,
                offset,
                length,
            } => {
                let view = buffer(&self.objects.buffers, *parent)?.subspan(*offset, *length)?;
                self.objects.buffers.insert(*id, view);
                Ok(())
            }
            Operation::HostWrite {
                buffer: id,
                offset,
                data,
            } => {
                self.host_sync()?;
                host_write(
                    buffer(&self.objects.buffers, *id)?,
                    *offset,
                    data.of(self.file),
                )
            }
            Operation::HostRead {
                buffer: id,
                offset,
                length,
            } => {
                self.host_sync()?;
                let (source, offset, length) = direct_range(
                    &self.objects.buffers,
                    &CapturedRef {
                        buffer: *id,
                        offset: *offset,
                        length: *length,
                        slot: 0,
                    },
                )?;
                let length = usize::try_from(length)
                    .map_err(|_| Status::out_of_range(format!("a {length}-byte read")))?;
                let mut bytes = vec![0u8; length];
                source.read(offset, &mut bytes)?;
                let output = Output {
                    buffer: *id,
                    record: step.record.index,
                    bytes,
                };
                match self.output_index.get(id) {
                    Some(&index) => self.outputs[index] = output,
                    None => {
                        self.output_index.insert(*id, self.outputs.len());
                        self.outputs.push(output);
                    }
                }
                Ok(())
            }
            Operation::Begin(id) => {
                let inline = self
                    .command_buffer(*id)?
                    .params()
                    .mode
                    .contains(CommandBufferMode::ALLOW_INLINE_EXECUTION);
                if inline {
                    // Its commands may run as they are recorded, touching memory now.
                    self.host_sync()?;
                }
                self.command_buffer(*id)?.begin()
            }
            Operation::End(id) => self.command_buffer(*id)?.end(),
            Operation::Command {
                command_buffer,
                command,
            } => self.record(*command_buffer, command),
            Operation::Queue {
                waits,
                signals,
                work,
            } => self.queue(waits, signals, work),
            Operation::Flush => self.device.queue_flush(),
        }
    }

    fn command_buffer(&mut self, id: ObjectId) -> Result<&mut CommandBuffer> {
        self.objects
            .command_buffers
            .get_mut(&id)
            .ok_or_else(|| missing("command buffer", id))
    }

    fn record(&mut self, id: ObjectId, command: &Command) -> Result<()> {
        let objects = &mut self.objects;
        let target = objects
            .command_buffers
            .get_mut(&id)
            .ok_or_else(|| missing("command buffer", id))?;
        let buffers = &objects.buffers;
        let event = |event: &ObjectId| {
            objects
                .events
                .get(event)
                .ok_or_else(|| missing("event", *event))
        };
        match command {
            Command::Barrier => target.execution_barrier(),
            Command::SignalEvent(id) => target.signal_event(event(id)?),
            Command::ResetEvent(id) => target.reset_event(event(id)?),
            Command::WaitEvents(ids) => {
                let events = ids
                    .iter()
                    .map(|id| event(id).cloned())
                    .collect::<Result<Vec<_>>>()?;
                target.wait_events(&events)
            }
            Command::Fill {
                target: range,
                pattern,
            } => target.fill(buffer_ref(buffers, range)?, *pattern),
            Command::Update {
                target: range,
                data,
            } => target.update(data.of(self.file), buffer_ref(buffers, range)?),
            Command::Copy { source, target: to } => {
                target.copy(buffer_ref(buffers, source)?, buffer_ref(buffers, to)?)
            }
            Command::Dispatch(dispatch) => {
                let executable = self
                    .executables
                    .get(&dispatch.executable)
                    .ok_or_else(|| missing("executable", dispatch.executable))?;
                let (workgroups, bindings) = dispatch_arguments(buffers, dispatch)?;
                target.dispatch_with(
                    executable,
                    dispatch.ordinal,
                    workgroups,
                    &dispatch.constants,
                    &bindings,
                    options(dispatch),
                )
            }
        }
    }

    fn timepoints(&self, captured: &[CapturedTimepoint]) -> Result<Vec<Timepoint>> {
        captured
            .iter()
            .map(|timepoint| {
                self.objects
                    .semaphores
                    .get(&timepoint.semaphore)
                    .map(|semaphore| semaphore.at(timepoint.value))
                    .ok_or_else(|| missing("semaphore", timepoint.semaphore))
            })
            .collect()
    }

    fn queue(
        &mut self,
        captured_waits: &[CapturedTimepoint],
        captured_signals: &[CapturedTimepoint],
        work: &QueueWork,
    ) -> Result<()> {
        let waits = self.timepoints(captured_waits)?;
        let mut signals = self.timepoints(captured_signals)?;

        match self.schedule {
            Schedule::Serial => {
                for (wait, captured) in waits.iter().zip(captured_waits) {
                    if wait.semaphore.query()? < wait.value {
                        return Err(Status::failed_precondition(format!(
                            "waits for semaphore {} to reach {}, which only a later record \
                             signals; the serial schedule runs records in order (use the \
                             pipelined schedule)",
                            captured.semaphore, captured.value
                        )));
                    }
                }
            }
            Schedule::Pipelined => {
                if waits.is_empty() && !self.in_flight.is_empty() {
                    self.host_sync()?;
                }
            }
        }
        if signals.is_empty() {
            // Nothing would say when this operation is done; the replay needs to know.
            signals.push(self.device.create_semaphore(0)?.at(1));
        }
        self.submit(&waits, &signals, work)?;
        match self.schedule {
            Schedule::Serial => {
                self.device
                    .wait_semaphores(WaitMode::All, &signals, Timeout::Infinite)
            }
            Schedule::Pipelined => {
                self.in_flight.submitted(&waits, &signals);
                Ok(())
            }
        }
    }

    fn submit(
        &mut self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        work: &QueueWork,
    ) -> Result<()> {
        let device = self.device;
        let buffers = &self.objects.buffers;
        match work {
            QueueWork::Alloca { buffer, request } => {
                let created =
                    device.queue_alloca(waits, signals, buffer_params(request), request.size)?;
                self.objects.buffers.insert(*buffer, created);
                Ok(())
            }
            QueueWork::Dealloca(id) => {
                let target = self
                    .objects
                    .buffers
                    .remove(id)
                    .ok_or_else(|| missing("buffer", *id))?;
                device.queue_dealloca(waits, signals, &target)
            }
            QueueWork::Command(Command::Fill { target, pattern }) => {
                let (target, offset, length) = direct_range(buffers, target)?;
                device.queue_fill(waits, signals, target, offset, length, *pattern)
            }
            QueueWork::Command(Command::Update { target, data }) => {
                let (target, offset, _) = direct_range(buffers, target)?;
                device.queue_update(waits, signals, data.of(self.file), target, offset)
            }
            QueueWork::Command(Command::Copy { source, target }) => {
                let (source, source_offset, length) = direct_range(buffers, source)?;
                let (target, target_offset, _) = direct_range(buffers, target)?;
                device.queue_copy(
                    waits,
                    signals,
                    source,
                    source_offset,
                    target,
                    target_offset,
                    length,
                )
            }
            QueueWork::Read {
                target,
                captured: Some(data),
                ..
            } => {
                let (target, offset, _) = direct_range(buffers, target)?;
                device.queue_update(waits, signals, data.of(self.file), target, offset)
            }
            QueueWork::Read {
                file,
                file_offset,
                target,
                captured: None,
            } => {
                let source = self
                    .objects
                    .files
                    .get(file)
                    .ok_or_else(|| missing("file", *file))?;
                let (target, target_offset, length) = direct_range(buffers, target)?;
                device.queue_copy(
                    waits,
                    signals,
                    source,
                    *file_offset,
                    target,
                    target_offset,
                    length,
                )
            }
            QueueWork::Command(Command::Dispatch(dispatch)) => {
                let executable = self.executable(dispatch.executable)?;
                let (workgroups, bindings) = dispatch_arguments(buffers, dispatch)?;
                device.queue_dispatch_with(
                    waits,
                    signals,
                    executable,
                    dispatch.ordinal,
                    workgroups,
                    &dispatch.constants,
                    &bindings,
                    options(dispatch),
                )
            }
            QueueWork::Command(
                Command::Barrier
                | Command::SignalEvent(_)
                | Command::ResetEvent(_)
                | Command::WaitEvents(_),
            ) => Err(Status::invalid_argument(
                "a barrier or event command submitted to the queue on its own",
            )),
            QueueWork::Execute {
                command_buffer: None,
                ..
            } => device.queue_barrier(waits, signals),
            QueueWork::Execute {
                command_buffer: Some(id),
                binding_table,
            } => {
                let table = binding_table
                    .iter()
                    .map(|entry| {
                        // Buffer id 0 leaves the slot empty: IREE's slot numbers have gaps.
                        (entry.buffer != 0)
                            .then(|| buffer_ref(buffers, entry))
                            .transpose()
                    })
                    .collect::<Result<Vec<_>>>()?;
                let command_buffer = self
                    .objects
                    .command_buffers
                    .get(id)
                    .ok_or_else(|| missing("command buffer", *id))?;
                device.queue_execute(waits, signals, command_buffer, &table)
            }
        }
    }
}

fn options(dispatch: &CapturedDispatch) -> DispatchOptions {
    DispatchOptions {
        dynamic_local_memory: dispatch.dynamic_local_memory,
    }
}

fn dispatch_arguments<'a>(
    buffers: &'a IdMap<Buffer>,
    dispatch: &CapturedDispatch,
) -> Result<(Workgroups<'a>, Vec<BufferRef<'a>>)> {
    let workgroups = match &dispatch.indirect_count {
        None => Workgroups::Static(dispatch.workgroup_count),
        Some(reference) => Workgroups::Indirect(buffer_ref(buffers, reference)?),
    };
    let bindings = dispatch
        .bindings
        .iter()
        .map(|binding| buffer_ref(buffers, binding))
        .collect::<Result<Vec<_>>>()?;
    Ok((workgroups, bindings))
}
