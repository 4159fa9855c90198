//! Dispatches of the test kernels: bindings at offsets, constants, workgroup counts (static,
//! 3-D, indirect from every kind of producer), barriers, binding tables, validation errors and
//! kernel failures.

use anyhow::{ensure, Result};
use hal_core::{
    BufferParams, BufferRef, BufferUsage, CommandBufferParams, DispatchOptions, FillPattern,
    StatusCode, Workgroups, MAX_DYNAMIC_LOCAL_MEMORY, WHOLE_BUFFER,
};

use crate::case::Case;
use crate::check::{expect_close, expect_err, expect_slice};
use crate::ctx::{read_f32, read_u32, BindingMode, Ctx, Lifetime, WAIT};
use crate::{Tag, TestLibrary};

const SUITE: &str = "dispatch";
const SENTINEL: u32 = 0xCAFE_BABE;

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "abs_binding_offset", abs_binding_offset)
            .exe()
            .both(),
        Case::new(SUITE, "constants", constants).exe().both(),
        Case::new(SUITE, "scale_offset", scale_offset).exe().both(),
        Case::new(SUITE, "two_exports", two_exports).exe().both(),
        Case::new(SUITE, "workgroup_ids_32", workgroup_ids_32)
            .exe()
            .both(),
        Case::new(
            SUITE,
            "workgroup_ids_1024_reusable",
            workgroup_ids_1024_reusable,
        )
        .exe()
        .both(),
        Case::new(SUITE, "workgroups_3d", workgroups_3d)
            .exe()
            .both(),
        Case::new(SUITE, "indirect_from_buffer", indirect_from_buffer)
            .exe()
            .both(),
        Case::new(SUITE, "indirect_from_update", indirect_from_update)
            .exe()
            .both(),
        Case::new(SUITE, "indirect_from_fill", indirect_from_fill)
            .exe()
            .both(),
        Case::new(SUITE, "indirect_from_dispatch", indirect_from_dispatch)
            .exe()
            .both(),
        Case::new(SUITE, "indirect_whole_buffer", indirect_whole_buffer)
            .exe()
            .both(),
        Case::new(SUITE, "indirect_offset_decoy", indirect_offset_decoy)
            .exe()
            .both(),
        Case::new(SUITE, "barrier_chain", barrier_chain)
            .exe()
            .both(),
        Case::new(SUITE, "update_pipeline", update_pipeline)
            .exe()
            .both(),
        Case::new(SUITE, "many_dispatches", many_dispatches)
            .exe()
            .both(),
        Case::new(SUITE, "tiny_chain", tiny_chain).exe().both(),
        Case::new(SUITE, "local_memory", local_memory).exe().both(),
        Case::new(SUITE, "dynamic_local_memory", dynamic_local_memory)
            .exe()
            .both(),
        Case::new(SUITE, "empty_binding", empty_binding)
            .exe()
            .both(),
        Case::new(SUITE, "rebind_tables", rebind_tables)
            .exe()
            .tags(&[Tag::Indirect]),
        Case::new(SUITE, "mixed_direct_and_table", mixed_direct_and_table)
            .exe()
            .tags(&[Tag::Indirect]),
        Case::new(SUITE, "empty_table_slots", empty_table_slots)
            .exe()
            .tags(&[Tag::Indirect]),
        Case::new(SUITE, "wrong_constant_count", wrong_constant_count)
            .exe()
            .both(),
        Case::new(SUITE, "wrong_binding_count", wrong_binding_count)
            .exe()
            .both(),
        Case::new(SUITE, "binding_out_of_range", binding_out_of_range)
            .exe()
            .both(),
        Case::new(SUITE, "binding_usage", binding_usage)
            .exe()
            .both(),
        Case::new(SUITE, "ordinal_out_of_range", ordinal_out_of_range)
            .exe()
            .both(),
        Case::new(SUITE, "indirect_errors", indirect_errors)
            .exe()
            .both(),
        Case::new(SUITE, "zero_workgroups", zero_workgroups)
            .exe()
            .both(),
        Case::new(SUITE, "kernel_failure", kernel_failure)
            .exe()
            .both(),
    ]
}

/// `abs` over elements 1..2 of a 4-float buffer through a binding offset.
fn abs_binding_offset(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let abs = k.ord("abs")?;
    let buffer = ctx.buffer_f32(&[-9.0, -2.5, 2.5, -9.0])?;
    ctx.execute(&[&buffer], |cb, r| {
        cb.dispatch(
            &k.exe,
            abs,
            Workgroups::Static([1, 1, 1]),
            &[],
            &[r.range(0, 4, 8)],
        )
    })?;
    expect_slice(
        &read_f32(&buffer)?,
        &[-9.0, 2.5, 2.5, -9.0],
        "abs over elements 1..2",
    )?;
    Ok(())
}

/// Constants reach the kernel verbatim, including all-ones and high-bit values.
fn constants(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let write = k.ord("write_constants")?;
    let out = ctx.buffer_u32(&[SENTINEL; 8])?;
    let values = [0u32, 1, 0xFFFF_FFFF, 0x8000_0001];
    ctx.execute(&[&out], |cb, r| {
        cb.dispatch(
            &k.exe,
            write,
            Workgroups::Static([1, 1, 1]),
            &values,
            &[r.whole(0)],
        )
    })?;
    let mut expected = values.to_vec();
    expected.extend_from_slice(&[SENTINEL; 4]);
    expect_slice(&read_u32(&out)?, &expected, "constants written back")?;
    Ok(())
}

fn scale_offset(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ord = k.ord("scale_offset")?;
    let input = ctx.buffer_f32(&[1.0, 2.0, 3.0, 4.0])?;
    let out = ctx.buffer(16)?;
    ctx.execute(&[&input, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ord,
            Workgroups::Static([1, 1, 1]),
            &[3, 10],
            &[r.whole(0), r.whole(1)],
        )
    })?;
    expect_slice(
        &read_f32(&out)?,
        &[13.0, 16.0, 19.0, 22.0],
        "scale 3, offset 10",
    )?;
    expect_slice(
        &read_f32(&input)?,
        &[1.0, 2.0, 3.0, 4.0],
        "input after the dispatch",
    )?;
    Ok(())
}

/// Two exports of one executable in one command buffer.
fn two_exports(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (negate, double) = (k.ord("negate")?, k.ord("double")?);
    let data: Vec<f32> = (0..100).map(|i| i as f32 - 50.5).collect();
    let input = ctx.buffer_f32(&data)?;
    let (a, b) = (ctx.buffer(400)?, ctx.buffer(400)?);
    ctx.execute(&[&input, &a, &b], |cb, r| {
        cb.dispatch(
            &k.exe,
            negate,
            Workgroups::Static([2, 1, 1]),
            &[],
            &[r.whole(0), r.whole(1)],
        )?;
        cb.dispatch(
            &k.exe,
            double,
            Workgroups::Static([2, 1, 1]),
            &[],
            &[r.whole(0), r.whole(2)],
        )
    })?;
    expect_slice(
        &read_f32(&a)?,
        &data.iter().map(|x| -x).collect::<Vec<_>>(),
        "negate",
    )?;
    expect_slice(
        &read_f32(&b)?,
        &data.iter().map(|x| 2.0 * x).collect::<Vec<_>>(),
        "double",
    )?;
    Ok(())
}

fn workgroup_ids_32(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let out = ctx.buffer_u32(&[SENTINEL; 33])?;
    ctx.execute(&[&out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Static([32, 1, 1]),
            &[],
            &[r.whole(0)],
        )
    })?;
    let mut expected: Vec<u32> = (0..32).collect();
    expected.push(SENTINEL);
    expect_slice(&read_u32(&out)?, &expected, "32 workgroup ids")?;
    Ok(())
}

fn workgroup_ids_1024_reusable(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let out = ctx.buffer(1024 * 4)?;
    let command_buffer = ctx.record(Lifetime::Reusable, &[&out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Static([1024, 1, 1]),
            &[],
            &[r.whole(0)],
        )
    })?;
    let expected: Vec<u32> = (0..1024).collect();
    for round in 0..2 {
        out.fill(0, WHOLE_BUFFER, FillPattern::U32(SENTINEL))?;
        ctx.submit_and_wait(&command_buffer, &[&out])?;
        expect_slice(
            &read_u32(&out)?,
            &expected,
            &format!("1024 workgroup ids, submission {round}"),
        )?;
    }
    Ok(())
}

/// 3-D counts: every (x, y, z) is visited exactly once, in the linear order x + X*(y + Y*z).
fn workgroups_3d(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (visit, ids) = (k.ord("visit")?, k.ord("workgroup_ids")?);
    for counts in [
        [4u32, 3, 2],
        [1, 1, 5],
        [5, 1, 1],
        [1, 6, 1],
        [3, 1, 4],
        [2, 2, 2],
    ] {
        let total = (counts[0] * counts[1] * counts[2]) as usize;
        let visits = ctx.buffer_u32(&vec![0; total + 1])?;
        let order = ctx.buffer_u32(&vec![SENTINEL; total + 1])?;
        ctx.execute(&[&visits, &order], |cb, r| {
            cb.dispatch(
                &k.exe,
                visit,
                Workgroups::Static(counts),
                &[],
                &[r.whole(0)],
            )?;
            cb.dispatch(&k.exe, ids, Workgroups::Static(counts), &[], &[r.whole(1)])
        })?;
        let mut expected = vec![1; total];
        expected.push(0);
        expect_slice(
            &read_u32(&visits)?,
            &expected,
            &format!("visits for {counts:?}"),
        )?;
        let mut expected: Vec<u32> = (0..total as u32).collect();
        expected.push(SENTINEL);
        expect_slice(
            &read_u32(&order)?,
            &expected,
            &format!("linear ids for {counts:?}"),
        )?;
    }
    Ok(())
}

fn expected_ids(count: u32, len: usize) -> Vec<u32> {
    (0..len as u32)
        .map(|i| if i < count { i } else { SENTINEL })
        .collect()
}

/// Indirect counts written by the host before submit.
fn indirect_from_buffer(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let counts = ctx.buffer_u32(&[4, 2, 1])?;
    let out = ctx.buffer_u32(&[SENTINEL; 12])?;
    ctx.execute(&[&counts, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.range(0, 0, 12)),
            &[],
            &[r.whole(1)],
        )
    })?;
    expect_slice(
        &read_u32(&out)?,
        &expected_ids(8, 12),
        "ids for indirect counts [4, 2, 1]",
    )?;
    Ok(())
}

/// Indirect counts produced by an update earlier in the same command buffer.
fn indirect_from_update(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let counts = ctx.buffer(12)?;
    let out = ctx.buffer_u32(&[SENTINEL; 8])?;
    let data: Vec<u8> = [3u32, 2, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    ctx.execute(&[&counts, &out], |cb, r| {
        cb.update(&data, r.whole(0))?;
        cb.execution_barrier()?;
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.whole(0)),
            &[],
            &[r.whole(1)],
        )
    })?;
    expect_slice(
        &read_u32(&out)?,
        &expected_ids(6, 8),
        "ids for counts set by an update",
    )?;
    Ok(())
}

/// Indirect counts produced by a fill earlier in the same command buffer.
fn indirect_from_fill(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let visit = k.ord("visit")?;
    let counts = ctx.buffer_u32(&[100, 100, 100])?;
    let out = ctx.buffer(9 * 4)?;
    ctx.execute(&[&counts, &out], |cb, r| {
        cb.fill(r.whole(0), FillPattern::U32(2))?;
        cb.execution_barrier()?;
        cb.dispatch(
            &k.exe,
            visit,
            Workgroups::Indirect(r.whole(0)),
            &[],
            &[r.whole(1)],
        )
    })?;
    expect_slice(
        &read_u32(&out)?,
        &[1, 1, 1, 1, 1, 1, 1, 1, 0],
        "visits for counts [2, 2, 2] set by a fill",
    )?;
    Ok(())
}

/// Indirect counts produced by another dispatch, after a barrier.
fn indirect_from_dispatch(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (write, ids) = (k.ord("write_constants")?, k.ord("workgroup_ids")?);
    let counts = ctx.buffer(16)?;
    let out = ctx.buffer_u32(&[SENTINEL; 8])?;
    ctx.execute(&[&counts, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            write,
            Workgroups::Static([1, 1, 1]),
            &[3, 1, 2, 99],
            &[r.whole(0)],
        )?;
        cb.execution_barrier()?;
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.range(0, 0, 12)),
            &[],
            &[r.whole(1)],
        )
    })?;
    expect_slice(
        &read_u32(&out)?,
        &expected_ids(6, 8),
        "ids for counts [3, 1, 2] written by a dispatch",
    )?;
    Ok(())
}

/// A whole-buffer reference of exactly 12 bytes.
fn indirect_whole_buffer(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let counts = ctx.buffer_u32(&[1, 5, 1])?;
    let out = ctx.buffer_u32(&[SENTINEL; 8])?;
    ctx.execute(&[&counts, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.whole(0)),
            &[],
            &[r.whole(1)],
        )
    })?;
    expect_slice(
        &read_u32(&out)?,
        &expected_ids(5, 8),
        "ids for whole-buffer counts [1, 5, 1]",
    )?;
    Ok(())
}

/// Counts at a non-zero offset, by range and through a subspan; a decoy sits at offset 0.
fn indirect_offset_decoy(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let params = ctx.buffer_u32(&[100, 100, 100, 0, 2, 3, 1, 0])?;
    let sub = params.subspan(16, 16)?;
    let out = ctx.buffer_u32(&[SENTINEL; 8])?;
    ctx.execute(&[&params, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.range(0, 16, 12)),
            &[],
            &[r.whole(1)],
        )
    })?;
    expect_slice(&read_u32(&out)?, &expected_ids(6, 8), "counts at offset 16")?;
    out.fill(0, WHOLE_BUFFER, FillPattern::U32(SENTINEL))?;
    ctx.execute(&[&sub, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.whole(0)),
            &[],
            &[r.whole(1)],
        )
    })?;
    expect_slice(
        &read_u32(&out)?,
        &expected_ids(6, 8),
        "counts through a subspan at offset 16",
    )?;
    Ok(())
}

/// negate → barrier → double → barrier → scale_offset.
fn barrier_chain(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (negate, double, scale) = (k.ord("negate")?, k.ord("double")?, k.ord("scale_offset")?);
    let data: Vec<f32> = (0..200).map(|i| (i as f32) * 0.5 - 40.0).collect();
    let input = ctx.buffer_f32(&data)?;
    let (a, b, c) = (ctx.buffer(800)?, ctx.buffer(800)?, ctx.buffer(800)?);
    let groups = Workgroups::Static([4, 1, 1]);
    ctx.execute(&[&input, &a, &b, &c], |cb, r| {
        cb.dispatch(&k.exe, negate, groups, &[], &[r.whole(0), r.whole(1)])?;
        cb.execution_barrier()?;
        cb.dispatch(&k.exe, double, groups, &[], &[r.whole(1), r.whole(2)])?;
        cb.execution_barrier()?;
        cb.dispatch(&k.exe, scale, groups, &[3, 1], &[r.whole(2), r.whole(3)])
    })?;
    let expected: Vec<f32> = data.iter().map(|x| (-x * 2.0) * 3.0 + 1.0).collect();
    expect_slice(
        &read_f32(&c)?,
        &expected,
        "negate, double, scale_offset(3, 1)",
    )?;
    Ok(())
}

/// update → dispatch → dispatch, the update's bytes captured at record.
fn update_pipeline(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (double, negate) = (k.ord("double")?, k.ord("negate")?);
    let values: Vec<f32> = (0..64).map(|i| i as f32 * 1.5 - 7.0).collect();
    let mut bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (input, mid, out) = (ctx.buffer(256)?, ctx.buffer(256)?, ctx.buffer(256)?);
    let groups = Workgroups::Static([1, 1, 1]);
    let command_buffer = ctx.record(Lifetime::OneShot, &[&input, &mid, &out], |cb, r| {
        cb.update(&bytes, r.whole(0))?;
        cb.execution_barrier()?;
        cb.dispatch(&k.exe, double, groups, &[], &[r.whole(0), r.whole(1)])?;
        cb.execution_barrier()?;
        cb.dispatch(&k.exe, negate, groups, &[], &[r.whole(1), r.whole(2)])
    })?;
    bytes.fill(0);
    ctx.submit_and_wait(&command_buffer, &[&input, &mid, &out])?;
    expect_slice(
        &read_f32(&out)?,
        &values.iter().map(|v| -(2.0 * v)).collect::<Vec<_>>(),
        "update → double → negate",
    )?;
    Ok(())
}

/// 256 dispatches in one command buffer, each writing its own slot.
fn many_dispatches(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let write = k.ord("write_constants")?;
    let out = ctx.buffer(256 * 16)?;
    ctx.execute(&[&out], |cb, r| {
        for i in 0..256u32 {
            let constants = [i, i * 3, !i, 7];
            cb.dispatch(
                &k.exe,
                write,
                Workgroups::Static([1, 1, 1]),
                &constants,
                &[r.range(0, u64::from(i) * 16, 16)],
            )?;
        }
        Ok(())
    })?;
    let expected: Vec<u32> = (0..256u32).flat_map(|i| [i, i * 3, !i, 7]).collect();
    expect_slice(&read_u32(&out)?, &expected, "256 dispatches")?;
    Ok(())
}

/// 64 `tiny` dispatches ping-ponging between two buffers, separated by barriers.
fn tiny_chain(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let tiny = k.ord("tiny")?;
    let mut model: Vec<f32> = (0..64).map(|i| i as f32 / 8.0 - 3.0).collect();
    let (a, b) = (ctx.buffer_f32(&model)?, ctx.buffer(256)?);
    ctx.execute(&[&a, &b], |cb, r| {
        for i in 0..64 {
            let (from, to) = if i % 2 == 0 { (0, 1) } else { (1, 0) };
            cb.dispatch(
                &k.exe,
                tiny,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[r.whole(from), r.whole(to)],
            )?;
            cb.execution_barrier()?;
        }
        Ok(())
    })?;
    for _ in 0..64 {
        for x in &mut model {
            *x = *x * 1.0001 + 0.5;
        }
    }
    expect_close(&read_f32(&a)?, &model, 1e-4, "64 chained tiny dispatches")?;
    Ok(())
}

/// A kernel that stages through workgroup local memory.
fn local_memory(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ord = k.ord("copy_via_local_memory")?;
    let export = k.exe.export(ord)?;
    ensure!(
        export.local_memory_size >= 4096,
        "copy_via_local_memory declares {} bytes of local memory",
        export.local_memory_size
    );
    let data: Vec<u32> = (0..3072u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let input = ctx.buffer_u32(&data)?;
    let out = ctx.buffer(3072 * 4)?;
    ctx.execute(&[&input, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ord,
            Workgroups::Static([3, 1, 1]),
            &[],
            &[r.whole(0), r.whole(1)],
        )
    })?;
    expect_slice(&read_u32(&out)?, &data, "copy through local memory")?;
    Ok(())
}

/// Dynamic workgroup local memory (`DispatchOptions`): every workgroup of `local_memory_size`
/// gets at least the export's static page plus the dispatch's dynamic bytes, all of them usable
/// (the kernel writes and reads back every word and reports the size it got), from a command
/// buffer and from the queue, up to the limit; past the limit the dispatch is refused with an
/// error naming the value and the limit.
fn dynamic_local_memory(ctx: &Ctx<'_>) -> Result<()> {
    let exe = ctx.prepare(TestLibrary::Specialized, &[1, 2])?;
    let ord = exe.lookup_export("local_memory_size")?;
    let static_size = exe.export(ord)?.local_memory_size;
    ensure!(
        static_size == 4096,
        "local_memory_size declares {static_size} bytes of local memory"
    );
    let seed = ctx.buffer_u32(&[0x5EED_1234])?;
    let dynamics = [0u32, 4, 4096, 100_000, MAX_DYNAMIC_LOCAL_MEMORY];
    let outs = dynamics
        .iter()
        .map(|_| ctx.buffer_u32(&[0; 4]))
        .collect::<Result<Vec<_>>>()?;
    let mut buffers = vec![&seed];
    buffers.extend(outs.iter());
    // The largest request runs one workgroup: every thread that runs one keeps that much.
    let workgroups = |dynamic: u32| if dynamic > 1 << 20 { 1 } else { 4 };
    ctx.execute(&buffers, |cb, r| {
        for (i, &dynamic) in dynamics.iter().enumerate() {
            cb.dispatch_with(
                &exe,
                ord,
                Workgroups::Static([workgroups(dynamic), 1, 1]),
                &[],
                &[r.whole(0), r.whole(i + 1)],
                DispatchOptions {
                    dynamic_local_memory: dynamic,
                },
            )?;
        }
        Ok(())
    })?;
    for (out, &dynamic) in outs.iter().zip(&dynamics) {
        let sizes = read_u32(out)?;
        let ran = workgroups(dynamic) as usize;
        ensure!(
            sizes[..ran]
                .iter()
                .all(|&size| size >= static_size + dynamic),
            "with {dynamic} dynamic bytes the workgroups got {sizes:?} bytes of local memory, \
             expected at least {}",
            static_size + dynamic
        );
    }

    let too_much = MAX_DYNAMIC_LOCAL_MEMORY + 1;
    let result = ctx.execute(&buffers, |cb, r| {
        cb.dispatch_with(
            &exe,
            ord,
            Workgroups::Static([1, 1, 1]),
            &[],
            &[r.whole(0), r.whole(1)],
            DispatchOptions {
                dynamic_local_memory: too_much,
            },
        )
    });
    expect_err(
        result,
        StatusCode::OutOfRange,
        &[
            "local_memory_size",
            &too_much.to_string(),
            &MAX_DYNAMIC_LOCAL_MEMORY.to_string(),
        ],
        "dynamic local memory past the limit",
    )?;

    // Queue dispatches take direct references only: once, in direct mode.
    if ctx.mode() == BindingMode::Direct {
        let out = ctx.buffer_u32(&[0; 2])?;
        let done = ctx.semaphore(0)?;
        let bindings = [BufferRef::whole(&seed), BufferRef::whole(&out)];
        let queue_dispatch = |signal: u64, dynamic_local_memory: u32| {
            ctx.device.queue_dispatch_with(
                &[],
                &[done.at(signal)],
                &exe,
                ord,
                Workgroups::Static([2, 1, 1]),
                &[],
                &bindings,
                DispatchOptions {
                    dynamic_local_memory,
                },
            )
        };
        expect_err(
            queue_dispatch(1, too_much),
            StatusCode::OutOfRange,
            &[&too_much.to_string(), &MAX_DYNAMIC_LOCAL_MEMORY.to_string()],
            "queue dispatch with dynamic local memory past the limit",
        )?;
        queue_dispatch(1, 12_345)?;
        done.wait(1, WAIT)?;
        let sizes = read_u32(&out)?;
        ensure!(
            sizes.iter().all(|&size| size >= static_size + 12_345),
            "a queue dispatch with 12345 dynamic bytes got {sizes:?} bytes of local memory"
        );
    }
    Ok(())
}

/// Zero-length bindings (at the start, the middle and the end of a buffer) are valid and the
/// kernel sees no elements.
fn empty_binding(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (abs, scale) = (k.ord("abs")?, k.ord("scale_offset")?);
    let buffer = ctx.buffer_f32(&[-1.0, -2.0, -3.0, -4.0])?;
    let empty = ctx.buffer(0)?;
    ctx.execute(&[&buffer, &empty], |cb, r| {
        for offset in [0u64, 8, 16] {
            cb.dispatch(
                &k.exe,
                abs,
                Workgroups::Static([2, 1, 1]),
                &[],
                &[r.range(0, offset, 0)],
            )?;
        }
        cb.dispatch(
            &k.exe,
            abs,
            Workgroups::Static([1, 1, 1]),
            &[],
            &[r.whole(1)],
        )?;
        cb.dispatch(
            &k.exe,
            scale,
            Workgroups::Static([1, 1, 1]),
            &[2, 2],
            &[r.whole(1), r.range(0, 4, 0)],
        )
    })?;
    expect_slice(
        &read_f32(&buffer)?,
        &[-1.0, -2.0, -3.0, -4.0],
        "buffer after empty-binding dispatches",
    )?;
    Ok(())
}

/// One reusable buffer submitted with different binding tables gives independent results.
fn rebind_tables(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let scale = k.ord("scale_offset")?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(2))?;
    command_buffer.begin()?;
    command_buffer.dispatch(
        &k.exe,
        scale,
        Workgroups::Static([1, 1, 1]),
        &[2, 1],
        &[BufferRef::slot(0, 0, 16), BufferRef::slot(1, 0, 16)],
    )?;
    command_buffer.end()?;
    let in_a = ctx.buffer_f32(&[1.0, 2.0, 3.0, 4.0])?;
    let in_b = ctx.buffer_f32(&[-1.0, 0.0, 10.0, 100.0, 555.0])?;
    let (out_a, out_b, out_c) = (ctx.buffer(16)?, ctx.buffer(20)?, ctx.buffer(16)?);
    let done = ctx.semaphore(0)?;
    ctx.device.queue_execute(
        &[],
        &[done.at(1)],
        &command_buffer,
        &[
            Some(BufferRef::whole(&in_a)),
            Some(BufferRef::whole(&out_a)),
        ],
    )?;
    ctx.device.queue_execute(
        &[done.at(1)],
        &[done.at(2)],
        &command_buffer,
        &[
            Some(BufferRef::whole(&in_b)),
            Some(BufferRef::whole(&out_b)),
        ],
    )?;
    ctx.device.queue_execute(
        &[done.at(2)],
        &[done.at(3)],
        &command_buffer,
        &[
            Some(BufferRef::range(&in_b, 4, 16)),
            Some(BufferRef::whole(&out_c)),
        ],
    )?;
    done.wait(3, WAIT)?;
    expect_slice(&read_f32(&out_a)?, &[3.0, 5.0, 7.0, 9.0], "table A")?;
    expect_slice(
        &read_f32(&out_b)?,
        &[-1.0, 1.0, 21.0, 201.0, 0.0],
        "table B (the dispatch binds 16 bytes)",
    )?;
    expect_slice(
        &read_f32(&out_c)?,
        &[1.0, 21.0, 201.0, 1111.0],
        "table C at an entry offset",
    )?;
    expect_slice(
        &read_f32(&in_a)?,
        &[1.0, 2.0, 3.0, 4.0],
        "input A unchanged",
    )?;
    Ok(())
}

/// One dispatch binding a direct buffer and a table slot.
fn mixed_direct_and_table(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let scale = k.ord("scale_offset")?;
    let input = ctx.buffer_f32(&[1.0, 2.0, 3.0, 4.0])?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(1))?;
    command_buffer.begin()?;
    command_buffer.dispatch(
        &k.exe,
        scale,
        Workgroups::Static([1, 1, 1]),
        &[3, 10],
        &[
            BufferRef::whole(&input),
            BufferRef::slot(0, 0, WHOLE_BUFFER),
        ],
    )?;
    command_buffer.end()?;
    let (out_a, out_b) = (ctx.buffer(16)?, ctx.buffer(16)?);
    let done = ctx.semaphore(0)?;
    ctx.device.queue_execute(
        &[],
        &[done.at(1)],
        &command_buffer,
        &[Some(BufferRef::whole(&out_a))],
    )?;
    done.wait(1, WAIT)?;
    input.write_elements(0, &[0.0f32, 1.0, 2.0, 3.0])?;
    ctx.device.queue_execute(
        &[],
        &[done.at(2)],
        &command_buffer,
        &[Some(BufferRef::whole(&out_b))],
    )?;
    done.wait(2, WAIT)?;
    expect_slice(&read_f32(&out_a)?, &[13.0, 16.0, 19.0, 22.0], "first table")?;
    expect_slice(
        &read_f32(&out_b)?,
        &[10.0, 13.0, 16.0, 19.0],
        "second table, direct input rewritten",
    )?;
    Ok(())
}

/// A dispatch through slots 1 and 3 of a table whose slots 0 and 2 are empty; the same
/// buffer with its output slot empty is refused, naming the slot and its use by a dispatch.
fn empty_table_slots(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let double = k.ord("double")?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::reusable(4))?;
    command_buffer.begin()?;
    command_buffer.dispatch(
        &k.exe,
        double,
        Workgroups::Static([1, 1, 1]),
        &[],
        &[
            BufferRef::slot(1, 0, WHOLE_BUFFER),
            BufferRef::slot(3, 0, WHOLE_BUFFER),
        ],
    )?;
    command_buffer.end()?;
    let values: Vec<f32> = (0..64).map(|i| i as f32 - 20.5).collect();
    let input = ctx.buffer_f32(&values)?;
    let output = ctx.buffer(64 * 4)?;
    let done = ctx.semaphore(0)?;
    expect_err(
        ctx.device.queue_execute(
            &[],
            &[done.at(1)],
            &command_buffer,
            &[None, Some(BufferRef::whole(&input)), None, None],
        ),
        StatusCode::InvalidArgument,
        &["slot 3", "empty", "dispatch binding"],
        "the output slot empty",
    )?;
    ctx.device.queue_execute(
        &[],
        &[done.at(1)],
        &command_buffer,
        &[
            None,
            Some(BufferRef::whole(&input)),
            None,
            Some(BufferRef::whole(&output)),
        ],
    )?;
    done.wait(1, WAIT)?;
    let expected: Vec<f32> = values.iter().map(|x| 2.0 * x).collect();
    expect_slice(
        &read_f32(&output)?,
        &expected,
        "double through slots 1 and 3",
    )?;
    Ok(())
}

fn wrong_constant_count(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let write = k.ord("write_constants")?;
    let out = ctx.buffer_u32(&[SENTINEL; 4])?;
    for constants in [&[1u32, 2, 3][..], &[1, 2, 3, 4, 5], &[]] {
        let result = ctx.execute(&[&out], |cb, r| {
            cb.dispatch(
                &k.exe,
                write,
                Workgroups::Static([1, 1, 1]),
                constants,
                &[r.whole(0)],
            )
        });
        expect_err(
            result,
            StatusCode::InvalidArgument,
            &["write_constants", &constants.len().to_string()],
            "wrong constant count",
        )?;
    }
    expect_slice(
        &read_u32(&out)?,
        &[SENTINEL; 4],
        "output after rejected dispatches",
    )?;
    Ok(())
}

fn wrong_binding_count(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let scale = k.ord("scale_offset")?;
    let (input, out) = (ctx.buffer_f32(&[1.0; 4])?, ctx.buffer(16)?);
    let result = ctx.execute(&[&input, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            scale,
            Workgroups::Static([1, 1, 1]),
            &[1, 1],
            &[r.whole(0)],
        )
    });
    expect_err(
        result,
        StatusCode::InvalidArgument,
        &["scale_offset", "1"],
        "one binding for two",
    )?;
    let result = ctx.execute(&[&input, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            scale,
            Workgroups::Static([1, 1, 1]),
            &[1, 1],
            &[r.whole(0), r.whole(1), r.whole(1)],
        )
    });
    expect_err(
        result,
        StatusCode::InvalidArgument,
        &["scale_offset", "3"],
        "three bindings for two",
    )?;
    expect_slice(
        &read_f32(&out)?,
        &[0.0; 4],
        "output after rejected dispatches",
    )?;
    Ok(())
}

/// A binding range beyond its buffer is OUT_OF_RANGE (at record for direct references, at
/// submit for table slots).
fn binding_out_of_range(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let abs = k.ord("abs")?;
    let buffer = ctx.buffer_f32(&[-1.0; 4])?;
    for (offset, length) in [(8u64, 16u64), (20, 4), (0, 20)] {
        let result = ctx.execute(&[&buffer], |cb, r| {
            cb.dispatch(
                &k.exe,
                abs,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[r.range(0, offset, length)],
            )
        });
        expect_err(
            result,
            StatusCode::OutOfRange,
            &[],
            &format!("binding [{offset}, +{length}) of a 16-byte buffer"),
        )?;
    }
    expect_slice(
        &read_f32(&buffer)?,
        &[-1.0; 4],
        "buffer after rejected dispatches",
    )?;
    Ok(())
}

/// A binding whose buffer lacks dispatch usage is PERMISSION_DENIED.
fn binding_usage(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let abs = k.ord("abs")?;
    let buffer = ctx.device.allocate_buffer(
        BufferParams::with_usage(BufferUsage::TRANSFER | BufferUsage::MAPPING),
        16,
    )?;
    buffer.write_elements(0, &[-1.0f32; 4])?;
    let result = ctx.execute(&[&buffer], |cb, r| {
        cb.dispatch(
            &k.exe,
            abs,
            Workgroups::Static([1, 1, 1]),
            &[],
            &[r.whole(0)],
        )
    });
    expect_err(
        result,
        StatusCode::PermissionDenied,
        &["DISPATCH_STORAGE"],
        "binding without dispatch usage",
    )?;
    expect_slice(
        &read_f32(&buffer)?,
        &[-1.0; 4],
        "buffer after the rejected dispatch",
    )?;
    Ok(())
}

fn ordinal_out_of_range(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let out = ctx.buffer(16)?;
    for ordinal in [k.exe.export_count(), k.exe.export_count() + 7, u32::MAX] {
        let result = ctx.execute(&[&out], |cb, r| {
            cb.dispatch(
                &k.exe,
                ordinal,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[r.whole(0)],
            )
        });
        expect_err(
            result,
            StatusCode::OutOfRange,
            &[&ordinal.to_string()],
            "export ordinal out of range",
        )?;
    }
    Ok(())
}

fn indirect_errors(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let ids = k.ord("workgroup_ids")?;
    let counts = ctx.buffer_u32(&[1, 1, 1, 1, 1])?;
    let out = ctx.buffer_u32(&[SENTINEL; 2])?;
    let dispatch = |offset: u64, length: u64| {
        ctx.execute(&[&counts, &out], |cb, r| {
            cb.dispatch(
                &k.exe,
                ids,
                Workgroups::Indirect(r.range(0, offset, length)),
                &[],
                &[r.whole(1)],
            )
        })
    };
    expect_err(
        dispatch(2, 12),
        StatusCode::InvalidArgument,
        &["2"],
        "misaligned indirect offset",
    )?;
    expect_err(
        dispatch(0, 8),
        StatusCode::OutOfRange,
        &["8"],
        "8-byte indirect range",
    )?;
    expect_err(
        dispatch(12, 12),
        StatusCode::OutOfRange,
        &[],
        "indirect range past the end",
    )?;
    let no_indirect = ctx.device.allocate_buffer(
        BufferParams::with_usage(
            BufferUsage::TRANSFER | BufferUsage::MAPPING | BufferUsage::DISPATCH_STORAGE,
        ),
        12,
    )?;
    no_indirect.write_elements(0, &[1u32, 1, 1])?;
    let result = ctx.execute(&[&no_indirect, &out], |cb, r| {
        cb.dispatch(
            &k.exe,
            ids,
            Workgroups::Indirect(r.whole(0)),
            &[],
            &[r.whole(1)],
        )
    });
    expect_err(
        result,
        StatusCode::PermissionDenied,
        &["DISPATCH_INDIRECT_PARAMETERS"],
        "counts buffer without indirect usage",
    )?;
    expect_slice(
        &read_u32(&out)?,
        &[SENTINEL; 2],
        "output after rejected dispatches",
    )?;
    Ok(())
}

/// A workgroup count of zero is a no-op that still signals.
fn zero_workgroups(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let write = k.ord("write_constants")?;
    let out = ctx.buffer_u32(&[SENTINEL; 4])?;
    for counts in [[0u32, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 0]] {
        ctx.execute(&[&out], |cb, r| {
            cb.dispatch(
                &k.exe,
                write,
                Workgroups::Static(counts),
                &[1, 2, 3, 4],
                &[r.whole(0)],
            )
        })?;
        let indirect = ctx.buffer_u32(&counts)?;
        ctx.execute(&[&indirect, &out], |cb, r| {
            cb.dispatch(
                &k.exe,
                write,
                Workgroups::Indirect(r.whole(0)),
                &[1, 2, 3, 4],
                &[r.whole(1)],
            )
        })?;
    }
    expect_slice(
        &read_u32(&out)?,
        &[SENTINEL; 4],
        "output after zero-workgroup dispatches",
    )?;
    Ok(())
}

/// A failing kernel fails the submission's signal with INTERNAL (an inline recording does
/// not fail), later work waiting on it fails too, and the device stays usable.
fn kernel_failure(ctx: &Ctx<'_>) -> Result<()> {
    let k = ctx.kernels()?;
    let (fail, scale) = (k.ord("fail")?, k.ord("scale_offset")?);
    let out = ctx.buffer_u32(&[SENTINEL; 4])?;
    let command_buffer = ctx.record(Lifetime::Inline, &[&out], |cb, r| {
        cb.dispatch(&k.exe, fail, Workgroups::Static([1, 1, 1]), &[], &[])?;
        cb.execution_barrier()?;
        cb.fill(r.whole(0), FillPattern::U32(1))
    })?;
    let failed = ctx.semaphore(0)?;
    let later = ctx.semaphore(0)?;
    ctx.device
        .queue_execute(&[], &[failed.at(1)], &command_buffer, &ctx.table(&[&out]))?;
    expect_err(
        failed.wait(1, WAIT),
        StatusCode::Internal,
        &[],
        "waiting on the failed submission",
    )?;
    expect_err(
        failed.query(),
        StatusCode::Internal,
        &[],
        "querying the failed semaphore",
    )?;
    ctx.device.queue_barrier(&[failed.at(1)], &[later.at(1)])?;
    expect_err(
        later.wait(1, WAIT),
        StatusCode::Internal,
        &[],
        "work waiting on the failed submission",
    )?;
    let copy_target = ctx.buffer(16)?;
    ctx.device.queue_copy(
        &[failed.at(1)],
        &[later.at(2)],
        &out,
        0,
        &copy_target,
        0,
        16,
    )?;
    expect_err(
        later.wait(2, WAIT),
        StatusCode::Internal,
        &[],
        "a copy waiting on the failed submission",
    )?;

    // The device still runs unrelated work.
    let (input, result) = (ctx.buffer_f32(&[1.0, 2.0, 3.0, 4.0])?, ctx.buffer(16)?);
    ctx.execute(&[&input, &result], |cb, r| {
        cb.dispatch(
            &k.exe,
            scale,
            Workgroups::Static([1, 1, 1]),
            &[3, 10],
            &[r.whole(0), r.whole(1)],
        )
    })?;
    expect_slice(
        &read_f32(&result)?,
        &[13.0, 16.0, 19.0, 22.0],
        "unrelated dispatch after a failure",
    )?;
    let again = ctx.execute(&[], |cb, _| {
        cb.dispatch(&k.exe, fail, Workgroups::Static([3, 1, 1]), &[], &[])
    });
    expect_err(
        again,
        StatusCode::Internal,
        &[],
        "a second failing submission",
    )?;
    Ok(())
}
