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
    let buffer = unsafe { common::import(&device, &mut host) };
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
fn copies_are_shared_by_the_threads_of_a_dispatch() {
    // Two threads run halves of one dispatch (max_concurrency 2) over one buffer outside the
    // pool, as local-task's workers do: the dispatch's session stages the buffer once, both
    // threads' instances show that one copy, and the session writes it back once.
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let local = hal_local::LocalExecutable::from_handle(&executable).unwrap();
    let export = local.export(0).unwrap();
    let mut host: Vec<u32> = (0..64 * 64).collect();
    let mut ptrs = [host.as_mut_ptr().cast::<std::ffi::c_void>()];
    let lengths = [64 * 64 * 4];
    let before = loader_wasm::copy_statistics();
    // SAFETY: `host` is valid for the whole dispatch and not touched until the session is
    // finished.
    let session = unsafe { local.begin_dispatch(export, &mut ptrs, &lengths) }
        .unwrap()
        .expect("host memory is staged");
    assert_ne!(
        ptrs[0],
        host.as_mut_ptr().cast(),
        "the binding now points at the copy"
    );
    let args = hal_local::DispatchArgs {
        export,
        workgroup_count: [64, 1, 1],
        constants: &[],
        binding_ptrs: &ptrs,
        binding_lengths: &lengths,
        max_concurrency: 2,
    };
    let state = Shared(hal_local::dispatch_state(&args).unwrap());
    std::thread::scope(|scope| {
        for half in 0..2u64 {
            let state = &state;
            scope.spawn(move || {
                let mut memory = hal_local::LocalMemory::default();
                // SAFETY: the staged copy is valid until the session is finished, after both
                // threads; the two halves touch disjoint tiles.
                unsafe {
                    hal_local::run_workgroups(
                        local,
                        &hal_local::WorkgroupBatch {
                            export,
                            state: &state.0,
                            first: half * 32,
                            count: 32,
                            processor_id: 0,
                            local_memory_size: hal_local::local_memory_size(export, 0),
                        },
                        &mut memory,
                    )
                }
                .unwrap();
            });
        }
    });
    session.finish().unwrap();
    assert_eq!(host, (0..64 * 64).map(|v| v * 2).collect::<Vec<u32>>());
    let after = loader_wasm::copy_statistics();
    assert!(after.copied_bindings > before.copied_bindings);
}

#[test]
fn bindings_outside_the_pool_need_a_dispatch_session() {
    // A run handed host memory directly (a driver that skipped begin_dispatch) fails clearly
    // instead of copying per run.
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let local = hal_local::LocalExecutable::from_handle(&executable).unwrap();
    let export = local.export(0).unwrap();
    let mut host = vec![1u32; 64];
    let ptrs = [host.as_mut_ptr().cast::<std::ffi::c_void>()];
    let lengths = [64 * 4];
    let args = hal_local::DispatchArgs {
        export,
        workgroup_count: [1, 1, 1],
        constants: &[],
        binding_ptrs: &ptrs,
        binding_lengths: &lengths,
        max_concurrency: 1,
    };
    let state = hal_local::dispatch_state(&args).unwrap();
    let mut memory = hal_local::LocalMemory::default();
    // SAFETY: `host` is valid for the call and not touched meanwhile.
    let status = unsafe {
        hal_local::run_workgroups(
            local,
            &hal_local::WorkgroupBatch {
                export,
                state: &state,
                first: 0,
                count: 1,
                processor_id: 0,
                local_memory_size: hal_local::local_memory_size(export, 0),
            },
            &mut memory,
        )
    }
    .unwrap_err();
    assert_eq!(status.code(), StatusCode::Internal, "{status}");
    assert!(status.to_string().contains("begin_dispatch"), "{status}");
    assert_eq!(host, [1; 64]);
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
fn staged_copies_are_gone_after_their_dispatch() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let other = buffer_with(&device, &[1u32; 16]);
    let mut host = vec![SECRET; 1024];
    // SAFETY: `host` outlives the buffer (dropped before `host` is read) and nothing else touches
    // it meanwhile.
    let imported = unsafe { common::import(&device, &mut host) };
    let address = address_of(&device, &executable, &imported, 0);
    drop(imported);
    assert_eq!(host[0], address);
    assert_eq!(host[1], SECRET);
    // The pool memory that held the copy is freed: no later run sees its bytes (the address
    // traps, or shows the run's own binding).
    match peek(&device, &executable, &other, address + 4) {
        Ok(value) => assert_ne!(value, SECRET, "a stale staged copy"),
        Err(status) => assert_eq!(status.code(), StatusCode::Aborted, "{status}"),
    }
}

/// Runs `export` of the sandbox over `buffer` with `constants`.
fn run(
    device: &Device,
    executable: &Executable,
    export: &str,
    constants: &[u32],
    buffer: &Buffer,
) -> hal_core::Result<()> {
    dispatch(device, executable, export, [1, 1, 1], constants, &[buffer])
}

#[test]
fn bulk_memory_outside_the_bindings_traps() {
    common::isolated("bulk_memory_outside_the_bindings_traps", || {
        let device = device();
        let executable = prepare(&device, &sandbox()).unwrap();
        // One page: the page after it is the binding's guard page.
        let data = buffer_with(&device, &[0u32; 1024]);
        let far = 0x4000_0000;
        let cases: &[(&str, [u32; 3])] = &[
            ("copy", [0, 4096 - 8, 16]),    // the source runs past the binding
            ("copy", [4096 - 8, 0, 16]),    // the destination does
            ("copy", [4096 - 8, 0, 4096]),  // a whole page past it
            ("copy", [far, 0, 4]),          // a destination outside every window
            ("copy", [0, far, 4]),          // a source outside
            ("copy", [0, 0, u32::MAX]),     // past 4 GiB
            ("fill", [4096 - 8, 0xab, 16]), // past the binding
            ("fill", [far, 0xab, 1]),       // outside every window
            ("fill", [0u32.wrapping_sub(4096), 0, 8192]), // the page before the binding
            ("init", [4096 - 8, 16, 0]),    // past the binding
            ("init", [far, 1, 0]),          // outside every window
        ];
        for &(export, constants) in cases {
            let count = if export == "init" { 2 } else { 3 };
            let status =
                run(&device, &executable, export, &constants[..count], &data).expect_err(export);
            assert_eq!(
                status.code(),
                StatusCode::Aborted,
                "{export} {constants:x?}: {status}"
            );
            assert!(
                status.to_string().contains("out of bounds memory access"),
                "{export} {constants:x?}: {status}"
            );
        }
        // Nothing was written past or before the binding's bytes by the failed operations'
        // probes, and inside it the operations work.
        assert_eq!(data.read_elements::<u32>(0, 1024).unwrap(), [0; 1024]);
        run(&device, &executable, "init", &[8, 16], &data).unwrap();
        run(&device, &executable, "copy", &[100, 8, 16], &data).unwrap();
        run(&device, &executable, "fill", &[4090, 0x5a, 6], &data).unwrap();
        let bytes = data.read_elements::<u8>(0, 4096).unwrap();
        assert_eq!(&bytes[8..24], b"0123456789abcdef");
        assert_eq!(&bytes[100..116], b"0123456789abcdef");
        assert_eq!(&bytes[4090..], [0x5a; 6]);
        run(&device, &executable, "copy", &[0, 0, 0], &data).unwrap();
        run(&device, &executable, "fill", &[far, 0, 0], &data).unwrap();
    });
}

#[test]
fn table_and_memory_growth_fail_inside_wasm() {
    let device = device();
    let executable = prepare(&device, &sandbox()).unwrap();
    let results = buffer_with(&device, &[0u32; 2]);
    // A few slots are fine; past the store's limits table.grow returns -1, without the host
    // allocating (2^28 slots would be 2 GiB). The memory never grows: it is 4 GiB already.
    for (delta, expected) in [
        (16, None),
        (1 << 21, Some(u32::MAX)),
        (1 << 28, Some(u32::MAX)),
    ] {
        run(&device, &executable, "grow", &[delta], &results).unwrap();
        let [table, memory] = results.read_elements::<u32>(0, 2).unwrap()[..] else {
            unreachable!()
        };
        match expected {
            None => assert!(table < 1 << 20, "growing by {delta}: {table:#x}"),
            Some(value) => assert_eq!(table, value, "growing by {delta}"),
        }
        assert_eq!(memory, u32::MAX, "memory.grow");
    }
}

#[test]
fn a_small_stack_gets_traps_not_crashes() {
    // Wasm may use 1 MiB of stack below its entry; a thread with 256 KiB has less, so its calls
    // into wasm run on a helper thread with a big stack.
    common::isolated("a_small_stack_gets_traps_not_crashes", || {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let device = device();
                let executable = prepare(&device, &sandbox()).unwrap();
                let status = dispatch(&device, &executable, "stack_overflow", [1, 1, 1], &[], &[])
                    .unwrap_err();
                assert_eq!(status.code(), StatusCode::Aborted, "{status}");
                assert!(
                    status.to_string().contains("call stack exhausted"),
                    "{status}"
                );
                let data = buffer_with(&device, &[1u32, 2, 3]);
                dispatch(&device, &executable, "double", [1, 1, 1], &[], &[&data]).unwrap();
                assert_eq!(data.read_elements::<u32>(0, 3).unwrap(), [2, 4, 6]);
            })
            .unwrap()
            .join()
            .unwrap();
    });
}
