//! Fill, update and copy commands in command buffers, with buffers referenced directly or
//! through binding-table slots.

use anyhow::{ensure, Result};
use hal_core::{Buffer, FillPattern, StatusCode, MAX_UPDATE_SIZE, WHOLE_BUFFER};

use crate::case::Case;
use crate::check::{expect_err, expect_slice, model_fill, noise};
use crate::ctx::{read_bytes, read_u32, Ctx, Lifetime, WAIT};

const SUITE: &str = "transfer";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "fill_classes", fill_classes).both(),
        Case::new(SUITE, "fill_zero_length", fill_zero_length).both(),
        Case::new(SUITE, "fill_subspan", fill_subspan).both(),
        Case::new(SUITE, "update_whole", update_whole).both(),
        Case::new(SUITE, "update_large", update_large).both(),
        Case::new(SUITE, "update_offsets", update_offsets).both(),
        Case::new(SUITE, "update_subspan", update_subspan).both(),
        Case::new(SUITE, "update_captured", update_captured).both(),
        Case::new(SUITE, "copy_whole", copy_whole).both(),
        Case::new(SUITE, "copy_classes", copy_classes).both(),
        Case::new(SUITE, "copy_subspan", copy_subspan).both(),
        Case::new(SUITE, "copy_overlap", copy_overlap).both(),
        Case::new(SUITE, "one_shot_200", one_shot_200).both(),
        Case::new(SUITE, "reusable_512_fills", reusable_512_fills).both(),
    ]
}

/// Fills with 1-, 2- and 4-byte patterns at many (offset, length) classes up to 64 KiB.
fn fill_classes(ctx: &Ctx<'_>) -> Result<()> {
    const SIZE: usize = 65536 + 1088;
    let buffer = ctx.buffer(SIZE as u64)?;
    let mut model = noise(SIZE, 30);
    buffer.write(0, &model)?;
    let lengths = [
        1u64, 2, 3, 4, 7, 12, 60, 63, 64, 65, 100, 1000, 4096, 4100, 65536,
    ];
    let mut round = 0u32;
    for pattern_len in [1u64, 2, 4] {
        let offsets: &[u64] = match pattern_len {
            1 => &[0, 1, 3, 5, 7, 64, 65, 1023],
            2 => &[0, 2, 6, 62, 66, 1022],
            _ => &[0, 4, 12, 60, 68, 1020],
        };
        for &offset in offsets {
            for &length in lengths.iter().filter(|&&l| l % pattern_len == 0) {
                round += 1;
                let pattern = match pattern_len {
                    1 => FillPattern::U8(0xA5 ^ round as u8),
                    2 => FillPattern::U16(0xC3B2 ^ round as u16),
                    _ => FillPattern::U32(0xDEAD_BEEF ^ round),
                };
                ctx.execute(&[&buffer], |cb, r| {
                    cb.fill(r.range(0, offset, length), pattern)
                })?;
                model_fill(
                    &mut model[offset as usize..(offset + length) as usize],
                    pattern,
                );
                expect_slice(
                    &read_bytes(&buffer)?,
                    &model,
                    &format!("fill {pattern:?} at {offset}+{length}"),
                )?;
            }
        }
    }
    Ok(())
}

fn fill_zero_length(ctx: &Ctx<'_>) -> Result<()> {
    let model = noise(256, 31);
    let buffer = ctx.buffer_bytes(&model)?;
    for offset in [0u64, 4, 100, 256] {
        ctx.execute(&[&buffer], |cb, r| {
            cb.fill(r.range(0, offset, 0), FillPattern::U32(0xFFFF_FFFF))?;
            cb.fill(r.range(0, offset, 0), FillPattern::U8(0xFF))
        })?;
    }
    expect_slice(&read_bytes(&buffer)?, &model, "after zero-length fills")?;
    Ok(())
}

/// Fills through a subspan change the parent only inside the subspan's range.
fn fill_subspan(ctx: &Ctx<'_>) -> Result<()> {
    let parent = ctx.buffer(512)?;
    let mut model = noise(512, 32);
    parent.write(0, &model)?;
    let sub = parent.subspan(128, 256)?;
    ctx.execute(&[&sub], |cb, r| {
        cb.fill(r.whole(0), FillPattern::U16(0x5A5A))?;
        cb.execution_barrier()?;
        cb.fill(r.range(0, 4, 8), FillPattern::U32(0x0102_0304))
    })?;
    model_fill(&mut model[128..384], FillPattern::U16(0x5A5A));
    model_fill(&mut model[132..140], FillPattern::U32(0x0102_0304));
    expect_slice(&read_bytes(&parent)?, &model, "parent after subspan fills")?;
    Ok(())
}

fn update_whole(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(256)?;
    let data = noise(256, 33);
    ctx.execute(&[&buffer], |cb, r| cb.update(&data, r.whole(0)))?;
    expect_slice(&read_bytes(&buffer)?, &data, "whole update")?;
    Ok(())
}

/// The largest update a command buffer allows, at an offset.
fn update_large(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(MAX_UPDATE_SIZE as u64 + 32)?;
    let data = noise(MAX_UPDATE_SIZE, 34);
    ctx.execute(&[&buffer], |cb, r| {
        cb.update(&data, r.range(0, 16, MAX_UPDATE_SIZE as u64))
    })?;
    let bytes = read_bytes(&buffer)?;
    ensure!(
        bytes[..16]
            .iter()
            .chain(&bytes[16 + MAX_UPDATE_SIZE..])
            .all(|&b| b == 0),
        "bytes around the update changed"
    );
    expect_slice(&bytes[16..16 + MAX_UPDATE_SIZE], &data, "64 KiB update")?;
    Ok(())
}

/// A slice of the host array (source offset) written at a target offset, including odd ones.
fn update_offsets(ctx: &Ctx<'_>) -> Result<()> {
    let mut model = noise(512, 35);
    let buffer = ctx.buffer_bytes(&model)?;
    let data = noise(300, 36);
    for (source_offset, target_offset, length) in [
        (7usize, 33u64, 100usize),
        (0, 0, 4),
        (4, 400, 12),
        (1, 511, 1),
        (200, 256, 100),
    ] {
        let source = &data[source_offset..source_offset + length];
        ctx.execute(&[&buffer], |cb, r| {
            cb.update(source, r.range(0, target_offset, length as u64))
        })?;
        model[target_offset as usize..target_offset as usize + length].copy_from_slice(source);
        expect_slice(
            &read_bytes(&buffer)?,
            &model,
            &format!("update of data[{source_offset}..] at {target_offset}+{length}"),
        )?;
    }
    Ok(())
}

fn update_subspan(ctx: &Ctx<'_>) -> Result<()> {
    let mut model = noise(256, 37);
    let parent = ctx.buffer_bytes(&model)?;
    let sub = parent.subspan(64, 64)?;
    let data = noise(16, 38);
    ctx.execute(&[&sub], |cb, r| cb.update(&data, r.range(0, 40, 16)))?;
    model[104..120].copy_from_slice(&data);
    expect_slice(
        &read_bytes(&parent)?,
        &model,
        "parent after a subspan update",
    )?;
    Ok(())
}

/// The host bytes are captured when the update is recorded.
fn update_captured(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(64)?;
    let mut data = noise(64, 39);
    let expected = data.clone();
    let command_buffer = ctx.record(Lifetime::OneShot, &[&buffer], |cb, r| {
        cb.update(&data, r.whole(0))
    })?;
    data.fill(0xFF);
    ctx.submit_and_wait(&command_buffer, &[&buffer])?;
    expect_slice(
        &read_bytes(&buffer)?,
        &expected,
        "update after the host array was overwritten",
    )?;
    // A reusable buffer replays the captured bytes.
    let reusable = ctx.record(Lifetime::Reusable, &[&buffer], |cb, r| {
        cb.update(&data[..8], r.range(0, 0, 8))
    })?;
    data.fill(0x11);
    buffer.zero(0, WHOLE_BUFFER)?;
    ctx.submit_and_wait(&reusable, &[&buffer])?;
    ctx.submit_and_wait(&reusable, &[&buffer])?;
    let mut expected = vec![0u8; 64];
    expected[..8].fill(0xFF);
    expect_slice(
        &read_bytes(&buffer)?,
        &expected,
        "reusable update after the host array changed",
    )?;
    Ok(())
}

fn copy_whole(ctx: &Ctx<'_>) -> Result<()> {
    let data = noise(1000, 40);
    let source = ctx.buffer_bytes(&data)?;
    let target = ctx.buffer(1000)?;
    ctx.execute(&[&source, &target], |cb, r| {
        cb.copy(r.range(0, 0, 1000), r.whole(1))
    })?;
    expect_slice(&read_bytes(&target)?, &data, "whole copy")?;
    Ok(())
}

/// Copies of 4 B … 64 KiB and 1 MiB with offsets aligned to 16, 8, 4 and 1.
fn copy_classes(ctx: &Ctx<'_>) -> Result<()> {
    const SIZE: usize = (1 << 20) + 256;
    let data = noise(SIZE, 41);
    let source = ctx.buffer_bytes(&data)?;
    let target = ctx.buffer(SIZE as u64)?;
    let mut model = vec![0u8; SIZE];
    for length in [4usize, 12, 16, 64, 100, 4096, 65536, 1 << 20] {
        for align in [16usize, 8, 4, 1] {
            // Offsets aligned to `align` but to nothing larger (except for 16).
            let (source_offset, target_offset) = (align * 3, align * 5);
            ctx.execute(&[&source, &target], |cb, r| {
                cb.copy(
                    r.range(0, source_offset as u64, length as u64),
                    r.range(1, target_offset as u64, length as u64),
                )
            })?;
            model[target_offset..target_offset + length]
                .copy_from_slice(&data[source_offset..source_offset + length]);
            let bytes = read_bytes(&target)?;
            if bytes != model {
                expect_slice(
                    &bytes,
                    &model,
                    &format!("copy of {length} bytes from {source_offset} to {target_offset}"),
                )?;
            }
        }
    }
    Ok(())
}

/// Copies between disjoint subspans of one allocation.
fn copy_subspan(ctx: &Ctx<'_>) -> Result<()> {
    let mut model = noise(512, 42);
    let parent = ctx.buffer_bytes(&model)?;
    let (low, high) = (parent.subspan(0, 256)?, parent.subspan(256, 256)?);
    ctx.execute(&[&low, &high], |cb, r| {
        cb.copy(r.range(0, 10, 100), r.range(1, 20, 100))
    })?;
    let moved = model[10..110].to_vec();
    model[276..376].copy_from_slice(&moved);
    expect_slice(&read_bytes(&parent)?, &model, "parent after a subspan copy")?;
    Ok(())
}

/// Overlapping ranges of one allocation are rejected (at record, at submit, or by failing the
/// submission); adjacent ranges are fine.
fn copy_overlap(ctx: &Ctx<'_>) -> Result<()> {
    let mut model = noise(256, 43);
    let buffer = ctx.buffer_bytes(&model)?;
    let result = ctx.execute(&[&buffer], |cb, r| {
        cb.copy(r.range(0, 0, 64), r.range(0, 32, 64))
    });
    expect_err(
        result,
        StatusCode::InvalidArgument,
        &["overlap"],
        "overlapping copy within one buffer",
    )?;
    let (a, b) = (buffer.subspan(0, 128)?, buffer.subspan(64, 128)?);
    let result = ctx.execute(&[&a, &b], |cb, r| {
        cb.copy(r.range(0, 0, 100), r.range(1, 0, 100))
    });
    expect_err(
        result,
        StatusCode::InvalidArgument,
        &["overlap"],
        "overlapping copy between subspans",
    )?;
    expect_slice(
        &read_bytes(&buffer)?,
        &model,
        "buffer after rejected copies",
    )?;
    ctx.execute(&[&buffer], |cb, r| {
        cb.copy(r.range(0, 0, 64), r.range(0, 64, 64))
    })?;
    let head = model[..64].to_vec();
    model[64..128].copy_from_slice(&head);
    expect_slice(
        &read_bytes(&buffer)?,
        &model,
        "copy between adjacent ranges",
    )?;
    Ok(())
}

/// 200 one-shot fill submissions, chained by a semaphore: the last one wins.
fn one_shot_200(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(1024)?;
    let chain = ctx.semaphore(0)?;
    let mut keep = Vec::new();
    for i in 0..200u32 {
        let command_buffer = ctx.record(Lifetime::Inline, &[&buffer], |cb, r| {
            cb.fill(r.whole(0), FillPattern::U32(i))
        })?;
        let value = u64::from(i);
        ctx.device.queue_execute(
            &[chain.at(value)],
            &[chain.at(value + 1)],
            &command_buffer,
            &ctx.table(&[&buffer]),
        )?;
        keep.push(command_buffer);
    }
    chain.wait(200, WAIT)?;
    expect_slice(&read_u32(&buffer)?, &[199; 256], "after 200 fills")?;
    Ok(())
}

/// One reusable buffer with 512 fills, submitted twice.
fn reusable_512_fills(ctx: &Ctx<'_>) -> Result<()> {
    let buffer: Buffer = ctx.buffer(512 * 4)?;
    let command_buffer = ctx.record(Lifetime::Reusable, &[&buffer], |cb, r| {
        for i in 0..512u64 {
            cb.fill(r.range(0, 4 * i, 4), FillPattern::U32(i as u32 * 7 + 1))?;
        }
        Ok(())
    })?;
    let expected: Vec<u32> = (0..512).map(|i| i * 7 + 1).collect();
    for round in 0..2 {
        buffer.zero(0, WHOLE_BUFFER)?;
        ctx.submit_and_wait(&command_buffer, &[&buffer])?;
        expect_slice(
            &read_u32(&buffer)?,
            &expected,
            &format!("submission {round}"),
        )?;
    }
    Ok(())
}
