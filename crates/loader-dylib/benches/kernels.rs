//! The IREE-compiled add (1,048,576 floats, 256 workgroups) and 512³ matmul (64 workgroups)
//! kernels through this runtime, in both ELF forms, on every registered driver.
//!
//! Each iteration submits a reusable command buffer of [`BATCH`] × (dispatch + barrier) and waits,
//! as `iree-benchmark-executable --batch_size` does, so per-dispatch figures compare directly.
//! `cargo xtask bench-kernels` runs this with host-tuned libraries (`LOADER_DYLIB_ELF_DIR`) beside
//! IREE's own tool on the same files; without it the committed baseline-x86-64 fixtures are used.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBufferParams, Device, ExecutableParams, Workgroups,
};

use driver_sync as _;
use driver_task as _;

/// Dispatches per submitted command buffer (`--batch_size` of iree-benchmark-executable).
pub const BATCH: usize = 16;

fn buffers(device: &Device, program: &common::Program) -> Vec<Buffer> {
    let mut buffers: Vec<Buffer> = program
        .inputs
        .iter()
        .map(|input| {
            let buffer = device
                .allocate_buffer(BufferParams::default(), (input.len() * 4) as u64)
                .unwrap();
            buffer.write_elements(0, input).unwrap();
            buffer
        })
        .collect();
    buffers.push(
        device
            .allocate_buffer(BufferParams::default(), (program.output_len * 4) as u64)
            .unwrap(),
    );
    buffers
}

fn kernels(c: &mut Criterion) {
    for registration in hal_core::registered_drivers() {
        let driver = registration.name;
        let mut group = c.benchmark_group(format!("kernels-{driver}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for program in [common::add(), common::matmul()] {
            for (form, format) in common::FORMS {
                let device = hal_core::create_device(driver).unwrap();
                let data = common::library(program.name, form);
                let executable = device
                    .create_executable_cache()
                    .unwrap()
                    .prepare_executable(&ExecutableParams::new(format, &data))
                    .unwrap();
                let buffers = buffers(&device, &program);
                let refs: Vec<BufferRef> = buffers.iter().map(BufferRef::whole).collect();
                let mut commands = device
                    .create_command_buffer(CommandBufferParams::reusable(0))
                    .unwrap();
                commands.begin().unwrap();
                for _ in 0..BATCH {
                    commands
                        .dispatch(
                            &executable,
                            0,
                            Workgroups::Static(program.workgroups),
                            &[],
                            &refs,
                        )
                        .unwrap();
                    commands.execution_barrier().unwrap();
                }
                commands.end().unwrap();
                let semaphore = device.create_semaphore(0).unwrap();
                let mut value = 0;
                group.bench_function(BenchmarkId::new(program.name, form), |b| {
                    b.iter(|| {
                        value += 1;
                        device
                            .queue_execute(&[], &[semaphore.at(value)], &commands, &[])
                            .unwrap();
                        semaphore.wait(value, Duration::from_secs(60)).unwrap();
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
