//! Windows under churn: two `local-task` workers run the chunks of each dispatch on their own
//! instances while the bound buffers change from run to run, range bindings start at other pages,
//! and buffers are freed and their pool memory handed out again. Every element's value is checked
//! against a host model after every change.

mod common;

use std::time::Duration;

use common::{buffer_with, prepare, sandbox};
use hal_core::{Buffer, BufferRef, CommandBufferParams, Device, Executable, Workgroups};

use driver_task as _;

/// u32 elements per buffer: 8 pages, 64 workgroups of `double` (64 elements each) per buffer.
const ELEMENTS: usize = 8 * 1024;

fn double(device: &Device, executable: &Executable, buffer: &Buffer, first_page: u64) {
    let offset = first_page * 4096;
    let length = (ELEMENTS * 4) as u64 - offset;
    let workgroups = (length / 4).div_ceil(64) as u32;
    let mut commands = device
        .create_command_buffer(CommandBufferParams::one_shot_inline())
        .unwrap();
    commands.begin().unwrap();
    commands
        .dispatch(
            executable,
            0,
            Workgroups::Static([workgroups, 1, 1]),
            &[],
            &[BufferRef::range(buffer, offset, length)],
        )
        .unwrap();
    commands.end().unwrap();
    let done = device.create_semaphore(0).unwrap();
    device
        .queue_execute(&[], &[done.at(1)], &commands, &[])
        .unwrap();
    done.wait(1, Duration::from_secs(60)).unwrap();
}

#[test]
fn bindings_change_and_buffers_are_recycled_under_two_workers() {
    let device = hal_core::create_device("local-task://?workers=2").unwrap();
    let executable = prepare(&device, &sandbox()).unwrap();
    let fresh = |seed: u32| -> Vec<u32> {
        (0..ELEMENTS as u32)
            .map(|i| i.wrapping_mul(2_654_435_761) ^ seed | 1)
            .collect()
    };
    let mut models: Vec<Vec<u32>> = (0..6).map(fresh).collect();
    let mut buffers: Vec<Buffer> = models.iter().map(|m| buffer_with(&device, m)).collect();
    let mut state = 0x1234_5678u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for round in 0..240u32 {
        let which = next() as usize % buffers.len();
        if round % 10 == 9 {
            // Free one buffer and allocate a new one, likely in the pages just freed.
            drop(std::mem::replace(
                &mut buffers[which],
                buffer_with(&device, &[0u32]),
            ));
            models[which] = fresh(round);
            buffers[which] = buffer_with(&device, &models[which]);
        }
        let first_page = u64::from(next() % 3);
        double(&device, &executable, &buffers[which], first_page);
        for value in &mut models[which][first_page as usize * 1024..] {
            *value = value.wrapping_mul(2);
        }
        assert_eq!(
            buffers[which].read_elements::<u32>(0, ELEMENTS).unwrap(),
            models[which],
            "buffer {which} after round {round}"
        );
    }
}
