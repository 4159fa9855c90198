//! Random programs: a proptest strategy for raw choices, and the builder that turns them into a
//! well-ordered [`Program`].
//!
//! The strategy generates [`RawProgram`]s: allocations and steps made of plain numbers. The
//! builder reads those numbers as choices (0 is always the simplest) and makes every operation
//! valid and ordered as it goes: an operation that touches bytes an earlier one writes (or writes
//! bytes an earlier one touches) waits for it; a command that conflicts with its region gets a
//! barrier first; an inline command buffer is recorded only after a host wait covering what it
//! conflicts with. Shrinking works on the raw choices (fewer steps and commands, smaller numbers),
//! and every shrunk program is valid by construction.
//!
//! Two flavours ([`Options`]): *model* programs, where operations signal a few timeline
//! semaphores ("streams", each operation waiting for its stream's previous value) and the host
//! signals one gate semaphore, and nothing fails; and *fault* programs, where each operation
//! signals its own semaphore, gates are binary and may be failed or dropped by the host, and
//! faults are injected (host calls that fail or panic, kernels that fail at a workgroup, a
//! WebAssembly trap, cts `fail`, an alloca past the device's memory limit).

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::kernels::EXACT;
use crate::model::{op_uses, Use};
use crate::order::check_op_internals;
use crate::program::*;

/// What kind of programs to build.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Most raw steps.
    pub max_steps: usize,
    /// Fault programs (see the module docs) instead of model programs.
    pub faults: bool,
    /// The device memory limit fault programs run under: an alloca of more fails.
    pub memory_limit: u64,
}

impl Options {
    /// Model programs of up to `max_steps` raw steps.
    pub fn model(max_steps: usize) -> Options {
        Options {
            max_steps,
            faults: false,
            memory_limit: u64::MAX,
        }
    }

    /// Fault programs of up to `max_steps` raw steps, for a device with [`FAULT_MEMORY_LIMIT`].
    pub fn faults(max_steps: usize) -> Options {
        Options {
            max_steps,
            faults: true,
            memory_limit: FAULT_MEMORY_LIMIT,
        }
    }
}

/// The memory limit of fault programs' devices; a "huge" alloca asks for more than this.
pub const FAULT_MEMORY_LIMIT: u64 = 1 << 20;

/// A raw allocation.
#[derive(Clone, Debug)]
pub struct RawAllocation {
    /// Size in tiles, less one (0..=7); 8 and 9 ask for a large allocation of 32 or 64 tiles.
    pub tiles: u8,
    /// Memory kind choice.
    pub memory: u8,
    /// Contents seed.
    pub seed: u64,
    /// Subspans: (offset, length) in 64-byte units, clamped to the allocation.
    pub subspans: Vec<(u8, u8)>,
}

/// What a raw step asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A queue barrier.
    Barrier,
    /// A queue fill.
    Fill,
    /// A queue update.
    Update,
    /// A queue copy.
    Copy,
    /// A queue dispatch.
    Dispatch,
    /// A new command buffer, executed.
    Execute,
    /// A reusable command buffer executed again with a new table.
    Reexecute,
    /// A host call.
    HostCall,
    /// A host signal (or, in fault programs, a gate signalled, failed or dropped).
    Host,
    /// A host wait.
    Wait,
    /// The next pending alloca.
    Alloca,
    /// A fault (fault programs only; otherwise a dispatch).
    Fault,
}

/// A raw step.
#[derive(Clone, Debug)]
pub struct RawStep {
    /// What it is.
    pub kind: Kind,
    /// Choices.
    pub choice: [u32; 8],
    /// Bytes for updates.
    pub data: Vec<u8>,
    /// Commands, for command buffers.
    pub commands: Vec<RawCommand>,
}

/// What a raw command asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    /// A fill.
    Fill,
    /// An update.
    Update,
    /// A copy.
    Copy,
    /// A dispatch.
    Dispatch,
    /// A barrier.
    Barrier,
}

/// A raw command.
#[derive(Clone, Debug)]
pub struct RawCommand {
    /// What it is.
    pub kind: CommandKind,
    /// Choices.
    pub choice: [u32; 8],
    /// Bytes for updates.
    pub data: Vec<u8>,
}

/// A raw program.
#[derive(Clone, Debug)]
pub struct RawProgram {
    /// Allocations.
    pub allocations: Vec<RawAllocation>,
    /// Steps.
    pub steps: Vec<RawStep>,
}

fn choices() -> impl Strategy<Value = [u32; 8]> {
    prop::array::uniform8(any::<u32>())
}

fn raw_command() -> impl Strategy<Value = RawCommand> {
    let kind = prop_oneof![
        3 => Just(CommandKind::Fill),
        2 => Just(CommandKind::Update),
        3 => Just(CommandKind::Copy),
        5 => Just(CommandKind::Dispatch),
        1 => Just(CommandKind::Barrier),
    ];
    (kind, choices(), prop::collection::vec(any::<u8>(), 0..48))
        .prop_map(|(kind, choice, data)| RawCommand { kind, choice, data })
}

fn raw_step(faults: bool) -> impl Strategy<Value = RawStep> {
    let weights: &[(u32, Kind)] = &[
        (2, Kind::Barrier),
        (4, Kind::Fill),
        (3, Kind::Update),
        (4, Kind::Copy),
        (6, Kind::Dispatch),
        (5, Kind::Execute),
        (3, Kind::Reexecute),
        (2, Kind::HostCall),
        (3, Kind::Host),
        (3, Kind::Wait),
        (1, Kind::Alloca),
        (2, Kind::Fault),
    ];
    let kind = proptest::strategy::Union::new_weighted(
        weights
            .iter()
            .filter(|(_, k)| faults || *k != Kind::Fault)
            .map(|&(w, k)| (w, Just(k)))
            .collect(),
    );
    (
        kind,
        choices(),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(raw_command(), 0..6),
    )
        .prop_map(|(kind, choice, data, commands)| RawStep {
            kind,
            choice,
            data,
            commands,
        })
}

fn raw_allocation() -> impl Strategy<Value = RawAllocation> {
    (
        0u8..10,
        any::<u8>(),
        any::<u64>(),
        prop::collection::vec((any::<u8>(), any::<u8>()), 0..3),
    )
        .prop_map(|(tiles, memory, seed, subspans)| RawAllocation {
            tiles,
            memory,
            seed,
            subspans,
        })
}

/// The strategy of raw programs for `options`.
pub fn raw_program(options: Options) -> impl Strategy<Value = RawProgram> {
    (
        prop::collection::vec(raw_allocation(), 1..5),
        prop::collection::vec(raw_step(options.faults), 1..=options.max_steps),
    )
        .prop_map(|(allocations, steps)| RawProgram { allocations, steps })
}

/// A host-controlled semaphore.
#[derive(Clone, Debug)]
struct Gate {
    sem: usize,
    /// Value signalled so far.
    signalled: u64,
    /// Failed or dropped.
    resolved: bool,
    /// Highest value any operation waits for.
    max_waited: u64,
}

/// What the builder knows of one queue step.
#[derive(Clone, Debug, Default)]
struct Info {
    uses: Vec<Use>,
    preds: BTreeSet<usize>,
    /// (gate index, value) this step transitively needs.
    needs: Vec<(usize, u64)>,
    /// The timepoint others wait for, with the previous value on its semaphore.
    signal: Option<(Tp, u64)>,
}

struct Builder {
    options: Options,
    program: Program,
    info: Vec<Option<Info>>,
    /// Model programs: (semaphore, last value, last signaller) of each stream.
    streams: Vec<(usize, u64, Option<usize>)>,
    gates: Vec<Gate>,
    known_complete: BTreeSet<usize>,
    /// Allocas not yet queued.
    pending_allocas: Vec<usize>,
    allocated: BTreeSet<usize>,
    reusable: Vec<usize>,
    next_id: u32,
}

/// Picks `x % n` (n > 0).
fn pick(x: u32, n: usize) -> usize {
    x as usize % n
}

/// Builds the program `raw` describes (see the module docs).
pub fn build(raw: &RawProgram, options: Options) -> Program {
    let mut program = Program {
        allocations: Vec::new(),
        views: Vec::new(),
        semaphores: 0,
        command_buffers: Vec::new(),
        steps: Vec::new(),
    };
    let mut pending_allocas = Vec::new();
    let mut allocated = BTreeSet::new();
    let mut huge_done = false;
    for (index, a) in raw.allocations.iter().enumerate() {
        let mut size = match a.tiles {
            8 => 32 * TILE,
            9 => 64 * TILE,
            tiles => (u64::from(tiles % 8) + 1) * TILE,
        };
        let memory = match a.memory % 8 {
            0..=3 => Memory::Device,
            4..=5 => Memory::Imported,
            _ => Memory::Alloca,
        };
        if options.faults && memory == Memory::Alloca && a.memory % 16 == 7 && !huge_done {
            // Past the device's memory limit: its alloca fails.
            size = options.memory_limit + TILE;
            huge_done = true;
        }
        program.allocations.push(Allocation {
            size,
            memory,
            seed: a.seed,
        });
        if memory == Memory::Alloca {
            pending_allocas.push(index);
        } else {
            allocated.insert(index);
        }
        program.views.push(View {
            allocation: index,
            offset: 0,
            len: size,
        });
        let units = size / BINDING_ALIGNMENT;
        for &(offset, len) in &a.subspans {
            let offset = u64::from(offset) % units;
            let len = 1 + u64::from(len) % (units - offset);
            program.views.push(View {
                allocation: index,
                offset: offset * BINDING_ALIGNMENT,
                len: len * BINDING_ALIGNMENT,
            });
        }
    }
    let mut builder = Builder {
        options,
        program,
        info: Vec::new(),
        streams: Vec::new(),
        gates: Vec::new(),
        known_complete: BTreeSet::new(),
        pending_allocas,
        allocated,
        reusable: Vec::new(),
        next_id: 0,
    };
    if !options.faults {
        // Semaphore 0: the host's gate; 1..=3: streams.
        builder.new_gate();
        for _ in 0..3 {
            let sem = builder.new_semaphore();
            builder.streams.push((sem, 0, None));
        }
    }
    for step in &raw.steps {
        builder.step(step);
    }
    while !builder.pending_allocas.is_empty() {
        builder.alloca(&[0; 8]);
    }
    builder.finish_gates();
    builder.program
}

impl Builder {
    fn new_semaphore(&mut self) -> usize {
        self.program.semaphores += 1;
        self.program.semaphores - 1
    }

    fn new_gate(&mut self) -> usize {
        let sem = self.new_semaphore();
        self.gates.push(Gate {
            sem,
            signalled: 0,
            resolved: false,
            max_waited: 0,
        });
        self.gates.len() - 1
    }

    fn next_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn push(&mut self, step: Step, info: Option<Info>) -> usize {
        self.program.steps.push(step);
        self.info.push(info);
        self.program.steps.len() - 1
    }

    fn step(&mut self, raw: &RawStep) {
        let c = &raw.choice;
        match raw.kind {
            Kind::Barrier => {
                self.queue(Op::Barrier, c, false);
            }
            Kind::Fill => {
                if let Some(op) = self.fill_op(c) {
                    self.queue(op, c, false);
                }
            }
            Kind::Update => {
                if let Some(target) = self.range(&c[1..], 1, Self::transfer_max(c[6])) {
                    let data = bytes(&raw.data, target.len as usize, c[5]);
                    self.queue(Op::Update { target, data }, c, false);
                }
            }
            Kind::Copy => {
                if let Some((source, target)) = self.copy_ranges(c) {
                    self.queue(Op::Copy { source, target }, c, false);
                }
            }
            Kind::Dispatch => {
                if let Some(d) = self.dispatch(c, &[], &[], false) {
                    self.queue(Op::Dispatch(d), c, false);
                }
            }
            Kind::Fault if !self.options.faults => {
                if let Some(d) = self.dispatch(c, &[], &[], false) {
                    self.queue(Op::Dispatch(d), c, false);
                }
            }
            Kind::Fault => self.fault(raw),
            Kind::Execute => self.execute(raw),
            Kind::Reexecute => self.reexecute(c),
            Kind::HostCall => {
                let id = self.next_id();
                self.queue(Op::HostCall(HostCall::Log(id)), c, false);
            }
            Kind::Host => self.host(c),
            Kind::Wait => self.wait(c),
            Kind::Alloca => self.alloca(c),
        }
    }

    /// Views usable now, with at least `len` bytes.
    fn views_with(&self, len: u64) -> Vec<usize> {
        (0..self.program.views.len())
            .filter(|&v| {
                let view = &self.program.views[v];
                view.len >= len && self.allocated.contains(&view.allocation)
            })
            .collect()
    }

    /// A range of a usable view: `granularity`-aligned offset and length, at most `max` bytes.
    /// Reads `c[0..3]`.
    fn range(&self, c: &[u32], granularity: u64, max: u64) -> Option<Range> {
        let views = self.views_with(granularity);
        if views.is_empty() {
            return None;
        }
        let view = views[pick(c[0], views.len())];
        let len_v = self.program.views[view].len;
        let units = len_v.min(max) / granularity;
        let len = granularity * (1 + u64::from(c[1]) % units);
        let offset = granularity * (u64::from(c[2]) % ((len_v - len) / granularity + 1));
        Some(Range { view, offset, len })
    }

    /// A range of exactly `len` bytes at a 64-byte-aligned offset. Reads `c[0..2]`.
    fn binding_range(&self, c: &[u32], len: u64) -> Option<Range> {
        let views = self.views_with(len);
        if views.is_empty() {
            return None;
        }
        let view = views[pick(c[0], views.len())];
        let slack = (self.program.views[view].len - len) / BINDING_ALIGNMENT;
        let offset = BINDING_ALIGNMENT * (u64::from(c[1]) % (slack + 1));
        Some(Range { view, offset, len })
    }

    /// The most bytes a transfer moves: usually 512, sometimes 16 KiB.
    fn transfer_max(c: u32) -> u64 {
        if c % 8 == 5 {
            16 * 1024
        } else {
            512
        }
    }

    fn pattern(c: u32) -> Pattern {
        let v = c >> 2;
        match c % 3 {
            0 => Pattern::U32(if v == u32::MAX >> 2 { 7 } else { v }),
            1 => Pattern::U16(if v as u16 == u16::MAX { 1 } else { v as u16 }),
            _ => Pattern::U8(if v as u8 == u8::MAX { 2 } else { v as u8 }),
        }
    }

    fn fill_op(&self, c: &[u32; 8]) -> Option<Op> {
        let pattern = Self::pattern(c[4]);
        let target = self.range(&c[1..], pattern.width(), Self::transfer_max(c[5]))?;
        Some(Op::Fill { target, pattern })
    }

    fn copy_ranges(&self, c: &[u32; 8]) -> Option<(Range, Range)> {
        let granularity = [1, 4, 64][pick(c[6], 3)];
        let source = self.range(&c[1..], granularity, Self::transfer_max(c[7]))?;
        for attempt in 0..4u32 {
            let views = self.views_with(source.len);
            let view = views[pick(c[4].wrapping_add(attempt), views.len())];
            let slack = (self.program.views[view].len - source.len) / granularity;
            let offset = granularity * (u64::from(c[5].wrapping_add(attempt * 7)) % (slack + 1));
            let target = Range {
                view,
                offset,
                len: source.len,
            };
            let a = crate::model::resolve(&self.program, &source);
            let b = crate::model::resolve(&self.program, &target);
            if a.0 != b.0 || a.1 + a.2 <= b.1 || b.1 + b.2 <= a.1 {
                return Some((source, target));
            }
        }
        None
    }

    /// A dispatch of a kernel chosen by `c`, with bindings chosen among the current views (or,
    /// with `slots`, the slots of these lengths too); `faults` allows the failing kernels.
    fn dispatch(
        &self,
        c: &[u32; 8],
        slots: &[u64],
        table: &[Range],
        faults: bool,
    ) -> Option<Dispatch> {
        let kernel = if faults {
            [
                Kernel::FailAt,
                Kernel::TrapAt,
                Kernel::Fail,
                Kernel::FailAt,
                Kernel::TrapAt,
            ][pick(c[0], 5)]
        } else {
            EXACT[pick(c[0], EXACT.len())]
        };
        let tile = kernel.tile_bytes();
        let largest = self
            .views_with(1)
            .iter()
            .map(|&v| self.program.views[v].len)
            .max()?;
        let total: u64 = match kernel {
            Kernel::Fail => 1 + u64::from(c[1] % 3),
            // Mostly a few tiles; sometimes many (local-task splits them across workers).
            k if k.tile_bytes() == TILE && c[1] % 8 == 7 => 1 + u64::from(c[1] / 8 % 64),
            k if k.tile_bytes() == TILE => 1 + u64::from(c[1] % 4),
            _ if c[1] % 8 == 7 => 1 + u64::from(c[1] / 8 % 4096),
            _ => 1 + u64::from(c[1] % 64),
        };
        // No more workgroups than the largest view has tiles (slots are at most 3 tiles).
        let total = largest
            .checked_div(tile)
            .map_or(total, |most| total.min(most).max(1));
        let workgroups = shape(total, c[2]);
        let constants: Vec<u32> = match kernel {
            Kernel::ScaleOffset => {
                if c[3].is_multiple_of(4) {
                    vec![c[4], c[5]]
                } else {
                    vec![c[4] % 9, c[5] % 17]
                }
            }
            Kernel::WriteConstants => [c[4], c[5], c[6], c[3]]
                .iter()
                .map(|&v| if v == u32::MAX { 0 } else { v })
                .collect(),
            Kernel::FailAt | Kernel::TrapAt => {
                // Usually inside the dispatch; sometimes past it (then nothing fails).
                vec![if c[3].is_multiple_of(5) {
                    total as u32 + c[4] % 3
                } else {
                    c[4] % total as u32
                }]
            }
            _ => Vec::new(),
        };
        let len = total * tile;
        let mut bindings: Vec<Ref> = Vec::new();
        let mut resolved: Vec<(usize, u64, u64, bool)> = Vec::new();
        for (b, access) in kernel.bindings().iter().enumerate() {
            let mut found = None;
            for attempt in 0..6u32 {
                let x = c[6]
                    .wrapping_add(attempt.wrapping_mul(0x9E37))
                    .rotate_left(b as u32 * 5);
                let y = c[7]
                    .wrapping_add(attempt.wrapping_mul(31))
                    .rotate_left(b as u32 * 3);
                let candidate = self.binding_ref(x, y, len, slots, table);
                let Some((r, at)) = candidate else { continue };
                let writes = access.writes();
                let clash = resolved.iter().any(|&(a, s, l, w)| {
                    a == at.0 && s < at.1 + at.2 && at.1 < s + l && (w || writes)
                });
                if !clash {
                    found = Some((r, at));
                    break;
                }
            }
            let (r, at) = found?;
            bindings.push(r);
            resolved.push((at.0, at.1, at.2, access.writes()));
        }
        Some(Dispatch {
            kernel,
            workgroups,
            constants,
            bindings,
        })
    }

    /// A binding of `len` bytes: a view range, or (when `x` says so and one fits) a slot range.
    fn binding_ref(
        &self,
        x: u32,
        y: u32,
        len: u64,
        slots: &[u64],
        table: &[Range],
    ) -> Option<(Ref, (usize, u64, u64))> {
        let fitting: Vec<usize> = (0..slots.len()).filter(|&s| slots[s] >= len).collect();
        if !fitting.is_empty() && !x.is_multiple_of(3) {
            let slot = fitting[pick(x / 3, fitting.len())];
            let slack = (slots[slot] - len) / BINDING_ALIGNMENT;
            let offset = BINDING_ALIGNMENT * (u64::from(y) % (slack + 1));
            let r = Ref::Slot {
                slot: slot as u32,
                offset,
                len,
            };
            let at = crate::model::resolve_ref(&self.program, &r, table);
            return Some((r, at));
        }
        let range = self.binding_range(&[x, y], len)?;
        Some((
            Ref::Direct(range),
            crate::model::resolve(&self.program, &range),
        ))
    }

    /// Queues `op` with the waits it needs (see the module docs) and random extra ones.
    /// `inline`: an inline command buffer's execute. Returns the step index, or `None` if it could
    /// not be ordered (an inline execute whose conflicts cannot be waited for).
    fn queue(&mut self, op: Op, c: &[u32; 8], inline: bool) -> Option<usize> {
        let uses = op_uses(&self.program, &op);
        let conflicts: Vec<usize> = (0..self.info.len())
            .filter(|&i| {
                self.info[i].as_ref().is_some_and(|info| {
                    info.uses
                        .iter()
                        .any(|a| uses.iter().any(|b| a.conflicts(b)))
                })
            })
            .collect();
        let mut waits: Vec<Tp> = Vec::new();
        let mut preds: BTreeSet<usize> = BTreeSet::new();
        let mut needs: Vec<(usize, u64)> = Vec::new();
        let mut signals: Vec<Tp> = Vec::new();
        let mut chain: Vec<usize> = Vec::new();
        // Signals.
        let stream_choice = if self.options.faults {
            let sem = self.new_semaphore();
            signals.push(Tp { sem, value: 1 });
            Vec::new()
        } else {
            let mut chosen = vec![pick(c[0], self.streams.len())];
            if c[0] % 7 == 3 {
                let second = pick(c[0] / 7, self.streams.len());
                if second != chosen[0] {
                    chosen.push(second);
                }
            }
            chosen
        };
        for &s in &stream_choice {
            let (sem, last, signaller) = self.streams[s];
            let step = 1 + u64::from(c[1] % 3);
            signals.push(Tp {
                sem,
                value: last + step,
            });
            if let Some(signaller) = signaller {
                chain.push(signaller);
                // The stream's last value: its signals must come in order.
                waits.push(Tp { sem, value: last });
                self.add_pred(signaller, &mut preds, &mut needs);
            }
        }
        // Ordered after everything it conflicts with.
        for &i in &conflicts {
            if preds.contains(&i) {
                continue;
            }
            let (tp, previous) = self.info[i].as_ref().unwrap().signal.unwrap();
            let value = if c[2].is_multiple_of(3) && tp.value > previous + 1 {
                previous + 1 + u64::from(c[2] / 3) % (tp.value - previous)
            } else {
                tp.value
            };
            waits.push(Tp { sem: tp.sem, value });
            self.add_pred(i, &mut preds, &mut needs);
        }
        // Extra waits: an earlier operation, or the gate (perhaps not yet signalled).
        if !inline && c[3] % 4 == 1 && !self.info.is_empty() {
            let candidates: Vec<usize> = (0..self.info.len())
                .filter(|&i| self.info[i].as_ref().is_some_and(|x| x.signal.is_some()))
                .collect();
            if !candidates.is_empty() {
                let i = candidates[pick(c[3] / 4, candidates.len())];
                if !preds.contains(&i) {
                    waits.push(self.info[i].as_ref().unwrap().signal.unwrap().0);
                    self.add_pred(i, &mut preds, &mut needs);
                }
            }
        }
        if !inline && c[3] % 5 == 2 {
            let gate = self.gate_to_wait(c[4]);
            if let Some((gate, value)) = gate {
                waits.push(Tp {
                    sem: self.gates[gate].sem,
                    value,
                });
                self.gates[gate].max_waited = self.gates[gate].max_waited.max(value);
                needs.push((gate, value));
            }
        }
        if inline {
            // Everything it conflicts with or waits for must be complete when it is recorded;
            // in fault programs, nothing at all (it could have failed: an inline command buffer
            // runs while recorded, so its waits must be reached, not failed).
            let required: Vec<usize> = conflicts.iter().chain(&chain).copied().collect();
            if self.options.faults && !required.is_empty() {
                return None;
            }
            let missing: Vec<usize> = required
                .iter()
                .copied()
                .filter(|i| !self.known_complete.contains(i))
                .collect();
            if !missing.is_empty() {
                if missing.iter().any(|&i| !self.resolvable(i)) {
                    return None;
                }
                let tps = missing
                    .iter()
                    .map(|&i| self.info[i].as_ref().unwrap().signal.unwrap().0)
                    .collect();
                self.host_wait(tps, false);
            }
        }
        let signal = signals.first().map(|&tp| (tp, self.streams_previous(tp)));
        for &s in &stream_choice {
            let tp = signals.iter().find(|t| t.sem == self.streams[s].0).unwrap();
            self.streams[s].1 = tp.value;
        }
        let index = self.push(Step::Queue { waits, signals, op }, None);
        for &s in &stream_choice {
            self.streams[s].2 = Some(index);
        }
        self.info[index] = Some(Info {
            uses,
            preds,
            needs,
            signal,
        });
        Some(index)
    }

    /// The value the semaphore of `tp` had before this signal (streams), or 0.
    fn streams_previous(&self, tp: Tp) -> u64 {
        self.streams
            .iter()
            .find(|s| s.0 == tp.sem)
            .map_or(0, |s| s.1)
    }

    fn add_pred(&self, i: usize, preds: &mut BTreeSet<usize>, needs: &mut Vec<(usize, u64)>) {
        let info = self.info[i].as_ref().unwrap();
        preds.insert(i);
        preds.extend(info.preds.iter().copied());
        needs.extend(info.needs.iter().copied());
    }

    /// Whether step `i` completes (or fails) without further host action.
    fn resolvable(&self, i: usize) -> bool {
        self.info[i].as_ref().unwrap().needs.iter().all(|&(g, v)| {
            let gate = &self.gates[g];
            gate.resolved || gate.signalled >= v
        })
    }

    /// A gate and value to wait for: model programs wait for the gate up to two values past what
    /// was signalled; fault programs for an unresolved binary gate (a new one if needed).
    fn gate_to_wait(&mut self, c: u32) -> Option<(usize, u64)> {
        if self.options.faults {
            let open: Vec<usize> = (0..self.gates.len())
                .filter(|&g| !self.gates[g].resolved && self.gates[g].signalled == 0)
                .collect();
            let gate = if open.is_empty() || c.is_multiple_of(3) {
                self.new_gate()
            } else {
                open[pick(c / 3, open.len())]
            };
            Some((gate, 1))
        } else {
            let gate = &self.gates[0];
            Some((0, gate.signalled.max(1) + u64::from(c % 3)))
        }
    }

    fn host_wait(&mut self, tps: Vec<Tp>, any: bool) {
        if !any {
            for tp in &tps {
                if let Some(i) = self.signaller_of(*tp) {
                    self.known_complete.insert(i);
                    let preds = self.info[i].as_ref().unwrap().preds.clone();
                    self.known_complete.extend(preds);
                }
            }
        }
        self.push(Step::Wait { tps, any }, None);
    }

    fn signaller_of(&self, tp: Tp) -> Option<usize> {
        (0..self.info.len())
            .filter(|&i| {
                matches!(&self.program.steps[i], Step::Queue { signals, .. }
                    if signals.iter().any(|t| t.sem == tp.sem && t.value >= tp.value))
            })
            .min_by_key(|&i| match &self.program.steps[i] {
                Step::Queue { signals, .. } => signals
                    .iter()
                    .find(|t| t.sem == tp.sem)
                    .map_or(u64::MAX, |t| t.value),
                _ => u64::MAX,
            })
    }

    fn wait(&mut self, c: &[u32; 8]) {
        let candidates: Vec<usize> = (0..self.info.len())
            .filter(|&i| self.info[i].as_ref().is_some_and(|x| x.signal.is_some()))
            .filter(|&i| self.resolvable(i))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let count = 1 + pick(c[0], 3).min(candidates.len() - 1);
        let mut tps: Vec<Tp> = Vec::new();
        for k in 0..count {
            let i = candidates[pick(c[1 + k], candidates.len())];
            let tp = self.info[i].as_ref().unwrap().signal.unwrap().0;
            if !tps.contains(&tp) {
                tps.push(tp);
            }
        }
        let any = tps.len() > 1 && c[5].is_multiple_of(3);
        self.host_wait(tps, any);
    }

    fn host(&mut self, c: &[u32; 8]) {
        let thread = c[1].is_multiple_of(3);
        let delay_us = c[2] % 300;
        if !self.options.faults {
            let gate = &mut self.gates[0];
            let value = gate.signalled + 1 + u64::from(c[0] % 2);
            gate.signalled = value;
            let sem = gate.sem;
            self.push(
                Step::Signal {
                    tp: Tp { sem, value },
                    thread,
                    delay_us,
                },
                None,
            );
            return;
        }
        // Fault programs: resolve an open gate: signal it, fail it, or drop it.
        let open: Vec<usize> = (0..self.gates.len())
            .filter(|&g| !self.gates[g].resolved && self.gates[g].signalled == 0)
            .collect();
        if open.is_empty() {
            return;
        }
        let g = open[pick(c[3], open.len())];
        let sem = self.gates[g].sem;
        match c[0] % 4 {
            0 | 1 => {
                self.gates[g].signalled = 1;
                self.push(
                    Step::Signal {
                        tp: Tp { sem, value: 1 },
                        thread,
                        delay_us,
                    },
                    None,
                );
            }
            2 => {
                self.gates[g].resolved = true;
                let fault = self.next_id();
                self.push(Step::Fail { sem, fault, thread }, None);
            }
            _ => {
                self.gates[g].resolved = true;
                self.push(Step::Drop { sem }, None);
            }
        }
    }

    /// Signals every gate to the highest value waited for (fault programs: resolves every open
    /// gate), so that nothing is left parked.
    fn finish_gates(&mut self) {
        for g in 0..self.gates.len() {
            let gate = &self.gates[g];
            if !gate.resolved && gate.max_waited > gate.signalled {
                let tp = Tp {
                    sem: gate.sem,
                    value: gate.max_waited,
                };
                self.gates[g].signalled = gate.max_waited;
                self.push(
                    Step::Signal {
                        tp,
                        thread: false,
                        delay_us: 0,
                    },
                    None,
                );
            }
        }
    }

    fn alloca(&mut self, c: &[u32; 8]) {
        if self.pending_allocas.is_empty() {
            return;
        }
        let allocation = self.pending_allocas.remove(0);
        if self.queue(Op::Alloca { allocation }, c, false).is_some() {
            self.allocated.insert(allocation);
        }
    }

    fn fault(&mut self, raw: &RawStep) {
        let c = &raw.choice;
        match c[7] % 4 {
            0 => {
                let id = self.next_id();
                let call = if c[6].is_multiple_of(2) {
                    HostCall::Fail(id)
                } else {
                    HostCall::Panic(id)
                };
                self.queue(Op::HostCall(call), c, false);
            }
            1 | 2 => {
                if let Some(d) = self.dispatch(c, &[], &[], true) {
                    self.queue(Op::Dispatch(d), c, false);
                }
            }
            _ => {
                // A command buffer with a failing dispatch among other commands.
                let mut raw = raw.clone();
                raw.commands.insert(
                    (c[6] as usize) % (raw.commands.len() + 1),
                    RawCommand {
                        kind: CommandKind::Dispatch,
                        choice: [c[0], c[1], c[2], c[3], c[4], c[5], u32::MAX, 0],
                        data: Vec::new(),
                    },
                );
                self.execute(&raw);
            }
        }
    }

    /// A table for slots of these lengths: 64-byte-aligned ranges of usable views, some of them
    /// the same range as another slot's.
    fn table(&self, slots: &[u64], c: u32) -> Option<Vec<Range>> {
        let mut table: Vec<Range> = Vec::new();
        for (s, &len) in slots.iter().enumerate() {
            let x = c.rotate_left(7 * s as u32).wrapping_add(s as u32 * 0x2545);
            let same = table.iter().position(|r| r.len == len);
            if let (Some(other), true) = (same, x.is_multiple_of(4)) {
                table.push(table[other]);
                continue;
            }
            table.push(self.binding_range(&[x >> 2, x >> 11], len)?);
        }
        Some(table)
    }

    fn execute(&mut self, raw: &RawStep) {
        let c = &raw.choice;
        let mode = match c[0] % 4 {
            0 => Mode::Inline,
            1 => Mode::OneShot,
            _ => Mode::Reusable,
        };
        let slot_lengths: Vec<u64> = if mode == Mode::Inline {
            Vec::new()
        } else {
            (0..c[1] % 4)
                .map(|s| TILE * (1 + u64::from(c[2].rotate_left(s * 8) % 3)))
                .collect()
        };
        let Some(table) = self.table(&slot_lengths, c[3]) else {
            return;
        };
        let mut commands: Vec<Command> = Vec::new();
        let mut region: Vec<Use> = Vec::new();
        for rc in &raw.commands {
            let command = match rc.kind {
                CommandKind::Barrier => {
                    region.clear();
                    commands.push(Command::Barrier);
                    continue;
                }
                CommandKind::Fill => {
                    let pattern = Self::pattern(rc.choice[4]);
                    self.command_ref(&rc.choice, pattern.width(), &slot_lengths, &table)
                        .map(|target| Command::Fill { target, pattern })
                }
                CommandKind::Update => {
                    self.command_ref(&rc.choice, 1, &slot_lengths, &table)
                        .map(|target| {
                            let len = ref_len(&target) as usize;
                            Command::Update {
                                target,
                                data: bytes(&rc.data, len, rc.choice[5]),
                            }
                        })
                }
                CommandKind::Copy => self.command_copy(&rc.choice, &slot_lengths, &table),
                CommandKind::Dispatch => {
                    let faults = self.options.faults && rc.choice[6] == u32::MAX;
                    self.dispatch(&rc.choice, &slot_lengths, &table, faults)
                        .map(Command::Dispatch)
                }
            };
            let Some(command) = command else { continue };
            // Checked alone (aliasing within the command) and against its region.
            let probe = CommandBufferSpec {
                mode,
                slots: slot_lengths.len() as u32,
                commands: vec![command.clone()],
            };
            self.program.command_buffers.push(probe);
            let probe_op = Op::Execute {
                command_buffer: self.program.command_buffers.len() - 1,
                table: table.clone(),
            };
            let alone = check_op_internals(&self.program, 0, &probe_op);
            let uses = op_uses(&self.program, &probe_op);
            self.program.command_buffers.pop();
            if alone.is_err() {
                continue;
            }
            if region.iter().any(|a| uses.iter().any(|b| a.conflicts(b))) {
                commands.push(Command::Barrier);
                region.clear();
            }
            region.extend(uses);
            commands.push(command);
        }
        self.program.command_buffers.push(CommandBufferSpec {
            mode,
            slots: slot_lengths.len() as u32,
            commands,
        });
        let command_buffer = self.program.command_buffers.len() - 1;
        let op = Op::Execute {
            command_buffer,
            table,
        };
        let queued = self.queue(op.clone(), c, mode == Mode::Inline);
        if queued.is_none() {
            // Its conflicts cannot be waited for yet: deferred instead of inline.
            self.program.command_buffers[command_buffer].mode = Mode::OneShot;
            self.queue(op, c, false);
        }
        if mode == Mode::Reusable {
            self.reusable.push(command_buffer);
        }
    }

    fn reexecute(&mut self, c: &[u32; 8]) {
        if self.reusable.is_empty() {
            return;
        }
        let command_buffer = self.reusable[pick(c[0], self.reusable.len())];
        let lengths: Vec<u64> = {
            // Each slot's length: what the previous table gave it.
            let previous = self.program.steps.iter().rev().find_map(|s| match s {
                Step::Queue {
                    op:
                        Op::Execute {
                            command_buffer: cb,
                            table,
                        },
                    ..
                } if *cb == command_buffer => Some(table.iter().map(|r| r.len).collect()),
                _ => None,
            });
            previous.unwrap_or_default()
        };
        for attempt in 0..4u32 {
            let Some(table) = self.table(&lengths, c[3].wrapping_add(attempt.wrapping_mul(0x51)))
            else {
                return;
            };
            let op = Op::Execute {
                command_buffer,
                table,
            };
            if check_op_internals(&self.program, 0, &op).is_ok() {
                self.queue(op, c, false);
                return;
            }
        }
    }

    /// A command reference: a slot range (when there are slots and `c` says so) or a view range.
    fn command_ref(
        &self,
        c: &[u32; 8],
        granularity: u64,
        slots: &[u64],
        _table: &[Range],
    ) -> Option<Ref> {
        if !slots.is_empty() && c[0] % 2 == 1 {
            let slot = pick(c[0] / 2, slots.len());
            let units = slots[slot].min(256) / granularity;
            let len = granularity * (1 + u64::from(c[2]) % units);
            let offset = granularity * (u64::from(c[3]) % ((slots[slot] - len) / granularity + 1));
            return Some(Ref::Slot {
                slot: slot as u32,
                offset,
                len,
            });
        }
        self.range(&c[1..], granularity, 256).map(Ref::Direct)
    }

    fn command_copy(&self, c: &[u32; 8], slots: &[u64], table: &[Range]) -> Option<Command> {
        let source = self.command_ref(c, 4, slots, table)?;
        let len = ref_len(&source);
        let shifted = [c[5], c[4], c[6], c[7], c[1], c[2], c[3], c[0]];
        for attempt in 0..4u32 {
            let mut x = shifted;
            x[0] = x[0].wrapping_add(attempt);
            x[3] = x[3].wrapping_add(attempt * 13);
            let target = if !slots.is_empty() && x[0] % 2 == 1 {
                let fitting: Vec<usize> = (0..slots.len()).filter(|&s| slots[s] >= len).collect();
                if fitting.is_empty() {
                    continue;
                }
                let slot = fitting[pick(x[0] / 2, fitting.len())];
                let offset = 4 * (u64::from(x[3]) % ((slots[slot] - len) / 4 + 1));
                Ref::Slot {
                    slot: slot as u32,
                    offset,
                    len,
                }
            } else {
                let views = self.views_with(len);
                if views.is_empty() {
                    return None;
                }
                let view = views[pick(x[1], views.len())];
                let offset = 4 * (u64::from(x[3]) % ((self.program.views[view].len - len) / 4 + 1));
                Ref::Direct(Range { view, offset, len })
            };
            let a = crate::model::resolve_ref(&self.program, &source, table);
            let b = crate::model::resolve_ref(&self.program, &target, table);
            if a.0 != b.0 || a.1 + a.2 <= b.1 || b.1 + b.2 <= a.1 {
                return Some(Command::Copy { source, target });
            }
        }
        None
    }
}

fn ref_len(r: &Ref) -> u64 {
    match r {
        Ref::Direct(range) => range.len,
        Ref::Slot { len, .. } => *len,
    }
}

/// `len` bytes from `data`, repeated, varied by `salt` (never four 0xFF in a row).
fn bytes(data: &[u8], len: usize, salt: u32) -> Vec<u8> {
    let mut out: Vec<u8> = (0..len)
        .map(|i| {
            data.get(i % data.len().max(1))
                .copied()
                .unwrap_or(0)
                .wrapping_add((salt as usize).wrapping_mul(i / data.len().max(1) + 1) as u8)
        })
        .collect();
    for i in 3..out.len() {
        if out[i - 3..=i].iter().all(|&b| b == 0xFF) {
            out[i] = 0;
        }
    }
    out
}

/// Workgroup counts `[x, y, z]` whose product is `total`, shaped by `c`.
fn shape(total: u64, c: u32) -> [u32; 3] {
    let divisors: Vec<u64> = (1..=total).filter(|d| total.is_multiple_of(*d)).collect();
    let a = divisors[pick(c, divisors.len())];
    let rest = total / a;
    let divisors: Vec<u64> = (1..=rest).filter(|d| rest.is_multiple_of(*d)).collect();
    let b = divisors[pick(c >> 8, divisors.len())];
    let dims = [a as u32, b as u32, (rest / b) as u32];
    match (c >> 16) % 3 {
        0 => dims,
        1 => [dims[1], dims[2], dims[0]],
        _ => [dims[2], dims[0], dims[1]],
    }
}
