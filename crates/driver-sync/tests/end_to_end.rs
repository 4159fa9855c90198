//! End-to-end behaviour of local-sync with the static loader: the cases the driver's design
//! makes special (work enqueued before its waits are signalled, inline failure reporting) and
//! the bad inputs that must be typed errors.

use std::time::{Duration, Instant};

use anyhow::Result;
use hal_core::{
    create_device, BufferParams, BufferRef, CommandBufferParams, Device, Executable,
    ExecutableParams, FillPattern, StatusCode, Timeout, WaitMode, Workgroups,
};

use cts_kernels as _;
use driver_sync as _;
use loader_static as _;

const WAIT: Timeout = Timeout::After(Duration::from_secs(10));

fn device() -> Device {
    create_device("local-sync").expect("local-sync is linked")
}

fn kernels(device: &Device) -> Executable {
    let cache = device.create_executable_cache().unwrap();
    cache
        .prepare_executable(&ExecutableParams::new(
            "static",
            cts_kernels::KERNELS_LIBRARY_NAME.as_bytes(),
        ))
        .unwrap()
}

#[test]
fn one_thread_enqueues_a_dispatch_then_signals_its_wait() -> Result<()> {
    let device = device();
    let executable = kernels(&device);
    let scale = executable.lookup_export("scale_offset")?;
    let input = device.allocate_buffer(BufferParams::default(), 16)?;
    let output = device.allocate_buffer(BufferParams::default(), 16)?;
    let ready = device.create_semaphore(0)?;
    let done = device.create_semaphore(0)?;
    device.queue_dispatch(
        &[ready.at(1)],
        &[done.at(1)],
        &executable,
        scale,
        Workgroups::Static([1, 1, 1]),
        &[3, 10],
        &[BufferRef::whole(&input), BufferRef::whole(&output)],
    )?;
    // Parked: nothing ran yet, and the host may still write the input.
    assert_eq!(done.query()?, 0);
    input.write_elements(0, &[1.0f32, 2.0, 3.0, 4.0])?;
    ready.signal(1)?; // Runs the dispatch on this thread.
    assert_eq!(done.query()?, 1);
    done.wait(1, WAIT)?;
    assert_eq!(output.read_elements::<f32>(0, 4)?, [13.0, 16.0, 19.0, 22.0]);
    Ok(())
}

#[test]
fn chains_enqueued_in_reverse_run_in_dependency_order() -> Result<()> {
    let device = device();
    let buffer = device.allocate_buffer(BufferParams::default(), 4)?;
    let semaphore = device.create_semaphore(0)?;
    for step in (1..=1000u64).rev() {
        device.queue_fill(
            &[semaphore.at(step)],
            &[semaphore.at(step + 1)],
            &buffer,
            0,
            4,
            FillPattern::U32(step as u32),
        )?;
    }
    semaphore.signal(1)?;
    device.wait_semaphores(WaitMode::All, &[semaphore.at(1001)], WAIT)?;
    assert_eq!(buffer.read_elements::<u32>(0, 1)?, [1000]);
    Ok(())
}

#[test]
fn failing_kernel_in_an_inline_buffer_fails_the_submission_and_downstream() -> Result<()> {
    let device = device();
    let executable = kernels(&device);
    let mut command_buffer = device.create_command_buffer(CommandBufferParams::one_shot_inline())?;
    command_buffer.begin()?;
    command_buffer.dispatch(
        &executable,
        executable.lookup_export("fail")?,
        Workgroups::Static([1, 1, 1]),
        &[],
        &[],
    )?;
    command_buffer.end()?;
    let first = device.create_semaphore(0)?;
    let second = device.create_semaphore(0)?;
    device.queue_execute(&[], &[first.at(1)], &command_buffer, &[])?;
    device.queue_barrier(&[first.at(1)], &[second.at(1)])?;
    let error = second.wait(1, WAIT).unwrap_err();
    assert_eq!(error.code(), StatusCode::Internal);
    assert!(error.message().contains("'fail'"), "{error}");
    // The device stays usable.
    let buffer = device.allocate_buffer(BufferParams::default(), 4)?;
    let third = device.create_semaphore(0)?;
    device.queue_fill(&[], &[third.at(1)], &buffer, 0, 4, FillPattern::U8(7))?;
    third.wait(1, WAIT)?;
    assert_eq!(buffer.read_elements::<u8>(0, 4)?, [7; 4]);
    Ok(())
}

#[test]
fn bad_inputs_are_typed_errors() -> Result<()> {
    let device = device();
    let executable = kernels(&device);
    let buffer = device.allocate_buffer(BufferParams::default(), 16)?;

    let unknown = create_device("no-such-driver").unwrap_err();
    assert_eq!(unknown.code(), StatusCode::NotFound);
    assert!(unknown.message().contains("'no-such-driver'"), "{unknown}");

    let bad_key = create_device("local-sync://?colour=blue").unwrap_err();
    assert_eq!(bad_key.code(), StatusCode::InvalidArgument);
    assert!(bad_key.message().contains("'colour'"), "{bad_key}");

    let mut command_buffer = device.create_command_buffer(CommandBufferParams::reusable(0))?;
    command_buffer.begin()?;
    let abs = executable.lookup_export("abs")?;
    let beyond = command_buffer
        .dispatch(
            &executable,
            abs,
            Workgroups::Static([1, 1, 1]),
            &[],
            &[BufferRef::range(&buffer, 8, 16)],
        )
        .unwrap_err();
    assert_eq!(beyond.code(), StatusCode::OutOfRange, "{beyond}");
    let misaligned = command_buffer
        .fill(BufferRef::range(&buffer, 2, 4), FillPattern::U32(1))
        .unwrap_err();
    assert_eq!(
        misaligned.code(),
        StatusCode::InvalidArgument,
        "{misaligned}"
    );
    let constants = command_buffer
        .dispatch(
            &executable,
            abs,
            Workgroups::Static([1, 1, 1]),
            &[1],
            &[BufferRef::whole(&buffer)],
        )
        .unwrap_err();
    assert_eq!(constants.code(), StatusCode::InvalidArgument);
    assert!(
        constants.message().contains("takes 0 constants, but 1"),
        "{constants}"
    );
    let unfinished = device
        .queue_execute(&[], &[], &command_buffer, &[])
        .unwrap_err();
    assert_eq!(
        unfinished.code(),
        StatusCode::FailedPrecondition,
        "{unfinished}"
    );

    let semaphore = device.create_semaphore(5)?;
    let lower = semaphore.signal(3).unwrap_err();
    assert_eq!(lower.code(), StatusCode::InvalidArgument);
    assert_eq!(semaphore.query()?, 5);
    let started = Instant::now();
    let late = semaphore
        .wait(6, Timeout::Deadline(started + Duration::from_millis(20)))
        .unwrap_err();
    assert_eq!(late.code(), StatusCode::DeadlineExceeded);
    assert!(started.elapsed() >= Duration::from_millis(20));

    let mapping = buffer
        .map_read(8, 9)
        .err()
        .expect("mapping beyond the end fails");
    assert_eq!(mapping.code(), StatusCode::OutOfRange);
    Ok(())
}
