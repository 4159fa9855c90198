//! Programs: what the tests run, as plain data.
//!
//! A [`Program`] names its allocations, the buffer handles ("views") over them, the semaphores it
//! uses, the command buffers it records, and a list of [`Step`]s the host performs in order:
//! queue operations, host signals and failures, host waits and handle drops. Programs are built by
//! [`crate::build`] from random choices, interpreted by [`crate::model`], and run on a device by
//! [`crate::exec`]. [`Program::to_rust`] writes one out as Rust source, so that a failing case can
//! be kept as a plain regression test.

use std::fmt::Write as _;

/// Bytes of one workgroup's tile of an elementwise kernel (64 f32 elements).
pub const TILE: u64 = 256;
/// Alignment of every dispatch binding within its allocation: IREE's kernels assume 64.
pub const BINDING_ALIGNMENT: u64 = 64;

/// Where an allocation's memory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Memory {
    /// `Allocator::allocate_buffer`, written by the host before the program starts.
    Device,
    /// Host memory the test owns, wrapped with `Allocator::import_host_memory`; released by the
    /// import's release callback.
    Imported,
    /// `Device::queue_alloca` at an [`Op::Alloca`] step; contents undefined until written;
    /// released with `queue_dealloca` after the final checks.
    Alloca,
}

/// One allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// Size in bytes (a multiple of [`TILE`]).
    pub size: u64,
    /// Where the memory comes from.
    pub memory: Memory,
    /// Seed of the initial contents (see [`initial_bytes`]); unused for [`Memory::Alloca`].
    pub seed: u64,
}

/// A buffer handle: `allocation`'s whole buffer when `offset == 0 && len == size`, otherwise a
/// `Buffer::subspan` of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// The allocation.
    pub allocation: usize,
    /// Offset of the view in the allocation (a multiple of [`BINDING_ALIGNMENT`]).
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// `[offset, offset + len)` of view `view`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The view.
    pub view: usize,
    /// Offset within the view.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// A buffer reference in a command: direct, or a binding-table slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// A view's range, named at record time.
    Direct(Range),
    /// `[offset, offset + len)` of table slot `slot`, given at submit.
    Slot {
        /// The slot.
        slot: u32,
        /// Offset within the slot's entry.
        offset: u64,
        /// Length in bytes.
        len: u64,
    },
}

/// A point on a semaphore's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tp {
    /// Index into the program's semaphores.
    pub sem: usize,
    /// The value.
    pub value: u64,
}

/// A fill pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// One byte.
    U8(u8),
    /// Two bytes, little-endian.
    U16(u16),
    /// Four bytes, little-endian.
    U32(u32),
}

impl Pattern {
    /// Width in bytes.
    pub fn width(self) -> u64 {
        match self {
            Pattern::U8(_) => 1,
            Pattern::U16(_) => 2,
            Pattern::U32(_) => 4,
        }
    }

    /// The byte at position `i` of a filled range.
    pub fn byte(self, i: u64) -> u8 {
        match self {
            Pattern::U8(v) => v,
            Pattern::U16(v) => v.to_le_bytes()[(i % 2) as usize],
            Pattern::U32(v) => v.to_le_bytes()[(i % 4) as usize],
        }
    }

    /// As the HAL spells it.
    pub fn hal(self) -> hal_core::FillPattern {
        match self {
            Pattern::U8(v) => hal_core::FillPattern::U8(v),
            Pattern::U16(v) => hal_core::FillPattern::U16(v),
            Pattern::U32(v) => hal_core::FillPattern::U32(v),
        }
    }
}

/// The kernels programs dispatch. All but the last three have the same, exact semantics in
/// every executable format when each binding is whole tiles (see [`crate::kernels`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// cts `abs`: clears the sign bit of each f32 of binding 0, in place.
    Abs,
    /// cts `write_constants`: workgroup k writes its 4 constants to u32s `[4k, 4k + 4)`.
    WriteConstants,
    /// cts `scale_offset`: `out = in * c0 + c1` (constants converted from u32 to f32).
    ScaleOffset,
    /// cts `negate`: `out = -in` (a sign flip).
    Negate,
    /// cts `double`: `out = 2 * in`.
    Double,
    /// cts `tiny`: `out = in * 1.0001 + 0.5`.
    Tiny,
    /// cts `workgroup_ids`: u32 `k` = `k`.
    WorkgroupIds,
    /// cts `visit`: u32 `k` += 1.
    Visit,
    /// cts `fail`: no bindings; fails in the `static` format, does nothing in the compiled ones.
    Fail,
    /// The `model_faults` static library's `fail_at`: like `visit`, but workgroup `c0` fails.
    FailAt,
    /// The `model_trap` WebAssembly module's `trap_at`: like `visit`, but workgroup `c0` traps.
    TrapAt,
}

/// One dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// The kernel.
    pub kernel: Kernel,
    /// Workgroup counts.
    pub workgroups: [u32; 3],
    /// Push constants.
    pub constants: Vec<u32>,
    /// Bindings.
    pub bindings: Vec<Ref>,
}

/// A recorded command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// An execution barrier.
    Barrier,
    /// A fill.
    Fill {
        /// Target.
        target: Ref,
        /// Pattern.
        pattern: Pattern,
    },
    /// An update with the given bytes.
    Update {
        /// Target (its length is `data.len()`).
        target: Ref,
        /// Bytes.
        data: Vec<u8>,
    },
    /// A copy.
    Copy {
        /// Source.
        source: Ref,
        /// Target (same length).
        target: Ref,
    },
    /// A dispatch.
    Dispatch(Dispatch),
}

/// How a command buffer is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One-shot with inline execution allowed: recorded at its (only) execute step, which waits
    /// only for work already complete.
    Inline,
    /// One-shot, deferred.
    OneShot,
    /// Reusable, with binding-table slots.
    Reusable,
}

/// A command buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandBufferSpec {
    /// Creation mode.
    pub mode: Mode,
    /// Binding-table slots.
    pub slots: u32,
    /// Commands.
    pub commands: Vec<Command>,
}

/// What a host call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCall {
    /// Appends its id to the program's host-call log and succeeds.
    Log(u32),
    /// Returns the error of fault `id` (see [`fault_status`]).
    Fail(u32),
    /// Panics with the message of fault `id`.
    Panic(u32),
}

/// A queue operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `queue_barrier`.
    Barrier,
    /// `queue_fill`.
    Fill {
        /// Target.
        target: Range,
        /// Pattern.
        pattern: Pattern,
    },
    /// `queue_update`.
    Update {
        /// Target (its length is `data.len()`).
        target: Range,
        /// Bytes.
        data: Vec<u8>,
    },
    /// `queue_copy`.
    Copy {
        /// Source.
        source: Range,
        /// Target.
        target: Range,
    },
    /// `queue_dispatch` (direct references only).
    Dispatch(Dispatch),
    /// `queue_execute` of a command buffer with a binding table.
    Execute {
        /// Index into the program's command buffers.
        command_buffer: usize,
        /// One range per slot.
        table: Vec<Range>,
    },
    /// `queue_host_call`.
    HostCall(HostCall),
    /// `queue_alloca` of an allocation of [`Memory::Alloca`] (its views exist from this step).
    Alloca {
        /// The allocation.
        allocation: usize,
    },
}

/// One step of a program, performed by the host in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A queue operation; the call must be accepted.
    Queue {
        /// Wait list.
        waits: Vec<Tp>,
        /// Signal list.
        signals: Vec<Tp>,
        /// The operation.
        op: Op,
    },
    /// The host signals `tp`, on this thread or (with `thread`) from a new thread after
    /// `delay_us` microseconds; such a thread is joined at the next signal or fail step and at
    /// the end.
    Signal {
        /// What to signal.
        tp: Tp,
        /// From another thread.
        thread: bool,
        /// That thread's delay.
        delay_us: u32,
    },
    /// The host fails semaphore `sem` with the status of fault `fault`, from a new thread when
    /// `thread` is set.
    Fail {
        /// The semaphore.
        sem: usize,
        /// The fault.
        fault: u32,
        /// From another thread.
        thread: bool,
    },
    /// The host waits (bounded) for `tps` (all of them, or any with `any`); the model says the
    /// outcome.
    Wait {
        /// Timepoints.
        tps: Vec<Tp>,
        /// `WaitMode::Any`.
        any: bool,
    },
    /// The host drops its handle of semaphore `sem`: work that only it could release is
    /// abandoned.
    Drop {
        /// The semaphore.
        sem: usize,
    },
}

/// A whole program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Allocations.
    pub allocations: Vec<Allocation>,
    /// Buffer handles over them.
    pub views: Vec<View>,
    /// How many semaphores (all created at 0).
    pub semaphores: usize,
    /// Command buffers.
    pub command_buffers: Vec<CommandBufferSpec>,
    /// Steps.
    pub steps: Vec<Step>,
}

/// The status fault `id` fails with: each fault has its own code (by id) and a message naming it,
/// so the tests can tell which fault reached a failed semaphore.
pub fn fault_status(id: u32) -> hal_core::Status {
    use hal_core::StatusCode::*;
    let codes = [Aborted, DataLoss, Unavailable, PermissionDenied, NotFound];
    hal_core::Status::new(codes[id as usize % codes.len()], fault_marker(id))
}

/// The text every status of fault `id` contains.
pub fn fault_marker(id: u32) -> String {
    format!("model fault #{id}")
}

/// The initial contents of an allocation: words drawn from `seed` mixing small integers, f32
/// values of every class (normal, subnormal, zero, infinity, NaN) and random bits. No word is
/// `u32::MAX` (the `static` `visit` kernel would overflow on it).
pub fn initial_bytes(seed: u64, size: u64) -> Vec<u8> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::with_capacity(size as usize);
    while (bytes.len() as u64) < size {
        let r = splitmix(&mut state);
        let word = match r % 8 {
            0 => (r >> 8) as u32 % 100,
            1 => (((r >> 8) as i32 % 1000) as f32).to_bits(),
            2 => (((r >> 8) as i32 % 4096) as f32 * 0.25).to_bits(),
            3 => ((r >> 8) as u32) & 0x807F_FFFF, // subnormal or zero
            4 => [
                0,
                0x8000_0000,
                0x7F80_0000,
                0xFF80_0000,
                0x7FC0_0000,
                0x7F80_0001,
                0x3F80_0000,
                0x0080_0000,
            ][((r >> 8) % 8) as usize],
            _ => (r >> 16) as u32,
        };
        let word = if word == u32::MAX { 0 } else { word };
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.truncate(size as usize);
    bytes
}

/// SplitMix64.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Program {
    /// The number of operations: queue steps plus recorded commands of executed command
    /// buffers, plus host steps.
    pub fn operation_count(&self) -> usize {
        self.steps
            .iter()
            .map(|step| match step {
                Step::Queue {
                    op: Op::Execute { command_buffer, .. },
                    ..
                } => 1 + self.command_buffers[*command_buffer].commands.len(),
                _ => 1,
            })
            .sum()
    }

    /// The program as a Rust expression (`Program { .. }`), for a regression test that uses
    /// `model_tests::program::*`.
    pub fn to_rust(&self) -> String {
        let mut s = String::new();
        s.push_str("Program {\n    allocations: vec![\n");
        for a in &self.allocations {
            let _ = writeln!(
                s,
                "        Allocation {{ size: {}, memory: Memory::{:?}, seed: {} }},",
                a.size, a.memory, a.seed
            );
        }
        s.push_str("    ],\n    views: vec![\n");
        for v in &self.views {
            let _ = writeln!(
                s,
                "        View {{ allocation: {}, offset: {}, len: {} }},",
                v.allocation, v.offset, v.len
            );
        }
        let _ = writeln!(s, "    ],\n    semaphores: {},", self.semaphores);
        s.push_str("    command_buffers: vec![\n");
        for cb in &self.command_buffers {
            let _ = writeln!(
                s,
                "        CommandBufferSpec {{ mode: Mode::{:?}, slots: {}, commands: vec![",
                cb.mode, cb.slots
            );
            for c in &cb.commands {
                let _ = writeln!(s, "            {},", rust_command(c));
            }
            s.push_str("        ] },\n");
        }
        s.push_str("    ],\n    steps: vec![\n");
        for step in &self.steps {
            let _ = writeln!(s, "        {},", rust_step(step));
        }
        s.push_str("    ],\n}");
        s
    }
}

fn rust_range(r: &Range) -> String {
    format!(
        "Range {{ view: {}, offset: {}, len: {} }}",
        r.view, r.offset, r.len
    )
}

fn rust_ref(r: &Ref) -> String {
    match r {
        Ref::Direct(r) => format!("Ref::Direct({})", rust_range(r)),
        Ref::Slot { slot, offset, len } => {
            format!("Ref::Slot {{ slot: {slot}, offset: {offset}, len: {len} }}")
        }
    }
}

fn rust_tps(tps: &[Tp]) -> String {
    let items: Vec<String> = tps
        .iter()
        .map(|t| format!("Tp {{ sem: {}, value: {} }}", t.sem, t.value))
        .collect();
    format!("vec![{}]", items.join(", "))
}

fn rust_dispatch(d: &Dispatch) -> String {
    let bindings: Vec<String> = d.bindings.iter().map(rust_ref).collect();
    format!(
        "Dispatch {{ kernel: Kernel::{:?}, workgroups: {:?}, constants: vec!{:?}, bindings: vec![{}] }}",
        d.kernel,
        d.workgroups,
        d.constants,
        bindings.join(", ")
    )
}

fn rust_command(c: &Command) -> String {
    match c {
        Command::Barrier => "Command::Barrier".into(),
        Command::Fill { target, pattern } => format!(
            "Command::Fill {{ target: {}, pattern: Pattern::{:?} }}",
            rust_ref(target),
            pattern
        ),
        Command::Update { target, data } => format!(
            "Command::Update {{ target: {}, data: vec!{:?} }}",
            rust_ref(target),
            data
        ),
        Command::Copy { source, target } => format!(
            "Command::Copy {{ source: {}, target: {} }}",
            rust_ref(source),
            rust_ref(target)
        ),
        Command::Dispatch(d) => format!("Command::Dispatch({})", rust_dispatch(d)),
    }
}

fn rust_op(op: &Op) -> String {
    match op {
        Op::Barrier => "Op::Barrier".into(),
        Op::Fill { target, pattern } => format!(
            "Op::Fill {{ target: {}, pattern: Pattern::{:?} }}",
            rust_range(target),
            pattern
        ),
        Op::Update { target, data } => format!(
            "Op::Update {{ target: {}, data: vec!{:?} }}",
            rust_range(target),
            data
        ),
        Op::Copy { source, target } => format!(
            "Op::Copy {{ source: {}, target: {} }}",
            rust_range(source),
            rust_range(target)
        ),
        Op::Dispatch(d) => format!("Op::Dispatch({})", rust_dispatch(d)),
        Op::Execute {
            command_buffer,
            table,
        } => {
            let table: Vec<String> = table.iter().map(rust_range).collect();
            format!(
                "Op::Execute {{ command_buffer: {command_buffer}, table: vec![{}] }}",
                table.join(", ")
            )
        }
        Op::HostCall(call) => format!("Op::HostCall(HostCall::{call:?})"),
        Op::Alloca { allocation } => format!("Op::Alloca {{ allocation: {allocation} }}"),
    }
}

fn rust_step(step: &Step) -> String {
    match step {
        Step::Queue { waits, signals, op } => format!(
            "Step::Queue {{ waits: {}, signals: {}, op: {} }}",
            rust_tps(waits),
            rust_tps(signals),
            rust_op(op)
        ),
        Step::Signal {
            tp,
            thread,
            delay_us,
        } => format!(
            "Step::Signal {{ tp: Tp {{ sem: {}, value: {} }}, thread: {thread}, delay_us: {delay_us} }}",
            tp.sem, tp.value
        ),
        Step::Fail { sem, fault, thread } => {
            format!("Step::Fail {{ sem: {sem}, fault: {fault}, thread: {thread} }}")
        }
        Step::Wait { tps, any } => format!("Step::Wait {{ tps: {}, any: {any} }}", rust_tps(tps)),
        Step::Drop { sem } => format!("Step::Drop {{ sem: {sem} }}"),
    }
}
