//! Submissions ordered by semaphores whose waits are not yet reached: host gates, reverse
//! dependency order, DAGs, value skipping, mixed waits, failure propagation, and lifetime of
//! what the caller drops right after submitting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{ensure, Result};
use hal_core::{
    BufferRef, CommandBufferParams, FillPattern, Status, StatusCode, Timeout, WaitMode,
};

use crate::case::Case;
use crate::check::{expect_err, expect_slice, noise};
use crate::ctx::{expect_pending, read_bytes, read_u32, Ctx, Lifetime, WAIT};
use crate::Tag;

const SUITE: &str = "submission";
const TAGS: &[Tag] = &[Tag::AsyncQueue];

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "empty_and_barrier", empty_and_barrier).tags(TAGS),
        Case::new(SUITE, "host_gate", host_gate).tags(TAGS),
        Case::new(SUITE, "reverse_order", reverse_order).tags(TAGS),
        Case::new(SUITE, "fan_out_fan_in", fan_out_fan_in).tags(TAGS),
        Case::new(SUITE, "value_skipping", value_skipping).tags(TAGS),
        Case::new(SUITE, "smaller_value", smaller_value).tags(TAGS),
        Case::new(SUITE, "mixed_waits", mixed_waits).tags(TAGS),
        Case::new(SUITE, "failed_wait", failed_wait).tags(TAGS),
        Case::new(SUITE, "failure_chain", failure_chain).tags(TAGS),
        Case::new(SUITE, "keep_alive", keep_alive).tags(TAGS),
        Case::new(SUITE, "keep_alive_table", keep_alive_table)
            .tags(&[Tag::AsyncQueue, Tag::Indirect]),
        Case::new(SUITE, "long_parked_chain", long_parked_chain).tags(TAGS),
        Case::new(SUITE, "device_dropped", device_dropped).tags(TAGS),
    ]
}

/// An empty command buffer and a barrier, both waiting on the host, signal once it signals.
fn empty_and_barrier(ctx: &Ctx<'_>) -> Result<()> {
    let (gate, a, b) = (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(0)?);
    let empty = ctx.record(Lifetime::OneShot, &[], |_, _| Ok(()))?;
    ctx.device
        .queue_execute(&[gate.at(1)], &[a.at(1)], &empty, &[])?;
    ctx.device.queue_barrier(&[gate.at(1)], &[b.at(1)])?;
    expect_pending(&a, 1, "an empty submission waiting on the host")?;
    expect_pending(&b, 1, "a barrier waiting on the host")?;
    gate.signal(1)?;
    ctx.wait_all(&[a.at(1), b.at(1)])?;
    let empty_now = ctx.record(Lifetime::OneShot, &[], |_, _| Ok(()))?;
    ctx.device.queue_execute(&[], &[a.at(2)], &empty_now, &[])?;
    ctx.device.queue_barrier(&[], &[b.at(2)])?;
    ctx.wait_all(&[a.at(2), b.at(2)])?;
    Ok(())
}

/// Work waits for a host signal before it completes.
fn host_gate(ctx: &Ctx<'_>) -> Result<()> {
    let data = noise(512, 60);
    let (source, target) = (ctx.buffer_bytes(&data)?, ctx.buffer(512)?);
    let (gate, done) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    let command_buffer = ctx.record(Lifetime::OneShot, &[], |cb, _| {
        cb.copy(BufferRef::whole(&source), BufferRef::whole(&target))
    })?;
    ctx.device
        .queue_execute(&[gate.at(1)], &[done.at(1)], &command_buffer, &[])?;
    expect_err(
        done.wait(1, Timeout::Immediate),
        StatusCode::DeadlineExceeded,
        &[],
        "work waiting on the host",
    )?;
    ensure!(
        read_bytes(&target)?.iter().all(|&b| b == 0),
        "the copy ran before its wait was signalled"
    );
    gate.signal(1)?;
    done.wait(1, WAIT)?;
    expect_slice(&read_bytes(&target)?, &data, "copy after the host signal")?;
    Ok(())
}

/// Batches submitted in reverse dependency order run in dependency order.
fn reverse_order(ctx: &Ctx<'_>) -> Result<()> {
    let (x, y, z) = (ctx.buffer(16)?, ctx.buffer(16)?, ctx.buffer(16)?);
    let (gate, s) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    let third = ctx.record(Lifetime::OneShot, &[], |cb, _| {
        cb.copy(BufferRef::whole(&y), BufferRef::whole(&z))
    })?;
    let second = ctx.record(Lifetime::OneShot, &[], |cb, _| {
        cb.copy(BufferRef::whole(&x), BufferRef::whole(&y))
    })?;
    let first = ctx.record(Lifetime::OneShot, &[], |cb, _| {
        cb.update(
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
            BufferRef::whole(&x),
        )
    })?;
    ctx.device
        .queue_execute(&[s.at(2)], &[s.at(3)], &third, &[])?;
    ctx.device
        .queue_execute(&[s.at(1)], &[s.at(2)], &second, &[])?;
    ctx.device
        .queue_execute(&[gate.at(1)], &[s.at(1)], &first, &[])?;
    expect_pending(&s, 1, "the chain before the host signal")?;
    gate.signal(1)?;
    s.wait(3, WAIT)?;
    let expected: Vec<u8> = (1..=16).collect();
    expect_slice(&read_bytes(&z)?, &expected, "the end of the chain")?;
    Ok(())
}

/// One root, eight branches, one join.
fn fan_out_fan_in(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b, c) = (ctx.buffer(16)?, ctx.buffer(8 * 16)?, ctx.buffer(8 * 16)?);
    let (gate, root, join) = (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(0)?);
    let branches = (0..8)
        .map(|_| ctx.semaphore(0))
        .collect::<Result<Vec<_>>>()?;
    let d = &ctx.device;
    // Enqueue leaves first so every operation is parked when enqueued.
    d.queue_copy(&[join.at(1)], &[join.at(2)], &b, 0, &c, 0, 8 * 16)?;
    let branch_points: Vec<_> = branches.iter().map(|s| s.at(1)).collect();
    d.queue_barrier(&branch_points, &[join.at(1)])?;
    for (i, branch) in branches.iter().enumerate() {
        d.queue_copy(&[root.at(1)], &[branch.at(1)], &a, 0, &b, i as u64 * 16, 16)?;
    }
    d.queue_fill(&[gate.at(1)], &[root.at(1)], &a, 0, 16, FillPattern::U32(7))?;
    expect_pending(&join, 1, "the join before the host signal")?;
    gate.signal(1)?;
    join.wait(2, WAIT)?;
    expect_slice(&read_u32(&c)?, &[7; 32], "fan-in result")?;
    Ok(())
}

/// One signal of 3 satisfies waits for 1 and 2.
fn value_skipping(ctx: &Ctx<'_>) -> Result<()> {
    let (s, t, u) = (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(0)?);
    ctx.device.queue_barrier(&[s.at(1)], &[t.at(1)])?;
    ctx.device.queue_barrier(&[s.at(2)], &[u.at(1)])?;
    ctx.device.queue_barrier(&[s.at(4)], &[u.at(2)])?;
    s.signal(3)?;
    ctx.wait_all(&[t.at(1), u.at(1)])?;
    expect_pending(&u, 2, "work waiting for 4 after a signal of 3")?;
    s.signal(4)?;
    u.wait(2, WAIT)?;
    Ok(())
}

/// Waits for values smaller than what was, or will be, signalled.
fn smaller_value(ctx: &Ctx<'_>) -> Result<()> {
    let (s, t) = (ctx.semaphore(5)?, ctx.semaphore(0)?);
    ctx.device.queue_barrier(&[s.at(1)], &[t.at(1)])?;
    t.wait(1, WAIT)?;
    ctx.device.queue_barrier(&[s.at(6)], &[t.at(2)])?;
    ctx.device.queue_barrier(&[s.at(7)], &[t.at(3)])?;
    expect_pending(&t, 2, "work waiting for 6")?;
    s.signal(100)?;
    t.wait(3, WAIT)?;
    Ok(())
}

/// Host-signalled and queue-signalled semaphores mixed in wait-all and wait-any.
fn mixed_waits(ctx: &Ctx<'_>) -> Result<()> {
    let (host, queued, other) = (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(0)?);
    let gate = ctx.semaphore(0)?;
    ctx.device.queue_barrier(&[gate.at(1)], &[queued.at(1)])?;
    let d = &ctx.device;
    expect_err(
        d.wait_semaphores(
            WaitMode::All,
            &[host.at(1), queued.at(1)],
            Timeout::Immediate,
        ),
        StatusCode::DeadlineExceeded,
        &[],
        "wait-all, nothing signalled",
    )?;
    expect_err(
        d.wait_semaphores(
            WaitMode::Any,
            &[host.at(1), queued.at(1)],
            Timeout::Immediate,
        ),
        StatusCode::DeadlineExceeded,
        &[],
        "wait-any, nothing signalled",
    )?;
    host.signal(1)?;
    d.wait_semaphores(
        WaitMode::Any,
        &[queued.at(1), host.at(1)],
        Timeout::Immediate,
    )?;
    expect_err(
        d.wait_semaphores(
            WaitMode::All,
            &[host.at(1), queued.at(1)],
            Timeout::Immediate,
        ),
        StatusCode::DeadlineExceeded,
        &[],
        "wait-all, queue work pending",
    )?;
    gate.signal(1)?;
    d.wait_semaphores(WaitMode::All, &[host.at(1), queued.at(1)], WAIT)?;
    ctx.device.queue_barrier(&[other.at(1)], &[queued.at(2)])?;
    d.wait_semaphores(
        WaitMode::Any,
        &[queued.at(2), host.at(1)],
        Timeout::Immediate,
    )?;
    other.signal(1)?;
    d.wait_semaphores(
        WaitMode::All,
        &[queued.at(2), host.at(1), other.at(1)],
        WAIT,
    )?;
    Ok(())
}

/// A failed wait semaphore fails the signals with the same code, whether it failed before or
/// after the work was enqueued; the work does not run.
fn failed_wait(ctx: &Ctx<'_>) -> Result<()> {
    let target = ctx.buffer(64)?;
    let (gate, after) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    ctx.device.queue_fill(
        &[gate.at(1)],
        &[after.at(1)],
        &target,
        0,
        64,
        FillPattern::U8(1),
    )?;
    gate.fail(Status::aborted("cts aborts the gate"));
    expect_err(
        after.wait(1, WAIT),
        StatusCode::Aborted,
        &[],
        "signal of work whose wait failed",
    )?;
    let late = ctx.semaphore(0)?;
    ctx.device.queue_fill(
        &[gate.at(1)],
        &[late.at(1)],
        &target,
        0,
        64,
        FillPattern::U8(2),
    )?;
    expect_err(
        late.wait(1, WAIT),
        StatusCode::Aborted,
        &[],
        "work enqueued after its wait failed",
    )?;
    ensure!(
        read_bytes(&target)?.iter().all(|&b| b == 0),
        "work ran although its wait failed"
    );
    Ok(())
}

/// A failure travels down a chain of parked work and command buffers.
fn failure_chain(ctx: &Ctx<'_>) -> Result<()> {
    let (gate, a, b, c) = (
        ctx.semaphore(0)?,
        ctx.semaphore(0)?,
        ctx.semaphore(0)?,
        ctx.semaphore(0)?,
    );
    let target = ctx.buffer(16)?;
    let command_buffer = ctx.record(Lifetime::OneShot, &[], |cb, _| {
        cb.fill(BufferRef::whole(&target), FillPattern::U8(1))
    })?;
    ctx.device
        .queue_execute(&[b.at(1)], &[c.at(1)], &command_buffer, &[])?;
    ctx.device.queue_barrier(&[a.at(1)], &[b.at(1)])?;
    ctx.device.queue_barrier(&[gate.at(1)], &[a.at(1)])?;
    gate.fail(Status::resource_exhausted("cts gate failure"));
    for (semaphore, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        expect_err(
            semaphore.wait(1, WAIT),
            StatusCode::ResourceExhausted,
            &[],
            &format!("semaphore {name} down the chain"),
        )?;
    }
    ensure!(
        read_bytes(&target)?.iter().all(|&b| b == 0),
        "the command buffer ran although its wait failed"
    );
    Ok(())
}

/// The command buffer, source buffer and closures dropped right after submitting parked work
/// stay alive until the work completes.
fn keep_alive(ctx: &Ctx<'_>) -> Result<()> {
    let data = noise(4096, 61);
    let target = ctx.buffer(4096)?;
    let (gate, done) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    {
        let source = ctx.buffer_bytes(&data)?;
        let params = CommandBufferParams {
            mode: hal_core::CommandBufferMode::ONE_SHOT,
            ..CommandBufferParams::reusable(0)
        };
        let mut command_buffer = ctx.device.create_command_buffer(params)?;
        command_buffer.begin()?;
        command_buffer.copy(BufferRef::whole(&source), BufferRef::whole(&target))?;
        command_buffer.end()?;
        ctx.device
            .queue_execute(&[gate.at(1)], &[done.at(1)], &command_buffer, &[])?;
        let source2 = ctx.buffer_bytes(&[0xAB; 64])?;
        ctx.device
            .queue_copy(&[done.at(1)], &[done.at(2)], &source2, 0, &target, 0, 64)?;
    }
    let drops = Arc::new(AtomicUsize::new(0));
    if ctx.has(Tag::HostCalls) {
        struct Token(Arc<AtomicUsize>);
        impl Drop for Token {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let token = Token(drops.clone());
        ctx.device
            .queue_host_call(&[done.at(2)], &[done.at(3)], move || {
                let _keep = &token;
                Ok(())
            })?;
        ensure!(
            drops.load(Ordering::SeqCst) == 0,
            "a parked host call's closure was dropped early"
        );
    } else {
        ctx.device.queue_barrier(&[done.at(2)], &[done.at(3)])?;
    }
    gate.signal(1)?;
    done.wait(3, WAIT)?;
    let mut expected = data;
    expected[..64].fill(0xAB);
    expect_slice(
        &read_bytes(&target)?,
        &expected,
        "target after dropped sources",
    )?;
    if ctx.has(Tag::HostCalls) {
        ensure!(
            drops.load(Ordering::SeqCst) == 1,
            "the host call's closure was dropped {} times",
            drops.load(Ordering::SeqCst)
        );
    }
    Ok(())
}

/// The same with a reusable command buffer and a binding table dropped after submit.
fn keep_alive_table(ctx: &Ctx<'_>) -> Result<()> {
    let data = noise(1024, 62);
    let target = ctx.buffer(1024)?;
    let (gate, done) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    {
        let source = ctx.buffer_bytes(&data)?;
        let mut command_buffer = ctx
            .device
            .create_command_buffer(CommandBufferParams::reusable(2))?;
        command_buffer.begin()?;
        command_buffer.copy(BufferRef::slot(0, 0, 1024), BufferRef::slot(1, 0, 1024))?;
        command_buffer.end()?;
        let table = vec![
            Some(BufferRef::whole(&source)),
            Some(BufferRef::whole(&target)),
        ];
        ctx.device
            .queue_execute(&[gate.at(1)], &[done.at(1)], &command_buffer, &table)?;
        drop(table);
        drop(command_buffer);
    }
    gate.signal(1)?;
    done.wait(1, WAIT)?;
    expect_slice(
        &read_bytes(&target)?,
        &data,
        "target after the table and buffers were dropped",
    )?;
    Ok(())
}

/// 20 000 operations parked in one chain, released by a single host signal: the driver must
/// not recurse once per link (a stack overflow kills the process). Speed is for benchmarks;
/// only the usual bounded wait applies.
fn long_parked_chain(ctx: &Ctx<'_>) -> Result<()> {
    const LINKS: u64 = 20_000;
    let (gate, chain) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    let target = ctx.buffer(4)?;
    ctx.device.queue_barrier(&[gate.at(1)], &[chain.at(1)])?;
    for value in 1..LINKS {
        ctx.device
            .queue_barrier(&[chain.at(value)], &[chain.at(value + 1)])?;
    }
    ctx.device.queue_fill(
        &[chain.at(LINKS)],
        &[chain.at(LINKS + 1)],
        &target,
        0,
        4,
        FillPattern::U32(LINKS as u32),
    )?;
    expect_pending(&chain, 1, "a chain behind the host gate")?;
    gate.signal(1)?;
    chain.wait(LINKS + 1, WAIT)?;
    expect_slice(
        &read_u32(&target)?,
        &[LINKS as u32],
        "the fill at the end of the chain",
    )?;
    Ok(())
}

/// A device dropped while its work is parked: the work still completes (or fails its signal)
/// once the wait is signalled; it never hangs or crashes.
fn device_dropped(ctx: &Ctx<'_>) -> Result<()> {
    let gate = ctx.semaphore(0)?;
    let done = ctx.semaphore(0)?;
    let target = ctx.buffer(64)?;
    {
        let device = hal_core::create_device(ctx.backend.uri)?;
        let source = device.allocate_buffer(hal_core::BufferParams::default(), 64)?;
        source.write(0, &[5; 64])?;
        device.queue_copy(&[gate.at(1)], &[done.at(1)], &source, 0, &target, 0, 64)?;
        drop(source);
        drop(device);
    }
    gate.signal(1)?;
    match done.wait(1, WAIT) {
        Ok(()) => expect_slice(&read_bytes(&target)?, &[5; 64], "copy by a dropped device")?,
        Err(status) if status.code() != StatusCode::DeadlineExceeded => {}
        Err(status) => anyhow::bail!("work parked on a dropped device never signalled: {status}"),
    }
    Ok(())
}
