//! Dispatch and submission costs on local-sync, with the conformance suite's `tiny` kernel
//! (64 floats: `out = in * 1.0001 + 0.5`, one workgroup), the shape of IREE's chain benchmark.
//!
//! - `cb64/*`: one command buffer of 64 × (dispatch + barrier), submitted and waited for; the
//!   reported time is per command buffer, so divide by 64 for the cost per dispatch.
//! - `single/*`: one dispatch submitted and waited for.
//! - `direct_call`: the kernel's entry point called directly 64 times, the physical limit.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use hal_core::{
    create_device, Buffer, BufferParams, BufferRef, CommandBufferParams, Device, Executable,
    ExecutableParams, Timeout, Workgroups,
};

use cts_kernels as _;
use driver_sync as _;
use loader_static as _;

const WAIT: Timeout = Timeout::After(Duration::from_secs(10));

struct Setup {
    device: Device,
    executable: Executable,
    export: u32,
    input: Buffer,
    output: Buffer,
}

fn setup() -> Setup {
    let device = create_device("local-sync").unwrap();
    let cache = device.create_executable_cache().unwrap();
    let executable = cache
        .prepare_executable(&ExecutableParams::new(
            "static",
            cts_kernels::KERNELS_LIBRARY_NAME.as_bytes(),
        ))
        .unwrap();
    let export = executable.lookup_export("tiny").unwrap();
    let input = device
        .allocate_buffer(BufferParams::default(), 256)
        .unwrap();
    let output = device
        .allocate_buffer(BufferParams::default(), 256)
        .unwrap();
    input.write_elements(0, &[1.0f32; 64]).unwrap();
    Setup {
        device,
        executable,
        export,
        input,
        output,
    }
}

fn record(s: &Setup, params: CommandBufferParams, dispatches: usize) -> hal_core::CommandBuffer {
    let mut commands = s.device.create_command_buffer(params).unwrap();
    commands.begin().unwrap();
    let bindings = [BufferRef::whole(&s.input), BufferRef::whole(&s.output)];
    for _ in 0..dispatches {
        commands
            .dispatch(
                &s.executable,
                s.export,
                Workgroups::Static([1, 1, 1]),
                &[],
                &bindings,
            )
            .unwrap();
        commands.execution_barrier().unwrap();
    }
    commands.end().unwrap();
    commands
}

fn submit_and_wait(
    s: &Setup,
    commands: &hal_core::CommandBuffer,
    value: &mut u64,
    semaphore: &hal_core::Semaphore,
) {
    *value += 1;
    s.device
        .queue_execute(&[], &[semaphore.at(*value)], commands, &[])
        .unwrap();
    semaphore.wait(*value, WAIT).unwrap();
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let semaphore = s.device.create_semaphore(0).unwrap();
    let mut value = 0;

    let mut group = c.benchmark_group("cb64");
    group.bench_function("one_shot_inline_record_submit_wait", |b| {
        b.iter(|| {
            let commands = record(&s, CommandBufferParams::one_shot_inline(), 64);
            submit_and_wait(&s, &commands, &mut value, &semaphore);
        })
    });
    let reusable = record(&s, CommandBufferParams::reusable(0), 64);
    group.bench_function("reusable_replay_submit_wait", |b| {
        b.iter(|| submit_and_wait(&s, &reusable, &mut value, &semaphore))
    });
    group.bench_function("direct_call_64", |b| {
        let local = hal_local::LocalExecutable::from_handle(&s.executable).unwrap();
        let entry = local.export(s.export).unwrap().function;
        let input = s.input.map_read(0, 256).unwrap().as_ptr() as *mut std::ffi::c_void;
        let output = s.output.map_read(0, 256).unwrap().as_ptr() as *mut std::ffi::c_void;
        let ptrs = [input, output];
        let lengths = [256usize, 256];
        let state = hal_local::abi::DispatchStateV0 {
            workgroup_size_x: 1,
            workgroup_size_y: 1,
            workgroup_size_z: 1,
            constant_count: 0,
            workgroup_count_x: 1,
            workgroup_count_y: 1,
            workgroup_count_z: 1,
            max_concurrency: 1,
            binding_count: 2,
            constants: std::ptr::null(),
            binding_ptrs: ptrs.as_ptr(),
            binding_lengths: lengths.as_ptr(),
        };
        let workgroup = hal_local::abi::WorkgroupStateV0 {
            workgroup_id_x: 0,
            workgroup_id_y: 0,
            workgroup_id_z: 0,
            reserved: 0,
            processor_id: 0,
            local_memory: std::ptr::null_mut(),
            local_memory_size: 0,
        };
        b.iter(|| {
            for _ in 0..64 {
                // SAFETY: the pointers are the buffers' memory (256 bytes each), which nothing
                // else touches while this benchmark runs; the states are valid for the call.
                let code = unsafe { entry(local.environment(), &state, &workgroup) };
                assert_eq!(code, 0);
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("single");
    group.bench_function("one_shot_inline_record_submit_wait", |b| {
        b.iter(|| {
            let commands = record(&s, CommandBufferParams::one_shot_inline(), 1);
            submit_and_wait(&s, &commands, &mut value, &semaphore);
        })
    });
    group.bench_function("queue_dispatch_wait", |b| {
        let bindings = [BufferRef::whole(&s.input), BufferRef::whole(&s.output)];
        b.iter(|| {
            value += 1;
            s.device
                .queue_dispatch(
                    &[],
                    &[semaphore.at(value)],
                    &s.executable,
                    s.export,
                    Workgroups::Static([1, 1, 1]),
                    &[],
                    &bindings,
                )
                .unwrap();
            semaphore.wait(value, WAIT).unwrap();
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
