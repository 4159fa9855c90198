//! Queue operations without command buffers: fill, update, copy, barrier, alloca/dealloca,
//! dispatch, host calls; ordering only through semaphores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{ensure, Result};
use hal_core::{
    BufferParams, BufferRef, BufferUsage, FillPattern, MemoryAccess, Status, StatusCode, Timepoint,
    Workgroups, MAX_UPDATE_SIZE, WHOLE_BUFFER,
};
use parking_lot::Mutex;

use crate::case::Case;
use crate::check::{expect_err, expect_slice, model_fill, noise};
use crate::ctx::{expect_pending, read_bytes, read_f32, read_u32, Ctx, WAIT};
use crate::Tag;

const SUITE: &str = "queue";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "fill", fill),
        Case::new(SUITE, "update", update),
        Case::new(SUITE, "update_captured", update_captured).tags(&[Tag::AsyncQueue]),
        Case::new(SUITE, "copy", copy),
        Case::new(SUITE, "copy_errors", copy_errors),
        Case::new(SUITE, "copies_64x64", copies_64x64),
        Case::new(SUITE, "ordering", ordering),
        Case::new(SUITE, "ordering_parked", ordering_parked).tags(&[Tag::AsyncQueue]),
        Case::new(SUITE, "barrier", barrier),
        Case::new(SUITE, "duplicate_signal", duplicate_signal),
        Case::new(SUITE, "alloca", alloca),
        Case::new(SUITE, "alloca_cycles", alloca_cycles),
        Case::new(SUITE, "alloca_parked", alloca_parked).tags(&[Tag::AsyncQueue]),
        Case::new(SUITE, "dealloca_then_use", dealloca_then_use),
        Case::new(SUITE, "dispatch", dispatch).exe(),
        Case::new(SUITE, "dispatch_errors", dispatch_errors).exe(),
        Case::new(SUITE, "host_call", host_call).tags(&[Tag::HostCalls]),
        Case::new(SUITE, "host_call_order", host_call_order)
            .tags(&[Tag::HostCalls, Tag::AsyncQueue]),
        Case::new(SUITE, "host_call_reentrant", host_call_reentrant)
            .tags(&[Tag::HostCalls, Tag::AsyncQueue]),
        Case::new(SUITE, "host_access_during_work", host_access_during_work)
            .exe()
            .tags(&[Tag::Threads]),
        Case::new(SUITE, "flush", flush),
    ]
}

fn fill(ctx: &Ctx<'_>) -> Result<()> {
    const SIZE: usize = 70_000;
    let mut model = noise(SIZE, 50);
    let buffer = ctx.buffer_bytes(&model)?;
    let done = ctx.semaphore(0)?;
    let mut value = 0;
    let classes = [
        (0u64, SIZE as u64, FillPattern::U8(0x11)),
        (1, 1, FillPattern::U8(0x22)),
        (3, 4097, FillPattern::U8(0x33)),
        (2, 6, FillPattern::U16(0x4455)),
        (10, 65536, FillPattern::U16(0x6677)),
        (4, 4, FillPattern::U32(0x8899_AABB)),
        (12, 65536, FillPattern::U32(0xCCDD_EEFF)),
        (68_000, 2000, FillPattern::U32(0x0102_0304)),
        (500, 0, FillPattern::U32(0xFFFF_FFFF)),
    ];
    for (offset, length, pattern) in classes {
        value += 1;
        ctx.device
            .queue_fill(&[], &[done.at(value)], &buffer, offset, length, pattern)?;
        done.wait(value, WAIT)?;
        model_fill(
            &mut model[offset as usize..(offset + length) as usize],
            pattern,
        );
        let bytes = read_bytes(&buffer)?;
        if bytes != model {
            expect_slice(
                &bytes,
                &model,
                &format!("queue fill {pattern:?} at {offset}+{length}"),
            )?;
        }
    }
    value += 1;
    ctx.device.queue_fill(
        &[],
        &[done.at(value)],
        &buffer,
        100,
        WHOLE_BUFFER,
        FillPattern::U32(5),
    )?;
    done.wait(value, WAIT)?;
    model_fill(&mut model[100..], FillPattern::U32(5));
    expect_slice(&read_bytes(&buffer)?, &model, "queue fill to the end")?;
    expect_err(
        ctx.device
            .queue_fill(&[], &[done.at(100)], &buffer, 1, 4, FillPattern::U16(1)),
        StatusCode::InvalidArgument,
        &["1"],
        "misaligned queue fill",
    )?;
    expect_err(
        ctx.device.queue_fill(
            &[],
            &[done.at(100)],
            &buffer,
            0,
            SIZE as u64 + 4,
            FillPattern::U32(1),
        ),
        StatusCode::OutOfRange,
        &[],
        "queue fill past the end",
    )?;
    ensure!(done.query()? == value, "a rejected queue fill signalled");
    Ok(())
}

/// Updates of every size, including far beyond the command-buffer limit.
fn update(ctx: &Ctx<'_>) -> Result<()> {
    const SIZE: usize = 4 * MAX_UPDATE_SIZE + 64;
    let mut model = noise(SIZE, 51);
    let buffer = ctx.buffer_bytes(&model)?;
    let done = ctx.semaphore(0)?;
    let data = noise(4 * MAX_UPDATE_SIZE, 52);
    let whole = noise(SIZE, 57);
    let updates: [(usize, &[u8]); 5] = [
        (0, &whole),
        (1, &data[..1]),
        (17, &data[..1000]),
        (64, &data),
        (8, &data[..MAX_UPDATE_SIZE + 1]),
    ];
    for (value, (offset, payload)) in (1..).zip(updates) {
        ctx.device
            .queue_update(&[], &[done.at(value)], payload, &buffer, offset as u64)?;
        done.wait(value, WAIT)?;
        model[offset..offset + payload.len()].copy_from_slice(payload);
        let bytes = read_bytes(&buffer)?;
        if bytes != model {
            expect_slice(
                &bytes,
                &model,
                &format!("queue update of {} bytes at {offset}", payload.len()),
            )?;
        }
    }
    expect_err(
        ctx.device
            .queue_update(&[], &[done.at(100)], &[1; 8], &buffer, SIZE as u64 - 4),
        StatusCode::OutOfRange,
        &[],
        "queue update past the end",
    )?;
    Ok(())
}

/// The update's bytes are captured at enqueue, even while its waits are unsignalled.
fn update_captured(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(128)?;
    let (gate, done) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    let mut data = noise(128, 53);
    let expected = data.clone();
    ctx.device
        .queue_update(&[gate.at(1)], &[done.at(1)], &data, &buffer, 0)?;
    data.fill(0xEE);
    expect_pending(&done, 1, "an update waiting on an unsignalled semaphore")?;
    ensure!(
        read_bytes(&buffer)?.iter().all(|&b| b == 0),
        "a parked update wrote before its wait was signalled"
    );
    gate.signal(1)?;
    done.wait(1, WAIT)?;
    expect_slice(
        &read_bytes(&buffer)?,
        &expected,
        "update after the source was overwritten",
    )?;
    Ok(())
}

fn copy(ctx: &Ctx<'_>) -> Result<()> {
    const SIZE: usize = (1 << 20) + 128;
    let data = noise(SIZE, 54);
    let source = ctx.buffer_bytes(&data)?;
    let target = ctx.buffer(SIZE as u64)?;
    let done = ctx.semaphore(0)?;
    ctx.device
        .queue_copy(&[], &[done.at(1)], &source, 0, &target, 0, SIZE as u64)?;
    done.wait(1, WAIT)?;
    expect_slice(&read_bytes(&target)?, &data, "whole queue copy")?;
    target.zero(0, WHOLE_BUFFER)?;
    let mut model = vec![0u8; SIZE];
    let mut value = 1;
    for length in [4usize, 12, 100, 4096, 65536, 1 << 20] {
        for align in [16usize, 8, 4, 1] {
            let (source_offset, target_offset) = (align * 5, align * 3);
            value += 1;
            ctx.device.queue_copy(
                &[],
                &[done.at(value)],
                &source,
                source_offset as u64,
                &target,
                target_offset as u64,
                length as u64,
            )?;
            done.wait(value, WAIT)?;
            model[target_offset..target_offset + length]
                .copy_from_slice(&data[source_offset..source_offset + length]);
            let bytes = read_bytes(&target)?;
            if bytes != model {
                expect_slice(
                    &bytes,
                    &model,
                    &format!(
                        "queue copy of {length} bytes from {source_offset} to {target_offset}"
                    ),
                )?;
            }
        }
    }
    Ok(())
}

fn copy_errors(ctx: &Ctx<'_>) -> Result<()> {
    let contents = noise(256, 55);
    let buffer = ctx.buffer_bytes(&contents)?;
    let other = ctx.buffer(64)?;
    let done = ctx.semaphore(0)?;
    expect_err(
        ctx.device
            .queue_copy(&[], &[done.at(1)], &buffer, 0, &buffer, 32, 64),
        StatusCode::InvalidArgument,
        &["overlap"],
        "overlapping queue copy",
    )?;
    let (a, b) = (buffer.subspan(0, 128)?, buffer.subspan(32, 128)?);
    expect_err(
        ctx.device.queue_copy(&[], &[done.at(1)], &a, 0, &b, 0, 64),
        StatusCode::InvalidArgument,
        &["overlap"],
        "overlapping subspans",
    )?;
    expect_err(
        ctx.device
            .queue_copy(&[], &[done.at(1)], &buffer, 0, &other, 0, 128),
        StatusCode::OutOfRange,
        &[],
        "copy past the target",
    )?;
    expect_err(
        ctx.device
            .queue_copy(&[], &[done.at(1)], &buffer, 200, &other, 0, 64),
        StatusCode::OutOfRange,
        &[],
        "copy past the source",
    )?;
    let no_source = ctx.device.allocate_buffer(
        BufferParams::with_usage(BufferUsage::TRANSFER_TARGET | BufferUsage::MAPPING),
        64,
    )?;
    expect_err(
        ctx.device
            .queue_copy(&[], &[done.at(1)], &no_source, 0, &other, 0, 64),
        StatusCode::PermissionDenied,
        &["TRANSFER_SOURCE"],
        "copy from a buffer without transfer-source usage",
    )?;
    expect_pending(&done, 1, "rejected copies")?;
    expect_slice(
        &read_bytes(&buffer)?,
        &contents,
        "source after rejected copies",
    )?;
    ensure!(
        read_bytes(&other)?.iter().all(|&b| b == 0),
        "a rejected copy wrote"
    );
    Ok(())
}

/// 64 × 64 independent copies into disjoint slices, then one wait on all of them.
fn copies_64x64(ctx: &Ctx<'_>) -> Result<()> {
    let data = noise(64 * 64 * 16, 56);
    let source = ctx.buffer_bytes(&data)?;
    let target = ctx.buffer(data.len() as u64)?;
    let mut signals = Vec::with_capacity(4096);
    for i in 0..64u64 {
        for j in 0..64u64 {
            let slot = i * 64 + j;
            // Slices are permuted so that neighbouring copies do not touch neighbouring bytes.
            let target_slot = (slot * 97) % 4096;
            let semaphore = ctx.semaphore(0)?;
            ctx.device.queue_copy(
                &[],
                &[semaphore.at(1)],
                &source,
                slot * 16,
                &target,
                target_slot * 16,
                16,
            )?;
            signals.push(semaphore.at(1));
        }
    }
    ctx.wait_all(&signals)?;
    let bytes = read_bytes(&target)?;
    for slot in 0..4096usize {
        let target_slot = (slot * 97) % 4096;
        expect_slice(
            &bytes[target_slot * 16..target_slot * 16 + 16],
            &data[slot * 16..slot * 16 + 16],
            &format!("copy {slot}"),
        )?;
    }
    Ok(())
}

/// fill → copy, update → copy, fill → copy → fill, barrier in the chain: in submission order,
/// ordered only by semaphores.
fn ordering(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b, c) = (ctx.buffer(256)?, ctx.buffer(256)?, ctx.buffer(256)?);
    let s = ctx.semaphore(0)?;
    let d = &ctx.device;
    d.queue_fill(&[], &[s.at(1)], &a, 0, 256, FillPattern::U8(1))?;
    d.queue_copy(&[s.at(1)], &[s.at(2)], &a, 0, &b, 0, 256)?;
    d.queue_fill(&[s.at(2)], &[s.at(3)], &a, 0, 256, FillPattern::U8(2))?;
    d.queue_barrier(&[s.at(3)], &[s.at(4)])?;
    d.queue_update(&[s.at(4)], &[s.at(5)], &[9; 16], &a, 16)?;
    d.queue_copy(&[s.at(5)], &[s.at(6)], &a, 0, &c, 0, 256)?;
    s.wait(6, WAIT)?;
    expect_slice(
        &read_bytes(&b)?,
        &[1; 256],
        "copy after the first fill, before the second",
    )?;
    let mut expected = vec![2u8; 256];
    expected[16..32].fill(9);
    expect_slice(&read_bytes(&a)?, &expected, "source after fill and update")?;
    expect_slice(&read_bytes(&c)?, &expected, "copy after the update")?;
    Ok(())
}

/// The same chain enqueued in reverse before a host signal starts it.
fn ordering_parked(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b) = (ctx.buffer(256)?, ctx.buffer(256)?);
    let (gate, s) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    let d = &ctx.device;
    d.queue_fill(&[s.at(2)], &[s.at(3)], &a, 0, 256, FillPattern::U8(2))?;
    d.queue_copy(&[s.at(1)], &[s.at(2)], &a, 0, &b, 0, 256)?;
    d.queue_fill(&[gate.at(1)], &[s.at(1)], &a, 0, 256, FillPattern::U8(1))?;
    expect_pending(&s, 1, "a chain waiting for the host")?;
    gate.signal(1)?;
    s.wait(3, WAIT)?;
    expect_slice(
        &read_bytes(&b)?,
        &[1; 256],
        "the copy saw the first fill only",
    )?;
    expect_slice(&read_bytes(&a)?, &[2; 256], "the last fill")?;
    Ok(())
}

fn barrier(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    ctx.device.queue_barrier(&[], &[a.at(1)])?;
    a.wait(1, WAIT)?;
    ctx.device.queue_barrier(&[a.at(1)], &[b.at(1), a.at(2)])?;
    ctx.wait_all(&[a.at(2), b.at(1)])?;
    ctx.device.queue_barrier(&[], &[])?;
    ctx.device.queue_barrier(&[a.at(2), b.at(1)], &[])?;
    if ctx.has(Tag::AsyncQueue) {
        let gate = ctx.semaphore(0)?;
        ctx.device.queue_barrier(&[gate.at(1)], &[b.at(2)])?;
        expect_pending(&b, 2, "a barrier waiting on the host")?;
        gate.signal(1)?;
        b.wait(2, WAIT)?;
    }
    Ok(())
}

fn duplicate_signal(ctx: &Ctx<'_>) -> Result<()> {
    let s = ctx.semaphore(0)?;
    expect_err(
        ctx.device.queue_barrier(&[], &[s.at(1), s.at(2)]),
        StatusCode::InvalidArgument,
        &["twice"],
        "one semaphore signalled twice",
    )?;
    ensure!(s.query()? == 0, "a rejected barrier signalled");
    Ok(())
}

/// Memory from a queue alloca is usable after its signal, with canonical flags; after the
/// dealloca executed host access is FAILED_PRECONDITION.
fn alloca(ctx: &Ctx<'_>) -> Result<()> {
    let s = ctx.semaphore(0)?;
    let d = &ctx.device;
    let buffer = d.queue_alloca(&[], &[s.at(1)], BufferParams::default(), 4096)?;
    ensure!(
        buffer.len() == 4096,
        "alloca of 4096 bytes gave {}",
        buffer.len()
    );
    ensure!(
        buffer.allowed_access() == MemoryAccess::ALL,
        "zero access became {:?}",
        buffer.allowed_access()
    );
    ensure!(
        buffer.usage() == BufferUsage::DEFAULT,
        "zero usage became {:?}",
        buffer.usage()
    );
    s.wait(1, WAIT)?;
    d.queue_fill(
        &[s.at(1)],
        &[s.at(2)],
        &buffer,
        0,
        4096,
        FillPattern::U32(0xABCD_0123),
    )?;
    s.wait(2, WAIT)?;
    expect_slice(
        &read_u32(&buffer)?,
        &[0xABCD_0123; 1024],
        "alloca memory after a fill",
    )?;
    buffer.write(0, &[1, 2, 3, 4])?;
    d.queue_dealloca(&[s.at(2)], &[s.at(3)], &buffer)?;
    s.wait(3, WAIT)?;
    expect_err(
        buffer.read(0, &mut [0; 4]),
        StatusCode::FailedPrecondition,
        &["released"],
        "host read after dealloca",
    )?;
    expect_err(
        buffer.write(0, &[0; 4]),
        StatusCode::FailedPrecondition,
        &[],
        "host write after dealloca",
    )?;
    Ok(())
}

/// alloca → fill → copy out → dealloca cycles, linked only by one semaphore timeline.
fn alloca_cycles(ctx: &Ctx<'_>) -> Result<()> {
    const CYCLES: u64 = 16;
    let out = ctx.buffer(CYCLES * 64)?;
    let s = ctx.semaphore(0)?;
    let d = &ctx.device;
    let mut value = 0;
    let mut buffers = Vec::new();
    for cycle in 0..CYCLES {
        let buffer = d.queue_alloca(
            &[s.at(value)],
            &[s.at(value + 1)],
            BufferParams::default(),
            64 + cycle * 100,
        )?;
        d.queue_fill(
            &[s.at(value + 1)],
            &[s.at(value + 2)],
            &buffer,
            0,
            64,
            FillPattern::U32(cycle as u32 + 1),
        )?;
        d.queue_copy(
            &[s.at(value + 2)],
            &[s.at(value + 3)],
            &buffer,
            0,
            &out,
            cycle * 64,
            64,
        )?;
        d.queue_dealloca(&[s.at(value + 3)], &[s.at(value + 4)], &buffer)?;
        buffers.push(buffer);
        value += 4;
    }
    s.wait(value, WAIT)?;
    let expected: Vec<u32> = (0..CYCLES as u32).flat_map(|c| [c + 1; 16]).collect();
    expect_slice(
        &read_u32(&out)?,
        &expected,
        "values copied out of each cycle",
    )?;
    for buffer in &buffers {
        expect_err(
            buffer.read(0, &mut [0; 4]),
            StatusCode::FailedPrecondition,
            &[],
            "host read of a deallocated cycle buffer",
        )?;
    }
    Ok(())
}

/// An alloca parked on a host signal: its memory is not usable until it executes.
fn alloca_parked(ctx: &Ctx<'_>) -> Result<()> {
    let (gate, s) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    let d = &ctx.device;
    let buffer = d.queue_alloca(&[gate.at(1)], &[s.at(1)], BufferParams::default(), 256)?;
    d.queue_fill(&[s.at(1)], &[s.at(2)], &buffer, 0, 256, FillPattern::U8(7))?;
    expect_err(
        buffer.read(0, &mut [0; 4]),
        StatusCode::FailedPrecondition,
        &["not allocated"],
        "host read before the alloca executed",
    )?;
    expect_pending(&s, 1, "an alloca waiting on the host")?;
    gate.signal(1)?;
    s.wait(2, WAIT)?;
    expect_slice(
        &read_bytes(&buffer)?,
        &[7; 256],
        "parked alloca after its fill",
    )?;
    d.queue_dealloca(&[gate.at(2)], &[s.at(3)], &buffer)?;
    buffer.read(0, &mut [0; 4])?;
    gate.signal(2)?;
    s.wait(3, WAIT)?;
    expect_err(
        buffer.read(0, &mut [0; 4]),
        StatusCode::FailedPrecondition,
        &["released"],
        "host read after the parked dealloca",
    )?;
    Ok(())
}

/// Device work on deallocated memory fails its signal semaphores.
fn dealloca_then_use(ctx: &Ctx<'_>) -> Result<()> {
    let s = ctx.semaphore(0)?;
    let d = &ctx.device;
    let buffer = d.queue_alloca(&[], &[s.at(1)], BufferParams::default(), 64)?;
    d.queue_dealloca(&[s.at(1)], &[s.at(2)], &buffer)?;
    s.wait(2, WAIT)?;
    let after = ctx.semaphore(0)?;
    match d.queue_fill(&[], &[after.at(1)], &buffer, 0, 64, FillPattern::U8(1)) {
        Err(status) => ensure!(
            status.code() == StatusCode::FailedPrecondition,
            "fill of released memory rejected with {status}"
        ),
        Ok(()) => {
            expect_err(
                after.wait(1, WAIT),
                StatusCode::FailedPrecondition,
                &[],
                "fill of released memory",
            )?;
        }
    }
    let again = ctx.semaphore(0)?;
    match d.queue_dealloca(&[], &[again.at(1)], &buffer) {
        Err(status) => ensure!(
            status.code() == StatusCode::FailedPrecondition,
            "second dealloca rejected with {status}"
        ),
        Ok(()) => {
            expect_err(
                again.wait(1, WAIT),
                StatusCode::FailedPrecondition,
                &[],
                "second dealloca",
            )?;
        }
    }
    Ok(())
}

/// Queue dispatch without a command buffer: constants and bindings, indirect counts, zero
/// workgroups, kernel failure.
fn dispatch(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (scale, ids, write, fail) = (
        k.ord("scale_offset")?,
        k.ord("workgroup_ids")?,
        k.ord("write_constants")?,
        k.ord("fail")?,
    );
    let d = &ctx.device;
    let s = ctx.semaphore(0)?;
    let input = ctx.buffer_f32(&[1.0, 2.0, 3.0, 4.0])?;
    let out = ctx.buffer(16)?;
    d.queue_dispatch(
        &[],
        &[s.at(1)],
        &k.exe,
        scale,
        Workgroups::Static([1, 1, 1]),
        &[3, 10],
        &[BufferRef::whole(&input), BufferRef::whole(&out)],
    )?;
    s.wait(1, WAIT)?;
    expect_slice(
        &read_f32(&out)?,
        &[13.0, 16.0, 19.0, 22.0],
        "queue dispatch of scale_offset",
    )?;

    let counts = ctx.buffer_u32(&[0, 0, 0, 0, 3, 2, 1])?;
    let ids_out = ctx.buffer_u32(&[0xCAFE_BABE; 8])?;
    d.queue_dispatch(
        &[s.at(1)],
        &[s.at(2)],
        &k.exe,
        ids,
        Workgroups::Indirect(BufferRef::range(&counts, 16, 12)),
        &[],
        &[BufferRef::whole(&ids_out)],
    )?;
    s.wait(2, WAIT)?;
    expect_slice(
        &read_u32(&ids_out)?,
        &[0, 1, 2, 3, 4, 5, 0xCAFE_BABE, 0xCAFE_BABE],
        "indirect queue dispatch",
    )?;

    let untouched = ctx.buffer_u32(&[0xCAFE_BABE; 4])?;
    d.queue_dispatch(
        &[s.at(2)],
        &[s.at(3)],
        &k.exe,
        write,
        Workgroups::Static([0, 4, 4]),
        &[1, 2, 3, 4],
        &[BufferRef::whole(&untouched)],
    )?;
    s.wait(3, WAIT)?;
    expect_slice(
        &read_u32(&untouched)?,
        &[0xCAFE_BABE; 4],
        "zero-workgroup queue dispatch",
    )?;

    let failed = ctx.semaphore(0)?;
    d.queue_dispatch(
        &[],
        &[failed.at(1)],
        &k.exe,
        fail,
        Workgroups::Static([1, 1, 1]),
        &[],
        &[],
    )?;
    expect_err(
        failed.wait(1, WAIT),
        StatusCode::Internal,
        &[],
        "queue dispatch of a failing kernel",
    )?;
    d.queue_dispatch(
        &[s.at(3)],
        &[s.at(4)],
        &k.exe,
        scale,
        Workgroups::Static([1, 1, 1]),
        &[1, 1],
        &[BufferRef::whole(&input), BufferRef::whole(&out)],
    )?;
    s.wait(4, WAIT)?;
    expect_slice(
        &read_f32(&out)?,
        &[2.0, 3.0, 4.0, 5.0],
        "queue dispatch after a failure",
    )?;
    Ok(())
}

fn dispatch_errors(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (scale, write) = (k.ord("scale_offset")?, k.ord("write_constants")?);
    let d = &ctx.device;
    let s = ctx.semaphore(0)?;
    let (input, out) = (ctx.buffer_f32(&[1.0; 4])?, ctx.buffer(16)?);
    let one = Workgroups::Static([1, 1, 1]);
    let both = [BufferRef::whole(&input), BufferRef::whole(&out)];
    expect_err(
        d.queue_dispatch(&[], &[s.at(1)], &k.exe, scale, one, &[1], &both),
        StatusCode::InvalidArgument,
        &["scale_offset"],
        "wrong constant count",
    )?;
    expect_err(
        d.queue_dispatch(&[], &[s.at(1)], &k.exe, scale, one, &[1, 1], &both[..1]),
        StatusCode::InvalidArgument,
        &["scale_offset"],
        "wrong binding count",
    )?;
    expect_err(
        d.queue_dispatch(&[], &[s.at(1)], &k.exe, k.exe.export_count(), one, &[], &[]),
        StatusCode::OutOfRange,
        &[],
        "ordinal out of range",
    )?;
    expect_err(
        d.queue_dispatch(
            &[],
            &[s.at(1)],
            &k.exe,
            write,
            one,
            &[1, 2, 3, 4],
            &[BufferRef::range(&out, 8, 16)],
        ),
        StatusCode::OutOfRange,
        &[],
        "binding past the end",
    )?;
    expect_err(
        d.queue_dispatch(
            &[],
            &[s.at(1)],
            &k.exe,
            write,
            one,
            &[1, 2, 3, 4],
            &[BufferRef::slot(0, 0, 16)],
        ),
        StatusCode::InvalidArgument,
        &[],
        "slot binding without a command buffer",
    )?;
    let no_dispatch = ctx.device.allocate_buffer(
        BufferParams::with_usage(BufferUsage::TRANSFER | BufferUsage::MAPPING),
        16,
    )?;
    expect_err(
        d.queue_dispatch(
            &[],
            &[s.at(1)],
            &k.exe,
            write,
            one,
            &[1, 2, 3, 4],
            &[BufferRef::whole(&no_dispatch)],
        ),
        StatusCode::PermissionDenied,
        &["DISPATCH_STORAGE"],
        "binding without dispatch usage",
    )?;
    expect_pending(&s, 1, "rejected queue dispatches")?;
    expect_slice(
        &read_f32(&out)?,
        &[0.0; 4],
        "output after rejected dispatches",
    )?;
    Ok(())
}

/// Host calls run exactly once with their arguments; an error return fails the signals.
fn host_call(ctx: &Ctx<'_>) -> Result<()> {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = ctx.semaphore(0)?;
    for argument in [3u32, 5, 8] {
        let (calls, seen) = (calls.clone(), seen.clone());
        let value = u64::from(argument);
        ctx.device.queue_host_call(&[], &[s.at(value)], move || {
            calls.fetch_add(1, Ordering::SeqCst);
            seen.lock().push(argument);
            Ok(())
        })?;
        s.wait(value, WAIT)?;
    }
    ensure!(
        calls.load(Ordering::SeqCst) == 3,
        "3 host calls ran {} times",
        calls.load(Ordering::SeqCst)
    );
    expect_slice(&seen.lock(), &[3, 5, 8], "host call arguments")?;

    let failed = ctx.semaphore(0)?;
    let other = ctx.semaphore(0)?;
    ctx.device
        .queue_host_call(&[], &[failed.at(1), other.at(1)], || {
            Err(Status::aborted("cts host call refuses"))
        })?;
    expect_err(
        failed.wait(1, WAIT),
        StatusCode::Aborted,
        &[],
        "signal of a failing host call",
    )?;
    expect_err(
        other.wait(1, WAIT),
        StatusCode::Aborted,
        &[],
        "second signal of a failing host call",
    )?;
    let after = ctx.semaphore(0)?;
    let ran = Arc::new(AtomicUsize::new(0));
    let ran_in_call = ran.clone();
    ctx.device
        .queue_host_call(&[failed.at(1)], &[after.at(1)], move || {
            ran_in_call.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })?;
    expect_err(
        after.wait(1, WAIT),
        StatusCode::Aborted,
        &[],
        "host call waiting on a failed semaphore",
    )?;
    ensure!(
        ran.load(Ordering::SeqCst) == 0,
        "a host call ran although its wait failed"
    );
    Ok(())
}

/// Host calls enqueued in reverse, chained by semaphores, run in chain order.
fn host_call_order(ctx: &Ctx<'_>) -> Result<()> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (gate, s) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    let steps: [(u32, Timepoint, Timepoint); 3] = [
        (3, s.at(2), s.at(3)),
        (2, s.at(1), s.at(2)),
        (1, gate.at(1), s.at(1)),
    ];
    for (step, wait, signal) in steps {
        let log = log.clone();
        ctx.device.queue_host_call(&[wait], &[signal], move || {
            log.lock().push(step);
            Ok(())
        })?;
    }
    ensure!(log.lock().is_empty(), "host calls ran before their waits");
    gate.signal(1)?;
    s.wait(3, WAIT)?;
    expect_slice(&log.lock(), &[1, 2, 3], "host call order")?;
    Ok(())
}

/// Parked work whose host call signals semaphores (its own wait semaphore included), fails
/// one, and enqueues more work: the driver must not deadlock on re-entrant signals.
fn host_call_reentrant(ctx: &Ctx<'_>) -> Result<()> {
    let (gate, other, failing, done) = (
        ctx.semaphore(0)?,
        ctx.semaphore(0)?,
        ctx.semaphore(0)?,
        ctx.semaphore(0)?,
    );
    let target = ctx.buffer(16)?;
    let d = ctx.device.clone();
    // Parked behind `other` and behind `gate` at 2: both signalled from inside the host call.
    d.queue_fill(
        &[other.at(1)],
        &[done.at(1)],
        &target,
        0,
        8,
        FillPattern::U8(1),
    )?;
    d.queue_barrier(&[gate.at(2), done.at(1)], &[done.at(2)])?;
    let inner = (
        gate.clone(),
        other.clone(),
        failing.clone(),
        d.clone(),
        target.clone(),
        done.clone(),
    );
    d.queue_host_call(&[gate.at(1)], &[], move || {
        let (gate, other, failing, device, target, done) = inner;
        other.signal(1)?;
        gate.signal(2)?;
        failing.fail(Status::aborted("cts failure from a host call"));
        device.queue_fill(
            &[done.at(2)],
            &[done.at(3)],
            &target,
            8,
            8,
            FillPattern::U8(2),
        )?;
        Ok(())
    })?;
    let after_failure = ctx.semaphore(0)?;
    d.queue_barrier(&[failing.at(1)], &[after_failure.at(1)])?;
    gate.signal(1)?;
    done.wait(3, WAIT)?;
    expect_err(
        after_failure.wait(1, WAIT),
        StatusCode::Aborted,
        &[],
        "work waiting on a semaphore failed inside a host call",
    )?;
    expect_slice(
        &read_bytes(&target)?,
        &[1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2],
        "fills released from inside a host call",
    )?;
    Ok(())
}

/// While a long dispatch runs on another thread, host reads of its buffer either fail with
/// FAILED_PRECONDITION or see the whole buffer before or after the dispatch, never a mix. A
/// dispatch that starts while the host reads fails with FAILED_PRECONDITION without touching the
/// buffer; the case retries until one dispatch ran.
fn host_access_during_work(ctx: &Ctx<'_>) -> Result<()> {
    const ELEMENTS: usize = 1 << 18;
    let k = ctx.kernels()?;
    let visit = k.ord("visit")?;
    let buffer = ctx.buffer((ELEMENTS * 4) as u64)?;
    // Whether a dispatch starts before or after a host read is timing; each attempt leaves the
    // device a window, and a refusal at start is allowed, so only a long run of refusals fails.
    for attempt in 0..200 {
        let done = ctx.semaphore(0)?;
        std::thread::scope(|scope| -> Result<()> {
            let worker = scope.spawn(|| -> hal_core::Result<()> {
                let groups = Workgroups::Static([ELEMENTS as u32, 1, 1]);
                ctx.device.queue_dispatch(
                    &[],
                    &[done.at(1)],
                    &k.exe,
                    visit,
                    groups,
                    &[],
                    &[BufferRef::whole(&buffer)],
                )
            });
            while !worker.is_finished() {
                match buffer.read_elements::<u32>(0, ELEMENTS) {
                    Ok(values)
                        if values.iter().all(|&v| v == 0) || values.iter().all(|&v| v == 1) => {}
                    Ok(values) => {
                        let ones = values.iter().filter(|&&v| v == 1).count();
                        anyhow::bail!("a host read saw a dispatch half done ({ones} of {ELEMENTS} elements visited)");
                    }
                    Err(status) if status.code() == StatusCode::FailedPrecondition => {}
                    Err(status) => {
                        anyhow::bail!("a host read during device work failed with {status}")
                    }
                }
                // Leave the device a window to start.
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("the dispatching thread panicked"))??;
            Ok(())
        })?;
        // Asynchronous drivers may still be running the dispatch: wait before reading.
        let outcome = done.wait(1, WAIT);
        let values = read_u32(&buffer)?;
        match outcome {
            Ok(()) => {
                ensure!(
                    values.iter().all(|&v| v == 1),
                    "not every element was visited once"
                );
                return Ok(());
            }
            Err(status) if status.code() == StatusCode::FailedPrecondition => {
                ensure!(
                    values.iter().all(|&v| v == 0),
                    "a dispatch refused at start (attempt {attempt}) still wrote"
                );
            }
            Err(status) => anyhow::bail!("the dispatch failed with {status}"),
        }
    }
    anyhow::bail!("200 dispatches in a row were refused because the host had the buffer mapped")
}

fn flush(ctx: &Ctx<'_>) -> Result<()> {
    ctx.device.queue_flush()?;
    let s = ctx.semaphore(0)?;
    ctx.device.queue_barrier(&[], &[s.at(1)])?;
    ctx.device.queue_flush()?;
    s.wait(1, WAIT)?;
    ctx.device.queue_flush()?;
    Ok(())
}
