//! The allocator: allocation parameters, zero-byte buffers, compatibility queries, host imports,
//! impossible requests and leak accounting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{ensure, Context as _, Result};
use hal_core::{
    BufferCompatibility, BufferParams, BufferRef, BufferUsage, CommandBufferParams, FillPattern,
    MemoryAccess, MemoryType, StatusCode, WHOLE_BUFFER,
};

use crate::case::Case;
use crate::check::{expect_err, expect_slice, noise};
use crate::ctx::{read_bytes, Ctx, WAIT};

const SUITE: &str = "allocator";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "allocate", allocate),
        Case::new(SUITE, "zero_size", zero_size),
        Case::new(SUITE, "compatibility_defaults", compatibility_defaults),
        Case::new(SUITE, "memory_types", memory_types),
        Case::new(SUITE, "import_host_memory", import_host_memory),
        Case::new(SUITE, "impossible_size", impossible_size),
        Case::new(SUITE, "huge_size", huge_size),
        Case::new(SUITE, "statistics", statistics),
        Case::new(SUITE, "memory_limit", memory_limit),
    ]
}

/// A host-visible, device-visible buffer for transfer and dispatch reports at least what was
/// requested and starts zeroed.
fn allocate(ctx: &Ctx<'_>) -> Result<()> {
    let params = BufferParams {
        memory_type: MemoryType::HOST_VISIBLE | MemoryType::DEVICE_VISIBLE,
        access: MemoryAccess::ALL,
        usage: BufferUsage::TRANSFER | BufferUsage::DISPATCH_STORAGE | BufferUsage::MAPPING,
    };
    for size in [1u64, 3, 64, 4096, (1 << 20) + 5] {
        let buffer = ctx
            .device
            .allocate_buffer(params, size)
            .with_context(|| format!("allocating {size} bytes"))?;
        ensure!(
            buffer.len() >= size,
            "a {size}-byte request gave {} bytes",
            buffer.len()
        );
        ensure!(
            buffer.memory_type().contains(params.memory_type),
            "memory type {:?} lacks {:?}",
            buffer.memory_type(),
            params.memory_type
        );
        ensure!(
            buffer.usage().contains(params.usage),
            "usage {:?} lacks {:?}",
            buffer.usage(),
            params.usage
        );
        ensure!(
            buffer.allowed_access().contains(params.access),
            "access {:?} lacks {:?}",
            buffer.allowed_access(),
            params.access
        );
        let bytes = read_bytes(&buffer)?;
        ensure!(
            bytes.iter().all(|&b| b == 0),
            "a new {size}-byte buffer is not zeroed"
        );
    }
    Ok(())
}

/// A zero-byte buffer exists and takes part in zero-length host, queue and command operations.
fn zero_size(ctx: &Ctx<'_>) -> Result<()> {
    let empty = ctx.buffer(0)?;
    let other = ctx.buffer(0)?;
    ensure!(
        empty.is_empty(),
        "a zero-byte buffer has length {}",
        empty.len()
    );
    empty.read(0, &mut [])?;
    empty.write(0, &[])?;
    empty.fill(0, 0, FillPattern::U32(7))?;
    empty.zero(0, WHOLE_BUFFER)?;
    ensure!(
        empty.map_read(0, WHOLE_BUFFER)?.is_empty(),
        "the mapping of an empty buffer is not empty"
    );
    empty.copy_to(0, &other, 0, 0)?;
    let _ = empty.subspan(0, 0)?;

    let done = ctx.semaphore(0)?;
    ctx.device
        .queue_fill(&[], &[done.at(1)], &empty, 0, 0, FillPattern::U8(1))?;
    ctx.device
        .queue_update(&[done.at(1)], &[done.at(2)], &[], &empty, 0)?;
    ctx.device
        .queue_copy(&[done.at(2)], &[done.at(3)], &empty, 0, &other, 0, 0)?;
    let mut command_buffer = ctx
        .device
        .create_command_buffer(CommandBufferParams::one_shot_inline())?;
    command_buffer.begin()?;
    command_buffer.fill(BufferRef::whole(&empty), FillPattern::U32(1))?;
    command_buffer.update(&[], BufferRef::whole(&empty))?;
    command_buffer.copy(BufferRef::range(&empty, 0, 0), BufferRef::whole(&other))?;
    command_buffer.end()?;
    ctx.device
        .queue_execute(&[done.at(3)], &[done.at(4)], &command_buffer, &[])?;
    done.wait(4, WAIT)?;
    Ok(())
}

/// Compatibility queries canonicalise empty access and usage and can allocate the defaults.
fn compatibility_defaults(ctx: &Ctx<'_>) -> Result<()> {
    let allocator = ctx.device.allocator();
    let (compatibility, canonical) = allocator.query_compatibility(BufferParams::default(), 1024);
    ensure!(
        canonical.access == MemoryAccess::ALL,
        "empty access became {:?}",
        canonical.access
    );
    ensure!(
        canonical.usage == BufferUsage::DEFAULT,
        "empty usage became {:?}",
        canonical.usage
    );
    ensure!(
        canonical
            .memory_type
            .contains(MemoryType::HOST_VISIBLE | MemoryType::DEVICE_VISIBLE),
        "the default memory type {:?} is not host and device visible",
        canonical.memory_type
    );
    let wanted = BufferCompatibility::ALLOCATABLE
        | BufferCompatibility::QUEUE_TRANSFER
        | BufferCompatibility::QUEUE_DISPATCH;
    ensure!(
        compatibility.contains(wanted),
        "default buffers are only {compatibility:?}, expected at least {wanted:?}"
    );

    let explicit = BufferParams {
        memory_type: MemoryType::HOST_LOCAL | MemoryType::DEVICE_VISIBLE,
        access: MemoryAccess::READ,
        usage: BufferUsage::TRANSFER_SOURCE,
    };
    let (_, kept) = allocator.query_compatibility(explicit, 16);
    ensure!(
        kept.access == explicit.access && kept.usage == explicit.usage,
        "explicit params changed: {kept:?}"
    );

    let buffer = ctx.device.allocate_buffer(BufferParams::default(), 64)?;
    ensure!(
        buffer.usage() == BufferUsage::DEFAULT,
        "a default buffer has usage {:?}",
        buffer.usage()
    );
    ensure!(
        buffer.allowed_access() == MemoryAccess::ALL,
        "a default buffer has access {:?}",
        buffer.allowed_access()
    );
    Ok(())
}

/// For each memory type the compatibility query and allocation agree: allocatable types
/// allocate with at least the requested type, the others (an undefined bit at least) fail with
/// INVALID_ARGUMENT, and nothing leaks.
fn memory_types(ctx: &Ctx<'_>) -> Result<()> {
    let allocator = ctx.device.allocator();
    let types = [
        MemoryType::OPTIMAL,
        MemoryType::HOST_LOCAL,
        MemoryType::DEVICE_LOCAL,
        MemoryType::HOST_VISIBLE | MemoryType::HOST_COHERENT,
        MemoryType::HOST_VISIBLE | MemoryType::HOST_CACHED,
        MemoryType::DEVICE_LOCAL | MemoryType::HOST_VISIBLE,
        MemoryType::HOST_LOCAL | MemoryType::DEVICE_VISIBLE,
        MemoryType::all(),
    ];
    let before = allocator.statistics();
    for memory_type in types {
        let params = BufferParams {
            memory_type,
            ..BufferParams::default()
        };
        let (compatibility, canonical) = allocator.query_compatibility(params, 256);
        let result = allocator.allocate_buffer(params, 256);
        if compatibility.contains(BufferCompatibility::ALLOCATABLE) {
            let buffer = result.with_context(|| {
                format!("allocating {memory_type:?}, which the query says is allocatable")
            })?;
            ensure!(
                buffer.memory_type().contains(canonical.memory_type),
                "requested {memory_type:?}, got {:?}",
                buffer.memory_type()
            );
        } else {
            expect_err(
                result,
                StatusCode::InvalidArgument,
                &["memory type"],
                &format!("allocating unsupported {memory_type:?}"),
            )?;
        }
    }
    // A memory type with a bit no HAL defines is unsupported by every allocator.
    let unknown = BufferParams {
        memory_type: MemoryType::from_bits_retain(1 << 20) | MemoryType::HOST_VISIBLE,
        ..BufferParams::default()
    };
    let (compatibility, _) = allocator.query_compatibility(unknown, 256);
    ensure!(
        !compatibility.contains(BufferCompatibility::ALLOCATABLE),
        "an undefined memory type is reported allocatable"
    );
    let what = "allocating an undefined memory type";
    expect_err(
        allocator.allocate_buffer(unknown, 256),
        StatusCode::InvalidArgument,
        &["memory type"],
        what,
    )?;
    let what = "queue alloca of an undefined memory type";
    let result = ctx.device.queue_alloca(&[], &[], unknown, 256);
    expect_err(result, StatusCode::InvalidArgument, &["memory type"], what)?;
    let after = allocator.statistics();
    ensure!(
        after.live_bytes == before.live_bytes,
        "live bytes went from {} to {}",
        before.live_bytes,
        after.live_bytes
    );
    Ok(())
}

/// Host memory owned by the test; freed exactly once, by whoever drops this.
struct HostMemory(*mut [u8]);

// SAFETY: the pointer is uniquely owned by this value; nothing else frees or aliases it except
// the buffer the import creates, which the allocator contract confines to the release callback.
unsafe impl Send for HostMemory {}

impl Drop for HostMemory {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::into_raw` and is dropped only here, once.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

/// Imported host memory is visible through the buffer, and the release callback runs exactly
/// once, after the last buffer (subspans included) is dropped.
fn import_host_memory(ctx: &Ctx<'_>) -> Result<()> {
    let allocator = ctx.device.allocator();
    let contents = noise(256, 5);
    let raw = Box::into_raw(contents.clone().into_boxed_slice());
    let owner = HostMemory(raw);
    let ptr = raw.cast::<u8>();
    let len = contents.len();
    let releases = Arc::new(AtomicUsize::new(0));
    let counter = releases.clone();
    let release = Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        drop(owner);
    });
    let (compatibility, _) = allocator.query_compatibility(BufferParams::default(), len as u64);
    // SAFETY: `ptr` is valid for `len` initialised bytes until `release` runs or is dropped
    // (which frees it), and the test touches it only through the returned buffer.
    let result =
        unsafe { allocator.import_host_memory(BufferParams::default(), ptr, len, Some(release)) };
    if !compatibility.contains(BufferCompatibility::IMPORTABLE) {
        ensure!(
            result.is_err(),
            "the allocator imported memory it says is not importable"
        );
        ensure!(
            releases.load(Ordering::SeqCst) == 0,
            "a failed import ran the release callback"
        );
        return Ok(());
    }
    let buffer = result.context("importing host memory")?;
    ensure!(
        buffer.len() == len as u64,
        "the imported buffer has {} bytes, expected {len}",
        buffer.len()
    );
    expect_slice(&read_bytes(&buffer)?, &contents, "imported contents")?;

    // Device work on imported memory.
    let source = ctx.buffer_bytes(&[9, 8, 7, 6])?;
    let done = ctx.semaphore(0)?;
    ctx.device
        .queue_copy(&[], &[done.at(1)], &source, 0, &buffer, 16, 4)?;
    done.wait(1, WAIT)?;
    let mut expected = contents.clone();
    expected[16..20].copy_from_slice(&[9, 8, 7, 6]);
    expect_slice(
        &read_bytes(&buffer)?,
        &expected,
        "imported contents after a queue copy",
    )?;

    let sub = buffer.subspan(100, 50)?;
    drop(buffer);
    ensure!(
        releases.load(Ordering::SeqCst) == 0,
        "release ran while a subspan was alive"
    );
    let mut tail = vec![0; 50];
    sub.read(0, &mut tail)?;
    expect_slice(&tail, &expected[100..150], "subspan of the import")?;
    drop(sub);
    let count = releases.load(Ordering::SeqCst);
    ensure!(
        count == 1,
        "the release callback ran {count} times, expected once"
    );
    Ok(())
}

/// A device created with `memory_limit` refuses allocations past it with RESOURCE_EXHAUSTED
/// naming the limit, for direct allocations and for queue allocas (whose signal fails), and
/// allows them again once memory is freed.
fn memory_limit(ctx: &Ctx<'_>) -> Result<()> {
    const LIMIT: u64 = 1 << 20;
    let separator = if ctx.backend.uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let uri = if ctx.backend.uri.contains("://") || separator == '&' {
        format!("{}{separator}memory_limit={LIMIT}", ctx.backend.uri)
    } else {
        format!("{}://?memory_limit={LIMIT}", ctx.backend.uri)
    };
    let device = hal_core::create_device(&uri).with_context(|| format!("creating {uri}"))?;
    let params = BufferParams::default();
    let first = device.allocate_buffer(params, LIMIT / 2)?;
    let second = device.allocate_buffer(params, LIMIT / 2)?;
    let refused = expect_err(
        device.allocate_buffer(params, 1),
        StatusCode::ResourceExhausted,
        &[&LIMIT.to_string()],
        "an allocation past the memory limit",
    )?;
    ensure!(
        refused.message().contains("limit"),
        "the refusal does not say it is the limit: {refused}"
    );
    drop(first);
    let third = device.allocate_buffer(params, LIMIT / 2)?;
    let s = device.create_semaphore(0)?;
    let late = device.queue_alloca(&[], &[s.at(1)], params, 4096)?;
    expect_err(
        s.wait(1, WAIT),
        StatusCode::ResourceExhausted,
        &["limit"],
        "a queue alloca past the memory limit",
    )?;
    drop((second, third, late));
    ensure!(
        device.allocator().statistics().live_bytes == 0,
        "live bytes after freeing everything: {}",
        device.allocator().statistics().live_bytes
    );
    device.allocate_buffer(params, LIMIT)?;
    Ok(())
}

/// Sizes beyond the address space fail with RESOURCE_EXHAUSTED naming the size, nothing leaks.
fn impossible_size(ctx: &Ctx<'_>) -> Result<()> {
    let allocator = ctx.device.allocator();
    let before = allocator.statistics();
    for size in [u64::MAX, isize::MAX as u64 + 1] {
        expect_err(
            ctx.device.allocate_buffer(BufferParams::default(), size),
            StatusCode::ResourceExhausted,
            &[&size.to_string()],
            "allocate",
        )?;
        expect_err(
            ctx.device
                .queue_alloca(&[], &[], BufferParams::default(), size),
            StatusCode::ResourceExhausted,
            &[&size.to_string()],
            "queue alloca",
        )?;
    }
    let after = allocator.statistics();
    ensure!(
        after.live_bytes == before.live_bytes,
        "live bytes went from {} to {}",
        before.live_bytes,
        after.live_bytes
    );
    Ok(())
}

/// A size the host's address space can represent but no machine can provide (2^56 bytes) is an
/// error from the driver's allocator, never an abort.
fn huge_size(ctx: &Ctx<'_>) -> Result<()> {
    let allocator = ctx.device.allocator();
    let before = allocator.statistics();
    let size = 1u64 << 56;
    let result = ctx.device.allocate_buffer(BufferParams::default(), size);
    expect_err(
        result,
        StatusCode::ResourceExhausted,
        &[],
        "allocating 2^56 bytes",
    )?;
    let after = allocator.statistics();
    ensure!(
        after.live_bytes == before.live_bytes,
        "live bytes went from {} to {}",
        before.live_bytes,
        after.live_bytes
    );
    Ok(())
}

/// Statistics count allocations and frees; dropping every buffer returns live bytes to where
/// they were.
fn statistics(ctx: &Ctx<'_>) -> Result<()> {
    let allocator = ctx.device.allocator();
    let before = allocator.statistics();
    let sizes = [1000u64, 4096, 1 << 20];
    let buffers = sizes
        .iter()
        .map(|&size| ctx.buffer(size))
        .collect::<Result<Vec<_>>>()?;
    let during = allocator.statistics();
    let total: u64 = sizes.iter().sum();
    ensure!(
        during.live_bytes >= before.live_bytes + total,
        "live bytes {} after allocating {total} more than {}",
        during.live_bytes,
        before.live_bytes
    );
    ensure!(
        during.allocations >= before.allocations + 3,
        "allocations went from {} to {}",
        before.allocations,
        during.allocations
    );
    let subspans: Vec<_> = buffers
        .iter()
        .map(|b| b.subspan(0, 1))
        .collect::<hal_core::Result<_>>()?;
    drop(buffers);
    ensure!(
        allocator.statistics().frees == before.frees,
        "memory was freed while subspans were alive"
    );
    drop(subspans);
    let after = allocator.statistics();
    ensure!(
        after.live_bytes == before.live_bytes,
        "live bytes went from {} to {} after dropping everything",
        before.live_bytes,
        after.live_bytes
    );
    ensure!(
        after.frees == before.frees + 3,
        "frees went from {} to {}",
        before.frees,
        after.frees
    );
    Ok(())
}
