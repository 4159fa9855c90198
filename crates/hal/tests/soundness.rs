//! Safe Rust kernels under unordered device work: a kernel's `&mut` tile and `&[T]` binding never
//! change under it, however the program races. Device work that would race with a safe kernel's
//! references is refused (`FAILED_PRECONDITION`, on whichever side comes second) instead of run;
//! commands of one region that write disjoint ranges of one buffer still run together.
//!
//! The kernels here check what they hold: they read their views (volatile, so the reads happen),
//! linger, and read again; a change fails the dispatch with a code the test looks for.

use std::num::NonZeroI32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::Duration;

use hal::loader_static::{kernel_library, KernelError, KernelResult, Workgroup};
use hal::{
    BufferParams, BufferRef, CommandBufferParams, Device, Executable, ExecutableParams,
    FillPattern, Semaphore, StatusCode, Workgroups,
};

/// What a kernel returns when its view changed under it: the failure this test exists for.
const CHANGED_UNDER_ME: KernelError = KernelError::code(NonZeroI32::new(77).unwrap());
/// Tiles: 64 u32 per workgroup.
const TILE: usize = 64;
/// How long each workgroup lingers between its two looks, widening the race window.
const LINGER: Duration = Duration::from_millis(2);

/// Writes constant 0 into its tile, lingers, and checks the tile still holds it.
fn stamp(workgroup: &Workgroup<'_>) -> KernelResult {
    let stamp = workgroup.constants()[0];
    let tile = workgroup.tile::<u32>(0)?;
    for value in tile.iter_mut() {
        *value = stamp;
    }
    std::thread::sleep(LINGER);
    for value in tile.iter() {
        // SAFETY: a valid reference to an initialised u32.
        if unsafe { std::ptr::read_volatile(value) } != stamp {
            return Err(CHANGED_UNDER_ME);
        }
    }
    Ok(())
}

/// Reads its input twice, lingering in between, and fails if it changed; copies it out.
fn watch(workgroup: &Workgroup<'_>) -> KernelResult {
    let input = workgroup.read::<u32>(0)?;
    let start = workgroup.linear_id() as usize * TILE;
    let mine = &input[start.min(input.len())..(start + TILE).min(input.len())];
    let look = |v: &u32| {
        // SAFETY: a valid reference to an initialised u32.
        unsafe { std::ptr::read_volatile(v) }
    };
    let before: Vec<u32> = mine.iter().map(look).collect();
    std::thread::sleep(LINGER);
    if mine.iter().zip(&before).any(|(v, b)| look(v) != *b) {
        return Err(CHANGED_UNDER_ME);
    }
    workgroup.tile::<u32>(1)?.copy_from_slice(&before);
    Ok(())
}

kernel_library! {
    /// The soundness test kernels.
    pub fn soundness_library_query;
    library = "soundness";
    executable_constants = 0;
    export "stamp" => stamp { constants: 1, bindings: [Write(Tile::Bytes(256))] }
    export "watch" => watch { constants: 0, bindings: [Read, Write(Tile::Bytes(256))] }
}

fn setup(uri: &str) -> (Device, Executable) {
    let device = hal::create_device(uri).unwrap();
    let cache = device.create_executable_cache().unwrap();
    let executable = cache
        .prepare_executable(&ExecutableParams::new("static", b"soundness"))
        .unwrap();
    (device, executable)
}

/// How one racing operation ended.
#[derive(Debug, Default)]
struct Outcomes {
    succeeded: AtomicUsize,
    refused: AtomicUsize,
    changed_under_kernel: AtomicUsize,
}

impl Outcomes {
    fn record(&self, result: hal::Result<()>) {
        match result {
            Ok(()) => self.succeeded.fetch_add(1, Ordering::SeqCst),
            Err(status) if status.message().contains("error 77") => {
                self.changed_under_kernel.fetch_add(1, Ordering::SeqCst)
            }
            Err(status) if status.code() == StatusCode::FailedPrecondition => {
                assert!(
                    status.message().contains("nothing orders them"),
                    "a refusal names the race: {status}"
                );
                self.refused.fetch_add(1, Ordering::SeqCst)
            }
            Err(status) => panic!("unexpected failure: {status}"),
        };
    }

    fn check(&self, what: &str) {
        let changed = self.changed_under_kernel.load(Ordering::SeqCst);
        eprintln!(
            "{what}: {} succeeded, {} refused, {changed} saw their views change",
            self.succeeded.load(Ordering::SeqCst),
            self.refused.load(Ordering::SeqCst)
        );
        assert_eq!(changed, 0, "{what}: a safe kernel's view changed under it");
    }
}

fn wait(semaphore: &Semaphore) -> hal::Result<()> {
    semaphore.wait(1, Duration::from_secs(30))
}

/// Two dispatches of `stamp` over the same tiles, queued with nothing between them.
#[test]
fn unordered_writers_never_share_a_tile() {
    for uri in ["local-task", "local-task://?workers=1"] {
        let (device, stamp) = setup(uri);
        let outcomes = Outcomes::default();
        for _ in 0..20 {
            let buffer = device
                .allocate_buffer(BufferParams::default(), (4 * TILE * 4) as u64)
                .unwrap();
            let (a, b) = (
                device.create_semaphore(0).unwrap(),
                device.create_semaphore(0).unwrap(),
            );
            for (stamp_value, done) in [(1u32, &a), (2, &b)] {
                device
                    .queue_dispatch(
                        &[],
                        &[done.at(1)],
                        &stamp,
                        0,
                        Workgroups::Static([4, 1, 1]),
                        &[stamp_value],
                        &[BufferRef::whole(&buffer)],
                    )
                    .unwrap();
            }
            outcomes.record(wait(&a));
            outcomes.record(wait(&b));
        }
        outcomes.check(uri);
    }
}

/// A `watch` dispatch reading a buffer while unordered queue fills write it.
#[test]
fn a_shared_view_never_changes_under_a_fill() {
    for uri in ["local-task", "local-sync"] {
        let (device, executable) = setup(uri);
        let outcomes = Outcomes::default();
        for round in 0..20u32 {
            let input = device
                .allocate_buffer(BufferParams::default(), (2 * TILE * 4) as u64)
                .unwrap();
            let output = device
                .allocate_buffer(BufferParams::default(), (2 * TILE * 4) as u64)
                .unwrap();
            let (read, filled) = (
                device.create_semaphore(0).unwrap(),
                device.create_semaphore(0).unwrap(),
            );
            // Two threads, so that local-sync (which runs work on the submitting thread) races
            // too.
            let start = Barrier::new(2);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    start.wait();
                    std::thread::sleep(Duration::from_micros(u64::from(round % 4) * 500));
                    device
                        .queue_fill(
                            &[],
                            &[filled.at(1)],
                            &input,
                            0,
                            (2 * TILE * 4) as u64,
                            FillPattern::U32(round + 1),
                        )
                        .unwrap();
                });
                start.wait();
                device
                    .queue_dispatch(
                        &[],
                        &[read.at(1)],
                        &executable,
                        1,
                        Workgroups::Static([2, 1, 1]),
                        &[],
                        &[BufferRef::whole(&input), BufferRef::whole(&output)],
                    )
                    .unwrap();
            });
            outcomes.record(wait(&read));
            outcomes.record(wait(&filled));
        }
        outcomes.check(uri);
    }
}

/// In one command buffer region, dispatches writing disjoint ranges of one buffer run (and run
/// concurrently on local-task); overlapping ones run one after the other (the region is split).
#[test]
fn one_region_may_write_disjoint_ranges_of_one_buffer() {
    for uri in [
        "local-task",
        "local-sync",
        "local-sync://?inline_execution=false",
    ] {
        let (device, stamp) = setup(uri);
        let buffer = device
            .allocate_buffer(BufferParams::default(), (4 * TILE * 4) as u64)
            .unwrap();
        let half = (2 * TILE * 4) as u64;
        let mut commands = device
            .create_command_buffer(CommandBufferParams::one_shot_inline())
            .unwrap();
        commands.begin().unwrap();
        for (index, stamp_value) in [(0u64, 5u32), (1, 6)] {
            commands
                .dispatch(
                    &stamp,
                    0,
                    Workgroups::Static([2, 1, 1]),
                    &[stamp_value],
                    &[BufferRef::range(&buffer, index * half, half)],
                )
                .unwrap();
        }
        commands.end().unwrap();
        let done = device.create_semaphore(0).unwrap();
        device
            .queue_execute(&[], &[done.at(1)], &commands, &[])
            .unwrap();
        wait(&done).unwrap_or_else(|s| panic!("{uri}: disjoint writers in one region: {s}"));
        let values = buffer.read_elements::<u32>(0, 4 * TILE).unwrap();
        assert!(
            values[..2 * TILE].iter().all(|&v| v == 5),
            "{uri}: first half"
        );
        assert!(
            values[2 * TILE..].iter().all(|&v| v == 6),
            "{uri}: second half"
        );
    }

    // Overlapping writers in one region would race on local-task: the region is split before
    // the second (as if the program had a barrier there), so they run one after the other and
    // never at the same time.
    let (device, stamp) = setup("local-task");
    let buffer = device
        .allocate_buffer(BufferParams::default(), (4 * TILE * 4) as u64)
        .unwrap();
    let mut commands = device
        .create_command_buffer(CommandBufferParams::one_shot_inline())
        .unwrap();
    commands.begin().unwrap();
    for stamp_value in [7u32, 8] {
        commands
            .dispatch(
                &stamp,
                0,
                Workgroups::Static([4, 1, 1]),
                &[stamp_value],
                &[BufferRef::whole(&buffer)],
            )
            .unwrap();
    }
    commands.end().unwrap();
    let done = device.create_semaphore(0).unwrap();
    device
        .queue_execute(&[], &[done.at(1)], &commands, &[])
        .unwrap();
    wait(&done).unwrap_or_else(|s| panic!("overlapping writers in one region: {s}"));
    let values = buffer.read_elements::<u32>(0, 4 * TILE).unwrap();
    assert!(
        values.iter().all(|&v| v == 8),
        "the second writer ran before or beside the first: {values:?}"
    );
}
