//! What makes a program's result deterministic, checked independently of how it was built.
//!
//! [`check_well_ordered`] accepts a program only if every valid execution gives the same bytes
//! and semaphore values, so that the model's one order ([`crate::model`]) is the answer:
//!
//! - every reference is in bounds, every dispatch binding is 64-byte aligned in its allocation
//!   and exactly `workgroups × tile` bytes (the IREE-compiled kernels always process whole
//!   tiles), fills are aligned to their pattern;
//! - the signals of one semaphore are totally ordered (by semaphores, or by the host's program
//!   order), in increasing values;
//! - any two queue operations that touch the same bytes where one writes are ordered by
//!   semaphores, the later-submitted one after the earlier; an inline command buffer (which may
//!   run while it is recorded) is recorded only after everything it conflicts with is known to be
//!   complete (a host `wait(All)` covered it) and waits only for what is reached;
//! - within one region of a command buffer (between barriers, as resolved with each binding
//!   table) no two commands conflict; no dispatch's written binding overlaps another of its
//!   bindings; no copy's source overlaps its target.

use std::collections::BTreeSet;

use crate::model::{command_uses, op_uses, resolve, resolve_ref, Use};
use crate::program::*;

/// Checks the rules above; the error names the first broken one.
pub fn check_well_ordered(program: &Program) -> Result<(), String> {
    check_shapes(program)?;
    let n = program.steps.len();
    // Signallers of each semaphore: (value, step).
    let mut signallers: Vec<Vec<(u64, usize)>> = vec![Vec::new(); program.semaphores];
    let mut failed: Vec<bool> = vec![false; program.semaphores];
    for (index, step) in program.steps.iter().enumerate() {
        match step {
            Step::Queue { signals, .. } => {
                for tp in signals {
                    signallers[tp.sem].push((tp.value, index));
                }
            }
            Step::Signal { tp, .. } => signallers[tp.sem].push((tp.value, index)),
            Step::Fail { sem, .. } => failed[*sem] = true,
            _ => {}
        }
    }
    for (sem, list) in signallers.iter_mut().enumerate() {
        list.sort_unstable();
        if list.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(format!("semaphore {sem} is signalled to one value twice"));
        }
        if failed[sem] && !list.is_empty() {
            return Err(format!(
                "semaphore {sem} is both failed by the host and signalled"
            ));
        }
    }
    let signaller = |tp: &Tp| -> Option<usize> {
        signallers[tp.sem]
            .iter()
            .find(|(v, _)| *v >= tp.value)
            .map(|&(_, s)| s)
    };
    // Happens-before among queue steps.
    let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (index, step) in program.steps.iter().enumerate() {
        let Step::Queue { waits, .. } = step else {
            continue;
        };
        let mut set = BTreeSet::new();
        for tp in waits {
            if let Some(s) = signaller(tp) {
                if let Step::Queue { .. } = program.steps[s] {
                    if s >= index {
                        return Err(format!(
                            "step {index} waits for step {s}, which is submitted after it"
                        ));
                    }
                    set.insert(s);
                    set.extend(preds[s].iter().copied());
                }
            }
        }
        preds[index] = set;
    }
    // Signals of one semaphore in order.
    for (sem, list) in signallers.iter().enumerate() {
        for pair in list.windows(2) {
            let ((_, a), (_, b)) = (pair[0], pair[1]);
            match (&program.steps[a], &program.steps[b]) {
                (Step::Queue { .. }, Step::Queue { .. }) => {
                    if !preds[b].contains(&a) {
                        return Err(format!(
                            "semaphore {sem}: step {b} signals a higher value than step {a} but is not ordered after it"
                        ));
                    }
                }
                (Step::Signal { .. }, Step::Signal { .. }) => {
                    if b < a {
                        return Err(format!(
                            "semaphore {sem}: the host signals a higher value first (steps {b}, {a})"
                        ));
                    }
                }
                _ => {
                    return Err(format!(
                        "semaphore {sem} is signalled by both the host and queue operations"
                    ))
                }
            }
        }
    }
    // Conflicts, inline command buffers and regions.
    let uses: Vec<Vec<Use>> = program
        .steps
        .iter()
        .map(|step| match step {
            Step::Queue { op, .. } => op_uses(program, op),
            _ => Vec::new(),
        })
        .collect();
    let mut known_complete: BTreeSet<usize> = BTreeSet::new();
    let mut host_signalled: BTreeSet<usize> = BTreeSet::new();
    for (j, step) in program.steps.iter().enumerate() {
        match step {
            Step::Wait { tps, any: false } => {
                for tp in tps {
                    if let Some(s) = signaller(tp) {
                        if let Step::Queue { .. } = program.steps[s] {
                            known_complete.insert(s);
                            known_complete.extend(preds[s].iter().copied());
                        }
                    }
                }
            }
            Step::Signal { thread: false, .. } => {
                host_signalled.insert(j);
            }
            Step::Queue { waits, op, .. } => {
                let inline = matches!(op, Op::Execute { command_buffer, .. }
                    if program.command_buffers[*command_buffer].mode == Mode::Inline);
                for i in 0..j {
                    let conflict = uses[i]
                        .iter()
                        .any(|a| uses[j].iter().any(|b| a.conflicts(b)));
                    if !conflict {
                        continue;
                    }
                    let ordered = if inline {
                        known_complete.contains(&i)
                    } else {
                        preds[j].contains(&i)
                    };
                    if !ordered {
                        return Err(format!(
                            "steps {i} and {j} touch the same bytes (one writes) but step {j} is not ordered after step {i}{}",
                            if inline { " (inline: not known complete)" } else { "" }
                        ));
                    }
                }
                if inline {
                    for tp in waits {
                        let reached = signaller(tp).is_some_and(|s| {
                            known_complete.contains(&s) || host_signalled.contains(&s)
                        });
                        if !reached {
                            return Err(format!(
                                "inline command buffer of step {j} waits for {tp:?}, not reached when it is recorded"
                            ));
                        }
                    }
                }
                check_op_internals(program, j, op)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn overlaps(a: &Use, b: &Use) -> bool {
    a.allocation == b.allocation && a.start < b.end && b.start < a.end
}

fn check_dispatch_aliasing(uses: &[Use], what: &str) -> Result<(), String> {
    for (i, a) in uses.iter().enumerate() {
        for (k, b) in uses.iter().enumerate() {
            if i != k && a.writes && overlaps(a, b) {
                return Err(format!("{what}: written binding {i} overlaps binding {k}"));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_op_internals(program: &Program, index: usize, op: &Op) -> Result<(), String> {
    let what = format!("step {index}");
    match op {
        Op::Copy { .. } => {
            let uses = op_uses(program, op);
            if overlaps(&uses[0], &uses[1]) {
                return Err(format!("{what}: copy source and target overlap"));
            }
        }
        Op::Dispatch(_) => check_dispatch_aliasing(&op_uses(program, op), &what)?,
        Op::Execute {
            command_buffer,
            table,
        } => {
            let mut region: Vec<(usize, Vec<Use>)> = Vec::new();
            for (c, command) in program.command_buffers[*command_buffer]
                .commands
                .iter()
                .enumerate()
            {
                if let Command::Barrier = command {
                    region.clear();
                    continue;
                }
                let uses = command_uses(program, command, table);
                match command {
                    Command::Copy { .. } if overlaps(&uses[0], &uses[1]) => {
                        return Err(format!(
                            "{what}: command {c}: copy source and target overlap"
                        ));
                    }
                    Command::Dispatch(_) => {
                        check_dispatch_aliasing(&uses, &format!("{what}: command {c}"))?
                    }
                    _ => {}
                }
                for (other, other_uses) in &region {
                    if uses
                        .iter()
                        .any(|a| other_uses.iter().any(|b| a.conflicts(b)))
                    {
                        return Err(format!(
                            "{what}: commands {other} and {c} of one region conflict"
                        ));
                    }
                }
                region.push((c, uses));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Bounds, shapes and alignment.
fn check_shapes(program: &Program) -> Result<(), String> {
    for (v, view) in program.views.iter().enumerate() {
        let allocation = program
            .allocations
            .get(view.allocation)
            .ok_or(format!("view {v}: no allocation {}", view.allocation))?;
        if view.offset + view.len > allocation.size || view.offset % BINDING_ALIGNMENT != 0 {
            return Err(format!("view {v} is out of bounds or misaligned"));
        }
    }
    let range_ok = |r: &Range| -> Result<(), String> {
        let view = program
            .views
            .get(r.view)
            .ok_or(format!("no view {}", r.view))?;
        if r.offset + r.len > view.len {
            return Err(format!("range {r:?} is past its view's {} bytes", view.len));
        }
        Ok(())
    };
    let mut executed = vec![0usize; program.command_buffers.len()];
    let mut alloca_done: BTreeSet<usize> = BTreeSet::new();
    for (index, step) in program.steps.iter().enumerate() {
        let check_tp = |tp: &Tp| {
            if tp.sem >= program.semaphores {
                Err(format!("step {index}: no semaphore {}", tp.sem))
            } else {
                Ok(())
            }
        };
        match step {
            Step::Queue { waits, signals, op } => {
                waits.iter().chain(signals).try_for_each(check_tp)?;
                let mut ranges: Vec<Range> = Vec::new();
                match op {
                    Op::Fill { target, pattern } => {
                        if target.offset % pattern.width() != 0 || target.len % pattern.width() != 0
                        {
                            return Err(format!("step {index}: misaligned fill"));
                        }
                        ranges.push(*target);
                    }
                    Op::Update { target, data } => {
                        if target.len != data.len() as u64 {
                            return Err(format!("step {index}: update length"));
                        }
                        ranges.push(*target);
                    }
                    Op::Copy { source, target } => {
                        if source.len != target.len {
                            return Err(format!("step {index}: copy lengths differ"));
                        }
                        ranges.extend([*source, *target]);
                    }
                    Op::Dispatch(d) => {
                        for b in &d.bindings {
                            match b {
                                Ref::Direct(r) => ranges.push(*r),
                                Ref::Slot { .. } => {
                                    return Err(format!("step {index}: queue dispatch with a slot"))
                                }
                            }
                        }
                        check_dispatch_shape(program, d, &[])
                            .map_err(|e| format!("step {index}: {e}"))?;
                    }
                    Op::Execute {
                        command_buffer,
                        table,
                    } => {
                        let cb = program
                            .command_buffers
                            .get(*command_buffer)
                            .ok_or(format!("step {index}: no command buffer {command_buffer}"))?;
                        executed[*command_buffer] += 1;
                        if cb.mode != Mode::Reusable && executed[*command_buffer] > 1 {
                            return Err(format!(
                                "step {index}: one-shot command buffer executed twice"
                            ));
                        }
                        if cb.mode == Mode::Inline && cb.slots != 0 {
                            return Err(format!("step {index}: inline command buffer with slots"));
                        }
                        if table.len() != cb.slots as usize {
                            return Err(format!("step {index}: table size"));
                        }
                        ranges.extend(table.iter().copied());
                        for command in &cb.commands {
                            check_command(program, command, table)
                                .map_err(|e| format!("step {index}: {e}"))?;
                            let mut refs: Vec<&Ref> = Vec::new();
                            match command {
                                Command::Fill { target, .. } | Command::Update { target, .. } => {
                                    refs.push(target)
                                }
                                Command::Copy { source, target } => refs.extend([source, target]),
                                Command::Dispatch(d) => refs.extend(d.bindings.iter()),
                                Command::Barrier => {}
                            }
                            for r in refs {
                                if let Ref::Direct(range) = r {
                                    ranges.push(*range);
                                }
                            }
                        }
                    }
                    Op::Alloca { allocation } => {
                        if program.allocations[*allocation].memory != Memory::Alloca {
                            return Err(format!("step {index}: alloca of a non-alloca allocation"));
                        }
                        alloca_done.insert(*allocation);
                    }
                    Op::Barrier | Op::HostCall(_) => {}
                }
                for r in &ranges {
                    range_ok(r).map_err(|e| format!("step {index}: {e}"))?;
                    let allocation = program.views[r.view].allocation;
                    if program.allocations[allocation].memory == Memory::Alloca
                        && !alloca_done.contains(&allocation)
                    {
                        return Err(format!(
                            "step {index}: uses allocation {allocation} before its alloca"
                        ));
                    }
                }
            }
            Step::Signal { tp, .. } => check_tp(tp)?,
            Step::Wait { tps, .. } => tps.iter().try_for_each(check_tp)?,
            Step::Fail { sem, .. } | Step::Drop { sem } => check_tp(&Tp {
                sem: *sem,
                value: 0,
            })?,
        }
    }
    Ok(())
}

fn check_command(program: &Program, command: &Command, table: &[Range]) -> Result<(), String> {
    let slot_ok = |r: &Ref| -> Result<(), String> {
        if let Ref::Slot { slot, offset, len } = r {
            let entry = table.get(*slot as usize).ok_or(format!("no slot {slot}"))?;
            if offset + len > entry.len {
                return Err(format!("slot {slot} range past its entry"));
            }
        }
        Ok(())
    };
    let len = |r: &Ref| match r {
        Ref::Direct(range) => range.len,
        Ref::Slot { len, .. } => *len,
    };
    match command {
        Command::Barrier => Ok(()),
        Command::Fill { target, pattern } => {
            slot_ok(target)?;
            let (_, start, length) = resolve_ref(program, target, table);
            let offset_in_buffer = match target {
                Ref::Direct(r) => r.offset,
                Ref::Slot { offset, .. } => *offset,
            };
            let _ = start;
            if offset_in_buffer % pattern.width() != 0 || length % pattern.width() != 0 {
                return Err("misaligned fill command".into());
            }
            Ok(())
        }
        Command::Update { target, data } => {
            slot_ok(target)?;
            if len(target) != data.len() as u64 {
                return Err("update command length".into());
            }
            Ok(())
        }
        Command::Copy { source, target } => {
            slot_ok(source)?;
            slot_ok(target)?;
            if len(source) != len(target) {
                return Err("copy command lengths differ".into());
            }
            Ok(())
        }
        Command::Dispatch(d) => {
            d.bindings.iter().try_for_each(slot_ok)?;
            check_dispatch_shape(program, d, table)
        }
    }
}

fn check_dispatch_shape(program: &Program, d: &Dispatch, table: &[Range]) -> Result<(), String> {
    let kernel = d.kernel;
    if d.constants.len() != kernel.constant_count() || d.bindings.len() != kernel.bindings().len() {
        return Err(format!("{kernel:?}: constant or binding count"));
    }
    let total: u64 = d.workgroups.iter().map(|&c| u64::from(c)).product();
    for b in &d.bindings {
        let (_, start, len) = resolve_ref(program, b, table);
        if start % BINDING_ALIGNMENT != 0 {
            return Err(format!(
                "{kernel:?}: binding at {start} is not 64-byte aligned"
            ));
        }
        if len != total * kernel.tile_bytes() {
            return Err(format!(
                "{kernel:?}: binding of {len} bytes for {total} workgroups of {} bytes",
                kernel.tile_bytes()
            ));
        }
    }
    let _ = resolve;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(steps: Vec<Step>, command_buffers: Vec<CommandBufferSpec>) -> Program {
        Program {
            allocations: vec![Allocation {
                size: 4 * TILE,
                memory: Memory::Device,
                seed: 1,
            }],
            views: vec![
                View {
                    allocation: 0,
                    offset: 0,
                    len: 4 * TILE,
                },
                View {
                    allocation: 0,
                    offset: TILE,
                    len: TILE,
                },
            ],
            semaphores: 3,
            command_buffers,
            steps,
        }
    }

    fn fill(view: usize, offset: u64, waits: Vec<Tp>, signal: Tp) -> Step {
        Step::Queue {
            waits,
            signals: vec![signal],
            op: Op::Fill {
                target: Range {
                    view,
                    offset,
                    len: 64,
                },
                pattern: Pattern::U8(1),
            },
        }
    }

    const A: Tp = Tp { sem: 0, value: 1 };
    const B: Tp = Tp { sem: 1, value: 1 };

    #[test]
    fn unordered_writes_to_the_same_bytes_are_refused() {
        // View 1 starts at TILE: its byte 0 is view 0's byte TILE.
        let racy = program(
            vec![fill(0, TILE, vec![], A), fill(1, 0, vec![], B)],
            vec![],
        );
        let error = check_well_ordered(&racy).unwrap_err();
        assert!(error.contains("not ordered"), "{error}");
        let ordered = program(
            vec![fill(0, TILE, vec![], A), fill(1, 0, vec![A], B)],
            vec![],
        );
        check_well_ordered(&ordered).unwrap();
        let disjoint = program(vec![fill(0, 0, vec![], A), fill(1, 0, vec![], B)], vec![]);
        check_well_ordered(&disjoint).unwrap();
    }

    #[test]
    fn unordered_signals_of_one_semaphore_are_refused() {
        let steps = vec![
            fill(0, 0, vec![], A),
            fill(0, 128, vec![], Tp { sem: 0, value: 2 }),
        ];
        let error = check_well_ordered(&program(steps, vec![])).unwrap_err();
        assert!(error.contains("not ordered after"), "{error}");
    }

    #[test]
    fn regions_and_inline_command_buffers() {
        let fill_command = |offset| Command::Fill {
            target: Ref::Direct(Range {
                view: 0,
                offset,
                len: 64,
            }),
            pattern: Pattern::U8(2),
        };
        let execute = |waits| Step::Queue {
            waits,
            signals: vec![B],
            op: Op::Execute {
                command_buffer: 0,
                table: vec![],
            },
        };
        // Two fills of the same bytes in one region conflict; a barrier orders them.
        let same_region = CommandBufferSpec {
            mode: Mode::OneShot,
            slots: 0,
            commands: vec![fill_command(0), fill_command(32)],
        };
        let error =
            check_well_ordered(&program(vec![execute(vec![])], vec![same_region])).unwrap_err();
        assert!(error.contains("of one region conflict"), "{error}");
        let with_barrier = CommandBufferSpec {
            mode: Mode::OneShot,
            slots: 0,
            commands: vec![fill_command(0), Command::Barrier, fill_command(32)],
        };
        check_well_ordered(&program(vec![execute(vec![])], vec![with_barrier])).unwrap();
        // An inline command buffer after conflicting work needs a host wait, not just a wait.
        let inline = CommandBufferSpec {
            mode: Mode::Inline,
            slots: 0,
            commands: vec![fill_command(0)],
        };
        let waits_only = vec![fill(0, 0, vec![], A), execute(vec![A])];
        let error = check_well_ordered(&program(waits_only, vec![inline.clone()])).unwrap_err();
        assert!(error.contains("inline"), "{error}");
        let host_waited = vec![
            fill(0, 0, vec![], A),
            Step::Wait {
                tps: vec![A],
                any: false,
            },
            execute(vec![A]),
        ];
        check_well_ordered(&program(host_waited, vec![inline])).unwrap();
    }

    #[test]
    fn dispatch_shapes_are_whole_aligned_tiles() {
        let dispatch = |offset, len, workgroups| Step::Queue {
            waits: vec![],
            signals: vec![A],
            op: Op::Dispatch(Dispatch {
                kernel: Kernel::Abs,
                workgroups,
                constants: vec![],
                bindings: vec![Ref::Direct(Range {
                    view: 0,
                    offset,
                    len,
                })],
            }),
        };
        check_well_ordered(&program(vec![dispatch(64, 2 * TILE, [2, 1, 1])], vec![])).unwrap();
        for bad in [
            dispatch(32, TILE, [1, 1, 1]),
            dispatch(0, TILE, [2, 1, 1]),
            dispatch(0, TILE - 4, [1, 1, 1]),
        ] {
            assert!(check_well_ordered(&program(vec![bad], vec![])).is_err());
        }
    }
}
