//! Adversarial use of the public API: calls a careful user would not make, each of which must end
//! in a typed error or a failed signal, never a crash, a hang, lost work or a leak.
//!
//! - workgroup counts whose product does not fit in 64 bits, static and indirect;
//! - a host call that panics;
//! - a submission refused after validation (it must have no effect at all);
//! - `wait(Any)` over one failed and one reached timepoint (one rule, whatever the order);
//! - a host call that signals a semaphore and then waits for the work it released;
//! - work parked on semaphores that nothing can signal any more.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use hal_core::{BufferRef, StatusCode, Timeout, WaitMode, Workgroups};

use crate::case::Case;
use crate::check::expect_err;
use crate::ctx::{read_u32, Ctx, Lifetime, WAIT};
use crate::Tag;

const SUITE: &str = "robustness";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "workgroup_count_overflow", workgroup_count_overflow)
            .exe()
            .both(),
        Case::new(SUITE, "host_call_panic", host_call_panic)
            .tags(&[Tag::HostCalls, Tag::AsyncQueue]),
        Case::new(
            SUITE,
            "refused_submit_has_no_effect",
            refused_submit_has_no_effect,
        ),
        Case::new(SUITE, "wait_any_rule", wait_any_rule),
        Case::new(
            SUITE,
            "host_call_signals_then_waits",
            host_call_signals_then_waits,
        )
        .tags(&[Tag::HostCalls, Tag::AsyncQueue]),
        Case::new(SUITE, "abandoned_work", abandoned_work).tags(&[Tag::AsyncQueue]),
        Case::new(SUITE, "abandoned_cycles", abandoned_cycles)
            .tags(&[Tag::AsyncQueue, Tag::HostCalls]),
    ]
}

/// 2^31 × 2^31 × 4 workgroups: the product is 2^64. Refused with OUT_OF_RANGE when recorded or
/// queued; read from a buffer, the dispatch fails its signal with OUT_OF_RANGE. A z count past
/// the ABI's 16 bits is refused the same way. The device stays usable.
fn workgroup_count_overflow(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let out = ctx.buffer(256)?;
    let huge = [1u32 << 31, 1 << 31, 4];
    let d = &ctx.device;

    for counts in [huge, [1, 1, 70_000]] {
        let recorded = ctx.record(Lifetime::OneShot, &[&out], |cb, r| {
            cb.dispatch(&k.exe, ids, Workgroups::Static(counts), &[], &[r.whole(0)])
        });
        expect_err(
            recorded,
            StatusCode::OutOfRange,
            &["workgroup"],
            &format!("recording a dispatch of {counts:?} workgroups"),
        )?;
        let s = ctx.semaphore(0)?;
        expect_err(
            d.queue_dispatch(
                &[],
                &[s.at(1)],
                &k.exe,
                ids,
                Workgroups::Static(counts),
                &[],
                &[BufferRef::whole(&out)],
            ),
            StatusCode::OutOfRange,
            &["workgroup"],
            &format!("queueing a dispatch of {counts:?} workgroups"),
        )?;
        ensure!(s.query()? == 0, "a refused dispatch signalled");
    }

    let parameters = ctx.buffer_u32(&huge)?;
    let recorded = ctx.record(Lifetime::OneShot, &[&parameters, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.range(0, 0, 12)),
            &[],
            &[r.whole(1)],
        )
    })?;
    let s = ctx.semaphore(0)?;
    d.queue_execute(&[], &[s.at(1)], &recorded, &ctx.table(&[&parameters, &out]))?;
    expect_err(
        s.wait(1, WAIT),
        StatusCode::OutOfRange,
        &["workgroup"],
        "an indirect dispatch of 2^64 workgroups in a command buffer",
    )?;
    let s = ctx.semaphore(0)?;
    d.queue_dispatch(
        &[],
        &[s.at(1)],
        &k.exe,
        ids,
        Workgroups::Indirect(BufferRef::range(&parameters, 0, 12)),
        &[],
        &[BufferRef::whole(&out)],
    )?;
    expect_err(
        s.wait(1, WAIT),
        StatusCode::OutOfRange,
        &["workgroup"],
        "a queued indirect dispatch of 2^64 workgroups",
    )?;

    // The device lives on.
    ctx.execute(&[&out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Static([4, 1, 1]),
            &[],
            &[r.whole(0)],
        )
    })?;
    let values = read_u32(&out)?;
    ensure!(
        values[0] == 0 && values[63] == 0,
        "workgroup 0 wrote {:?}",
        &values[..2]
    );
    Ok(())
}

/// A host call that panics fails its own signals with a status naming the panic; work parked on
/// the same timepoint still runs, work after the host call fails, and the device lives on.
fn host_call_panic(ctx: &Ctx<'_>) -> Result<()> {
    let d = &ctx.device;
    let gate = ctx.semaphore(0)?;
    let (called, sibling, after) = (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(0)?);
    d.queue_host_call(&[gate.at(1)], &[called.at(1)], || {
        panic!("cts: a host call panics on purpose")
    })?;
    d.queue_barrier(&[gate.at(1)], &[sibling.at(1)])?;
    d.queue_barrier(&[called.at(1)], &[after.at(1)])?;
    gate.signal(1)
        .context("the signal that releases the panicking host call")?;
    expect_err(
        called.wait(1, WAIT),
        StatusCode::Internal,
        &["panic", "on purpose"],
        "the panicking host call's signal",
    )?;
    sibling
        .wait(1, WAIT)
        .context("work parked on the same timepoint as the panicking host call")?;
    expect_err(
        after.wait(1, WAIT),
        StatusCode::Internal,
        &["panic"],
        "work that waits for the panicking host call",
    )?;

    // Without waits, from a pool thread or this one.
    let direct = ctx.semaphore(0)?;
    d.queue_host_call(&[], &[direct.at(1)], || panic!("cts: second panic"))?;
    expect_err(
        direct.wait(1, WAIT),
        StatusCode::Internal,
        &["panic"],
        "a panicking host call without waits",
    )?;
    let ok = ctx.semaphore(0)?;
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    d.queue_host_call(&[], &[ok.at(1)], move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })?;
    ok.wait(1, WAIT).context("a host call after two panics")?;
    ensure!(ran.load(Ordering::SeqCst) == 1, "the host call did not run");
    Ok(())
}

/// A submission refused by validation changes nothing: a one-shot command buffer refused for a
/// duplicate signal semaphore can still be submitted, and runs once.
fn refused_submit_has_no_effect(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(64)?;
    let command_buffer = ctx.record(Lifetime::OneShot, &[&buffer], |cb, r| {
        cb.fill(r.whole(0), hal_core::FillPattern::U32(7))
    })?;
    let s = ctx.semaphore(0)?;
    expect_err(
        ctx.device.queue_execute(
            &[],
            &[s.at(1), s.at(2)],
            &command_buffer,
            &ctx.table(&[&buffer]),
        ),
        StatusCode::InvalidArgument,
        &["twice"],
        "a submission that signals one semaphore twice",
    )?;
    ensure!(s.query()? == 0, "the refused submission signalled");
    ctx.device
        .queue_execute(&[], &[s.at(1)], &command_buffer, &ctx.table(&[&buffer]))
        .context("submitting the one-shot command buffer after a refused submission")?;
    s.wait(1, WAIT)?;
    ensure!(
        read_u32(&buffer)? == [7; 16],
        "the command buffer did not run"
    );
    expect_err(
        ctx.device
            .queue_execute(&[], &[s.at(2)], &command_buffer, &ctx.table(&[&buffer])),
        StatusCode::FailedPrecondition,
        &["once"],
        "a second submission of a one-shot command buffer",
    )?;
    Ok(())
}

/// `wait(Any)` over a failed timepoint and a reached one succeeds whatever the list order (a
/// reached timepoint wins); `wait(All)` fails with the failure in both orders.
fn wait_any_rule(ctx: &Ctx<'_>) -> Result<()> {
    let failed = ctx.semaphore(0)?;
    failed.fail(hal_core::Status::aborted("cts: failed on purpose"));
    let reached = ctx.semaphore(1)?;
    let pending = ctx.semaphore(0)?;
    for list in [[failed.at(1), reached.at(1)], [reached.at(1), failed.at(1)]] {
        ctx.device
            .wait_semaphores(WaitMode::Any, &list, Timeout::Immediate)
            .context("wait(Any) with one timepoint reached and one failed")?;
        ctx.device
            .wait_semaphores(WaitMode::Any, &list, WAIT)
            .context("wait(Any, timeout) with one timepoint reached and one failed")?;
        expect_err(
            ctx.device.wait_semaphores(WaitMode::All, &list, WAIT),
            StatusCode::Aborted,
            &["on purpose"],
            "wait(All) with one timepoint failed",
        )?;
    }
    for list in [[failed.at(1), pending.at(1)], [pending.at(1), failed.at(1)]] {
        expect_err(
            ctx.device.wait_semaphores(WaitMode::Any, &list, WAIT),
            StatusCode::Aborted,
            &["on purpose"],
            "wait(Any) with one timepoint failed and none reached",
        )?;
    }
    Ok(())
}

/// A host call may signal a semaphore and then wait for the work that signal released: that work
/// runs without waiting for the host call to return.
fn host_call_signals_then_waits(ctx: &Ctx<'_>) -> Result<()> {
    let d = &ctx.device;
    let (released, done_by_work, host_done) =
        (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(0)?);
    d.queue_barrier(&[released.at(1)], &[done_by_work.at(1)])?;
    let (signal, wait) = (released.clone(), done_by_work.clone());
    d.queue_host_call(&[], &[host_done.at(1)], move || {
        signal.signal(1)?;
        wait.wait(1, Duration::from_secs(5))
    })?;
    host_done
        .wait(1, WAIT)
        .context("a host call that waits for work its own signal released")?;
    Ok(())
}

fn live_bytes(ctx: &Ctx<'_>) -> u64 {
    ctx.device.allocator().statistics().live_bytes
}

/// Waits (bounded) until the device's allocator holds `expected` live bytes.
fn expect_live_bytes(ctx: &Ctx<'_>, expected: u64, what: &str) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let live = live_bytes(ctx);
        if live == expected {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{what}: {live} live bytes, expected {expected}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Work parked on a semaphore whose every handle is dropped fails as CANCELLED, releasing what it
/// holds; work whose waits can still be signalled is left alone.
fn abandoned_work(ctx: &Ctx<'_>) -> Result<()> {
    let d = &ctx.device;
    let baseline = live_bytes(ctx);
    let observer = ctx.semaphore(0)?;
    {
        let orphan = ctx.semaphore(0)?;
        let buffer = ctx.buffer(1 << 20)?;
        d.queue_fill(
            &[orphan.at(1)],
            &[observer.at(1)],
            &buffer,
            0,
            1 << 20,
            hal_core::FillPattern::U8(1),
        )?;
    }
    expect_err(
        observer.wait(1, WAIT),
        StatusCode::Cancelled,
        &[],
        "work parked on a semaphore nobody holds",
    )?;
    expect_live_bytes(ctx, baseline, "after abandoned work was cancelled")?;

    // Waits on itself: waits for value 1, would signal 2; nothing else can signal it.
    let observer = ctx.semaphore(0)?;
    {
        let timeline = ctx.semaphore(0)?;
        let buffer = ctx.buffer(4096)?;
        d.queue_fill(
            &[timeline.at(1)],
            &[timeline.at(2), observer.at(1)],
            &buffer,
            0,
            4096,
            hal_core::FillPattern::U8(2),
        )?;
    }
    expect_err(
        observer.wait(1, WAIT),
        StatusCode::Cancelled,
        &[],
        "work that waits on the semaphore it signals, all handles dropped",
    )?;
    expect_live_bytes(ctx, baseline, "after self-waiting work was cancelled")?;

    // Still reachable: the user holds the wait semaphore.
    let held = ctx.semaphore(0)?;
    let observer = ctx.semaphore(0)?;
    d.queue_barrier(&[held.at(1)], &[observer.at(1)])?;
    std::thread::sleep(Duration::from_millis(20));
    ensure!(
        observer.query()? == 0,
        "work whose wait semaphore is still held was not left parked"
    );
    held.signal(1)?;
    observer.wait(1, WAIT)?;
    Ok(())
}

/// Parked work forming a cycle of semaphores that only the cycle could signal is cancelled; a
/// chain whose head is running is not.
fn abandoned_cycles(ctx: &Ctx<'_>) -> Result<()> {
    let d = &ctx.device;
    let observer = ctx.semaphore(0)?;
    {
        let (a, b) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
        d.queue_barrier(&[a.at(1)], &[b.at(1), observer.at(1)])?;
        d.queue_barrier(&[b.at(1)], &[a.at(1)])?;
    }
    expect_err(
        observer.wait(1, WAIT),
        StatusCode::Cancelled,
        &[],
        "two operations waiting on each other, all handles dropped",
    )?;

    // A running host call will signal `next`: the work parked on it is not abandoned when the
    // user drops `next`.
    let observer = ctx.semaphore(0)?;
    let (go, started) = (ctx.semaphore(0)?, Arc::new(AtomicUsize::new(0)));
    {
        let next = ctx.semaphore(0)?;
        let flag = started.clone();
        d.queue_host_call(&[go.at(1)], &[next.at(1)], move || {
            flag.store(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            Ok(())
        })?;
        d.queue_barrier(&[next.at(1)], &[observer.at(1)])?;
    }
    go.signal(1)?;
    observer
        .wait(1, WAIT)
        .context("work parked behind a host call that will signal it")?;
    ensure!(
        started.load(Ordering::SeqCst) == 1,
        "the host call did not run"
    );
    Ok(())
}
