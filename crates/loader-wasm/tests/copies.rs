//! Bindings outside the pool (imported host memory) are staged once per dispatch and no kernel
//! write is lost, however bindings alias and however many threads run the workgroups: two
//! bindings over the same bytes, a helping waiter running tiles beside a worker, and two
//! dispatches of one region writing halves of one buffer at once.

mod common;

use std::time::Duration;

use common::{dispatch_refs, import, prepare, sandbox};
use hal_core::{BufferRef, CommandBufferParams, Device, Workgroups};

use driver_task as _;

fn devices() -> Vec<Device> {
    [
        "local-sync",
        "local-sync://?inline_execution=false",
        "local-task://?workers=1",
        "local-task://?workers=2",
    ]
    .iter()
    .map(|uri| hal_core::create_device(uri).unwrap())
    .collect()
}

#[test]
fn aliased_bindings_keep_every_write() {
    for device in devices() {
        let executable = prepare(&device, &sandbox()).unwrap();
        // `double_from` doubles binding 0 and leaves binding 1 alone: binding 1's unchanged
        // bytes must not be copied back over binding 0's results.
        for (second_offset, second_len) in [(0, 256), (128, 128), (0, 128), (64, 64)] {
            let mut host: Vec<u32> = (0..64).collect();
            // SAFETY: `host` outlives the buffer (dropped before `host` is read).
            let buffer = unsafe { import(&device, &mut host) };
            dispatch_refs(
                &device,
                &executable,
                "double_from",
                [1, 1, 1],
                &[0],
                &[
                    BufferRef::range(&buffer, 0, 256),
                    BufferRef::range(&buffer, second_offset, second_len),
                ],
            )
            .unwrap();
            drop(buffer);
            if let Some(lost) = lost(&host, |i| 2 * i) {
                panic!("{device:?}: second binding [{second_offset}, +{second_len}): {lost}");
            }
        }
    }
}

/// The indices of `host` that do not hold `expected(i)`, summarised.
fn lost(host: &[u32], expected: impl Fn(u32) -> u32) -> Option<String> {
    let lost: Vec<usize> = (0..host.len())
        .filter(|&i| host[i] != expected(i as u32))
        .collect();
    (!lost.is_empty()).then(|| {
        format!(
            "{} of {} elements lost, first {:?}",
            lost.len(),
            host.len(),
            &lost[..lost.len().min(8)]
        )
    })
}

#[test]
fn every_tile_survives_whichever_threads_run_them() {
    // On local-task with one worker, a waiting thread helps run small regions: the worker and
    // the waiter run slow workgroups of one dispatch at once, on their own instances; each
    // tile's writes must reach the buffer.
    for device in devices() {
        let executable = prepare(&device, &sandbox()).unwrap();
        for round in 0..10u32 {
            let mut host: Vec<u32> = (0..8 * 64).map(|v| v + round).collect();
            // SAFETY: `host` outlives the buffer (dropped before `host` is read).
            let buffer = unsafe { import(&device, &mut host) };
            common::dispatch(
                &device,
                &executable,
                "double_slowly",
                [8, 1, 1],
                &[200_000],
                &[&buffer],
            )
            .unwrap();
            drop(buffer);
            if let Some(lost) = lost(&host, |i| 2 * (i + round)) {
                panic!("{device:?} round {round}: {lost}");
            }
        }
    }
}

#[test]
fn two_dispatches_of_one_region_keep_both_halves() {
    // No barrier between the dispatches: local-task may run them at once, each with its own
    // staged copy of the whole buffer; each must write back only what it changed.
    for device in devices() {
        let executable = prepare(&device, &sandbox()).unwrap();
        let ordinal = executable.lookup_export("double_from").unwrap();
        for round in 0..20u32 {
            let mut host: Vec<u32> = (0..64 * 64).map(|v| v ^ round).collect();
            // SAFETY: `host` outlives the buffer (dropped before `host` is read).
            let buffer = unsafe { import(&device, &mut host) };
            let whole = BufferRef::whole(&buffer);
            let mut commands = device
                .create_command_buffer(CommandBufferParams::one_shot_inline())
                .unwrap();
            commands.begin().unwrap();
            for first in [0, 32 * 64] {
                commands
                    .dispatch(
                        &executable,
                        ordinal,
                        Workgroups::Static([32, 1, 1]),
                        &[first],
                        &[whole, whole],
                    )
                    .unwrap();
            }
            commands.end().unwrap();
            let done = device.create_semaphore(0).unwrap();
            device
                .queue_execute(&[], &[done.at(1)], &commands, &[])
                .unwrap();
            done.wait(1, Duration::from_secs(60)).unwrap();
            drop(buffer);
            if let Some(lost) = lost(&host, |i| 2 * (i ^ round)) {
                panic!("{device:?} round {round}: {lost}");
            }
        }
    }
}
