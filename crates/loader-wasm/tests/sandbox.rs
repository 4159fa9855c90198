//! The sandbox: every trap kind, a runaway kernel and a write outside its binding fail their own
//! submission with a status naming the kernel and the trap; the device, the executable and the
//! thread's instance stay usable, and later work runs. A kernel reaches only the buffers bound to
//! its run: not buffers bound to earlier runs, not other pages of a buffer it sees a range of, not
//! staged copies of earlier bindings.

mod common;

use std::time::{Duration, Instant};

use common::{buffer_with, device, dispatch, dispatch_refs, prepare, sandbox};
use hal_core::{Buffer, BufferRef, Device, Executable, StatusCode};

#[test]
fn traps_and_runaways_fail_only_their_submission() {
    loader_wasm::set_dispatch_budget(Duration::from_millis(300));
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    // A page-sized buffer: the byte after it is the guard page.
    let data = buffer_with(&device, &(0..1024u32).collect::<Vec<_>>());
    let cases: &[(&str, usize, StatusCode, &str)] = &[
        (
            "out_of_bounds",
            0,
            StatusCode::Aborted,
            "out of bounds memory access",
        ),
        ("unreachable", 0, StatusCode::Aborted, "unreachable"),
        (
            "divide_by_zero",
            0,
            StatusCode::Aborted,
            "integer divide by zero",
        ),
        (
            "stack_overflow",
            0,
            StatusCode::Aborted,
            "call stack exhausted",
        ),
        ("spin", 0, StatusCode::DeadlineExceeded, "budget"),
        (
            "write_past_binding",
            1,
            StatusCode::Aborted,
            "out of bounds memory access",
        ),
    ];
    let mut expected: Vec<u32> = (0..1024).collect();
    for &(export, bindings, code, trap) in cases {
        let buffers: Vec<_> = std::iter::repeat_n(&data, bindings).collect();
        let started = Instant::now();
        let status =
            dispatch(&device, &executable, export, [1, 1, 1], &[], &buffers).expect_err(export);
        assert_eq!(status.code(), code, "{export}: {status}");
        let text = status.to_string();
        assert!(
            text.contains(export) && text.contains(trap),
            "{export}: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{export} took too long"
        );
        // Later work on the same device and executable runs.
        dispatch(&device, &executable, "double", [16, 1, 1], &[], &[&data]).unwrap();
        expected.iter_mut().for_each(|v| *v = v.wrapping_mul(2));
        assert_eq!(
            data.read_elements::<u32>(0, 1024).unwrap(),
            expected,
            "after {export}"
        );
    }
    // And on another thread, with its own instance.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let status = dispatch(&device, &executable, "unreachable", [1, 1, 1], &[], &[])
                .expect_err("unreachable");
            assert_eq!(status.code(), StatusCode::Aborted);
            dispatch(&device, &executable, "double", [16, 1, 1], &[], &[&data]).unwrap();
        });
    });
    expected.iter_mut().for_each(|v| *v = v.wrapping_mul(2));
    assert_eq!(data.read_elements::<u32>(0, 1024).unwrap(), expected);
}

#[test]
fn imported_host_memory_is_copied_in_and_out() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let mut host: Vec<u32> = (0..100).collect();
    let before = loader_wasm::copy_statistics();
    // SAFETY: `host` outlives the buffer (dropped before `host` is read) and nothing else touches
    // it meanwhile.
    let buffer = unsafe {
        device.allocator().import_host_memory(
            hal_core::BufferParams::default(),
            host.as_mut_ptr().cast(),
            400,
            None,
        )
    }
    .unwrap();
    dispatch(&device, &executable, "double", [2, 1, 1], &[], &[&buffer]).unwrap();
    drop(buffer);
    assert_eq!(host, (0..100).map(|v| v * 2).collect::<Vec<u32>>());
    let after = loader_wasm::copy_statistics();
    assert!(after.copied_bindings > before.copied_bindings);
    assert!(after.copied_bytes >= before.copied_bytes + 800);
}

/// A dispatch state shared by the threads of one dispatch, as a multi-worker driver shares it.
struct Shared(hal_local::abi::DispatchStateV0);
// SAFETY: the state's pointers refer to memory that outlives the threads and that the kernels
// access as the ABI allows (disjoint workgroup tiles).
unsafe impl Sync for Shared {}

#[test]
fn copies_merge_when_workers_share_a_buffer() {
    // Two threads run halves of one dispatch (max_concurrency 2) over one buffer outside the
    // pool, as local-task's workers do: each thread has its own instance and its own staged copy
    // and writes back only the bytes it changed.
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let local = hal_local::LocalExecutable::from_handle(&executable).unwrap();
    let export = local.export(0).unwrap();
    let mut host: Vec<u32> = (0..64 * 64).collect();
    let ptrs = [host.as_mut_ptr().cast::<std::ffi::c_void>()];
    let lengths = [64 * 64 * 4];
    let args = hal_local::DispatchArgs {
        export,
        workgroup_count: [64, 1, 1],
        constants: &[],
        binding_ptrs: &ptrs,
        binding_lengths: &lengths,
        max_concurrency: 2,
    };
    let state = Shared(hal_local::dispatch_state(&args).unwrap());
    let before = loader_wasm::copy_statistics();
    std::thread::scope(|scope| {
        for half in 0..2u64 {
            let state = &state;
            scope.spawn(move || {
                let mut memory = hal_local::LocalMemory::default();
                // SAFETY: the binding is valid for the whole call and the two halves touch
                // disjoint tiles; nothing else accesses `host` meanwhile.
                unsafe {
                    hal_local::run_workgroups(
                        local,
                        export,
                        &state.0,
                        half * 32,
                        32,
                        0,
                        &mut memory,
                    )
                }
                .unwrap();
            });
        }
    });
    assert_eq!(host, (0..64 * 64).map(|v| v * 2).collect::<Vec<u32>>());
    assert!(loader_wasm::copy_statistics().copied_bindings >= before.copied_bindings + 2);
}

#[test]
fn device_buffers_are_passed_without_copies() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let data = buffer_with(&device, &[1u32, 2, 3]);
    let before = loader_wasm::copy_statistics();
    dispatch(&device, &executable, "double", [1, 1, 1], &[], &[&data]).unwrap();
    let after = loader_wasm::copy_statistics();
    assert_eq!(data.read_elements::<u32>(0, 3).unwrap(), [2, 4, 6]);
    assert!(after.zero_copy_bindings > before.zero_copy_bindings);
}

#[test]
fn bad_modules_fail_to_prepare_with_clear_errors() {
    let device = device();
    let query =
        r#"(func (export "iree_hal_executable_library_query") (param i32 i32) (result i32)"#;
    let cases = [
        (
            format!(
                r#"(module (import "env" "memory" (memory 1)) (import "env" "printf" (func)) {query} i32.const 0))"#
            ),
            StatusCode::Unimplemented,
            "env.printf",
        ),
        (
            format!(r#"(module {query} i32.const 0))"#),
            StatusCode::InvalidArgument,
            "env.memory",
        ),
        (
            format!(r#"(module (import "env" "memory" (memory 1)) {query} i32.const 0))"#),
            StatusCode::Incompatible,
            "null",
        ),
        (
            format!(r#"(module (import "env" "memory" (memory 1)) {query} i32.const 0x7fff0000))"#),
            StatusCode::InvalidArgument,
            "outside its data",
        ),
        (
            format!(r#"(module (import "env" "memory" (memory 1)) {query} unreachable))"#),
            StatusCode::InvalidArgument,
            "unreachable",
        ),
    ];
    for (text, code, needle) in cases {
        let status = prepare(&device, &wat::parse_str(&text).unwrap()).unwrap_err();
        assert_eq!(status.code(), code, "{text}: {status}");
        assert!(status.to_string().contains(needle), "{text}: {status}");
    }
}

/// The wasm address at which the kernel sees the `length` bytes of `buffer` from `offset` (the
/// first u32 there is overwritten with it).
fn address_of(device: &Device, executable: &Executable, buffer: &Buffer, offset: u64) -> u32 {
    let range = BufferRef::range(buffer, offset, 4096);
    dispatch_refs(device, executable, "address_of", [1, 1, 1], &[], &[range]).unwrap();
    buffer.read_elements::<u32>(offset, 1).unwrap()[0]
}

/// `peek` over `target`'s first u32: the value at wasm address `address`, or the trap.
fn peek(
    device: &Device,
    executable: &Executable,
    target: &Buffer,
    address: u32,
) -> hal_core::Result<u32> {
    dispatch(device, executable, "peek", [1, 1, 1], &[address], &[target])?;
    Ok(target.read_elements::<u32>(0, 1).unwrap()[0])
}

fn assert_out_of_bounds(result: hal_core::Result<u32>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), StatusCode::Aborted, "{what}: {status}");
    assert!(
        status.to_string().contains("out of bounds memory access"),
        "{what}: {status}"
    );
}

const SECRET: u32 = 0x5EC2_E7ED;

#[test]
fn a_kernel_reaches_only_the_buffers_bound_to_its_run() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    // Four pages of secrets, and a one-page buffer of sevens.
    let secret = buffer_with(&device, &[SECRET; 4 * 1024]);
    let other = buffer_with(&device, &[7u32; 1024]);
    let address = address_of(&device, &executable, &secret, 0);
    assert!(
        address >= 64 * 1024 && address.is_multiple_of(64),
        "{address:#x}"
    );
    // While it is bound, the kernel sees the buffer at that address.
    assert_eq!(
        peek(&device, &executable, &secret, address + 8192).unwrap(),
        SECRET
    );
    // A run that binds only the other buffer cannot reach it: the addresses the secret had show
    // the other buffer (its own binding) or nothing.
    assert_eq!(
        peek(&device, &executable, &other, address + 4).unwrap(),
        7,
        "the address is reused for the run's own binding"
    );
    assert_out_of_bounds(
        peek(&device, &executable, &other, address + 8192),
        "reading a buffer bound to an earlier run",
    );
    assert_eq!(other.read_elements::<u32>(4, 1023).unwrap(), [7; 1023]);
    // Nor can a run on another thread, which has its own instance and memory.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            assert_out_of_bounds(
                peek(&device, &executable, &other, address + 8192),
                "reading another thread's binding",
            );
        });
    });
}

#[test]
fn a_range_binding_shows_only_its_own_pages() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    // Four pages; the second is bound.
    let buffer = buffer_with(&device, &[SECRET; 4 * 1024]);
    let address = address_of(&device, &executable, &buffer, 4096);
    let range = BufferRef::range(&buffer, 4096, 4096);
    let peek_range = |at: u32| {
        dispatch_refs(&device, &executable, "peek", [1, 1, 1], &[at], &[range])
            .map(|()| buffer.read_elements::<u32>(4096, 1).unwrap()[0])
    };
    assert_eq!(peek_range(address + 4092).unwrap(), SECRET, "its last u32");
    assert_out_of_bounds(peek_range(address - 4), "the page before the range");
    assert_out_of_bounds(peek_range(address + 4096), "the page after the range");
}

#[test]
fn staged_copies_are_cleared_after_their_run() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let mut host = vec![SECRET; 1024];
    // SAFETY: `host` outlives the buffer (dropped before `host` is read) and nothing else touches
    // it meanwhile.
    let imported = unsafe {
        device.allocator().import_host_memory(
            hal_core::BufferParams::default(),
            host.as_mut_ptr().cast(),
            4096,
            None,
        )
    }
    .unwrap();
    let address = address_of(&device, &executable, &imported, 0);
    drop(imported);
    assert_eq!(host[0], address);
    assert_eq!(host[1], SECRET);
    // The staging memory that held the copy is either gone or zeroed: no later run sees it.
    let other = buffer_with(&device, &[1u32; 16]);
    match peek(&device, &executable, &other, address + 4) {
        Ok(value) => assert_eq!(value, 0, "a stale staged copy"),
        Err(status) => assert_eq!(status.code(), StatusCode::Aborted, "{status}"),
    }
}
