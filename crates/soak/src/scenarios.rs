//! The scenarios a thread picks from, at random, until its time is up. Each builds a small
//! program of queue operations, command buffers, host calls and host signals, submits it (often
//! out of order: every operation waits for its predecessor's semaphore value, so any submission
//! order is valid and much of the work parks first), and checks every result against a model
//! computed on the host.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use hal_core::{
    BufferParams, BufferRef, CommandBufferMode, CommandBufferParams, CommandCategory, FillPattern,
    Status, StatusCode, Timeout, Timepoint, WaitMode, Workgroups, WHOLE_BUFFER,
};

use crate::env::{self, Kernels, REUSABLE_TILES, RING_WIDTH, TILE};
use crate::timeout::WAIT;
use crate::worker::{f32_bytes, u32_bytes, Ticket, Worker};

/// What an injected failure's message starts with (the panic hook keeps injected panics quiet).
pub(crate) const INJECTED: &str = "soak injected failure";

pub(crate) type Scenario = fn(&mut Worker<'_>) -> Result<()>;

/// The scenarios with their weights.
const SCENARIOS: &[(&str, u64, Scenario)] = &[
    ("queue transfers", 4, transfers),
    ("queue dispatches", 4, dispatches),
    ("one-shot command buffer", 3, one_shot),
    ("reusable command buffer", 3, reusable),
    ("host calls", 2, host_calls),
    ("host signals and waits", 2, host_gate),
    ("ring across threads", 2, ring),
    ("injected failure", 3, injected_failure),
    ("queue alloca", 1, alloca),
];

/// Preparing executables is slow (the wasm format compiles each one): 1 round in this many.
const EXECUTABLES_ONE_IN: u64 = 256;

/// Runs one scenario picked at random.
pub(crate) fn run_one(w: &mut Worker<'_>) {
    let (name, scenario): (&'static str, Scenario) = if w.rng.one_in(EXECUTABLES_ONE_IN) {
        ("executables", executables)
    } else {
        let total: u64 = SCENARIOS.iter().map(|(_, weight, _)| weight).sum();
        let mut pick = w.rng.below(total);
        let mut chosen = SCENARIOS[0];
        for entry in SCENARIOS {
            if pick < entry.1 {
                chosen = *entry;
                break;
            }
            pick -= entry.1;
        }
        (chosen.0, chosen.2)
    };
    w.enter(name);
    run_checked(w, scenario);
}

/// Runs `scenario` and accounts for it: its operations count as checked if it ran to its
/// checks; an unexpected error or a panic is a lost result.
pub(crate) fn run_checked(w: &mut Worker<'_>, scenario: Scenario) {
    w.ops = 0;
    let result = catch_unwind(AssertUnwindSafe(|| scenario(w)));
    w.stats.ops += w.ops;
    w.stats.scenarios += 1;
    match result {
        Ok(Ok(())) => w.stats.checked += w.ops,
        Ok(Err(error)) => w.lose(format!("unexpected error: {error:#}")),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string payload".into());
            w.lose(format!("panicked: {message}"));
        }
    }
    w.ops = 0;
}

/// Submits `ops` in order, reversed or shuffled (each waits for its predecessor's value, so
/// every order is valid), counting one operation each.
fn submit_in_any_order<'a>(
    w: &mut Worker<'_>,
    mut ops: Vec<Box<dyn FnOnce() -> hal_core::Result<()> + 'a>>,
) -> Result<()> {
    match w.rng.below(3) {
        0 => {}
        1 => ops.reverse(),
        _ => w.rng.shuffle(&mut ops),
    }
    for op in ops {
        op()?;
        w.op();
    }
    Ok(())
}

/// Waits (one host operation) until every timepoint is reached; a failure or timeout is lost.
fn expect_all(w: &mut Worker<'_>, timepoints: &[Timepoint], what: &str) -> bool {
    w.op();
    let result = w
        .env
        .device
        .wait_semaphores(WaitMode::All, timepoints, WAIT);
    w.check(result.is_ok(), || {
        format!("{what}: {}", result.expect_err("checked"))
    })
}

fn random_pattern(w: &mut Worker<'_>) -> FillPattern {
    match w.rng.below(3) {
        0 => FillPattern::U8(w.rng.next() as u8),
        1 => FillPattern::U16(w.rng.next() as u16),
        _ => FillPattern::U32(w.rng.next() as u32),
    }
}

/// A random fill of `[offset, offset + length)` inside `len` bytes, aligned to the pattern.
fn random_fill_range(w: &mut Worker<'_>, len: usize, pattern: FillPattern) -> (usize, usize) {
    let width = pattern.width() as usize;
    let offset = width * w.rng.below((len / width) as u64) as usize;
    let length = width * w.rng.range(1, ((len - offset) / width) as u64) as usize;
    (offset, length)
}

/// One planned queue transfer of [`transfers`].
enum Transfer {
    Fill(usize, usize, usize, FillPattern),
    Update(usize, usize, Vec<u8>),
    Copy(usize, usize, usize, usize, usize),
}

/// A chain of 3 to 8 queue fills, updates and copies between two buffers, submitted in any
/// order; both buffers must end as the host model says.
fn transfers(w: &mut Worker<'_>) -> Result<()> {
    let device = &w.env.device;
    let len = 64 * w.rng.range(1, 32) as usize;
    let buffers = [w.buffer(len)?, w.buffer(len)?];
    let mut model = [vec![0u8; len], vec![0u8; len]];
    let count = w.rng.range(3, 8) as usize;
    let mut plan = Vec::new();
    for _ in 0..count {
        let target = w.rng.below(2) as usize;
        plan.push(match w.rng.below(3) {
            0 => {
                let pattern = random_pattern(w);
                let (offset, length) = random_fill_range(w, len, pattern);
                hal_core::fill_bytes(&mut model[target][offset..offset + length], pattern);
                Transfer::Fill(target, offset, length, pattern)
            }
            1 => {
                let offset = w.rng.below(len as u64) as usize;
                let length = w.rng.range(1, (len - offset).min(256) as u64) as usize;
                let data = w.rng.bytes(length);
                model[target][offset..offset + length].copy_from_slice(&data);
                Transfer::Update(target, offset, data)
            }
            _ => {
                let source = 1 - target;
                let source_offset = w.rng.below(len as u64) as usize;
                let target_offset = w.rng.below(len as u64) as usize;
                let most = (len - source_offset).min(len - target_offset);
                let length = w.rng.range(1, most as u64) as usize;
                let bytes = model[source][source_offset..source_offset + length].to_vec();
                model[target][target_offset..target_offset + length].copy_from_slice(&bytes);
                Transfer::Copy(source, source_offset, target, target_offset, length)
            }
        });
    }
    let s = w.semaphore()?;
    let mut ops: Vec<Box<dyn FnOnce() -> hal_core::Result<()> + '_>> = Vec::new();
    for (k, transfer) in plan.iter().enumerate() {
        let (waits, signals) = ([s.at(k as u64)], [s.at(k as u64 + 1)]);
        let buffers = &buffers;
        ops.push(match transfer {
            Transfer::Fill(target, offset, length, pattern) => Box::new(move || {
                device.queue_fill(
                    &waits,
                    &signals,
                    &buffers[*target],
                    *offset as u64,
                    *length as u64,
                    *pattern,
                )
            }),
            Transfer::Update(target, offset, data) => Box::new(move || {
                device.queue_update(&waits, &signals, data, &buffers[*target], *offset as u64)
            }),
            Transfer::Copy(source, source_offset, target, target_offset, length) => {
                Box::new(move || {
                    device.queue_copy(
                        &waits,
                        &signals,
                        &buffers[*source],
                        *source_offset as u64,
                        &buffers[*target],
                        *target_offset as u64,
                        *length as u64,
                    )
                })
            }
        });
    }
    submit_in_any_order(w, ops)?;
    if w.expect_reached(&s, count as u64, "the last of a chain of queue transfers") {
        w.expect_bytes(&buffers[0], &model[0], "buffer A after queue transfers")?;
        w.expect_bytes(&buffers[1], &model[1], "buffer B after queue transfers")?;
    }
    Ok(())
}

/// Queue dispatches of most kernels over 1 to 8 whole tiles in 1-3D grids, on two chains
/// (static and sometimes indirect workgroup counts), submitted in any order.
///
/// Main chain `s`: update input ← x; `negate` input → mid; `double` mid → out; `abs` out.
/// Side chain `u`: update params ← grid; `workgroup_ids`; `write_constants`; `scale_offset`
/// input → scaled (also waits for the input); sometimes `copy_via_local_memory`.
fn dispatches(w: &mut Worker<'_>) -> Result<()> {
    let env = w.env;
    let (device, k) = (&env.device, &env.kernels);
    let tiles = w.rng.range(1, 8) as u32;
    let n = TILE * tiles as usize;
    let x = w.ints(n);
    let [input, mid, out, scaled] = [
        w.buffer(4 * n)?,
        w.buffer(4 * n)?,
        w.buffer(4 * n)?,
        w.buffer(4 * n)?,
    ];
    let ids = w.buffer(4 * tiles as usize)?;
    let written = w.buffer(16 * tiles as usize)?;
    let params = w.buffer(12)?;
    let constants: [u32; 4] = std::array::from_fn(|_| w.rng.next() as u32);
    let (scale, offset) = (w.rng.range(0, 7) as u32, w.rng.below(1000) as u32);
    let grid = w.shape(tiles);
    let indirect = w.rng.one_in(3);
    // copy_via_local_memory owns 1024 elements per workgroup.
    let local_tiles = w.rng.range(1, 2) as u32;
    let local_input: Vec<u32> = (0..1024 * local_tiles)
        .map(|_| w.rng.next() as u32)
        .collect();
    let with_local = w.rng.one_in(4);
    let local_in = w.buffer(local_input.len() * 4)?;
    local_in.write_elements(0, &local_input)?;
    let local_out = w.buffer(local_input.len() * 4)?;
    let (s, u) = (w.semaphore()?, w.semaphore()?);
    let x_bytes = f32_bytes(&x);
    let grid_bytes = u32_bytes(&grid);
    let whole = BufferRef::whole;

    let dispatch = move |waits: Vec<Timepoint>,
                         signal: Timepoint,
                         ordinal: u32,
                         workgroups: Workgroups<'_>,
                         constants: &[u32],
                         bindings: &[BufferRef<'_>]| {
        device.queue_dispatch(
            &waits,
            &[signal],
            &k.exe,
            ordinal,
            workgroups,
            constants,
            bindings,
        )
    };
    let mut ops: Vec<Box<dyn FnOnce() -> hal_core::Result<()> + '_>> = vec![
        Box::new(|| device.queue_update(&[], &[s.at(1)], &x_bytes, &input, 0)),
        Box::new(|| {
            let mut waits = vec![s.at(1)];
            let workgroups = if indirect {
                waits.push(u.at(1));
                Workgroups::Indirect(whole(&params))
            } else {
                Workgroups::Static(grid)
            };
            dispatch(
                waits,
                s.at(2),
                k.negate,
                workgroups,
                &[],
                &[whole(&input), whole(&mid)],
            )
        }),
        Box::new(|| {
            dispatch(
                vec![s.at(2)],
                s.at(3),
                k.double,
                Workgroups::Static(grid),
                &[],
                &[whole(&mid), whole(&out)],
            )
        }),
        Box::new(|| {
            dispatch(
                vec![s.at(3)],
                s.at(4),
                k.abs,
                Workgroups::Static(grid),
                &[],
                &[whole(&out)],
            )
        }),
        Box::new(|| device.queue_update(&[], &[u.at(1)], &grid_bytes, &params, 0)),
        Box::new(|| {
            dispatch(
                vec![u.at(1)],
                u.at(2),
                k.workgroup_ids,
                Workgroups::Static(grid),
                &[],
                &[whole(&ids)],
            )
        }),
        Box::new(|| {
            dispatch(
                vec![u.at(2)],
                u.at(3),
                k.write_constants,
                Workgroups::Static(grid),
                &constants,
                &[whole(&written)],
            )
        }),
        Box::new(|| {
            dispatch(
                vec![u.at(3), s.at(1)],
                u.at(4),
                k.scale_offset,
                Workgroups::Static(grid),
                &[scale, offset],
                &[whole(&input), whole(&scaled)],
            )
        }),
    ];
    if with_local {
        ops.push(Box::new(|| {
            dispatch(
                vec![u.at(4)],
                u.at(5),
                k.copy_via_local_memory,
                Workgroups::Static([local_tiles, 1, 1]),
                &[],
                &[whole(&local_in), whole(&local_out)],
            )
        }));
    }
    submit_in_any_order(w, ops)?;
    let side = if with_local { 5 } else { 4 };
    if !expect_all(w, &[s.at(4), u.at(side)], "the ends of two dispatch chains") {
        return Ok(());
    }
    let negated: Vec<f32> = x.iter().map(|v| -v).collect();
    let result: Vec<f32> = x.iter().map(|v| (2.0 * v).abs()).collect();
    let scaled_model: Vec<f32> = x.iter().map(|v| v * scale as f32 + offset as f32).collect();
    let id_model: Vec<u32> = (0..tiles).collect();
    let written_model: Vec<u32> = (0..tiles).flat_map(|_| constants).collect();
    w.expect_f32(&mid, &negated, "negate over the input")?;
    w.expect_f32(&out, &result, "abs(double(negate(x)))")?;
    w.expect_f32(&scaled, &scaled_model, "scale_offset over the input")?;
    w.expect_u32(&ids, &id_model, "workgroup_ids")?;
    w.expect_u32(&written, &written_model, "write_constants")?;
    if with_local {
        w.expect_u32(&local_out, &local_input, "copy_via_local_memory")?;
    }
    Ok(())
}

/// A one-shot command buffer (inline execution allowed, mostly): fill, barrier, update,
/// barrier, copy and `negate`, barrier, `abs` and `workgroup_ids`; submitted with nothing to
/// wait for.
fn one_shot(w: &mut Worker<'_>) -> Result<()> {
    let env = w.env;
    let (device, k) = (&env.device, &env.kernels);
    let tiles = w.rng.range(1, 8) as u32;
    let n = TILE * tiles as usize;
    let x = w.ints(n);
    let input = w.buffer_f32(&x)?;
    let (c, ids) = (w.buffer(4 * n)?, w.buffer(4 * tiles as usize)?);
    let len = 64 * w.rng.range(1, 16) as usize;
    let (a, b) = (w.buffer(len)?, w.buffer(len)?);
    let (mut model_a, mut model_b) = (vec![0u8; len], vec![0u8; len]);
    let pattern = random_pattern(w);
    let (fill_offset, fill_length) = random_fill_range(w, len, pattern);
    hal_core::fill_bytes(
        &mut model_a[fill_offset..fill_offset + fill_length],
        pattern,
    );
    let update_offset = w.rng.below(len as u64) as usize;
    let data_len = w.rng.range(1, (len - update_offset).min(512) as u64) as usize;
    let data = w.rng.bytes(data_len);
    model_a[update_offset..update_offset + data.len()].copy_from_slice(&data);
    let (source, target) = (
        w.rng.below(len as u64) as usize,
        w.rng.below(len as u64) as usize,
    );
    let copy_length = w.rng.range(1, (len - source).min(len - target) as u64) as usize;
    model_b[target..target + copy_length].copy_from_slice(&model_a[source..source + copy_length]);
    let grid = Workgroups::Static(w.shape(tiles));
    let inline = !w.rng.one_in(4);
    let mut mode = CommandBufferMode::ONE_SHOT;
    if inline {
        mode |= CommandBufferMode::ALLOW_INLINE_EXECUTION;
    }
    let mut cb = device.create_command_buffer(CommandBufferParams {
        mode,
        categories: CommandCategory::ANY,
        binding_capacity: 0,
    })?;
    cb.begin()?;
    cb.fill(
        BufferRef::range(&a, fill_offset as u64, fill_length as u64),
        pattern,
    )?;
    cb.execution_barrier()?;
    cb.update(
        &data,
        BufferRef::range(&a, update_offset as u64, data.len() as u64),
    )?;
    cb.execution_barrier()?;
    cb.copy(
        BufferRef::range(&a, source as u64, copy_length as u64),
        BufferRef::range(&b, target as u64, copy_length as u64),
    )?;
    cb.dispatch(
        &k.exe,
        k.negate,
        grid,
        &[],
        &[BufferRef::whole(&input), BufferRef::whole(&c)],
    )?;
    cb.execution_barrier()?;
    cb.dispatch(&k.exe, k.abs, grid, &[], &[BufferRef::whole(&c)])?;
    cb.dispatch(
        &k.exe,
        k.workgroup_ids,
        grid,
        &[],
        &[BufferRef::whole(&ids)],
    )?;
    cb.end()?;
    w.ops(6);
    let done = w.semaphore()?;
    device.queue_execute(&[], &[done.at(1)], &cb, &[])?;
    w.op();
    if w.expect_reached(&done, 1, "a one-shot command buffer") {
        let abs: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        let id_model: Vec<u32> = (0..tiles).collect();
        w.expect_bytes(&a, &model_a, "fill and update in a command buffer")?;
        w.expect_bytes(&b, &model_b, "copy in a command buffer")?;
        w.expect_f32(&c, &abs, "abs(negate(x)) in a command buffer")?;
        w.expect_u32(&ids, &id_model, "workgroup_ids in a command buffer")?;
    }
    Ok(())
}

/// The shared reusable command buffer, submitted 1 to 4 times by this thread (chained, in any
/// submission order) with its own binding tables while other threads submit it too; each run
/// must produce -2x and add exactly one to both visit counters.
fn reusable(w: &mut Worker<'_>) -> Result<()> {
    let env = w.env;
    let runs = w.rng.range(1, 4);
    let n = TILE * REUSABLE_TILES as usize;
    let counters = w.buffer(8)?;
    let mut tables = Vec::new();
    for _ in 0..runs {
        let x = w.ints(n);
        tables.push((w.buffer_f32(&x)?, w.buffer(4 * n)?, w.buffer(4 * n)?, x));
    }
    let s = w.semaphore()?;
    let mut ops: Vec<Box<dyn FnOnce() -> hal_core::Result<()> + '_>> = Vec::new();
    for (j, (input, output, scratch, _)) in tables.iter().enumerate() {
        let (s, counters) = (&s, &counters);
        ops.push(Box::new(move || {
            env.device.queue_execute(
                &[s.at(j as u64)],
                &[s.at(j as u64 + 1)],
                &env.reusable,
                &[
                    Some(BufferRef::whole(input)),
                    Some(BufferRef::whole(output)),
                    Some(BufferRef::whole(counters)),
                    Some(BufferRef::whole(scratch)),
                ],
            )
        }));
    }
    submit_in_any_order(w, ops)?;
    w.ops(4 * runs);
    if w.expect_reached(
        &s,
        runs,
        "the last run of the shared reusable command buffer",
    ) {
        for (input, output, scratch, x) in &tables {
            let doubled: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
            let negated: Vec<f32> = doubled.iter().map(|v| -v).collect();
            w.expect_f32(input, x, "the reusable command buffer's input")?;
            w.expect_f32(scratch, &doubled, "double in the reusable command buffer")?;
            w.expect_f32(output, &negated, "negate in the reusable command buffer")?;
        }
        let visits = [runs as u32; 2];
        w.expect_u32(
            &counters,
            &visits,
            "visit counters (one per run: a missing or repeated run shows here)",
        )?;
    }
    Ok(())
}

/// A chain of 2 to 6 (queue update, host call) pairs: each host call logs the value the update
/// before it wrote; the last one also signals a semaphore that a parked fill waits for.
fn host_calls(w: &mut Worker<'_>) -> Result<()> {
    let device = &w.env.device;
    let m = w.rng.range(2, 6);
    let (cell, parked) = (w.buffer(64)?, w.buffer(64)?);
    let base = (w.rng.next() as u32) & 0xFFFF_0000;
    let pattern = w.rng.next() as u32;
    let log: Arc<Mutex<Vec<(u64, u32)>>> = Arc::default();
    let (s, t, u) = (w.semaphore()?, w.semaphore()?, w.semaphore()?);
    device.queue_fill(
        &[t.at(1)],
        &[u.at(1)],
        &parked,
        0,
        64,
        FillPattern::U32(pattern),
    )?;
    w.op();
    let mut ops: Vec<Box<dyn FnOnce() -> hal_core::Result<()> + '_>> = Vec::new();
    for i in 0..m {
        let value = (base + i as u32).to_le_bytes();
        let (s, cell_ref) = (&s, &cell);
        ops.push(Box::new(move || {
            device.queue_update(&[s.at(2 * i)], &[s.at(2 * i + 1)], &value, cell_ref, 0)
        }));
        let (log, cell, release) = (log.clone(), cell.clone(), (i == m - 1).then(|| t.clone()));
        ops.push(Box::new(move || {
            device.queue_host_call(&[s.at(2 * i + 1)], &[s.at(2 * i + 2)], move || {
                let seen: Vec<u32> = cell.read_elements(0, 1)?;
                log.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((i, seen[0]));
                if let Some(release) = release {
                    release.signal(1)?;
                }
                Ok(())
            })
        }));
    }
    submit_in_any_order(w, ops)?;
    let chain = w.expect_reached(&s, 2 * m, "the last host call of a chain");
    let released = w.expect_reached(&u, 1, "a fill released by a host call's signal");
    if chain {
        let expected: Vec<(u64, u32)> = (0..m).map(|i| (i, base + i as u32)).collect();
        let log = log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        w.check_slice(
            &log,
            &expected,
            "host calls (index, value seen): each once, in order",
        );
    }
    if released {
        w.expect_u32(&parked, &[pattern; 16], "the fill a host call released")?;
    }
    Ok(())
}

/// Work parked behind a host semaphore: a queue update, a fill that also waits for the update,
/// and a one-shot command buffer with a binding table. Nothing may run before the host signals;
/// each signal releases exactly its part (the last one sometimes from another thread while
/// this one waits).
fn host_gate(w: &mut Worker<'_>) -> Result<()> {
    let env = w.env;
    let (device, k) = (&env.device, &env.kernels);
    let (g, s) = (w.semaphore()?, w.semaphore()?);
    let len = 256;
    let buffer = w.buffer(len)?;
    let data = w.rng.bytes(len);
    let pattern = random_pattern(w);
    let (fill_offset, fill_length) = random_fill_range(w, len, pattern);
    let tiles = w.rng.range(1, 4) as u32;
    let x = w.ints(TILE * tiles as usize);
    let (input, output) = (w.buffer_f32(&x)?, w.buffer(4 * x.len())?);
    let grid = Workgroups::Static(w.shape(tiles));
    let slot = |i| BufferRef::slot(i, 0, WHOLE_BUFFER);
    let mut cb = device.create_command_buffer(CommandBufferParams {
        mode: CommandBufferMode::ONE_SHOT,
        categories: CommandCategory::ANY,
        binding_capacity: 2,
    })?;
    cb.begin()?;
    cb.dispatch(&k.exe, k.double, grid, &[], &[slot(0), slot(1)])?;
    cb.execution_barrier()?;
    cb.dispatch(&k.exe, k.abs, grid, &[], &[slot(1)])?;
    cb.end()?;
    w.ops(3);

    device.queue_update(&[g.at(1)], &[s.at(1)], &data, &buffer, 0)?;
    device.queue_fill(
        &[s.at(1), g.at(2)],
        &[s.at(2)],
        &buffer,
        fill_offset as u64,
        fill_length as u64,
        pattern,
    )?;
    device.queue_execute(
        &[g.at(3)],
        &[s.at(3)],
        &cb,
        &[
            Some(BufferRef::whole(&input)),
            Some(BufferRef::whole(&output)),
        ],
    )?;
    w.ops(3);

    let at = s.query()?;
    w.check(at == 0, || {
        format!("parked work signalled {at} before the host signalled anything")
    });
    w.op();
    let early = device.wait_semaphores(WaitMode::Any, &[s.at(1), s.at(3)], Timeout::Immediate);
    w.check(
        matches!(&early, Err(status) if status.code() == StatusCode::DeadlineExceeded),
        || format!("an immediate wait on parked work returned {early:?}, not DEADLINE_EXCEEDED"),
    );
    w.expect_bytes(
        &buffer,
        &vec![0; len],
        "a buffer before its parked update ran",
    )?;

    g.signal(1)?;
    w.op();
    if !w.expect_reached(&s, 1, "an update released by a host signal") {
        return Ok(());
    }
    let at = s.query()?;
    w.check(at == 1, || {
        format!("the host released only the update, but the semaphore is at {at}")
    });
    w.expect_bytes(&buffer, &data, "a buffer after its released update")?;

    g.signal(2)?;
    w.op();
    let mut model = data;
    hal_core::fill_bytes(&mut model[fill_offset..fill_offset + fill_length], pattern);
    if !w.expect_reached(&s, 2, "a fill released by a host signal") {
        return Ok(());
    }
    w.expect_bytes(&buffer, &model, "a buffer after its released fill")?;

    let reached = if w.rng.one_in(4) {
        // Another thread signals while this one blocks in a multi-wait.
        let gate = g.clone();
        let (signalled, waited) = std::thread::scope(|scope| {
            let signaller = scope.spawn(move || gate.signal(3));
            let waited = device.wait_semaphores(WaitMode::All, &[s.at(3), g.at(3)], WAIT);
            (signaller.join(), waited)
        });
        w.ops(2);
        let signalled = signalled.map_err(|_| anyhow::anyhow!("the signalling thread panicked"))?;
        signalled.context("signalling from another thread")?;
        w.check(waited.is_ok(), || {
            format!("a wait released by another thread's signal: {waited:?}")
        })
    } else {
        g.signal(3)?;
        w.op();
        w.expect_reached(&s, 3, "a command buffer released by a host signal")
    };
    if reached {
        let expected: Vec<f32> = x.iter().map(|v| (2.0 * v).abs()).collect();
        w.expect_f32(
            &output,
            &expected,
            "abs(double(x)) released by a host signal",
        )?;
    }
    Ok(())
}

/// Takes a ring ticket and submits its two operations (see [`env::Ring`]), after settling this
/// thread's previous ticket. Sometimes the dispatch also waits for a host gate this thread
/// opens just after submitting, holding up every later ticket of every thread until then.
fn ring(w: &mut Worker<'_>) -> Result<()> {
    w.settle_ticket();
    let env = w.env;
    let (device, k, ring) = (&env.device, &env.kernels, &env.ring);
    let width = w.rng.range(1, RING_WIDTH as u64) as u32;
    let grid = w.shape(width);
    let gate = if w.rng.one_in(4) {
        Some(w.semaphore()?)
    } else {
        None
    };
    let verdict: Arc<Mutex<Option<Result<(), String>>>> = Arc::default();
    // From here to the end of the submissions nothing may return early: later tickets of every
    // thread wait for this one.
    let number = ring.next.fetch_add(1, Ordering::AcqRel);
    let base = 2 * number;
    let mut waits = vec![ring.semaphore.at(base)];
    if let Some(gate) = &gate {
        waits.push(gate.at(1));
    }
    let mut counted = width;
    if let Err(status) = device.queue_dispatch(
        &waits,
        &[ring.semaphore.at(base + 1)],
        &k.exe,
        k.visit,
        Workgroups::Static(grid),
        &[],
        &[BufferRef::whole(&ring.counter)],
    ) {
        w.lose(format!(
            "ring ticket {number}: the dispatch was refused: {status}"
        ));
        counted = 0;
        keep_ring_going(w, base, base + 1);
    }
    let (expected, counter, cell) = (ring.expected.clone(), ring.counter.clone(), verdict.clone());
    if let Err(status) = device.queue_host_call(
        &[ring.semaphore.at(base + 1)],
        &[ring.semaphore.at(base + 2)],
        move || {
            let mut expected = expected
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for slot in expected.iter_mut().take(counted as usize) {
                *slot += 1;
            }
            let actual: Vec<u32> = counter.read_elements(0, RING_WIDTH)?;
            let result = if actual[..] == expected[..] {
                Ok(())
            } else {
                Err(format!(
                    "ring ticket {number}: the counter holds {actual:?}, expected {:?}",
                    &expected[..]
                ))
            };
            *cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(result);
            Ok(())
        },
    ) {
        w.lose(format!(
            "ring ticket {number}: the host call was refused: {status}"
        ));
        keep_ring_going(w, base + 1, base + 2);
    }
    let mut ops = 2;
    if let Some(gate) = gate {
        ops += 1;
        if let Err(status) = gate.signal(1) {
            w.lose(format!("ring ticket {number}: opening its gate: {status}"));
        }
    }
    // Counted here, checked when settled.
    w.stats.ops += ops;
    w.ticket = Some(Ticket {
        number,
        verdict,
        ops,
    });
    Ok(())
}

/// After a refused ring operation: a barrier from `from` to `to`, or, if even that is refused,
/// fails the ring so that other threads' waits fail instead of hanging.
fn keep_ring_going(w: &mut Worker<'_>, from: u64, to: u64) {
    let ring = &w.env.ring;
    if let Err(status) = w
        .env
        .device
        .queue_barrier(&[ring.semaphore.at(from)], &[ring.semaphore.at(to)])
    {
        ring.semaphore.fail(Status::aborted(format!(
            "soak: the ring is broken (a barrier from {from} to {to} was refused: {status})"
        )));
    }
}

/// A failure injected on purpose (a host call returning an error, a host call panicking, a
/// semaphore failed by the host while work is parked on it or before work is queued on it, and
/// for formats whose `fail` kernel fails, a failing dispatch and a failing command buffer),
/// with downstream work (a fill, a dispatch after it, a host call that also waits for
/// independent work) and independent work (an update and a dispatch), all submitted in any
/// order. Everything downstream must fail with the injected status and leave its buffers
/// untouched; the independent work must complete with the right results.
fn injected_failure(w: &mut Worker<'_>) -> Result<()> {
    let env = w.env;
    let (device, k) = (&env.device, &env.kernels);
    w.failures += 1;
    let tag = format!("{INJECTED} {}.{}", w.thread, w.failures);
    let kind = w.rng.below(if env.kernel_failures { 6 } else { 4 });
    let (code, needle) = match kind {
        0 | 3 => (StatusCode::Aborted, tag.clone()),
        1 => (StatusCode::DataLoss, tag.clone()),
        2 => (StatusCode::Internal, tag.clone()),
        _ => (StatusCode::Internal, String::new()),
    };
    let [cause, down, down2, later, independent] = [
        w.semaphore()?,
        w.semaphore()?,
        w.semaphore()?,
        w.semaphore()?,
        w.semaphore()?,
    ];
    let tiles = w.rng.range(1, 4) as u32;
    let n = TILE * tiles as usize;
    let x = w.ints(n);
    let x_bytes = f32_bytes(&x);
    let grid = Workgroups::Static(w.shape(tiles));
    let (fill_target, down_in, down_out) = (w.buffer(256)?, w.buffer_f32(&x)?, w.buffer(4 * n)?);
    let (independent_in, independent_out) = (w.buffer(4 * n)?, w.buffer(4 * n)?);
    let cb_out = w.buffer(4 * n)?;
    let ran = Arc::new(AtomicBool::new(false));

    let inject: Box<dyn FnOnce() -> hal_core::Result<()> + '_> = match kind {
        0 => {
            let message = tag.clone();
            Box::new(|| {
                device.queue_host_call(&[], &[cause.at(1)], move || Err(Status::aborted(message)))
            })
        }
        1 | 3 => {
            let status = if kind == 1 {
                Status::data_loss(tag.clone())
            } else {
                Status::aborted(tag.clone())
            };
            Box::new(|| {
                cause.fail(status);
                Ok(())
            })
        }
        2 => {
            let message = tag.clone();
            Box::new(|| {
                device.queue_host_call(&[], &[cause.at(1)], move || -> hal_core::Result<()> {
                    panic!("{message}")
                })
            })
        }
        4 => Box::new(|| {
            device.queue_dispatch(
                &[],
                &[cause.at(1)],
                &k.exe,
                k.fail,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[],
            )
        }),
        _ => Box::new(|| {
            let mut cb = device.create_command_buffer(CommandBufferParams {
                mode: CommandBufferMode::ONE_SHOT,
                categories: CommandCategory::ANY,
                binding_capacity: 0,
            })?;
            cb.begin()?;
            cb.dispatch(&k.exe, k.fail, Workgroups::Static([1, 1, 1]), &[], &[])?;
            cb.execution_barrier()?;
            cb.dispatch(
                &k.exe,
                k.negate,
                grid,
                &[],
                &[BufferRef::whole(&down_in), BufferRef::whole(&cb_out)],
            )?;
            cb.end()?;
            device.queue_execute(&[], &[cause.at(1)], &cb, &[])
        }),
    };
    let flag = ran.clone();
    let mut rest: Vec<Box<dyn FnOnce() -> hal_core::Result<()> + '_>> = vec![
        Box::new(|| {
            device.queue_fill(
                &[cause.at(1)],
                &[down.at(1)],
                &fill_target,
                0,
                256,
                FillPattern::U32(0xDEAD_BEEF),
            )
        }),
        Box::new(|| {
            device.queue_dispatch(
                &[down.at(1)],
                &[down2.at(1)],
                &k.exe,
                k.negate,
                grid,
                &[],
                &[BufferRef::whole(&down_in), BufferRef::whole(&down_out)],
            )
        }),
        Box::new(|| {
            device.queue_host_call(
                &[cause.at(1), independent.at(1)],
                &[later.at(1)],
                move || {
                    flag.store(true, Ordering::SeqCst);
                    Ok(())
                },
            )
        }),
        Box::new(|| device.queue_update(&[], &[independent.at(1)], &x_bytes, &independent_in, 0)),
        Box::new(|| {
            device.queue_dispatch(
                &[independent.at(1)],
                &[independent.at(2)],
                &k.exe,
                k.double,
                grid,
                &[],
                &[
                    BufferRef::whole(&independent_in),
                    BufferRef::whole(&independent_out),
                ],
            )
        }),
    ];
    // A semaphore failed before anything waits on it goes first; every other kind anywhere.
    let position = if kind == 3 {
        0
    } else {
        w.rng.below(rest.len() as u64 + 1) as usize
    };
    w.rng.shuffle(&mut rest);
    rest.insert(position, inject);
    for op in rest {
        op()?;
        w.op();
    }

    let mut contained = w.expect_failed(&cause, 1, code, &needle, "the injected failure");
    contained &= w.expect_failed(&down, 1, code, &needle, "a fill waiting on a failure");
    contained &= w.expect_failed(&down2, 1, code, &needle, "a dispatch after that fill");
    contained &= w.expect_failed(
        &later,
        1,
        code,
        &needle,
        "a host call waiting on a failure and on independent work",
    );
    contained &= w.check(!ran.load(Ordering::SeqCst), || {
        "a host call ran although one of its waits failed".to_string()
    });
    contained &= w.expect_bytes(&fill_target, &[0; 256], "the target of a failed fill")?;
    contained &= w.expect_f32(&down_out, &vec![0.0; n], "the output of a failed dispatch")?;
    if w.expect_reached(&independent, 2, "work independent of an injected failure") {
        let doubled: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
        contained &= w.expect_f32(&independent_in, &x, "an update beside a failure")?;
        contained &= w.expect_f32(&independent_out, &doubled, "a dispatch beside a failure")?;
    } else {
        contained = false;
    }
    if contained {
        w.stats.injected += 1;
    }
    Ok(())
}

/// Queue alloca, fill, update, copy out and dealloca, chained, the four after the alloca
/// submitted in any order.
fn alloca(w: &mut Worker<'_>) -> Result<()> {
    let device = &w.env.device;
    let len = 64 * w.rng.range(1, 64) as usize;
    let out = w.buffer(len)?;
    let s = w.semaphore()?;
    let transient = device.queue_alloca(&[], &[s.at(1)], BufferParams::default(), len as u64)?;
    w.op();
    let pattern = random_pattern(w);
    let mut model = vec![0u8; len];
    hal_core::fill_bytes(&mut model, pattern);
    let offset = w.rng.below(len as u64) as usize;
    let data_len = w.rng.range(1, (len - offset).min(256) as u64) as usize;
    let data = w.rng.bytes(data_len);
    model[offset..offset + data.len()].copy_from_slice(&data);
    let transient = &transient;
    let ops: Vec<Box<dyn FnOnce() -> hal_core::Result<()> + '_>> = vec![
        Box::new(|| device.queue_fill(&[s.at(1)], &[s.at(2)], transient, 0, len as u64, pattern)),
        Box::new(|| device.queue_update(&[s.at(2)], &[s.at(3)], &data, transient, offset as u64)),
        Box::new(|| device.queue_copy(&[s.at(3)], &[s.at(4)], transient, 0, &out, 0, len as u64)),
        Box::new(|| device.queue_dealloca(&[s.at(4)], &[s.at(5)], transient)),
    ];
    submit_in_any_order(w, ops)?;
    if w.expect_reached(&s, 5, "a queue dealloca after a copy out of the buffer") {
        w.expect_bytes(&out, &model, "a copy out of a queue-allocated buffer")?;
    }
    Ok(())
}

/// Prepares executables while other threads dispatch: the specialized library with random
/// executable constants and a second copy of the kernels, both dispatched, then unloaded.
fn executables(w: &mut Worker<'_>) -> Result<()> {
    let env = w.env;
    let device = &env.device;
    let constants = [w.rng.next() as u32, w.rng.next() as u32];
    let specialized = env::prepare(
        device,
        &env.format,
        cts::TestLibrary::Specialized,
        &constants,
    )?;
    let kernels = Kernels::prepare(device, &env.format)?;
    w.ops(2);
    let ordinal = specialized.lookup_export("executable_constants")?;
    let out = w.buffer(16)?;
    out.write_elements(0, &[0u32, 0, 0xCAFE_BABE, 0])?;
    let tiles = w.rng.range(1, 8) as u32;
    let ids = w.buffer(4 * tiles as usize)?;
    let s = w.semaphore()?;
    device.queue_dispatch(
        &[],
        &[s.at(1)],
        &specialized,
        ordinal,
        Workgroups::Static([1, 1, 1]),
        &[],
        &[BufferRef::whole(&out)],
    )?;
    device.queue_dispatch(
        &[s.at(1)],
        &[s.at(2)],
        &kernels.exe,
        kernels.workgroup_ids,
        Workgroups::Static(w.shape(tiles)),
        &[],
        &[BufferRef::whole(&ids)],
    )?;
    w.ops(2);
    if w.expect_reached(&s, 2, "dispatches of freshly prepared executables") {
        w.expect_u32(
            &out,
            &[constants[0], constants[1], 0xCAFE_BABE, 0],
            "executable constants",
        )?;
        let id_model: Vec<u32> = (0..tiles).collect();
        w.expect_u32(&ids, &id_model, "workgroup_ids of a second executable")?;
    }
    Ok(())
}

/// One chain of dispatches after every thread stopped: the device must still work.
pub(crate) fn still_usable(w: &mut Worker<'_>) -> Result<()> {
    dispatches(w)
}
