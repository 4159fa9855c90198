//! local-task costs, beside local-sync in the same run.
//!
//! - `latency/*`: one tiny dispatch submitted and waited for.
//! - `cb64/*`: one command buffer of 64 × (tiny dispatch + barrier); divide by 64 per dispatch.
//! - `large/*`: the sample add (1M f32, 256 workgroups) and matmul (512³, 64 workgroups).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use hal_core::{
    create_device, Buffer, BufferParams, BufferRef, CommandBufferParams, Device, Executable,
    ExecutableParams, Semaphore, Timeout, Workgroups,
};
use sample_kernels::{matmul_constants, ADD_ELEMENTS_PER_WORKGROUP, MATMUL_ROWS_PER_WORKGROUP};

use cts_kernels as _;
use driver_sync as _;
use driver_task as _;
use loader_static as _;

const WAIT: Timeout = Timeout::After(Duration::from_secs(30));

struct Target {
    name: &'static str,
    device: Device,
    semaphore: Semaphore,
    value: u64,
}

impl Target {
    fn new(name: &'static str, uri: &str) -> Target {
        let device = create_device(uri).unwrap();
        let semaphore = device.create_semaphore(0).unwrap();
        Target {
            name,
            device,
            semaphore,
            value: 0,
        }
    }

    fn prepare(&self, library: &str) -> Executable {
        let cache = self.device.create_executable_cache().unwrap();
        cache
            .prepare_executable(&ExecutableParams::new("static", library.as_bytes()))
            .unwrap()
    }

    fn buffer(&self, bytes: u64) -> Buffer {
        self.device
            .allocate_buffer(BufferParams::default(), bytes)
            .unwrap()
    }

    fn dispatch_and_wait(
        &mut self,
        executable: &Executable,
        export: u32,
        count: u32,
        constants: &[u32],
        bindings: &[BufferRef<'_>],
    ) {
        self.value += 1;
        self.device
            .queue_dispatch(
                &[],
                &[self.semaphore.at(self.value)],
                executable,
                export,
                Workgroups::Static([count, 1, 1]),
                constants,
                bindings,
            )
            .unwrap();
        self.semaphore.wait(self.value, WAIT).unwrap();
    }

    fn execute_and_wait(&mut self, commands: &hal_core::CommandBuffer) {
        self.value += 1;
        self.device
            .queue_execute(&[], &[self.semaphore.at(self.value)], commands, &[])
            .unwrap();
        self.semaphore.wait(self.value, WAIT).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let mut targets = [
        Target::new("local-task", "local-task"),
        Target::new("local-sync", "local-sync"),
    ];
    for target in &mut targets {
        let kernels = target.prepare(cts_kernels::KERNELS_LIBRARY_NAME);
        let tiny = kernels.lookup_export("tiny").unwrap();
        let (input, output) = (target.buffer(256), target.buffer(256));
        let bindings = [BufferRef::whole(&input), BufferRef::whole(&output)];
        c.bench_function(&format!("latency/{}", target.name), |b| {
            b.iter(|| target.dispatch_and_wait(&kernels, tiny, 1, &[], &bindings))
        });
        let mut commands = target
            .device
            .create_command_buffer(CommandBufferParams::reusable(0))
            .unwrap();
        commands.begin().unwrap();
        for _ in 0..64 {
            commands
                .dispatch(
                    &kernels,
                    tiny,
                    Workgroups::Static([1, 1, 1]),
                    &[],
                    &bindings,
                )
                .unwrap();
            commands.execution_barrier().unwrap();
        }
        commands.end().unwrap();
        c.bench_function(&format!("cb64/{}", target.name), |b| {
            b.iter(|| target.execute_and_wait(&commands))
        });
    }

    let mut group = c.benchmark_group("large");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for target in &mut targets {
        let samples = target.prepare(sample_kernels::LIBRARY_NAME);
        let add = samples.lookup_export("add").unwrap();
        let elements = 1u64 << 20;
        let [a, b, out] = [0, 1, 2].map(|_| target.buffer(elements * 4));
        let bindings = [
            BufferRef::whole(&a),
            BufferRef::whole(&b),
            BufferRef::whole(&out),
        ];
        let groups = (elements as usize / ADD_ELEMENTS_PER_WORKGROUP) as u32;
        group.bench_function(format!("add/{}", target.name), |bench| {
            bench.iter(|| target.dispatch_and_wait(&samples, add, groups, &[], &bindings))
        });
        let matmul = samples.lookup_export("matmul").unwrap();
        let [a, b, out] = [0, 1, 2].map(|_| target.buffer(512 * 512 * 4));
        let bindings = [
            BufferRef::whole(&a),
            BufferRef::whole(&b),
            BufferRef::whole(&out),
        ];
        let (constants, groups) = matmul_constants(512, 512, 512, MATMUL_ROWS_PER_WORKGROUP);
        group.bench_function(format!("matmul/{}", target.name), |bench| {
            bench.iter(|| target.dispatch_and_wait(&samples, matmul, groups, &constants, &bindings))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
