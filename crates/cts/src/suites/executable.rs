//! Executable caches and executables: formats, reflection, executable constants, malformed data.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::{bail, ensure, Context as _, Result};
use hal_core::{BindingFlags, ExecutableParams, ExportFlags, StatusCode, Workgroups};

use crate::case::Case;
use crate::check::{expect_err, expect_err_in, expect_slice, INPUT_ERROR_CODES};
use crate::ctx::{read_u32, Ctx};
use crate::{Tag, TestLibrary};

const SUITE: &str = "executable";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "cache", cache),
        Case::new(SUITE, "prepare", prepare).exe(),
        Case::new(SUITE, "reflection", reflection).exe(),
        Case::new(SUITE, "reflection_flags", reflection_flags).exe(),
        Case::new(SUITE, "constants", constants).exe(),
        Case::new(SUITE, "constant_count", constant_count).exe(),
        Case::new(SUITE, "malformed", malformed).exe(),
        Case::new(SUITE, "prepare_many", prepare_many).exe(),
        Case::new(SUITE, "prepare_threads", prepare_threads)
            .exe()
            .tags(&[Tag::Threads]),
    ]
}

/// A cache can be created; an unknown format cannot be prepared and the error names it.
fn cache(ctx: &Ctx<'_>) -> Result<()> {
    let cache = ctx.device.create_executable_cache()?;
    let bogus = "cts-no-such-format";
    ensure!(
        !cache.can_prepare_format(bogus),
        "the cache claims to prepare '{bogus}'"
    );
    expect_err(
        cache.prepare_executable(&ExecutableParams::new(bogus, b"data")),
        StatusCode::NotFound,
        &[bogus],
        "unknown format",
    )?;
    expect_err(
        cache.prepare_executable(&ExecutableParams::new("", b"")),
        StatusCode::NotFound,
        &[],
        "empty format",
    )?;
    Ok(())
}

fn prepare(ctx: &Ctx<'_>) -> Result<()> {
    let format = ctx.format()?;
    let cache = ctx.device.create_executable_cache()?;
    ensure!(
        cache.can_prepare_format(format.name),
        "the cache cannot prepare format '{}'",
        format.name
    );
    let kernels = ctx
        .prepare(TestLibrary::Kernels, &[])
        .context("preparing Kernels")?;
    ensure!(kernels.export_count() > 0, "Kernels has no export");
    let specialized = ctx
        .prepare(TestLibrary::Specialized, &[1, 2])
        .context("preparing Specialized")?;
    ensure!(
        specialized.export_count() == 2,
        "Specialized has {} exports",
        specialized.export_count()
    );
    Ok(())
}

/// The reflection data of every test export, out-of-range ordinals and unknown names.
fn reflection(ctx: &Ctx<'_>) -> Result<()> {
    let exe = ctx.prepare(TestLibrary::Kernels, &[])?;
    let expected: [(&str, u32, u32); 10] = [
        ("abs", 0, 1),
        ("write_constants", 4, 1),
        ("scale_offset", 2, 2),
        ("negate", 0, 2),
        ("double", 0, 2),
        ("workgroup_ids", 0, 1),
        ("visit", 0, 1),
        ("fail", 0, 0),
        ("tiny", 0, 2),
        ("copy_via_local_memory", 0, 2),
    ];
    let count = exe.export_count();
    ensure!(
        exe.exports().len() == count as usize,
        "exports() has {} entries, export_count() {count}",
        exe.exports().len()
    );
    for (name, constants, bindings) in expected {
        let ordinal = exe.lookup_export(name)?;
        let info = exe.export(ordinal)?;
        ensure!(
            info.name == name,
            "export {ordinal} is named '{}', looked up as '{name}'",
            info.name
        );
        ensure!(
            info.constant_count == constants,
            "'{name}' takes {} constants, expected {constants}",
            info.constant_count
        );
        ensure!(
            info.binding_count == bindings,
            "'{name}' takes {} bindings, expected {bindings}",
            info.binding_count
        );
        ensure!(
            info.workgroup_size.iter().all(|&s| s >= 1),
            "'{name}' has workgroup size {:?}",
            info.workgroup_size
        );
    }
    for (ordinal, info) in exe.exports().iter().enumerate() {
        ensure!(
            exe.lookup_export(&info.name)? == ordinal as u32,
            "export '{}' is found at another ordinal",
            info.name
        );
    }
    let local = exe.export(exe.lookup_export("copy_via_local_memory")?)?;
    ensure!(
        local.local_memory_size >= 4096,
        "copy_via_local_memory declares {} bytes of local memory",
        local.local_memory_size
    );
    expect_err(
        exe.export(count),
        StatusCode::OutOfRange,
        &[&count.to_string()],
        "export at the count",
    )?;
    expect_err(
        exe.export(u32::MAX),
        StatusCode::OutOfRange,
        &[&u32::MAX.to_string()],
        "export u32::MAX",
    )?;
    expect_err(
        exe.lookup_export("cts_no_such_export"),
        StatusCode::NotFound,
        &["cts_no_such_export"],
        "unknown export name",
    )?;
    expect_err(
        exe.lookup_export(""),
        StatusCode::NotFound,
        &[],
        "empty export name",
    )?;
    Ok(())
}

/// The library name, executable-constant count, export flags, parameter counts and binding
/// flags every format's loader reads from the library's descriptors: exactly as declared for
/// the Specialized library (whose every format describes its parameters), and never a read-only
/// promise for a binding a Kernels export writes (IREE 3.13 emits no parameter descriptors, so
/// its kernels declare no flags).
fn reflection_flags(ctx: &Ctx<'_>) -> Result<()> {
    let specialized = ctx.prepare(TestLibrary::Specialized, &[1, 2])?;
    ensure!(
        specialized.library_name() == "cts_specialized",
        "Specialized is named '{}'",
        specialized.library_name()
    );
    ensure!(
        specialized.executable_constant_count() == 2,
        "Specialized takes {} executable constants",
        specialized.executable_constant_count()
    );
    let constants = specialized.export(specialized.lookup_export("executable_constants")?)?;
    ensure!(
        constants.flags == ExportFlags::empty()
            && constants.parameter_count == 1
            && constants.binding_flags == [BindingFlags::empty()],
        "executable_constants reflects flags {:?}, {} parameters, binding flags {:?}",
        constants.flags,
        constants.parameter_count,
        constants.binding_flags
    );
    let local = specialized.export(specialized.lookup_export("local_memory_size")?)?;
    ensure!(
        local.flags == ExportFlags::SEQUENTIAL
            && local.parameter_count == 2
            && local.binding_flags == [BindingFlags::READ_ONLY, BindingFlags::empty()],
        "local_memory_size reflects flags {:?}, {} parameters, binding flags {:?}",
        local.flags,
        local.parameter_count,
        local.binding_flags
    );
    ensure!(
        (
            local.constant_count,
            local.binding_count,
            local.local_memory_size
        ) == (0, 2, 4096),
        "local_memory_size takes {} constants and {} bindings with {} bytes of local memory",
        local.constant_count,
        local.binding_count,
        local.local_memory_size
    );

    let kernels = ctx.prepare(TestLibrary::Kernels, &[])?;
    ensure!(
        kernels.library_name() == "cts_kernels" && kernels.executable_constant_count() == 0,
        "Kernels is named '{}' with {} executable constants",
        kernels.library_name(),
        kernels.executable_constant_count()
    );
    let written: [(&str, usize); 9] = [
        ("abs", 0),
        ("write_constants", 0),
        ("scale_offset", 1),
        ("negate", 1),
        ("double", 1),
        ("workgroup_ids", 0),
        ("visit", 0),
        ("tiny", 1),
        ("copy_via_local_memory", 1),
    ];
    for export in kernels.exports() {
        ensure!(
            export.binding_flags.len() == export.binding_count as usize,
            "'{}' has {} bindings and {} binding flags",
            export.name,
            export.binding_count,
            export.binding_flags.len()
        );
    }
    for (name, binding) in written {
        let export = kernels.export(kernels.lookup_export(name)?)?;
        ensure!(
            !export.binding_flags[binding].contains(BindingFlags::READ_ONLY),
            "'{name}' writes binding {binding}, which it declares read-only"
        );
    }
    Ok(())
}

fn run_specialized(ctx: &Ctx<'_>, exe: &hal_core::Executable) -> Result<Vec<u32>> {
    let ordinal = exe.lookup_export("executable_constants")?;
    let out = ctx.buffer_u32(&[0xCAFE_BABE; 3])?;
    ctx.execute(&[&out], |cb, r| {
        cb.dispatch(
            exe,
            ordinal,
            Workgroups::Static([1, 1, 1]),
            &[],
            &[r.whole(0)],
        )
    })?;
    read_u32(&out)
}

/// Executable-level constants reach the kernel, independently per executable.
fn constants(ctx: &Ctx<'_>) -> Result<()> {
    let first = ctx.prepare(TestLibrary::Specialized, &[7, 0xFFFF_FFFF])?;
    let second = ctx.prepare(TestLibrary::Specialized, &[1, 2])?;
    expect_slice(
        &run_specialized(ctx, &first)?,
        &[7, 0xFFFF_FFFF, 0xCAFE_BABE],
        "constants (7, 0xFFFFFFFF)",
    )?;
    expect_slice(
        &run_specialized(ctx, &second)?,
        &[1, 2, 0xCAFE_BABE],
        "constants (1, 2)",
    )?;
    expect_slice(
        &run_specialized(ctx, &first)?,
        &[7, 0xFFFF_FFFF, 0xCAFE_BABE],
        "the first executable again",
    )?;
    Ok(())
}

/// A wrong executable-constant count is INVALID_ARGUMENT naming the counts.
fn constant_count(ctx: &Ctx<'_>) -> Result<()> {
    for constants in [&[][..], &[1], &[1, 2, 3]] {
        let result = ctx.prepare(TestLibrary::Specialized, constants);
        expect_err(
            result,
            StatusCode::InvalidArgument,
            &["constant", &constants.len().to_string()],
            &format!("{} constants for Specialized", constants.len()),
        )?;
    }
    expect_err(
        ctx.prepare(TestLibrary::Kernels, &[1]),
        StatusCode::InvalidArgument,
        &["constant"],
        "1 constant for Kernels",
    )?;
    // Many constants: compared with the library's count (or refused by hal-core past its
    // limit) before any loader copies them anywhere.
    for count in [993, hal_core::MAX_EXECUTABLE_CONSTANT_COUNT] {
        let constants = vec![7u32; count];
        expect_err(
            ctx.prepare(TestLibrary::Specialized, &constants),
            StatusCode::InvalidArgument,
            &["constant", &count.to_string()],
            &format!("{count} constants for Specialized"),
        )?;
    }
    let over = hal_core::MAX_EXECUTABLE_CONSTANT_COUNT + 1;
    expect_err(
        ctx.prepare(TestLibrary::Specialized, &vec![7u32; over]),
        StatusCode::InvalidArgument,
        &[
            &over.to_string(),
            &hal_core::MAX_EXECUTABLE_CONSTANT_COUNT.to_string(),
        ],
        &format!("{over} constants for Specialized"),
    )?;
    Ok(())
}

/// Every malformed input of the format fails to prepare with a clear error and no crash; the
/// device still prepares good data afterwards.
fn malformed(ctx: &Ctx<'_>) -> Result<()> {
    let format = ctx.format()?;
    let cache = ctx.device.create_executable_cache()?;
    let inputs = (format.malformed)();
    ensure!(
        !inputs.is_empty(),
        "format '{}' provides no malformed inputs",
        format.name
    );
    for (description, data) in &inputs {
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            cache.prepare_executable(&ExecutableParams::new(format.name, data))
        }));
        let result = match attempt {
            Ok(result) => result,
            Err(_) => bail!("preparing malformed data ({description}) panicked"),
        };
        let status = expect_err_in(
            result,
            INPUT_ERROR_CODES,
            &format!("malformed data ({description})"),
        )?;
        ensure!(
            !status.message().trim().is_empty(),
            "malformed data ({description}) failed with an empty message"
        );
    }
    ctx.prepare(TestLibrary::Kernels, &[])
        .context("preparing good data after malformed data")?;
    Ok(())
}

/// Preparing and dropping the same library many times works (no registration or leak limit).
fn prepare_many(ctx: &Ctx<'_>) -> Result<()> {
    let executables = (0..50)
        .map(|_| ctx.prepare(TestLibrary::Kernels, &[]))
        .collect::<hal_core::Result<Vec<_>>>()?;
    drop(executables);
    for i in 0..50u32 {
        let exe = ctx.prepare(TestLibrary::Specialized, &[i, i + 1])?;
        if i % 10 == 0 {
            expect_slice(
                &run_specialized(ctx, &exe)?,
                &[i, i + 1, 0xCAFE_BABE],
                &format!("specialisation {i}"),
            )?;
        }
    }
    Ok(())
}

/// One cache prepares from several threads at once.
fn prepare_threads(ctx: &Ctx<'_>) -> Result<()> {
    let format = ctx.format()?;
    let cache = ctx.device.create_executable_cache()?;
    let kernels = (format.library)(TestLibrary::Kernels);
    let specialized = (format.library)(TestLibrary::Specialized);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..3u32)
            .map(|t| {
                let (cache, kernels, specialized) = (&cache, &kernels, &specialized);
                scope.spawn(move || -> Result<()> {
                    for i in 0..20 {
                        let exe = cache
                            .prepare_executable(&ExecutableParams::new(format.name, kernels))?;
                        exe.lookup_export("abs")?;
                        let constants = [t, i];
                        let exe = cache.prepare_executable(&ExecutableParams {
                            format: format.name,
                            data: specialized,
                            constants: &constants,
                        })?;
                        if i % 5 == 0 {
                            expect_slice(
                                &run_specialized(ctx, &exe)?,
                                &[t, i, 0xCAFE_BABE],
                                "constants prepared in a thread",
                            )?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a preparing thread panicked"))??;
        }
        Ok(())
    })
}
