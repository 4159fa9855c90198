//! Minimal programs kept from failures of the model tests (`tests/model.rs` prints them), each
//! run on every driver configuration × executable format against the model. A test that fails
//! because of an open runtime bug is `#[ignore]`d with the bug named, so that
//! `cargo test -- --ignored` shows whether it is fixed; the ignore goes when the fix lands.

use model_tests::exec::check_everywhere;
use model_tests::program::*;

fn assert_ok(errors: Vec<String>) {
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// One queued `double` of a buffer whose words include subnormal f32s (allocation seed 0).
fn queued_double_of_subnormals() -> Program {
    Program {
        allocations: vec![
            Allocation {
                size: 768,
                memory: Memory::Device,
                seed: 0,
            },
            Allocation {
                size: 768,
                memory: Memory::Device,
                seed: 0,
            },
        ],
        views: vec![
            View {
                allocation: 0,
                offset: 0,
                len: 768,
            },
            View {
                allocation: 1,
                offset: 0,
                len: 768,
            },
        ],
        semaphores: 4,
        command_buffers: vec![],
        steps: vec![Step::Queue {
            waits: vec![],
            signals: vec![Tp { sem: 2, value: 3 }],
            op: Op::Dispatch(Dispatch {
                kernel: Kernel::Double,
                workgroups: [1, 1, 1],
                constants: vec![],
                bindings: vec![
                    Ref::Direct(Range {
                        view: 1,
                        offset: 0,
                        len: 256,
                    }),
                    Ref::Direct(Range {
                        view: 0,
                        offset: 0,
                        len: 256,
                    }),
                ],
            }),
        }],
    }
}

/// The same through an inline command buffer.
fn inline_double_of_subnormals() -> Program {
    Program {
        allocations: vec![Allocation {
            size: 768,
            memory: Memory::Device,
            seed: 0,
        }],
        views: vec![View {
            allocation: 0,
            offset: 0,
            len: 768,
        }],
        semaphores: 4,
        command_buffers: vec![CommandBufferSpec {
            mode: Mode::Inline,
            slots: 0,
            commands: vec![Command::Dispatch(Dispatch {
                kernel: Kernel::Double,
                workgroups: [1, 1, 1],
                constants: vec![],
                bindings: vec![
                    Ref::Direct(Range {
                        view: 0,
                        offset: 320,
                        len: 256,
                    }),
                    Ref::Direct(Range {
                        view: 0,
                        offset: 0,
                        len: 256,
                    }),
                ],
            })],
        }],
        steps: vec![Step::Queue {
            waits: vec![],
            signals: vec![Tp { sem: 1, value: 1 }],
            op: Op::Execute {
                command_buffer: 0,
                table: vec![],
            },
        }],
    }
}

// RUNTIME BUG, fixed (found by `model::local_sync_deferred` and `model::local_sync` with their
// default seeds; fixed in e6a6fb6 "Kernels run by a workgroup runner (wasm) get denormals
// flushed too"): on local-sync, a WebAssembly kernel dispatched on the calling thread
// (`queue_dispatch`, on both local-sync configurations, and an inline command buffer executing
// while it is recorded) ran with denormals not flushed: `double` of the subnormal f32 0x0051a874
// gave the exact product 0x00a350e8, where every other path (native kernels everywhere, deferred
// command buffers, local-task) gives 0, as the runtime documents. Cause:
// `hal_local::run_workgroups` handed executables with a workgroup runner (the wasm loader's) to
// the runner before it set `DenormalsFlushed`, and `dispatch_inline` set no guard of its own.

/// See the bug above: a queued dispatch.
#[test]
fn wasm_dispatch_flushes_denormals_queued() {
    assert_ok(check_everywhere(&queued_double_of_subnormals()));
}

/// See the bug above: an inline command buffer.
#[test]
fn wasm_dispatch_flushes_denormals_inline() {
    assert_ok(check_everywhere(&inline_double_of_subnormals()));
}
