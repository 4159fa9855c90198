//! What a replayer of IREE captures needs, reached through the facade alone: an executable's
//! library name, executable-constant count, export flags, parameter counts and binding flags;
//! dispatches with dynamic workgroup local memory; binding tables with empty slots.

use std::time::Duration;

use hal::loader_static::{kernel_library, KernelResult, Workgroup};
use hal::{
    BindingFlags, BufferParams, BufferRef, CommandBufferParams, DispatchOptions, ExecutableParams,
    ExportFlags, StatusCode, Workgroups, MAX_DYNAMIC_LOCAL_MEMORY,
};

/// Writes the size of its local memory (after touching all of it) to its one-word tile of
/// binding 1; binding 0 is only read.
fn report_local_memory(workgroup: &Workgroup<'_>) -> KernelResult {
    let seed = workgroup.read::<u8>(0)?.first().copied().unwrap_or(0);
    let local = workgroup.local_memory()?;
    local.fill(seed);
    let size = local.len() as u32;
    for out in workgroup.tile::<u32>(1)? {
        *out = size;
    }
    Ok(())
}

kernel_library! {
    /// The query function of the replay API test library.
    fn replay_api_library_query;
    library = "replay_api";
    executable_constants = 1;
    export "report_local_memory" => report_local_memory {
        constants: 2,
        bindings: [Read, Write(Tile::Bytes(4))],
        local_memory_pages: 2,
        flags: ExportFlags::SEQUENTIAL,
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn reflection_reaches_the_facade() -> anyhow::Result<()> {
    let device = hal::create_device("local-sync")?;
    let cache = device.create_executable_cache()?;
    let exe = cache.prepare_executable(&ExecutableParams {
        format: "static",
        data: b"replay_api",
        constants: &[9],
    })?;
    assert_eq!(exe.library_name(), "replay_api");
    assert_eq!(exe.executable_constant_count(), 1);
    assert_eq!(exe.info().library_name, "replay_api");
    let export = exe.export(0)?;
    assert_eq!(export.flags, ExportFlags::SEQUENTIAL);
    assert_eq!(export.parameter_count, 4, "two constants and two bindings");
    assert_eq!(
        export.binding_flags,
        [BindingFlags::READ_ONLY, BindingFlags::empty()]
    );
    assert_eq!(export.local_memory_size, 2 * 4096);
    Ok(())
}

#[test]
fn dynamic_local_memory_and_empty_slots_on_every_driver() -> anyhow::Result<()> {
    for uri in ["local-sync", "local-task"] {
        let device = hal::create_device(uri)?;
        let exe = device
            .create_executable_cache()?
            .prepare_executable(&ExecutableParams {
                format: "static",
                data: b"replay_api",
                constants: &[9],
            })?;
        let input = device.allocate_buffer(BufferParams::default(), 4)?;
        let output = device.allocate_buffer(BufferParams::default(), 8)?;

        // A reusable buffer binding slots 1 and 3 of a table whose slots 0, 2 and 4 are empty.
        let mut commands = device.create_command_buffer(CommandBufferParams::reusable(5))?;
        commands.begin()?;
        commands.dispatch_with(
            &exe,
            0,
            Workgroups::Static([2, 1, 1]),
            &[0, 0],
            &[BufferRef::slot(1, 0, 4), BufferRef::slot(3, 0, 8)],
            DispatchOptions {
                dynamic_local_memory: 10_000,
            },
        )?;
        commands.end()?;
        let done = device.create_semaphore(0)?;
        let table = [
            None,
            Some(BufferRef::whole(&input)),
            None,
            Some(BufferRef::whole(&output)),
            None,
        ];
        device.queue_execute(&[], &[done.at(1)], &commands, &table)?;
        done.wait(1, WAIT)?;
        let sizes = output.read_elements::<u32>(0, 2)?;
        assert!(
            sizes.iter().all(|&size| size >= 2 * 4096 + 10_000),
            "{uri}: {sizes:?}"
        );

        // A used slot left empty is refused, naming the slot.
        let error = device
            .queue_execute(&[], &[done.at(2)], &commands, &[None, None, None, None])
            .unwrap_err();
        assert_eq!(error.code(), StatusCode::InvalidArgument, "{error}");
        assert!(error.to_string().contains("slot 1"), "{error}");

        // The queue's dispatch takes the same options, and the same bound.
        let bindings = [BufferRef::whole(&input), BufferRef::whole(&output)];
        let dispatch = |signal: u64, dynamic_local_memory: u32| {
            device.queue_dispatch_with(
                &[],
                &[done.at(signal)],
                &exe,
                0,
                Workgroups::Static([2, 1, 1]),
                &[0, 0],
                &bindings,
                DispatchOptions {
                    dynamic_local_memory,
                },
            )
        };
        let error = dispatch(2, MAX_DYNAMIC_LOCAL_MEMORY + 1).unwrap_err();
        assert_eq!(error.code(), StatusCode::OutOfRange, "{error}");
        dispatch(2, 70_000)?;
        done.wait(2, WAIT)?;
        let sizes = output.read_elements::<u32>(0, 2)?;
        assert!(
            sizes.iter().all(|&size| size >= 2 * 4096 + 70_000),
            "{uri}: {sizes:?}"
        );
    }
    Ok(())
}
