//! Host access to buffers: zero, fill, read, write and copy at offsets and through subspans,
//! scoped mappings, and the errors for bad ranges, alignment and access.

use anyhow::{ensure, Result};
use hal_core::{BufferParams, BufferUsage, FillPattern, MemoryAccess, StatusCode, WHOLE_BUFFER};

use crate::case::Case;
use crate::check::{expect_err, expect_slice, model_fill, noise};
use crate::ctx::{read_bytes, Ctx};
use crate::Tag;

const SUITE: &str = "mapping";
const TAGS: &[Tag] = &[Tag::Mapping];

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "read_write", read_write).tags(TAGS),
        Case::new(SUITE, "fill_zero", fill_zero).tags(TAGS),
        Case::new(SUITE, "zero_length_fill", zero_length_fill).tags(TAGS),
        Case::new(SUITE, "subspan", subspan).tags(TAGS),
        Case::new(SUITE, "copy", copy).tags(TAGS),
        Case::new(SUITE, "scoped_read", scoped_read).tags(TAGS),
        Case::new(SUITE, "discard_write", discard_write).tags(TAGS),
        Case::new(SUITE, "out_of_range", out_of_range).tags(TAGS),
        Case::new(SUITE, "misaligned_fill", misaligned_fill).tags(TAGS),
        Case::new(SUITE, "access_denied", access_denied).tags(TAGS),
    ]
}

fn read_write(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(256)?;
    let mut model = noise(256, 1);
    buffer.write(0, &model)?;
    expect_slice(&read_bytes(&buffer)?, &model, "whole write")?;
    let patch = noise(17, 2);
    buffer.write(100, &patch)?;
    model[100..117].copy_from_slice(&patch);
    let mut out = vec![0; 17];
    buffer.read(100, &mut out)?;
    expect_slice(&out, &patch, "read at an offset")?;
    buffer.write_elements(8, &[0xDEAD_BEEFu32, 7])?;
    model[8..12].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    model[12..16].copy_from_slice(&7u32.to_le_bytes());
    expect_slice(
        &buffer.read_elements::<u32>(8, 2)?,
        &[0xDEAD_BEEF, 7],
        "elements",
    )?;
    expect_slice(&read_bytes(&buffer)?, &model, "whole buffer after writes")?;
    Ok(())
}

fn fill_zero(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(128)?;
    let mut model = noise(128, 3);
    buffer.write(0, &model)?;
    let fills = [
        (3u64, 5u64, FillPattern::U8(0xA5)),
        (6, 10, FillPattern::U16(0xBEEF)),
        (20, 12, FillPattern::U32(0x0102_0304)),
        (40, 1, FillPattern::U8(0x11)),
        (64, 64, FillPattern::U32(0xCAFE_F00D)),
    ];
    for (offset, length, pattern) in fills {
        buffer.fill(offset, length, pattern)?;
        model_fill(
            &mut model[offset as usize..(offset + length) as usize],
            pattern,
        );
        expect_slice(
            &read_bytes(&buffer)?,
            &model,
            &format!("after fill {pattern:?} at {offset}+{length}"),
        )?;
    }
    buffer.zero(10, 30)?;
    model[10..40].fill(0);
    expect_slice(&read_bytes(&buffer)?, &model, "after zero at 10+30")?;
    buffer.fill(0, WHOLE_BUFFER, FillPattern::U16(0x0201))?;
    model_fill(&mut model, FillPattern::U16(0x0201));
    expect_slice(&read_bytes(&buffer)?, &model, "after a whole-buffer fill")?;
    buffer.zero(0, WHOLE_BUFFER)?;
    ensure!(
        read_bytes(&buffer)?.iter().all(|&b| b == 0),
        "whole zero left non-zero bytes"
    );
    Ok(())
}

fn zero_length_fill(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(64)?;
    let model = noise(64, 4);
    buffer.write(0, &model)?;
    for offset in [0u64, 4, 17, 64] {
        buffer.fill(offset, 0, FillPattern::U8(0xFF))?;
        buffer.zero(offset, 0)?;
    }
    buffer.fill(64, WHOLE_BUFFER, FillPattern::U32(1))?;
    expect_slice(&read_bytes(&buffer)?, &model, "after zero-length fills")?;
    Ok(())
}

/// Host operations through subspans change the parent at the right place and leave the edges.
fn subspan(ctx: &Ctx<'_>) -> Result<()> {
    let parent = ctx.buffer(256)?;
    let mut model = vec![0x11u8; 256];
    parent.write(0, &model)?;
    let sub = parent.subspan(64, 64)?;
    ensure!(sub.len() == 64, "subspan length {}", sub.len());
    sub.fill(0, WHOLE_BUFFER, FillPattern::U8(0x22))?;
    model[64..128].fill(0x22);
    let patch = noise(10, 5);
    sub.write(10, &patch)?;
    model[74..84].copy_from_slice(&patch);
    sub.zero(60, 4)?;
    model[124..128].fill(0);
    let nested = sub.subspan(8, 16)?.subspan(4, 4)?;
    nested.write(0, &[1, 2, 3, 4])?;
    model[76..80].copy_from_slice(&[1, 2, 3, 4]);
    expect_slice(&read_bytes(&parent)?, &model, "parent after subspan writes")?;
    expect_slice(&read_bytes(&sub)?, &model[64..128], "subspan read")?;
    let other = parent.subspan(200, 16)?;
    sub.copy_to(0, &other, 0, 16)?;
    let copied = model[64..80].to_vec();
    model[200..216].copy_from_slice(&copied);
    expect_slice(&read_bytes(&parent)?, &model, "parent after a subspan copy")?;
    Ok(())
}

fn copy(ctx: &Ctx<'_>) -> Result<()> {
    let source = ctx.buffer_bytes(&noise(128, 6))?;
    let target = ctx.buffer(128)?;
    source.copy_to(0, &target, 0, WHOLE_BUFFER)?;
    expect_slice(&read_bytes(&target)?, &read_bytes(&source)?, "whole copy")?;
    target.zero(0, WHOLE_BUFFER)?;
    source.copy_to(5, &target, 70, 33)?;
    let mut expected = vec![0u8; 128];
    expected[70..103].copy_from_slice(&read_bytes(&source)?[5..38]);
    expect_slice(&read_bytes(&target)?, &expected, "copy at offsets")?;
    // Within one buffer: adjacent ranges are fine, overlapping ones are rejected.
    let mut model = read_bytes(&source)?;
    source.copy_to(0, &source, 64, 64)?;
    let head = model[..64].to_vec();
    model[64..].copy_from_slice(&head);
    expect_slice(
        &read_bytes(&source)?,
        &model,
        "copy between halves of one buffer",
    )?;
    expect_err(
        source.copy_to(0, &source, 32, 64),
        StatusCode::InvalidArgument,
        &["overlap"],
        "overlapping copy",
    )?;
    let (a, b) = (source.subspan(0, 64)?, source.subspan(16, 64)?);
    expect_err(
        a.copy_to(0, &b, 0, 64),
        StatusCode::InvalidArgument,
        &["overlap"],
        "overlapping subspans",
    )?;
    expect_slice(
        &read_bytes(&source)?,
        &model,
        "buffer after rejected copies",
    )?;
    Ok(())
}

fn scoped_read(ctx: &Ctx<'_>) -> Result<()> {
    let contents = noise(96, 7);
    let buffer = ctx.buffer_bytes(&contents)?;
    {
        let mapping = buffer.map_read(16, 32)?;
        expect_slice(&mapping, &contents[16..48], "read mapping")?;
        let second = buffer.map_read(0, WHOLE_BUFFER)?;
        ensure!(
            second.len() == 96,
            "a whole mapping has {} bytes",
            second.len()
        );
        expect_err(
            buffer.map_write(0, 4, true),
            StatusCode::FailedPrecondition,
            &[],
            "write mapping while read-mapped",
        )?;
        expect_err(
            buffer.write(0, &[1]),
            StatusCode::FailedPrecondition,
            &[],
            "write while read-mapped",
        )?;
    }
    buffer.write(0, &[1])?;
    Ok(())
}

fn discard_write(ctx: &Ctx<'_>) -> Result<()> {
    let buffer = ctx.buffer(64)?;
    let patch = noise(16, 8);
    {
        let mut mapping = buffer.map_write(8, 16, true)?;
        ensure!(
            mapping.len() == 16,
            "write mapping has {} bytes",
            mapping.len()
        );
        mapping.copy_from_slice(&patch);
        expect_err(
            buffer.map_read(0, 4),
            StatusCode::FailedPrecondition,
            &[],
            "read mapping while write-mapped",
        )?;
        expect_err(
            buffer.map_write(40, 4, true),
            StatusCode::FailedPrecondition,
            &[],
            "second write mapping",
        )?;
    }
    let mut expected = vec![0u8; 64];
    expected[8..24].copy_from_slice(&patch);
    expect_slice(&read_bytes(&buffer)?, &expected, "after unmapping")?;
    {
        let mut mapping = buffer.map_write(8, 1, false)?;
        mapping[0] = mapping[0].wrapping_add(1);
    }
    expected[8] = expected[8].wrapping_add(1);
    expect_slice(
        &read_bytes(&buffer)?,
        &expected,
        "after a read-modify-write mapping",
    )?;
    Ok(())
}

fn out_of_range(ctx: &Ctx<'_>) -> Result<()> {
    let contents = noise(64, 9);
    let buffer = ctx.buffer_bytes(&contents)?;
    let other = ctx.buffer(64)?;
    expect_err(
        buffer.read(60, &mut [0; 8]),
        StatusCode::OutOfRange,
        &["60"],
        "read past the end",
    )?;
    expect_err(
        buffer.write(65, &[1]),
        StatusCode::OutOfRange,
        &["65"],
        "write past the end",
    )?;
    expect_err(
        buffer.write(60, &[1; 8]),
        StatusCode::OutOfRange,
        &["60"],
        "write across the end",
    )?;
    expect_err(
        buffer.fill(0, 68, FillPattern::U32(1)),
        StatusCode::OutOfRange,
        &["68"],
        "fill past the end",
    )?;
    expect_err(
        buffer.map_read(0, 65),
        StatusCode::OutOfRange,
        &["65"],
        "map past the end",
    )?;
    expect_err(
        buffer.map_write(u64::MAX - 1, 4, true),
        StatusCode::OutOfRange,
        &[&(u64::MAX - 1).to_string()],
        "huge offset",
    )?;
    expect_err(
        buffer.map_read(8, u64::MAX - 4),
        StatusCode::OutOfRange,
        &[],
        "overflowing length",
    )?;
    expect_err(
        buffer.subspan(32, 64),
        StatusCode::OutOfRange,
        &["32"],
        "subspan past the end",
    )?;
    expect_err(
        buffer.copy_to(0, &other, 32, 64),
        StatusCode::OutOfRange,
        &[],
        "copy past the target end",
    )?;
    expect_err(
        buffer.copy_to(32, &other, 0, 64),
        StatusCode::OutOfRange,
        &[],
        "copy past the source end",
    )?;
    let sub = buffer.subspan(0, 16)?;
    expect_err(
        sub.read(8, &mut [0; 16]),
        StatusCode::OutOfRange,
        &[],
        "read past a subspan inside the parent",
    )?;
    expect_err(
        sub.write(8, &[0; 16]),
        StatusCode::OutOfRange,
        &[],
        "write past a subspan inside the parent",
    )?;
    expect_slice(
        &read_bytes(&buffer)?,
        &contents,
        "buffer after rejected accesses",
    )?;
    ensure!(
        read_bytes(&other)?.iter().all(|&b| b == 0),
        "a rejected copy changed the target"
    );
    Ok(())
}

fn misaligned_fill(ctx: &Ctx<'_>) -> Result<()> {
    let contents = noise(64, 10);
    let buffer = ctx.buffer_bytes(&contents)?;
    expect_err(
        buffer.fill(1, 4, FillPattern::U16(1)),
        StatusCode::InvalidArgument,
        &["1"],
        "odd offset, 2-byte pattern",
    )?;
    expect_err(
        buffer.fill(0, 3, FillPattern::U16(1)),
        StatusCode::InvalidArgument,
        &["3"],
        "odd length, 2-byte pattern",
    )?;
    expect_err(
        buffer.fill(2, 4, FillPattern::U32(1)),
        StatusCode::InvalidArgument,
        &["2"],
        "offset 2, 4-byte pattern",
    )?;
    expect_err(
        buffer.fill(4, 6, FillPattern::U32(1)),
        StatusCode::InvalidArgument,
        &["6"],
        "length 6, 4-byte pattern",
    )?;
    expect_slice(
        &read_bytes(&buffer)?,
        &contents,
        "buffer after rejected fills",
    )?;
    Ok(())
}

fn access_denied(ctx: &Ctx<'_>) -> Result<()> {
    let read_only = ctx.device.allocate_buffer(
        BufferParams {
            access: MemoryAccess::READ,
            ..BufferParams::default()
        },
        16,
    )?;
    ensure!(
        read_only.allowed_access() == MemoryAccess::READ,
        "read-only buffer allows {:?}",
        read_only.allowed_access()
    );
    read_only.read(0, &mut [0; 16])?;
    expect_err(
        read_only.write(0, &[1]),
        StatusCode::PermissionDenied,
        &["WRITE"],
        "write to a read-only buffer",
    )?;
    expect_err(
        read_only.map_write(0, 4, false),
        StatusCode::PermissionDenied,
        &["WRITE"],
        "write-map a read-only buffer",
    )?;
    expect_err(
        read_only.fill(0, 4, FillPattern::U8(1)),
        StatusCode::PermissionDenied,
        &[],
        "fill a read-only buffer",
    )?;
    expect_err(
        read_only.zero(0, 4),
        StatusCode::PermissionDenied,
        &[],
        "zero a read-only buffer",
    )?;
    let scratch = ctx.buffer(16)?;
    expect_err(
        scratch.copy_to(0, &read_only, 0, 4),
        StatusCode::PermissionDenied,
        &[],
        "copy into a read-only buffer",
    )?;
    ensure!(
        read_bytes(&read_only)?.iter().all(|&b| b == 0),
        "a denied write changed a read-only buffer"
    );

    let write_only = ctx.device.allocate_buffer(
        BufferParams {
            access: MemoryAccess::DISCARD_WRITE,
            ..BufferParams::default()
        },
        16,
    )?;
    write_only.write(0, &[1, 2, 3])?;
    expect_err(
        write_only.read(0, &mut [0; 4]),
        StatusCode::PermissionDenied,
        &["READ"],
        "read a write-only buffer",
    )?;
    expect_err(
        write_only.map_read(0, 4),
        StatusCode::PermissionDenied,
        &["READ"],
        "read-map a write-only buffer",
    )?;

    let unmappable = ctx.device.allocate_buffer(
        BufferParams::with_usage(BufferUsage::TRANSFER | BufferUsage::DISPATCH_STORAGE),
        16,
    )?;
    expect_err(
        unmappable.read(0, &mut [0; 4]),
        StatusCode::PermissionDenied,
        &["mapping"],
        "read without mapping usage",
    )?;
    expect_err(
        unmappable.write(0, &[0; 4]),
        StatusCode::PermissionDenied,
        &["mapping"],
        "write without mapping usage",
    )?;
    Ok(())
}
