//! Running a program on a device, and comparing what happened with the model.
//!
//! [`Target`] is one device (a driver configuration) with the executables of one format;
//! [`run`] performs a program's steps with the public API, then checks every semaphore's final
//! value or failure, every byte the model knows, the host calls that ran (each once, in an order
//! the semaphores allow), that every queue call was accepted, and that imported host memory is
//! released exactly once after the program drops its buffers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBuffer, CommandBufferMode, CommandBufferParams,
    CommandCategory, Device, Executable, ExecutableParams, Semaphore, Status, Timepoint, WaitMode,
    Workgroups,
};

use crate::kernels::Library;
use crate::model::{Expected, ExpectedStatus, Outcome, SemState, Semantics};
use crate::program::*;

/// The bound on every blocking wait: a hang fails the run instead of the test run.
pub const WAIT: Duration = Duration::from_secs(10);

/// A driver configuration the programs run on.
#[derive(Clone, Copy, Debug)]
pub struct DriverConfig {
    /// A short name for summaries.
    pub name: &'static str,
    /// The device URI (without a memory limit).
    pub uri: &'static str,
}

/// Every driver configuration: local-sync inline and deferred, local-task with 1, 2 and 3
/// workers.
pub const DRIVERS: [DriverConfig; 5] = [
    DriverConfig {
        name: "local-sync",
        uri: "local-sync://",
    },
    DriverConfig {
        name: "local-sync(deferred)",
        uri: "local-sync://?inline_execution=false",
    },
    DriverConfig {
        name: "local-task(workers=1)",
        uri: "local-task://?workers=1",
    },
    DriverConfig {
        name: "local-task(workers=2)",
        uri: "local-task://?workers=2",
    },
    DriverConfig {
        name: "local-task(workers=3)",
        uri: "local-task://?workers=3",
    },
];

/// The WebAssembly module of `wat/trap.wat`, assembled.
pub fn trap_module() -> Vec<u8> {
    wat::parse_str(include_str!("../wat/trap.wat")).expect("wat/trap.wat assembles")
}

/// A device of one driver configuration with the executables of one format.
pub struct Target {
    /// The driver configuration.
    pub driver: DriverConfig,
    /// The executable format of the cts kernels.
    pub format: cts::Format,
    /// The device's memory limit (`u64::MAX` for none).
    pub memory_limit: u64,
    /// The device.
    pub device: Device,
    cache: hal_core::ExecutableCache,
    executables: BTreeMap<&'static str, Executable>,
    /// The `model_trap` module, prepared on first use (compiling it takes a while).
    trap: std::sync::OnceLock<Result<Executable, String>>,
}

fn library_key(library: Library) -> &'static str {
    match library {
        Library::Cts => "cts",
        Library::Faults => "faults",
        Library::Trap => "trap",
    }
}

impl Target {
    /// Creates the device and prepares the cts `Kernels` library of `format`; with `faults`, also
    /// the `model_faults` static library (and, when a program first needs it, the `model_trap`
    /// WebAssembly module).
    pub fn new(
        driver: DriverConfig,
        format: cts::Format,
        memory_limit: Option<u64>,
        faults: bool,
    ) -> Result<Target, String> {
        let uri = match memory_limit {
            Some(limit) => {
                let separator = if driver.uri.contains('?') { '&' } else { '?' };
                format!("{}{separator}memory_limit={limit}", driver.uri)
            }
            None => driver.uri.to_string(),
        };
        let device =
            hal_core::create_device(&uri).map_err(|s| format!("creating device {uri}: {s}"))?;
        let cache = device
            .create_executable_cache()
            .map_err(|s| format!("{uri}: executable cache: {s}"))?;
        let mut executables = BTreeMap::new();
        let data = (format.library)(cts::TestLibrary::Kernels);
        executables.insert("cts", prepare(&cache, format.name, &data)?);
        if faults {
            executables.insert(
                "faults",
                prepare(
                    &cache,
                    loader_static::STATIC_FORMAT,
                    crate::kernels::FAULTS_LIBRARY.as_bytes(),
                )?,
            );
        }
        Ok(Target {
            driver,
            format,
            memory_limit: memory_limit.unwrap_or(u64::MAX),
            device,
            cache,
            executables,
            trap: std::sync::OnceLock::new(),
        })
    }

    fn kernel(&self, kernel: Kernel) -> Result<(&Executable, u32), String> {
        let executable = match kernel.library() {
            Library::Trap => self
                .trap
                .get_or_init(|| prepare(&self.cache, loader_wasm::FORMAT, &trap_module()))
                .as_ref()
                .map_err(Clone::clone)?,
            library => self
                .executables
                .get(library_key(library))
                .ok_or_else(|| format!("no executable for {kernel:?}"))?,
        };
        let ordinal = executable
            .lookup_export(kernel.export())
            .map_err(|s| format!("looking up {}: {s}", kernel.export()))?;
        Ok((executable, ordinal))
    }

    /// Whether the cts kernels are the `static` (Rust) ones.
    pub fn is_static(&self) -> bool {
        self.format.name == loader_static::STATIC_FORMAT
    }

    /// What the model needs to know of this target.
    pub fn semantics(&self) -> Semantics {
        Semantics {
            static_format: self.is_static(),
            memory_limit: self.memory_limit,
        }
    }
}

fn prepare(
    cache: &hal_core::ExecutableCache,
    format: &str,
    data: &[u8],
) -> Result<Executable, String> {
    cache
        .prepare_executable(&ExecutableParams::new(format, data))
        .map_err(|s| format!("preparing a {format} executable: {s}"))
}

/// Host memory imported into a device: 64-byte aligned (IREE's kernels assume aligned
/// bindings), owned here until the import's release callback runs.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Block([u8; 64]);

/// Imports `bytes` as a buffer; `released` counts release callbacks.
fn import(device: &Device, bytes: &[u8], released: &Arc<AtomicUsize>) -> hal_core::Result<Buffer> {
    let blocks = bytes.len().div_ceil(64).max(1);
    let mut memory: Box<[Block]> = vec![Block([0; 64]); blocks].into_boxed_slice();
    // SAFETY: `Block` is 64 plain bytes; the slice covers `blocks * 64` initialised bytes.
    let view: &mut [u8] =
        unsafe { std::slice::from_raw_parts_mut(memory.as_mut_ptr().cast(), blocks * 64) };
    view[..bytes.len()].copy_from_slice(bytes);
    let ptr = memory.as_mut_ptr().cast::<u8>();
    let owner = SendBox(memory);
    let released = released.clone();
    let release: Box<dyn FnOnce() + Send> = Box::new(move || {
        drop(owner);
        released.fetch_add(1, Ordering::SeqCst);
    });
    // SAFETY: `ptr` points to `bytes.len()` initialised bytes of the boxed blocks, which the
    // release callback owns and frees only when it runs (when the last buffer over them drops);
    // nothing else touches them meanwhile (this function keeps no other pointer). If the import
    // fails the callback is dropped without running, freeing them.
    unsafe {
        device.allocator().import_host_memory(
            BufferParams::default(),
            ptr,
            bytes.len(),
            Some(release),
        )
    }
}

/// The boxed blocks, moved into the release callback (a raw-pointer-free owner is `Send`).
struct SendBox(#[allow(dead_code)] Box<[Block]>);

/// What one run checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    /// Operations performed.
    pub operations: usize,
    /// Queue operations that completed as the model said.
    pub completed: usize,
    /// Queue operations that failed as the model said (downstream of a fault, or the fault).
    pub failed: usize,
    /// Fault sources in the program.
    pub faults: usize,
    /// Allocations by memory kind: device, imported, alloca.
    pub allocations: [usize; 3],
    /// Views that are sub-spans of their allocation.
    pub subspans: usize,
}

/// Whether `status` is one of `expected`.
fn matches(status: &Status, expected: &[&ExpectedStatus]) -> bool {
    let text = status.to_string();
    expected
        .iter()
        .any(|e| status.code() == e.code && (e.marker.is_empty() || text.contains(&e.marker)))
}

fn describe(expected: &[&ExpectedStatus]) -> String {
    let items: Vec<String> = expected
        .iter()
        .map(|e| format!("{} containing {:?}", e.code, e.marker))
        .collect();
    format!("[{}]", items.join(" | "))
}

struct Run<'a> {
    target: &'a Target,
    program: &'a Program,
    buffers: Vec<Option<Buffer>>,
    views: Vec<Option<Buffer>>,
    sems: Vec<Option<Semaphore>>,
    command_buffers: Vec<Option<CommandBuffer>>,
    log: Arc<Mutex<Vec<u32>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    released: Arc<AtomicUsize>,
    imported: usize,
}

/// Runs `program` on `target` and compares the outcome with `expected` (the model's, for this
/// target's format and memory limit).
pub fn run(target: &Target, program: &Program, expected: &Expected) -> Result<RunStats, String> {
    let mut run = Run {
        target,
        program,
        buffers: vec![None; program.allocations.len()],
        views: vec![None; program.views.len()],
        sems: Vec::new(),
        command_buffers: (0..program.command_buffers.len()).map(|_| None).collect(),
        log: Arc::new(Mutex::new(Vec::new())),
        threads: Vec::new(),
        released: Arc::new(AtomicUsize::new(0)),
        imported: 0,
    };
    let result = run.go(expected);
    // Whatever happened, let helper threads finish and every handle go.
    for thread in run.threads.drain(..) {
        let _ = thread.join();
    }
    let imported = run.imported;
    let released = run.released.clone();
    drop(run);
    let stats = result?;
    // Imported memory is released exactly once, when the last buffer over it drops (local-task
    // may drop an execution's last references a moment after signalling).
    let deadline = Instant::now() + WAIT;
    while released.load(Ordering::SeqCst) < imported && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let count = released.load(Ordering::SeqCst);
    if count != imported {
        return Err(format!(
            "{imported} host allocations were imported but {count} release callbacks ran"
        ));
    }
    Ok(stats)
}

impl Run<'_> {
    fn device(&self) -> &Device {
        &self.target.device
    }

    fn sem(&self, index: usize) -> Result<&Semaphore, String> {
        self.sems[index]
            .as_ref()
            .ok_or_else(|| format!("semaphore {index} was dropped"))
    }

    fn tps(&self, tps: &[Tp]) -> Result<Vec<Timepoint>, String> {
        tps.iter()
            .map(|tp| Ok(self.sem(tp.sem)?.at(tp.value)))
            .collect()
    }

    fn view(&self, index: usize) -> Result<&Buffer, String> {
        self.views[index]
            .as_ref()
            .ok_or_else(|| format!("view {index} does not exist yet"))
    }

    fn make_views(&mut self, allocation: usize) -> Result<(), String> {
        let buffer = self.buffers[allocation].clone().expect("allocated");
        for (v, view) in self.program.views.iter().enumerate() {
            if view.allocation != allocation {
                continue;
            }
            self.views[v] = Some(if view.offset == 0 && view.len == buffer.len() {
                buffer.clone()
            } else {
                buffer
                    .subspan(view.offset, view.len)
                    .map_err(|s| format!("subspan for view {v}: {s}"))?
            });
        }
        Ok(())
    }

    fn go(&mut self, expected: &Expected) -> Result<RunStats, String> {
        let program = self.program;
        for (index, allocation) in program.allocations.iter().enumerate() {
            let buffer = match allocation.memory {
                Memory::Device => {
                    let buffer = self
                        .device()
                        .allocate_buffer(BufferParams::default(), allocation.size)
                        .map_err(|s| format!("allocating allocation {index}: {s}"))?;
                    buffer
                        .write(0, &initial_bytes(allocation.seed, allocation.size))
                        .map_err(|s| format!("writing allocation {index}: {s}"))?;
                    buffer
                }
                Memory::Imported => {
                    let bytes = initial_bytes(allocation.seed, allocation.size);
                    self.imported += 1;
                    import(self.device(), &bytes, &self.released)
                        .map_err(|s| format!("importing allocation {index}: {s}"))?
                }
                Memory::Alloca => continue,
            };
            self.buffers[index] = Some(buffer);
            self.make_views(index)?;
        }
        for _ in 0..program.semaphores {
            let sem = self
                .device()
                .create_semaphore(0)
                .map_err(|s| format!("creating a semaphore: {s}"))?;
            self.sems.push(Some(sem));
        }
        let mut stats = RunStats {
            operations: program.operation_count(),
            ..RunStats::default()
        };
        for allocation in &program.allocations {
            stats.allocations[allocation.memory as usize] += 1;
        }
        stats.subspans = program
            .views
            .iter()
            .filter(|v| v.offset != 0 || v.len != program.allocations[v.allocation].size)
            .count();
        for (index, step) in program.steps.iter().enumerate() {
            self.step(index, step, expected)
                .map_err(|e| format!("step {index}: {e}"))?;
        }
        for thread in self.threads.drain(..) {
            thread
                .join()
                .map_err(|_| "a host signalling thread panicked".to_string())?;
        }
        // Semaphores.
        for (sem, state) in expected.semaphores.iter().enumerate() {
            if expected.dropped[sem] {
                continue;
            }
            let handle = self.sem(sem)?;
            match state {
                SemState::Value(value) => {
                    handle.wait(*value, WAIT).map_err(|s| {
                        format!("semaphore {sem}: expected to reach {value}, but: {s}")
                    })?;
                    let now = handle
                        .query()
                        .map_err(|s| format!("semaphore {sem}: query failed: {s}"))?;
                    if now != *value {
                        return Err(format!("semaphore {sem}: value {now}, expected {value}"));
                    }
                }
                SemState::Failed(faults) => {
                    let statuses = expected.statuses(faults);
                    match handle.wait(u64::MAX, WAIT) {
                        Ok(()) => {
                            return Err(format!(
                            "semaphore {sem}: expected to fail with one of {}, but it reached {:?}",
                            describe(&statuses),
                            handle.query()
                        ))
                        }
                        Err(status) if matches(&status, &statuses) => {}
                        Err(status) => {
                            return Err(format!(
                                "semaphore {sem}: expected to fail with one of {}, got {status}",
                                describe(&statuses)
                            ))
                        }
                    }
                }
            }
        }
        for (index, outcome) in expected.steps.iter().enumerate() {
            if let Step::Queue { .. } = program.steps[index] {
                match outcome {
                    Outcome::Ok => stats.completed += 1,
                    _ => stats.failed += 1,
                }
            }
        }
        stats.faults = expected.faults.iter().filter(|f| f.is_some()).count();
        // Memory.
        for (index, contents) in expected.memory.iter().enumerate() {
            if !expected.committed[index] {
                continue;
            }
            let buffer = self.buffers[index]
                .as_ref()
                .ok_or_else(|| format!("allocation {index} has no buffer"))?;
            let mut actual = vec![0u8; contents.bytes.len()];
            buffer
                .read(0, &mut actual)
                .map_err(|s| format!("reading allocation {index}: {s}"))?;
            let wrong: Vec<usize> = (0..actual.len())
                .filter(|&i| contents.known[i] && actual[i] != contents.bytes[i])
                .collect();
            if let Some(&first) = wrong.first() {
                let word = first / 4 * 4;
                let show = |bytes: &[u8]| {
                    let end = (word + 16).min(bytes.len());
                    format!("{:02x?}", &bytes[word..end])
                };
                return Err(format!(
                    "allocation {index} ({:?}): {} wrong bytes, the first at byte {first}: bytes {word}.. are {}, expected {} (known: {:?})",
                    program.allocations[index].memory,
                    wrong.len(),
                    show(&actual),
                    show(&contents.bytes),
                    &contents.known[word..(word + 16).min(actual.len())]
                ));
            }
        }
        // Host calls.
        let log = self.log.lock().expect("log").clone();
        let mut sorted = log.clone();
        sorted.sort_unstable();
        let mut wanted = expected.host_calls.clone();
        wanted.sort_unstable();
        if sorted != wanted {
            return Err(format!(
                "host calls that ran: {log:?}; expected each of {wanted:?} once"
            ));
        }
        for &(a, b) in &expected.host_order {
            let position = |id| log.iter().position(|&x| x == id);
            if position(a) > position(b) {
                return Err(format!(
                    "host call {b} ran before host call {a}, which it waits for (log {log:?})"
                ));
            }
        }
        // Release alloca'd memory.
        for (index, allocation) in program.allocations.iter().enumerate() {
            if allocation.memory != Memory::Alloca || !expected.committed[index] {
                continue;
            }
            let Some(buffer) = &self.buffers[index] else {
                continue;
            };
            let done = self
                .device()
                .create_semaphore(0)
                .map_err(|s| s.to_string())?;
            self.device()
                .queue_dealloca(&[], &[done.at(1)], buffer)
                .map_err(|s| format!("dealloca of allocation {index} refused: {s}"))?;
            done.wait(1, WAIT)
                .map_err(|s| format!("dealloca of allocation {index}: {s}"))?;
        }
        Ok(stats)
    }

    fn step(&mut self, index: usize, step: &Step, expected: &Expected) -> Result<(), String> {
        match step {
            Step::Queue { waits, signals, op } => {
                let waits = self.tps(waits)?;
                let signals = self.tps(signals)?;
                self.queue(&waits, &signals, op)
                    .map_err(|s| format!("{} refused: {s}", op_name(op)))
            }
            Step::Signal {
                tp,
                thread,
                delay_us,
            } => {
                for t in self.threads.drain(..) {
                    t.join()
                        .map_err(|_| "a host signalling thread panicked".to_string())?;
                }
                let sem = self.sem(tp.sem)?.clone();
                let value = tp.value;
                if *thread {
                    let delay = Duration::from_micros(u64::from(*delay_us));
                    self.threads.push(std::thread::spawn(move || {
                        std::thread::sleep(delay);
                        sem.signal(value)
                            .expect("a host signal from another thread");
                    }));
                    Ok(())
                } else {
                    sem.signal(value)
                        .map_err(|s| format!("signalling semaphore {} to {value}: {s}", tp.sem))
                }
            }
            Step::Fail { sem, fault, thread } => {
                for t in self.threads.drain(..) {
                    t.join()
                        .map_err(|_| "a host signalling thread panicked".to_string())?;
                }
                let handle = self.sem(*sem)?.clone();
                let status = fault_status(*fault);
                if *thread {
                    self.threads
                        .push(std::thread::spawn(move || handle.fail(status)));
                } else {
                    handle.fail(status);
                }
                Ok(())
            }
            Step::Wait { tps, any } => {
                let result = if tps.len() == 1 && !any {
                    self.sem(tps[0].sem)?.wait(tps[0].value, WAIT)
                } else {
                    let mode = if *any { WaitMode::Any } else { WaitMode::All };
                    let timepoints = self.tps(tps)?;
                    self.device().wait_semaphores(mode, &timepoints, WAIT)
                };
                check_wait(&expected.steps[index], result, expected)
            }
            Step::Drop { sem } => {
                self.sems[*sem] = None;
                Ok(())
            }
        }
    }

    fn buffer_ref(&self, r: &Ref) -> Result<BufferRef<'_>, String> {
        Ok(match *r {
            Ref::Direct(range) => BufferRef::range(self.view(range.view)?, range.offset, range.len),
            Ref::Slot { slot, offset, len } => BufferRef::slot(slot, offset, len),
        })
    }

    fn record(&self, spec: &CommandBufferSpec) -> Result<CommandBuffer, String> {
        let params = match spec.mode {
            Mode::Inline => CommandBufferParams::one_shot_inline(),
            Mode::OneShot => CommandBufferParams {
                mode: CommandBufferMode::ONE_SHOT,
                categories: CommandCategory::ANY,
                binding_capacity: spec.slots,
            },
            Mode::Reusable => CommandBufferParams::reusable(spec.slots),
        };
        let mut cb = self
            .device()
            .create_command_buffer(params)
            .map_err(|s| format!("creating a command buffer: {s}"))?;
        cb.begin().map_err(|s| format!("begin: {s}"))?;
        for (c, command) in spec.commands.iter().enumerate() {
            let result = match command {
                Command::Barrier => cb.execution_barrier(),
                Command::Fill { target, pattern } => {
                    cb.fill(self.buffer_ref(target)?, pattern.hal())
                }
                Command::Update { target, data } => cb.update(data, self.buffer_ref(target)?),
                Command::Copy { source, target } => {
                    cb.copy(self.buffer_ref(source)?, self.buffer_ref(target)?)
                }
                Command::Dispatch(d) => {
                    let (executable, ordinal) = self.target.kernel(d.kernel)?;
                    let bindings = d
                        .bindings
                        .iter()
                        .map(|b| self.buffer_ref(b))
                        .collect::<Result<Vec<_>, _>>()?;
                    cb.dispatch(
                        executable,
                        ordinal,
                        Workgroups::Static(d.workgroups),
                        &d.constants,
                        &bindings,
                    )
                }
            };
            result.map_err(|s| format!("recording command {c} ({command:?}): {s}"))?;
        }
        cb.end().map_err(|s| format!("end: {s}"))?;
        Ok(cb)
    }

    fn queue(&mut self, waits: &[Timepoint], signals: &[Timepoint], op: &Op) -> Result<(), String> {
        let device = self.target.device.clone();
        let s = |status: Status| status.to_string();
        match op {
            Op::Barrier => device.queue_barrier(waits, signals).map_err(s),
            Op::Fill { target, pattern } => device
                .queue_fill(
                    waits,
                    signals,
                    self.view(target.view)?,
                    target.offset,
                    target.len,
                    pattern.hal(),
                )
                .map_err(s),
            Op::Update { target, data } => device
                .queue_update(waits, signals, data, self.view(target.view)?, target.offset)
                .map_err(s),
            Op::Copy { source, target } => device
                .queue_copy(
                    waits,
                    signals,
                    self.view(source.view)?,
                    source.offset,
                    self.view(target.view)?,
                    target.offset,
                    source.len,
                )
                .map_err(s),
            Op::Dispatch(d) => {
                let (executable, ordinal) = self.target.kernel(d.kernel)?;
                let bindings = d
                    .bindings
                    .iter()
                    .map(|b| self.buffer_ref(b))
                    .collect::<Result<Vec<_>, _>>()?;
                device
                    .queue_dispatch(
                        waits,
                        signals,
                        executable,
                        ordinal,
                        Workgroups::Static(d.workgroups),
                        &d.constants,
                        &bindings,
                    )
                    .map_err(s)
            }
            Op::Execute {
                command_buffer,
                table,
            } => {
                if self.command_buffers[*command_buffer].is_none() {
                    let cb = self.record(&self.program.command_buffers[*command_buffer])?;
                    self.command_buffers[*command_buffer] = Some(cb);
                }
                let cb = self.command_buffers[*command_buffer]
                    .as_ref()
                    .expect("recorded");
                // Slots no command uses may be left empty (IREE's tables have gaps): the even
                // ones are, so both kinds of unused slot run.
                let used = cb.slot_requirements();
                let table: Vec<Option<BufferRef<'_>>> = table
                    .iter()
                    .enumerate()
                    .map(|(slot, r)| {
                        let unused = used.get(slot).is_none_or(Option::is_none);
                        if unused && slot % 2 == 0 {
                            return Ok(None);
                        }
                        Ok(Some(BufferRef::range(self.view(r.view)?, r.offset, r.len)))
                    })
                    .collect::<Result<_, String>>()?;
                device.queue_execute(waits, signals, cb, &table).map_err(s)
            }
            Op::HostCall(call) => {
                let call = *call;
                let log = self.log.clone();
                device
                    .queue_host_call(waits, signals, move || match call {
                        HostCall::Log(id) => {
                            log.lock().expect("log").push(id);
                            Ok(())
                        }
                        HostCall::Fail(id) => Err(fault_status(id)),
                        HostCall::Panic(id) => panic!("{}", fault_marker(id)),
                    })
                    .map_err(s)
            }
            Op::Alloca { allocation } => {
                let size = self.program.allocations[*allocation].size;
                let buffer = device
                    .queue_alloca(waits, signals, BufferParams::default(), size)
                    .map_err(s)?;
                self.buffers[*allocation] = Some(buffer);
                self.make_views(*allocation)
            }
        }
    }
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Barrier => "queue_barrier",
        Op::Fill { .. } => "queue_fill",
        Op::Update { .. } => "queue_update",
        Op::Copy { .. } => "queue_copy",
        Op::Dispatch(_) => "queue_dispatch",
        Op::Execute { .. } => "queue_execute",
        Op::HostCall(_) => "queue_host_call",
        Op::Alloca { .. } => "queue_alloca",
    }
}

fn check_wait(
    outcome: &Outcome,
    result: hal_core::Result<()>,
    expected: &Expected,
) -> Result<(), String> {
    match (outcome, result) {
        (Outcome::Ok, Ok(())) => Ok(()),
        (Outcome::Ok, Err(status)) => Err(format!("host wait failed: {status}")),
        (Outcome::Failed(faults), Ok(())) => Err(format!(
            "host wait succeeded; expected one of {}",
            describe(&expected.statuses(faults))
        )),
        (Outcome::Failed(faults) | Outcome::Either(faults), Err(status)) => {
            let statuses = expected.statuses(faults);
            if matches(&status, &statuses) {
                Ok(())
            } else {
                Err(format!(
                    "host wait failed with {status}; expected one of {}",
                    describe(&statuses)
                ))
            }
        }
        (Outcome::Either(_), Ok(())) => Ok(()),
        (Outcome::Blocks, _) => Err("the model says this wait blocks forever".into()),
    }
}

/// Runs `program` on every driver configuration × format (fresh devices) against the model;
/// returns every mismatch, one line each.
pub fn check_everywhere(program: &Program) -> Vec<String> {
    if let Err(e) = crate::order::check_well_ordered(program) {
        return vec![format!("the program is not well-ordered: {e}")];
    }
    let mut errors = Vec::new();
    for driver in DRIVERS {
        for format in crate::formats() {
            let target = match Target::new(driver, format, None, false) {
                Ok(target) => target,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let expected = crate::model::interpret(program, target.semantics());
            if let Err(e) = run(&target, program, &expected) {
                errors.push(format!("{} × {}: {e}", driver.name, format.name));
            }
        }
    }
    errors
}
