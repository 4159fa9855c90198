//! Command buffers: creation, the recording state machine, categories, submission rules,
//! binding-table validation, update limits, events, and reuse.

use anyhow::{ensure, Context as _, Result};
use hal_core::{
    BufferParams, BufferRef, BufferUsage, CommandBufferMode, CommandBufferParams, CommandCategory,
    FillPattern, StatusCode, Workgroups, MAX_UPDATE_SIZE, WHOLE_BUFFER,
};

use crate::case::Case;
use crate::check::{expect_err, expect_slice, noise};
use crate::ctx::{expect_pending, read_bytes, read_u32, Ctx, WAIT};
use crate::Tag;

const SUITE: &str = "command_buffer";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "empty", empty),
        Case::new(SUITE, "invalid_params", invalid_params),
        Case::new(SUITE, "recording_state", recording_state),
        Case::new(SUITE, "submit_unfinished", submit_unfinished),
        Case::new(SUITE, "category", category),
        Case::new(SUITE, "category_dispatch", category_dispatch).exe(),
        Case::new(SUITE, "transfer_beside_dispatch", transfer_beside_dispatch).exe(),
        Case::new(SUITE, "one_shot_twice", one_shot_twice),
        Case::new(SUITE, "reusable_resubmit", reusable_resubmit),
        Case::new(SUITE, "update_limit", update_limit),
        Case::new(SUITE, "binding_table_errors", binding_table_errors).tags(&[Tag::Indirect]),
        Case::new(SUITE, "empty_table_slots", empty_table_slots).tags(&[Tag::Indirect]),
        Case::new(
            SUITE,
            "rejected_command_no_effect",
            rejected_command_no_effect,
        )
        .tags(&[Tag::Indirect]),
        Case::new(SUITE, "events", events).tags(&[Tag::Events]),
        Case::new(SUITE, "drop_unsubmitted", drop_unsubmitted),
        Case::new(SUITE, "submit_from_threads", submit_from_threads).tags(&[Tag::Threads]),
    ]
}

fn all_params() -> Vec<CommandBufferParams> {
    let mut all = Vec::new();
    for categories in [
        CommandCategory::TRANSFER,
        CommandCategory::DISPATCH,
        CommandCategory::ANY,
    ] {
        for mode in [
            CommandBufferMode::ONE_SHOT | CommandBufferMode::ALLOW_INLINE_EXECUTION,
            CommandBufferMode::ONE_SHOT,
            CommandBufferMode::empty(),
        ] {
            for binding_capacity in [0, 4] {
                all.push(CommandBufferParams {
                    mode,
                    categories,
                    binding_capacity,
                });
            }
        }
    }
    all
}

/// Every category and mode: begin, end, submit the empty buffer, wait.
fn empty(ctx: &Ctx<'_>) -> Result<()> {
    let done = ctx.semaphore(0)?;
    let mut value = 0;
    for params in all_params() {
        let mut command_buffer = ctx.device.create_command_buffer(params)?;
        command_buffer.begin()?;
        command_buffer.end()?;
        let submits = if params.mode.contains(CommandBufferMode::ONE_SHOT) {
            1
        } else {
            2
        };
        for _ in 0..submits {
            value += 1;
            ctx.device
                .queue_execute(&[], &[done.at(value)], &command_buffer, &[])?;
            done.wait(value, WAIT)
                .map_err(|s| anyhow::anyhow!("empty buffer {params:?}: {s}"))?;
        }
    }
    Ok(())
}

fn invalid_params(ctx: &Ctx<'_>) -> Result<()> {
    let no_category = CommandBufferParams {
        categories: CommandCategory::empty(),
        ..CommandBufferParams::one_shot_inline()
    };
    expect_err(
        ctx.device.create_command_buffer(no_category),
        StatusCode::InvalidArgument,
        &["category"],
        "no category",
    )?;
    let inline_reusable = CommandBufferParams {
        mode: CommandBufferMode::ALLOW_INLINE_EXECUTION,
        ..CommandBufferParams::reusable(0)
    };
    expect_err(
        ctx.device.create_command_buffer(inline_reusable),
        StatusCode::InvalidArgument,
        &["one-shot"],
        "inline reusable",
    )?;
    Ok(())
}

fn recording_state(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(16)?;
    let target = BufferRef::whole(&buffer);
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(0))?;
    expect_err(
        command_buffer.fill(target, FillPattern::U8(1)),
        StatusCode::FailedPrecondition,
        &["Initial"],
        "fill before begin",
    )?;
    expect_err(
        command_buffer.execution_barrier(),
        StatusCode::FailedPrecondition,
        &["Initial"],
        "barrier before begin",
    )?;
    expect_err(
        command_buffer.end(),
        StatusCode::FailedPrecondition,
        &["Initial"],
        "end before begin",
    )?;
    command_buffer.begin()?;
    expect_err(
        command_buffer.begin(),
        StatusCode::FailedPrecondition,
        &["Recording"],
        "begin while recording",
    )?;
    command_buffer.fill(target, FillPattern::U8(1))?;
    command_buffer.end()?;
    expect_err(
        command_buffer.fill(target, FillPattern::U8(2)),
        StatusCode::FailedPrecondition,
        &["Executable"],
        "fill after end",
    )?;
    expect_err(
        command_buffer.update(&[1], BufferRef::range(&buffer, 0, 1)),
        StatusCode::FailedPrecondition,
        &["Executable"],
        "update after end",
    )?;
    expect_err(
        command_buffer.copy(
            BufferRef::range(&buffer, 0, 4),
            BufferRef::range(&buffer, 8, 4),
        ),
        StatusCode::FailedPrecondition,
        &["Executable"],
        "copy after end",
    )?;
    expect_err(
        command_buffer.end(),
        StatusCode::FailedPrecondition,
        &["Executable"],
        "end twice",
    )?;
    expect_err(
        command_buffer.begin(),
        StatusCode::FailedPrecondition,
        &["Executable"],
        "recording twice",
    )?;
    // The buffer still holds exactly its one fill.
    ctx.submit_and_wait(&command_buffer, &[])?;
    expect_slice(
        &read_bytes(&buffer)?,
        &[1; 16],
        "after the only recorded fill",
    )?;
    Ok(())
}

fn submit_unfinished(ctx: &Ctx<'_>) -> Result<()> {
    let done = ctx.semaphore(0)?;
    let buffer = ctx.buffer(16)?;
    for params in [
        CommandBufferParams::one_shot_inline(),
        CommandBufferParams::reusable(0),
    ] {
        let mut command_buffer = ctx.device.create_command_buffer(params)?;
        expect_err(
            ctx.device
                .queue_execute(&[], &[done.at(1)], &command_buffer, &[]),
            StatusCode::FailedPrecondition,
            &["end"],
            "submit before begin",
        )?;
        command_buffer.begin()?;
        command_buffer.fill(BufferRef::whole(&buffer), FillPattern::U8(9))?;
        expect_err(
            ctx.device
                .queue_execute(&[], &[done.at(1)], &command_buffer, &[]),
            StatusCode::FailedPrecondition,
            &["end"],
            "submit while recording",
        )?;
        expect_pending(&done, 1, "the signal of a rejected submission")?;
    }
    Ok(())
}

fn category(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(16)?;
    let params = CommandBufferParams {
        categories: CommandCategory::DISPATCH,
        ..CommandBufferParams::reusable(0)
    };
    let mut command_buffer = ctx.device.create_command_buffer(params)?;
    command_buffer.begin()?;
    expect_err(
        command_buffer.fill(BufferRef::whole(&buffer), FillPattern::U8(1)),
        StatusCode::InvalidArgument,
        &["TRANSFER"],
        "fill in a dispatch-only buffer",
    )?;
    expect_err(
        command_buffer.update(&[1, 2], BufferRef::range(&buffer, 0, 2)),
        StatusCode::InvalidArgument,
        &["TRANSFER"],
        "update in a dispatch-only buffer",
    )?;
    expect_err(
        command_buffer.copy(
            BufferRef::range(&buffer, 0, 4),
            BufferRef::range(&buffer, 8, 4),
        ),
        StatusCode::InvalidArgument,
        &["TRANSFER"],
        "copy in a dispatch-only buffer",
    )?;
    command_buffer.execution_barrier()?;
    command_buffer.end()?;
    ctx.submit_and_wait(&command_buffer, &[])?;
    ensure!(
        read_bytes(&buffer)?.iter().all(|&b| b == 0),
        "a rejected command changed the buffer"
    );
    Ok(())
}

fn category_dispatch(ctx: &Ctx<'_>) -> Result<()> {
    let kernels = ctx.kernels()?;
    let out = ctx.buffer(16)?;
    let params = CommandBufferParams {
        categories: CommandCategory::TRANSFER,
        ..CommandBufferParams::reusable(0)
    };
    let mut command_buffer = ctx.device.create_command_buffer(params)?;
    command_buffer.begin()?;
    let result = command_buffer.dispatch(
        &kernels.exe,
        kernels.ord("write_constants")?,
        Workgroups::Static([1, 1, 1]),
        &[1, 2, 3, 4],
        &[BufferRef::whole(&out)],
    );
    expect_err(
        result,
        StatusCode::InvalidArgument,
        &["DISPATCH"],
        "dispatch in a transfer-only buffer",
    )?;
    command_buffer.end()?;
    ctx.submit_and_wait(&command_buffer, &[])?;
    ensure!(
        read_u32(&out)?.iter().all(|&v| v == 0),
        "a rejected dispatch ran"
    );
    Ok(())
}

/// A fill of one part of a buffer beside a dispatch that binds all of it, with no barrier
/// between them: IREE's programs do this (every dispatch binds the whole transient buffer and
/// offsets compiled into the kernel say which part it touches). Drivers must run it, in whatever
/// order keeps Rust code from racing with the kernel.
fn transfer_beside_dispatch(ctx: &Ctx<'_>) -> Result<()> {
    let kernels = ctx.kernels()?;
    let out = ctx.buffer(128)?;
    for params in all_params() {
        if !params.categories.contains(CommandCategory::ANY) {
            continue;
        }
        out.zero(0, 128)?;
        let mut command_buffer = ctx.device.create_command_buffer(params)?;
        command_buffer.begin()?;
        command_buffer.fill(BufferRef::range(&out, 64, 64), FillPattern::U32(7))?;
        command_buffer.dispatch(
            &kernels.exe,
            kernels.ord("write_constants")?,
            Workgroups::Static([1, 1, 1]),
            &[1, 2, 3, 4],
            &[BufferRef::whole(&out)],
        )?;
        command_buffer.copy(
            BufferRef::range(&out, 0, 16),
            BufferRef::range(&out, 32, 16),
        )?;
        command_buffer.end()?;
        ctx.submit_and_wait(&command_buffer, &[])
            .with_context(|| format!("{params:?}"))?;
        let got = read_u32(&out)?;
        let mut want = vec![0u32; 32];
        want[..4].copy_from_slice(&[1, 2, 3, 4]);
        want[16..].fill(7);
        // The copy read the dispatch's output or the zeros before it: both are valid orders of a
        // region without barriers.
        let copied = &got[8..12];
        ensure!(
            copied == [1, 2, 3, 4] || copied == [0, 0, 0, 0],
            "{params:?}: the copy read {copied:?}"
        );
        want[8..12].copy_from_slice(copied);
        ensure!(got == want, "{params:?}: got {got:?}");
    }
    Ok(())
}

fn one_shot_twice(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(16)?;
    let done = ctx.semaphore(0)?;
    let one_shot = CommandBufferParams {
        mode: CommandBufferMode::ONE_SHOT,
        ..CommandBufferParams::reusable(0)
    };
    for (i, params) in [CommandBufferParams::one_shot_inline(), one_shot]
        .into_iter()
        .enumerate()
    {
        let mut command_buffer = ctx.device.create_command_buffer(params)?;
        command_buffer.begin()?;
        command_buffer.fill(BufferRef::whole(&buffer), FillPattern::U8(1))?;
        command_buffer.end()?;
        let value = i as u64 + 1;
        ctx.device
            .queue_execute(&[], &[done.at(value)], &command_buffer, &[])?;
        done.wait(value, WAIT)?;
        expect_err(
            ctx.device
                .queue_execute(&[], &[done.at(value + 10)], &command_buffer, &[]),
            StatusCode::FailedPrecondition,
            &["once"],
            "second submit of a one-shot buffer",
        )?;
        ensure!(done.query()? == value, "a rejected submit signalled");
    }
    Ok(())
}

/// A reusable buffer replays every command (fill, update, copy) at each submit.
fn reusable_resubmit(ctx: &Ctx<'_>) -> Result<()> {
    let source = ctx.buffer_bytes(&noise(32, 11))?;
    let target = ctx.buffer(96)?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(0))?;
    command_buffer.begin()?;
    command_buffer.fill(
        BufferRef::range(&target, 0, 32),
        FillPattern::U32(0x0A0B_0C0D),
    )?;
    command_buffer.update(&[5; 32], BufferRef::range(&target, 32, 32))?;
    command_buffer.copy(BufferRef::whole(&source), BufferRef::range(&target, 64, 32))?;
    command_buffer.end()?;
    for round in 0..3u8 {
        target.fill(0, WHOLE_BUFFER, FillPattern::U8(round))?;
        source.write(0, &noise(32, 20 + u32::from(round)))?;
        ctx.submit_and_wait(&command_buffer, &[])?;
        let mut expected = Vec::new();
        for _ in 0..8 {
            expected.extend_from_slice(&0x0A0B_0C0Du32.to_le_bytes());
        }
        expected.extend_from_slice(&[5; 32]);
        expected.extend_from_slice(&noise(32, 20 + u32::from(round)));
        expect_slice(
            &read_bytes(&target)?,
            &expected,
            &format!("submission {round}"),
        )?;
    }
    Ok(())
}

fn update_limit(ctx: &Ctx<'_>) -> Result<()> {
    let target = ctx.buffer(MAX_UPDATE_SIZE as u64 + 64)?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::one_shot_inline())?;
    command_buffer.begin()?;
    let too_big = vec![7u8; MAX_UPDATE_SIZE + 1];
    expect_err(
        command_buffer.update(&too_big, BufferRef::whole(&target)),
        StatusCode::InvalidArgument,
        &[&too_big.len().to_string()],
        "update over the limit",
    )?;
    expect_err(
        command_buffer.update(&[1; 8], BufferRef::range(&target, 0, 4)),
        StatusCode::InvalidArgument,
        &["8"],
        "update length mismatch",
    )?;
    expect_err(
        command_buffer.update(
            &[1; 8],
            BufferRef::range(&target, MAX_UPDATE_SIZE as u64 + 60, 8),
        ),
        StatusCode::OutOfRange,
        &[],
        "update past the end",
    )?;
    let payload = noise(MAX_UPDATE_SIZE, 12);
    command_buffer.update(&payload, BufferRef::range(&target, 64, WHOLE_BUFFER))?;
    command_buffer.end()?;
    ctx.submit_and_wait(&command_buffer, &[])?;
    let bytes = read_bytes(&target)?;
    ensure!(
        bytes[..64].iter().all(|&b| b == 0),
        "bytes before the update changed"
    );
    expect_slice(&bytes[64..], &payload, "a 64 KiB update")?;
    Ok(())
}

fn binding_table_errors(ctx: &Ctx<'_>) -> Result<()> {
    let long = ctx.buffer(64)?;
    let short = ctx.buffer(32)?;
    let no_transfer = ctx.device.allocate_buffer(
        BufferParams::with_usage(BufferUsage::DISPATCH_STORAGE | BufferUsage::MAPPING),
        64,
    )?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(2))?;
    command_buffer.begin()?;
    expect_err(
        command_buffer.fill(BufferRef::slot(2, 0, 4), FillPattern::U8(1)),
        StatusCode::OutOfRange,
        &["slot 2"],
        "slot beyond the capacity",
    )?;
    command_buffer.fill(BufferRef::slot(1, 0, 64), FillPattern::U8(3))?;
    command_buffer.end()?;
    let done = ctx.semaphore(0)?;
    let submit = |table: &[BufferRef<'_>]| {
        let table: Vec<_> = table.iter().copied().map(Some).collect();
        ctx.device
            .queue_execute(&[], &[done.at(1)], &command_buffer, &table)
    };
    expect_err(
        submit(&[]),
        StatusCode::InvalidArgument,
        &["slot 1"],
        "empty table",
    )?;
    expect_err(
        submit(&[BufferRef::whole(&long)]),
        StatusCode::InvalidArgument,
        &["slot 1"],
        "table too short",
    )?;
    expect_err(
        submit(&[BufferRef::whole(&long), BufferRef::whole(&short)]),
        StatusCode::OutOfRange,
        &["slot 1"],
        "table entry too short",
    )?;
    expect_err(
        submit(&[BufferRef::whole(&long), BufferRef::range(&long, 8, 64)]),
        StatusCode::OutOfRange,
        &["entry 1"],
        "table entry beyond its buffer",
    )?;
    expect_err(
        submit(&[BufferRef::whole(&long), BufferRef::slot(0, 0, 64)]),
        StatusCode::InvalidArgument,
        &["entry 1"],
        "table entry that is a slot",
    )?;
    expect_err(
        submit(&[BufferRef::whole(&long), BufferRef::whole(&no_transfer)]),
        StatusCode::PermissionDenied,
        &["slot 1"],
        "table entry without transfer usage",
    )?;
    expect_pending(&done, 1, "the signal of rejected submissions")?;
    ensure!(
        read_bytes(&long)?.iter().all(|&b| b == 0),
        "a rejected submission wrote"
    );
    submit(&[BufferRef::whole(&short), BufferRef::whole(&long)])?;
    done.wait(1, WAIT)?;
    expect_slice(&read_bytes(&long)?, &[3; 64], "the accepted submission")?;
    Ok(())
}

/// A binding table may leave slots empty (`None`; IREE's slot numbers have gaps) where no
/// recorded command uses them, before, between and after the used ones. A used slot left empty
/// refuses the submission with an error naming the slot, and the refused call has no effect:
/// nothing is signalled or written, and a one-shot buffer can still be submitted.
fn empty_table_slots(ctx: &Ctx<'_>) -> Result<()> {
    let data = noise(256, 71);
    let source = ctx.buffer_bytes(&data)?;
    let target = ctx.buffer(256)?;
    let (src, dst) = (BufferRef::whole(&source), BufferRef::whole(&target));
    // Slots 1 and 4 used; 0, 2, 3 and 5 not.
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(6))?;
    command_buffer.begin()?;
    command_buffer.copy(BufferRef::slot(1, 0, 256), BufferRef::slot(4, 0, 256))?;
    command_buffer.end()?;
    let done = ctx.semaphore(0)?;
    let submit = |table: &[Option<BufferRef<'_>>]| {
        ctx.device
            .queue_execute(&[], &[done.at(1)], &command_buffer, table)
    };
    expect_err(
        submit(&[None, Some(src), None, None, None, None]),
        StatusCode::InvalidArgument,
        &["slot 4", "empty", "TRANSFER_TARGET"],
        "the copy target's slot empty",
    )?;
    expect_err(
        submit(&[Some(src), None, Some(src), Some(src), Some(dst)]),
        StatusCode::InvalidArgument,
        &["slot 1", "empty", "TRANSFER_SOURCE"],
        "the copy source's slot empty, the others filled",
    )?;
    expect_pending(&done, 1, "the signal of refused submissions")?;
    ensure!(
        read_bytes(&target)?.iter().all(|&b| b == 0),
        "a refused submission wrote"
    );
    submit(&[None, Some(src), None, None, Some(dst), None])?;
    done.wait(1, WAIT)?;
    expect_slice(
        &read_bytes(&target)?,
        &data,
        "the copy through slots 1 and 4",
    )?;

    // A one-shot buffer refused for an empty used slot can still be submitted.
    let mut one_shot = ctx.device.create_command_buffer(CommandBufferParams {
        mode: CommandBufferMode::ONE_SHOT,
        categories: CommandCategory::ANY,
        binding_capacity: 3,
    })?;
    one_shot.begin()?;
    one_shot.fill(BufferRef::slot(2, 0, 64), FillPattern::U8(9))?;
    one_shot.end()?;
    expect_err(
        ctx.device
            .queue_execute(&[], &[done.at(2)], &one_shot, &[Some(dst), Some(dst), None]),
        StatusCode::InvalidArgument,
        &["slot 2", "empty"],
        "a one-shot buffer's used slot empty",
    )?;
    ctx.device
        .queue_execute(&[], &[done.at(2)], &one_shot, &[None, None, Some(dst)])?;
    done.wait(2, WAIT)?;
    expect_slice(
        &read_bytes(&target)?[..64],
        &[9; 64],
        "the one-shot fill through slot 2",
    )?;

    // Buffers that use no slot at all (inline execution allowed, or recorded) accept a table of
    // empty slots.
    for params in [
        CommandBufferParams::one_shot_inline(),
        CommandBufferParams::reusable(2),
    ] {
        let mut direct = ctx.device.create_command_buffer(params)?;
        direct.begin()?;
        direct.fill(BufferRef::range(&target, 64, 64), FillPattern::U8(5))?;
        direct.end()?;
        let value = done.query()? + 1;
        ctx.device
            .queue_execute(&[], &[done.at(value)], &direct, &[None, None])?;
        done.wait(value, WAIT)?;
    }
    expect_slice(
        &read_bytes(&target)?[64..128],
        &[5; 64],
        "fills of buffers that use no slot",
    )?;
    Ok(())
}

/// A command rejected at record time leaves no trace: the slots it named are not required at
/// submit, and the buffer still records and runs.
fn rejected_command_no_effect(ctx: &Ctx<'_>) -> Result<()> {
    let target = ctx.buffer(64)?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(4))?;
    command_buffer.begin()?;
    expect_err(
        command_buffer.copy(
            BufferRef::slot(0, 0, WHOLE_BUFFER),
            BufferRef::slot(1, 0, 16),
        ),
        StatusCode::InvalidArgument,
        &["concrete length"],
        "copy from a whole slot",
    )?;
    expect_err(
        command_buffer.fill(BufferRef::slot(2, 1, 4), FillPattern::U16(1)),
        StatusCode::InvalidArgument,
        &["1"],
        "misaligned fill of a slot",
    )?;
    expect_err(
        command_buffer.update(&[1; 8], BufferRef::slot(3, 0, 4)),
        StatusCode::InvalidArgument,
        &[],
        "update length mismatch on a slot",
    )?;
    command_buffer.fill(BufferRef::whole(&target), FillPattern::U8(4))?;
    command_buffer.end()?;
    let slots: Vec<usize> = command_buffer
        .slot_requirements()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_some())
        .map(|(i, _)| i)
        .collect();
    ensure!(
        slots.is_empty(),
        "rejected commands left requirements on binding table slots {slots:?}"
    );
    ctx.submit_and_wait(&command_buffer, &[])?;
    expect_slice(&read_bytes(&target)?, &[4; 64], "the accepted fill")?;
    Ok(())
}

/// Events between commands: signal, wait, reset, in a buffer replayed twice.
fn events(ctx: &Ctx<'_>) -> Result<()> {
    let a = ctx.buffer(64)?;
    let b = ctx.buffer(64)?;
    let event = ctx.device.create_event()?;
    for params in [
        CommandBufferParams::one_shot_inline(),
        CommandBufferParams::reusable(0),
    ] {
        a.zero(0, WHOLE_BUFFER)?;
        b.zero(0, WHOLE_BUFFER)?;
        let mut command_buffer = ctx.device.create_command_buffer(params)?;
        command_buffer.begin()?;
        command_buffer.fill(BufferRef::whole(&a), FillPattern::U32(0x1234_5678))?;
        command_buffer.signal_event(&event)?;
        command_buffer.wait_events(std::slice::from_ref(&event))?;
        command_buffer.copy(BufferRef::whole(&a), BufferRef::whole(&b))?;
        command_buffer.reset_event(&event)?;
        command_buffer.end()?;
        let rounds = if params.mode.contains(CommandBufferMode::ONE_SHOT) {
            1
        } else {
            2
        };
        for _ in 0..rounds {
            ctx.submit_and_wait(&command_buffer, &[])?;
            expect_slice(&read_u32(&b)?, &[0x1234_5678; 16], "copy after an event")?;
            b.zero(0, WHOLE_BUFFER)?;
        }
    }
    Ok(())
}

/// Command buffers dropped while recording or before submission release cleanly.
fn drop_unsubmitted(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(64)?;
    for params in [
        CommandBufferParams::one_shot_inline(),
        CommandBufferParams::reusable(0),
    ] {
        let mut recording = ctx.device.create_command_buffer(params)?;
        recording.begin()?;
        recording.fill(BufferRef::whole(&buffer), FillPattern::U8(1))?;
        drop(recording);
        let mut ended = ctx.device.create_command_buffer(params)?;
        ended.begin()?;
        ended.fill(BufferRef::whole(&buffer), FillPattern::U8(2))?;
        ended.end()?;
        drop(ended);
        drop(ctx.device.create_command_buffer(params)?);
    }
    // The buffer is free for the host and the device is usable.
    buffer.write(0, &[7; 64])?;
    let done = ctx.semaphore(0)?;
    ctx.device
        .queue_fill(&[], &[done.at(1)], &buffer, 0, 8, FillPattern::U8(9))?;
    done.wait(1, WAIT)?;
    let mut expected = vec![7; 64];
    expected[..8].fill(9);
    expect_slice(
        &read_bytes(&buffer)?,
        &expected,
        "after dropped command buffers",
    )?;
    Ok(())
}

/// An ended reusable buffer is submitted concurrently from several threads.
fn submit_from_threads(ctx: &Ctx<'_>) -> Result<()> {
    let source = ctx.buffer_bytes(&noise(4096, 13))?;
    let targets: Vec<_> = (0..4).map(|_| ctx.buffer(4096)).collect::<Result<_>>()?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(1))?;
    command_buffer.begin()?;
    command_buffer.copy(BufferRef::whole(&source), BufferRef::slot(0, 0, 4096))?;
    command_buffer.end()?;
    let command_buffer = &command_buffer;
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                scope.spawn(move || -> Result<()> {
                    let done = ctx.semaphore(0)?;
                    for value in 1..=50 {
                        // Chained, so that the signals rise in order on any driver.
                        let (wait, signal) = (done.at(value - 1), done.at(value));
                        ctx.device.queue_execute(
                            &[wait],
                            &[signal],
                            command_buffer,
                            &[Some(BufferRef::whole(target))],
                        )?;
                    }
                    done.wait(50, WAIT)?;
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a submitting thread panicked"))??;
        }
        Ok(())
    })?;
    let expected = read_bytes(&source)?;
    for (i, target) in targets.iter().enumerate() {
        expect_slice(&read_bytes(target)?, &expected, &format!("target {i}"))?;
    }
    Ok(())
}
