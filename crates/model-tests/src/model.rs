//! The reference interpreter: what a program must do, computed without the runtime.
//!
//! Buffers are byte vectors with a known/unknown mask; operations run one at a time, each as soon
//! as its waits are reached (a queue step parks until then), which is one valid order of a
//! well-ordered program (see [`crate::order::check_well_ordered`]): every two operations that touch the same
//! bytes where one writes are ordered by semaphores, so every valid order gives the same bytes.
//!
//! Failures follow the runtime's rules: a fault (a failing or panicking host call, a semaphore
//! failed by the host, a kernel failure or trap, an alloca past the device's memory limit, a wait
//! on a semaphore whose every handle was dropped) fails the operation's signal semaphores; every
//! operation waiting on a failed semaphore fails without running, with the status of one of the
//! faults upstream of it. What a failed operation may have written (a kernel that failed in one
//! workgroup, the other commands of its command buffer) becomes unknown; nothing else changes.

use std::collections::BTreeSet;

use hal_core::StatusCode;

use crate::kernels::{self, Effect};
use crate::program::*;

/// Bytes of an allocation and which of them the model knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contents {
    /// The bytes (0 where unknown).
    pub bytes: Vec<u8>,
    /// Whether each byte is known.
    pub known: Vec<bool>,
}

/// A failure status the runtime may report: the code and a text the message must contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedStatus {
    /// The code.
    pub code: StatusCode,
    /// Text the status (message or context) must contain; empty for none.
    pub marker: String,
}

/// How a semaphore ends, or a wait or operation ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Reached / succeeded.
    Ok,
    /// Failed with one of these statuses.
    Failed(BTreeSet<usize>),
    /// Either succeeds or fails with one of these statuses (a `wait(Any)` over both kinds).
    Either(BTreeSet<usize>),
    /// Would block forever: a program error.
    Blocks,
}

/// A semaphore's state in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SemState {
    /// Its value.
    Value(u64),
    /// Failed by the faults (indices into [`Expected::faults`]) of these steps.
    Failed(BTreeSet<usize>),
}

/// What the model expects of a whole run.
#[derive(Clone, Debug)]
pub struct Expected {
    /// Final contents of each allocation (meaningless where `committed` is false).
    pub memory: Vec<Contents>,
    /// Whether each allocation has memory at the end (an alloca past the limit has none).
    pub committed: Vec<bool>,
    /// Final state of each semaphore.
    pub semaphores: Vec<SemState>,
    /// Semaphores whose handle the program dropped (not checked at the end).
    pub dropped: Vec<bool>,
    /// Outcome of each step (queue steps and waits; `Ok` for the others).
    pub steps: Vec<Outcome>,
    /// The status each fault step causes, by step index.
    pub faults: Vec<Option<ExpectedStatus>>,
    /// Ids of the host calls that must run (each exactly once).
    pub host_calls: Vec<u32>,
    /// Pairs (a, b) of logging host calls where a must run before b.
    pub host_order: Vec<(u32, u32)>,
    /// Whether some `visit` saw `u32::MAX` (the `static` kernel would overflow): the program must
    /// not be run.
    pub visit_overflow: bool,
}

/// `(allocation, start, len)` of a view's range.
pub fn resolve(program: &Program, range: &Range) -> (usize, u64, u64) {
    let view = &program.views[range.view];
    (view.allocation, view.offset + range.offset, range.len)
}

/// `(allocation, start, len)` of a reference with binding table `table`.
pub fn resolve_ref(program: &Program, r: &Ref, table: &[Range]) -> (usize, u64, u64) {
    match r {
        Ref::Direct(range) => resolve(program, range),
        Ref::Slot { slot, offset, len } => {
            let (allocation, start, _) = resolve(program, &table[*slot as usize]);
            (allocation, start + offset, *len)
        }
    }
}

/// A byte range an operation touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Use {
    /// The allocation.
    pub allocation: usize,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Whether it is written.
    pub writes: bool,
}

impl Use {
    /// Whether two uses race if unordered: overlapping bytes of one allocation, one writes.
    pub fn conflicts(&self, other: &Use) -> bool {
        self.allocation == other.allocation
            && self.start < other.end
            && other.start < self.end
            && (self.writes || other.writes)
    }
}

fn use_of((allocation, start, len): (usize, u64, u64), writes: bool) -> Use {
    Use {
        allocation,
        start,
        end: start + len,
        writes,
    }
}

/// The ranges a command uses with binding table `table`.
pub fn command_uses(program: &Program, command: &Command, table: &[Range]) -> Vec<Use> {
    let r = |x: &Ref| resolve_ref(program, x, table);
    match command {
        Command::Barrier => Vec::new(),
        Command::Fill { target, .. } | Command::Update { target, .. } => {
            vec![use_of(r(target), true)]
        }
        Command::Copy { source, target } => {
            vec![use_of(r(source), false), use_of(r(target), true)]
        }
        Command::Dispatch(d) => dispatch_uses(program, d, table),
    }
}

fn dispatch_uses(program: &Program, d: &Dispatch, table: &[Range]) -> Vec<Use> {
    d.bindings
        .iter()
        .zip(d.kernel.bindings())
        .map(|(b, access)| use_of(resolve_ref(program, b, table), access.writes()))
        .collect()
}

/// The ranges a queue operation uses (an alloca "writes" its whole allocation: everything
/// using the allocation must be ordered after it).
pub fn op_uses(program: &Program, op: &Op) -> Vec<Use> {
    match op {
        Op::Barrier | Op::HostCall(_) => Vec::new(),
        Op::Fill { target, .. } | Op::Update { target, .. } => {
            vec![use_of(resolve(program, target), true)]
        }
        Op::Copy { source, target } => vec![
            use_of(resolve(program, source), false),
            use_of(resolve(program, target), true),
        ],
        Op::Dispatch(d) => dispatch_uses(program, d, &[]),
        Op::Execute {
            command_buffer,
            table,
        } => program.command_buffers[*command_buffer]
            .commands
            .iter()
            .flat_map(|c| command_uses(program, c, table))
            .collect(),
        Op::Alloca { allocation } => vec![Use {
            allocation: *allocation,
            start: 0,
            end: program.allocations[*allocation].size,
            writes: true,
        }],
    }
}

/// What the model needs to know of the device and format a program runs on.
#[derive(Clone, Copy, Debug)]
pub struct Semantics {
    /// The cts kernels are the Rust ones (`fail` fails).
    pub static_format: bool,
    /// The device's memory limit: allocas that would pass it fail.
    pub memory_limit: u64,
}

/// The interpreter's state.
struct Interp<'p> {
    program: &'p Program,
    semantics: Semantics,
    memory: Vec<Contents>,
    committed: Vec<bool>,
    sems: Vec<SemState>,
    /// Per semaphore: (value, step) of each signal, in order.
    signal_log: Vec<Vec<(u64, usize)>>,
    dropped: Vec<bool>,
    /// Per semaphore: the step that dropped it and its value then.
    drops: Vec<Option<(usize, u64)>>,
    parked: Vec<usize>,
    steps: Vec<Outcome>,
    /// Per queue step that failed because of its waits: the semaphores whose failure it may carry.
    failed_waits: Vec<Vec<usize>>,
    /// Per semaphore: the steps that failed it.
    failed_by: Vec<Vec<usize>>,
    /// Per step: the queue steps it is ordered after (transitively).
    preds: Vec<BTreeSet<usize>>,
    faults: Vec<Option<ExpectedStatus>>,
    host_calls: Vec<u32>,
    visit_overflow: bool,
}

/// Runs `program` in the model, for a device and format with these semantics.
pub fn interpret(program: &Program, semantics: Semantics) -> Expected {
    let n = program.steps.len();
    let mut interp = Interp {
        program,
        semantics,
        memory: program
            .allocations
            .iter()
            .map(|a| match a.memory {
                Memory::Alloca => Contents {
                    bytes: vec![0; a.size as usize],
                    known: vec![false; a.size as usize],
                },
                _ => Contents {
                    bytes: initial_bytes(a.seed, a.size),
                    known: vec![true; a.size as usize],
                },
            })
            .collect(),
        committed: program
            .allocations
            .iter()
            .map(|a| a.memory != Memory::Alloca)
            .collect(),
        sems: vec![SemState::Value(0); program.semaphores],
        signal_log: vec![Vec::new(); program.semaphores],
        dropped: vec![false; program.semaphores],
        drops: vec![None; program.semaphores],
        parked: Vec::new(),
        steps: vec![Outcome::Ok; n],
        failed_waits: vec![Vec::new(); n],
        failed_by: vec![Vec::new(); program.semaphores],
        preds: vec![BTreeSet::new(); n],
        faults: vec![None; n],
        host_calls: Vec::new(),
        visit_overflow: false,
    };
    for (index, step) in program.steps.iter().enumerate() {
        interp.step(index, step);
    }
    // Work still parked never runs: a program error the checks report as `Blocks`.
    for &index in &interp.parked {
        interp.steps[index] = Outcome::Blocks;
    }
    interp.finish()
}

impl Interp<'_> {
    fn step(&mut self, index: usize, step: &Step) {
        match step {
            Step::Queue { .. } => {
                self.parked.push(index);
                self.release();
            }
            Step::Signal { tp, .. } => {
                self.signal(*tp, index);
                self.release();
            }
            Step::Fail { sem, fault, .. } => {
                let status = fault_status(*fault);
                self.faults[index] = Some(ExpectedStatus {
                    code: status.code(),
                    marker: fault_marker(*fault),
                });
                self.fail(*sem, index);
                self.release();
            }
            Step::Wait { tps, any } => {
                self.steps[index] = self.wait_outcome(tps, *any);
            }
            Step::Drop { sem } => {
                self.dropped[*sem] = true;
                self.drops[*sem] = self.value(*sem).map(|v| (index, v));
                let signalled_by_parked =
                    self.parked.iter().any(|&p| match &self.program.steps[p] {
                        Step::Queue { signals, .. } => signals.iter().any(|t| t.sem == *sem),
                        _ => false,
                    });
                if !signalled_by_parked {
                    let waited = self.parked.iter().any(|&p| match &self.program.steps[p] {
                        Step::Queue { waits, .. } => waits.iter().any(|t| t.sem == *sem),
                        _ => false,
                    });
                    if waited {
                        self.faults[index] = Some(ExpectedStatus {
                            code: StatusCode::Cancelled,
                            marker: String::new(),
                        });
                        self.fail(*sem, index);
                        self.release();
                    }
                }
            }
        }
    }

    fn value(&self, sem: usize) -> Option<u64> {
        match self.sems[sem] {
            SemState::Value(v) => Some(v),
            SemState::Failed(_) => None,
        }
    }

    fn signal(&mut self, tp: Tp, step: usize) {
        if let SemState::Value(v) = &mut self.sems[tp.sem] {
            assert!(
                tp.value > *v,
                "model: step {step} signals semaphore {} to {} at {v}: not well-ordered",
                tp.sem,
                tp.value
            );
            *v = tp.value;
            self.signal_log[tp.sem].push((tp.value, step));
        }
    }

    fn fail(&mut self, sem: usize, step: usize) {
        self.failed_by[sem].push(step);
        if let SemState::Value(_) = self.sems[sem] {
            self.sems[sem] = SemState::Failed(BTreeSet::new());
        }
    }

    /// The step whose signal first reached `tp`, if any.
    fn signaller(&self, tp: Tp) -> Option<usize> {
        self.signal_log[tp.sem]
            .iter()
            .find(|(v, _)| *v >= tp.value)
            .map(|&(_, s)| s)
    }

    fn wait_outcome(&self, tps: &[Tp], any: bool) -> Outcome {
        let failed: Vec<&Tp> = tps.iter().filter(|t| self.value(t.sem).is_none()).collect();
        let reached = tps
            .iter()
            .filter(|t| self.value(t.sem).is_some_and(|v| v >= t.value))
            .count();
        let unresolved = tps.len() - failed.len() - reached;
        let sems: BTreeSet<usize> = failed.iter().map(|t| t.sem).collect();
        if any {
            match (reached > 0, !failed.is_empty()) {
                (true, false) => Outcome::Ok,
                (true, true) => Outcome::Either(sems),
                (false, true) => Outcome::Failed(sems),
                (false, false) => Outcome::Blocks,
            }
        } else if !failed.is_empty() {
            Outcome::Failed(sems)
        } else if unresolved > 0 {
            Outcome::Blocks
        } else {
            Outcome::Ok
        }
    }

    /// Runs parked steps whose waits are reached (or failed), in submission order, until none is.
    fn release(&mut self) {
        loop {
            let ready = self.parked.iter().position(|&index| {
                let Step::Queue { waits, .. } = &self.program.steps[index] else {
                    unreachable!()
                };
                waits.iter().all(|t| match self.sems[t.sem] {
                    SemState::Value(v) => v >= t.value,
                    SemState::Failed(_) => true,
                }) || waits
                    .iter()
                    .any(|t| matches!(self.sems[t.sem], SemState::Failed(_)))
            });
            let Some(position) = ready else { return };
            let index = self.parked.remove(position);
            self.run(index);
        }
    }

    fn run(&mut self, index: usize) {
        let Step::Queue { waits, signals, op } = &self.program.steps[index] else {
            unreachable!()
        };
        let mut preds = BTreeSet::new();
        for tp in waits {
            if let Some(s) = self.signaller(*tp) {
                if matches!(self.program.steps[s], Step::Queue { .. }) {
                    preds.insert(s);
                    preds.extend(self.preds[s].iter().copied());
                }
            }
        }
        self.preds[index] = preds;
        let failed_waits: Vec<usize> = waits
            .iter()
            .filter(|t| matches!(self.sems[t.sem], SemState::Failed(_)))
            .map(|t| t.sem)
            .collect();
        let result = if failed_waits.is_empty() {
            self.execute(index, op)
        } else {
            self.failed_waits[index] = failed_waits;
            Err(())
        };
        match result {
            Ok(()) => {
                for tp in signals {
                    self.signal(*tp, index);
                }
            }
            Err(()) => {
                self.steps[index] = Outcome::Failed(BTreeSet::new());
                for tp in signals {
                    self.fail(tp.sem, index);
                }
            }
        }
    }

    /// Applies an operation; `Err` if it faults (its fault status recorded).
    fn execute(&mut self, index: usize, op: &Op) -> Result<(), ()> {
        let program = self.program;
        match op {
            Op::Barrier => Ok(()),
            Op::Fill { target, pattern } => {
                self.fill(resolve(program, target), *pattern);
                Ok(())
            }
            Op::Update { target, data } => {
                self.write(resolve(program, target), data);
                Ok(())
            }
            Op::Copy { source, target } => {
                self.copy(resolve(program, source), resolve(program, target));
                Ok(())
            }
            Op::Dispatch(d) => self.dispatch(index, d, &[]),
            Op::Execute {
                command_buffer,
                table,
            } => {
                let commands = &program.command_buffers[*command_buffer].commands;
                for command in commands {
                    let result = match command {
                        Command::Barrier => Ok(()),
                        Command::Fill { target, pattern } => {
                            self.fill(resolve_ref(program, target, table), *pattern);
                            Ok(())
                        }
                        Command::Update { target, data } => {
                            self.write(resolve_ref(program, target, table), data);
                            Ok(())
                        }
                        Command::Copy { source, target } => {
                            self.copy(
                                resolve_ref(program, source, table),
                                resolve_ref(program, target, table),
                            );
                            Ok(())
                        }
                        Command::Dispatch(d) => self.dispatch(index, d, table),
                    };
                    if result.is_err() {
                        // Whatever any command wrote is unknown: commands of the failing one's
                        // region ran or not, later ones did not.
                        for c in commands {
                            for u in command_uses(program, c, table) {
                                if u.writes {
                                    self.forget(u);
                                }
                            }
                        }
                        return Err(());
                    }
                }
                Ok(())
            }
            Op::HostCall(call) => match call {
                HostCall::Log(id) => {
                    self.host_calls.push(*id);
                    Ok(())
                }
                HostCall::Fail(id) => {
                    self.faults[index] = Some(ExpectedStatus {
                        code: fault_status(*id).code(),
                        marker: fault_marker(*id),
                    });
                    Err(())
                }
                HostCall::Panic(id) => {
                    self.faults[index] = Some(ExpectedStatus {
                        code: StatusCode::Internal,
                        marker: fault_marker(*id),
                    });
                    Err(())
                }
            },
            Op::Alloca { allocation } => {
                let size = program.allocations[*allocation].size;
                let device: u64 = program
                    .allocations
                    .iter()
                    .filter(|a| a.memory == Memory::Device)
                    .map(|a| a.size)
                    .sum();
                if device.saturating_add(size) > self.semantics.memory_limit {
                    self.faults[index] = Some(ExpectedStatus {
                        code: StatusCode::ResourceExhausted,
                        marker: "memory limit".into(),
                    });
                    Err(())
                } else {
                    self.committed[*allocation] = true;
                    Ok(())
                }
            }
        }
    }

    fn dispatch(&mut self, index: usize, d: &Dispatch, table: &[Range]) -> Result<(), ()> {
        let program = self.program;
        let ranges: Vec<(usize, u64, u64)> = d
            .bindings
            .iter()
            .map(|b| resolve_ref(program, b, table))
            .collect();
        let inputs: Vec<Vec<Option<u32>>> = ranges.iter().map(|&r| self.words(r)).collect();
        let total: u64 = d.workgroups.iter().map(|&c| u64::from(c)).product();
        if d.kernel == Kernel::Visit && inputs[0].contains(&Some(u32::MAX)) {
            self.visit_overflow = true;
        }
        let static_format = self.semantics.static_format;
        let effect = kernels::run(d.kernel, &d.constants, total, static_format, &inputs);
        match effect {
            Effect::Completed(outputs) => {
                for (binding, words) in outputs {
                    self.write_words(ranges[binding], &words);
                }
                Ok(())
            }
            Effect::Failed => {
                for (range, access) in ranges.iter().zip(d.kernel.bindings()) {
                    if access.writes() {
                        self.forget(use_of(*range, true));
                    }
                }
                // Kernels return a failure code (INTERNAL); WebAssembly traps abort.
                let code = match d.kernel {
                    Kernel::TrapAt => StatusCode::Aborted,
                    _ => StatusCode::Internal,
                };
                self.faults[index] = Some(ExpectedStatus {
                    code,
                    marker: format!("'{}'", d.kernel.export()),
                });
                Err(())
            }
        }
    }

    fn fill(&mut self, (allocation, start, len): (usize, u64, u64), pattern: Pattern) {
        let memory = &mut self.memory[allocation];
        for i in 0..len {
            memory.bytes[(start + i) as usize] = pattern.byte(i);
            memory.known[(start + i) as usize] = true;
        }
    }

    fn write(&mut self, (allocation, start, len): (usize, u64, u64), data: &[u8]) {
        assert_eq!(len, data.len() as u64, "update length");
        let memory = &mut self.memory[allocation];
        let range = start as usize..(start + len) as usize;
        memory.bytes[range.clone()].copy_from_slice(data);
        memory.known[range].fill(true);
    }

    fn copy(&mut self, source: (usize, u64, u64), target: (usize, u64, u64)) {
        let from = source.1 as usize..(source.1 + source.2) as usize;
        let bytes = self.memory[source.0].bytes[from.clone()].to_vec();
        let known = self.memory[source.0].known[from].to_vec();
        let to = target.1 as usize..(target.1 + target.2) as usize;
        self.memory[target.0].bytes[to.clone()].copy_from_slice(&bytes);
        self.memory[target.0].known[to].copy_from_slice(&known);
    }

    fn forget(&mut self, u: Use) {
        self.memory[u.allocation].known[u.start as usize..u.end as usize].fill(false);
    }

    fn words(&self, (allocation, start, len): (usize, u64, u64)) -> Vec<Option<u32>> {
        let memory = &self.memory[allocation];
        (0..len / 4)
            .map(|i| {
                let at = (start + 4 * i) as usize;
                memory.known[at..at + 4].iter().all(|&k| k).then(|| {
                    u32::from_le_bytes(memory.bytes[at..at + 4].try_into().expect("4 bytes"))
                })
            })
            .collect()
    }

    fn write_words(&mut self, (allocation, start, len): (usize, u64, u64), words: &[Option<u32>]) {
        assert!(
            words.len() as u64 * 4 <= len,
            "kernel output past its binding"
        );
        let memory = &mut self.memory[allocation];
        for (i, word) in words.iter().enumerate() {
            let at = start as usize + 4 * i;
            match word {
                Some(w) => {
                    memory.bytes[at..at + 4].copy_from_slice(&w.to_le_bytes());
                    memory.known[at..at + 4].fill(true);
                }
                None => memory.known[at..at + 4].fill(false),
            }
        }
    }

    /// Resolves which faults each failure may carry, and builds the expectations.
    fn finish(mut self) -> Expected {
        let n = self.program.steps.len();
        // A failed step may carry the failure of any of its waits that fails at some point: the
        // host's steps on other threads, and device work still running, fail semaphores at times
        // the model does not know, and a wait on a semaphore whose handles were dropped (never
        // reaching the value) cancels. So a step that failed because of its waits may carry any
        // of them that ends failed.
        for index in 0..n {
            if !matches!(self.steps[index], Outcome::Failed(_)) || self.faults[index].is_some() {
                continue;
            }
            let Step::Queue { waits, .. } = &self.program.steps[index] else {
                continue;
            };
            let mut sems = Vec::new();
            for tp in waits {
                if let Some((drop_step, value)) = self.drops[tp.sem] {
                    if tp.value > value && !self.failed_by[tp.sem].contains(&drop_step) {
                        self.faults[drop_step] = Some(ExpectedStatus {
                            code: StatusCode::Cancelled,
                            marker: String::new(),
                        });
                        self.failed_by[tp.sem].push(drop_step);
                        if let SemState::Value(_) = self.sems[tp.sem] {
                            self.sems[tp.sem] = SemState::Failed(BTreeSet::new());
                        }
                    }
                }
                if matches!(self.sems[tp.sem], SemState::Failed(_)) {
                    sems.push(tp.sem);
                }
            }
            self.failed_waits[index] = sems;
        }
        // Faults each failed step may carry: its own, or those of the semaphores it waited on
        // that failed; a failed semaphore carries those of every step that failed it. Iterate to
        // a fixpoint (the runtime may see upstream failures in any order).
        let mut carried: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for (index, fault) in self.faults.iter().enumerate() {
            if fault.is_some() {
                carried[index].insert(index);
            }
        }
        loop {
            let mut changed = false;
            for index in 0..n {
                let waits = self.failed_waits[index].clone();
                for sem in waits {
                    for &by in &self.failed_by[sem].clone() {
                        let from: Vec<usize> = carried[by].iter().copied().collect();
                        for f in from {
                            changed |= carried[index].insert(f);
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let sem_faults = |sem: usize| -> BTreeSet<usize> {
            self.failed_by[sem]
                .iter()
                .flat_map(|&by| carried[by].iter().copied())
                .collect()
        };
        for sem in 0..self.program.semaphores {
            if let SemState::Failed(_) = self.sems[sem] {
                self.sems[sem] = SemState::Failed(sem_faults(sem));
            }
        }
        for (index, carried) in carried.iter().enumerate() {
            match &self.steps[index] {
                // A host wait fails with whichever of its timepoints fails first: any of them
                // that ends failed.
                Outcome::Failed(_) | Outcome::Either(_)
                    if matches!(self.program.steps[index], Step::Wait { .. }) =>
                {
                    let Step::Wait { tps, .. } = &self.program.steps[index] else {
                        unreachable!()
                    };
                    let faults = tps.iter().flat_map(|t| sem_faults(t.sem)).collect();
                    self.steps[index] = match self.steps[index] {
                        Outcome::Failed(_) => Outcome::Failed(faults),
                        _ => Outcome::Either(faults),
                    };
                }
                Outcome::Failed(_) => {
                    self.steps[index] = Outcome::Failed(carried.clone());
                }
                _ => {}
            }
        }
        // Host calls ordered after other host calls.
        let log_id = |index: usize| match &self.program.steps[index] {
            Step::Queue {
                op: Op::HostCall(HostCall::Log(id)),
                ..
            } => Some(*id),
            _ => None,
        };
        let mut host_order = Vec::new();
        for index in 0..n {
            if let (Some(b), Outcome::Ok) = (log_id(index), &self.steps[index]) {
                for &p in &self.preds[index] {
                    if let Some(a) = log_id(p) {
                        host_order.push((a, b));
                    }
                }
            }
        }
        Expected {
            memory: self.memory,
            committed: self.committed,
            semaphores: self.sems,
            dropped: self.dropped,
            steps: self.steps,
            faults: self.faults,
            host_calls: self.host_calls,
            host_order,
            visit_overflow: self.visit_overflow,
        }
    }
}

impl Expected {
    /// The statuses of faults `faults` (step indices).
    pub fn statuses(&self, faults: &BTreeSet<usize>) -> Vec<&ExpectedStatus> {
        faults
            .iter()
            .filter_map(|&f| self.faults[f].as_ref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXACT: Semantics = Semantics {
        static_format: true,
        memory_limit: u64::MAX,
    };

    fn one_allocation(steps: Vec<Step>, semaphores: usize) -> Program {
        Program {
            allocations: vec![Allocation {
                size: TILE,
                memory: Memory::Device,
                seed: 3,
            }],
            views: vec![View {
                allocation: 0,
                offset: 0,
                len: TILE,
            }],
            semaphores,
            command_buffers: vec![],
            steps,
        }
    }

    fn queue(waits: Vec<Tp>, signal: Tp, op: Op) -> Step {
        Step::Queue {
            waits,
            signals: vec![signal],
            op,
        }
    }

    #[test]
    fn transfers_apply_in_dependency_order() {
        let a = Tp { sem: 0, value: 1 };
        let b = Tp { sem: 1, value: 1 };
        let gate = Tp { sem: 2, value: 1 };
        let range = |offset, len| Range {
            view: 0,
            offset,
            len,
        };
        // The copy is queued first but waits (through the gate) for the update it reads.
        let program = one_allocation(
            vec![
                queue(
                    vec![gate, a],
                    b,
                    Op::Copy {
                        source: range(0, 4),
                        target: range(8, 4),
                    },
                ),
                queue(
                    vec![],
                    a,
                    Op::Update {
                        target: range(0, 4),
                        data: vec![1, 2, 3, 4],
                    },
                ),
                Step::Signal {
                    tp: gate,
                    thread: false,
                    delay_us: 0,
                },
            ],
            3,
        );
        let expected = interpret(&program, EXACT);
        assert_eq!(expected.memory[0].bytes[8..12], [1, 2, 3, 4]);
        assert_eq!(expected.semaphores[1], SemState::Value(1));
        assert!(expected.steps.iter().all(|o| *o == Outcome::Ok));
    }

    #[test]
    fn failures_propagate_to_dependents_only() {
        let fault = Tp { sem: 0, value: 1 };
        let dependent = Tp { sem: 1, value: 1 };
        let independent = Tp { sem: 2, value: 1 };
        let fill = |offset| Op::Fill {
            target: Range {
                view: 0,
                offset,
                len: 4,
            },
            pattern: Pattern::U8(9),
        };
        let program = one_allocation(
            vec![
                queue(vec![], fault, Op::HostCall(HostCall::Fail(7))),
                queue(vec![fault], dependent, fill(0)),
                queue(vec![], independent, fill(4)),
            ],
            3,
        );
        let initial = initial_bytes(3, TILE);
        let expected = interpret(&program, EXACT);
        let SemState::Failed(faults) = &expected.semaphores[1] else {
            panic!("the dependent's semaphore did not fail: {expected:?}")
        };
        let statuses = expected.statuses(faults);
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].code, fault_status(7).code());
        assert_eq!(statuses[0].marker, fault_marker(7));
        assert_eq!(
            expected.memory[0].bytes[..4],
            initial[..4],
            "a failed fill writes nothing"
        );
        assert_eq!(expected.memory[0].bytes[4..8], [9; 4]);
        assert_eq!(expected.semaphores[2], SemState::Value(1));
    }
}
