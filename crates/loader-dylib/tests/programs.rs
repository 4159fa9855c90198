//! IREE-compiled programs and conformance kernels, in both ELF forms, on every registered driver:
//! outputs bit-identical to `iree-run-module` (committed in `fixtures/expected/`).

mod common;

use std::time::Duration;

use common::{add, matmul, prepare, FORMS};
use hal_core::{
    BufferParams, BufferRef, CommandBufferParams, ExecutableParams, StatusCode, Workgroups,
};

// Referenced so that the drivers' registrations are linked.
use driver_sync as _;
use driver_task as _;

fn drivers() -> Vec<&'static str> {
    let drivers: Vec<&str> = hal_core::registered_drivers()
        .iter()
        .map(|r| r.name)
        .collect();
    assert!(!drivers.is_empty(), "no driver is linked");
    drivers
}

#[test]
fn iree_add_and_matmul_match_iree_run_module_bit_for_bit() {
    for program in [add(), matmul()] {
        let expected = std::fs::read(
            common::fixtures()
                .join("expected")
                .join(format!("{}.f32", program.name)),
        )
        .unwrap();
        assert_eq!(expected.len(), program.output_len * 4);
        for driver in drivers() {
            for (form, format) in FORMS {
                let data = common::library(program.name, form);
                let prepared = prepare(driver, &program, format, &data)
                    .unwrap_or_else(|e| panic!("{} {format} on {driver}: {e}", program.name));
                for round in 0..2 {
                    prepared.run().unwrap();
                    let output = prepared.output_bytes().unwrap();
                    let first_difference = output.iter().zip(&expected).position(|(a, b)| a != b);
                    assert_eq!(
                        first_difference, None,
                        "{} ({format}) on {driver}, round {round}: output differs from iree-run-module",
                        program.name
                    );
                }
            }
        }
    }
}

#[test]
fn conformance_kernels_export_the_contract_names() {
    let device = hal_core::create_device("local-sync").unwrap();
    let cache = device.create_executable_cache().unwrap();
    for (form, format) in FORMS {
        let data = common::library("cts_kernels", form);
        let executable = cache
            .prepare_executable(&ExecutableParams::new(format, &data))
            .unwrap();
        let exports: Vec<(String, u32, u32)> = (0..executable.export_count())
            .map(|i| {
                let e = executable.export(i).unwrap();
                (e.name.clone(), e.constant_count, e.binding_count)
            })
            .collect();
        let expected = [
            ("abs", 0, 1),
            ("write_constants", 4, 1),
            ("scale_offset", 2, 2),
            ("negate", 0, 2),
            ("double", 0, 2),
            ("workgroup_ids", 0, 1),
            ("visit", 0, 1),
            ("fail", 0, 0),
            ("tiny", 0, 2),
            ("copy_via_local_memory", 0, 2),
        ];
        let expected: Vec<(String, u32, u32)> = expected
            .iter()
            .map(|(n, c, b)| (n.to_string(), *c, *b))
            .collect();
        assert_eq!(exports, expected, "{format}");
    }
}

/// IREE 3.13 cannot express executable constants in a HAL executable source: the library it
/// builds from `fixtures/mlir/cts_specialized.mlir` declares none (so `cts_specialized` is
/// written in C). If a newer compiler gets this right, this test says so.
#[test]
fn iree_3_13_drops_the_executable_constants_of_a_source() {
    let data = common::library("cts_specialized_iree", "embedded");
    let device = hal_core::create_device("local-sync").unwrap();
    let cache = device.create_executable_cache().unwrap();
    let mut params = ExecutableParams::new(loader_dylib::EMBEDDED_ELF_FORMAT, &data);
    assert!(cache.prepare_executable(&params).is_ok());
    params.constants = &[1, 2];
    let error = cache.prepare_executable(&params).unwrap_err();
    assert!(
        error.to_string().contains("takes 0 executable constants"),
        "{error}"
    );
}

#[test]
fn executable_constants_reach_the_kernel() {
    let device = hal_core::create_device("local-sync").unwrap();
    let cache = device.create_executable_cache().unwrap();
    for (form, format) in FORMS {
        let data = common::library("cts_specialized", form);
        let error = cache
            .prepare_executable(&ExecutableParams::new(format, &data))
            .unwrap_err();
        assert_eq!(error.code(), StatusCode::InvalidArgument, "{error}");
        assert!(
            error.to_string().contains("2 executable constants"),
            "{error}"
        );
        let mut params = ExecutableParams::new(format, &data);
        params.constants = &[7, 0xFFFF_FFFF];
        let executable = cache.prepare_executable(&params).unwrap();
        let out = device.allocate_buffer(BufferParams::default(), 8).unwrap();
        let mut commands = device
            .create_command_buffer(CommandBufferParams::one_shot_inline())
            .unwrap();
        commands.begin().unwrap();
        commands
            .dispatch(
                &executable,
                executable.lookup_export("executable_constants").unwrap(),
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&out)],
            )
            .unwrap();
        commands.end().unwrap();
        let done = device.create_semaphore(0).unwrap();
        device
            .queue_execute(&[], &[done.at(1)], &commands, &[])
            .unwrap();
        done.wait(1, Duration::from_secs(10)).unwrap();
        assert_eq!(
            out.read_elements::<u32>(0, 2).unwrap(),
            [7, 0xFFFF_FFFF],
            "{format}"
        );
    }
}

/// Two loads of the same bytes are two mappings: dropping one leaves the other working, and
/// the library stays mapped while a recorded command buffer still holds its executable.
#[test]
fn each_load_maps_its_own_copy_and_lives_as_long_as_its_users() {
    let program = add();
    for (form, format) in FORMS {
        let data = common::library("add", form);
        let first = prepare("local-sync", &program, format, &data).unwrap();
        let second = prepare("local-sync", &program, format, &data).unwrap();
        let expected = std::fs::read(common::fixtures().join("expected/add.f32")).unwrap();
        let common::Prepared {
            device,
            executable,
            buffers,
            commands,
        } = first;
        drop(executable); // the command buffer still holds it
        let first = common::Prepared {
            device,
            executable: second.executable.clone(),
            buffers,
            commands,
        };
        first.run().unwrap();
        assert_eq!(first.output_bytes().unwrap(), expected);
        drop(first);
        second.run().unwrap();
        assert_eq!(second.output_bytes().unwrap(), expected);
    }
}

/// Loading one path twice shares the system loader's mapping (reference-counted): dropping one
/// executable leaves the other running.
#[test]
fn one_path_loaded_twice_stays_mapped_until_the_last_user_goes() {
    let path = common::fixtures().join("elf/cts_kernels.system.so");
    let loader = loader_dylib::DylibLoader::new();
    let first = loader.load_file(&path, &[], &hal_local::NoImports).unwrap();
    let second = loader.load_file(&path, &[], &hal_local::NoImports).unwrap();
    drop(first);
    let device = hal_core::create_device("local-sync").unwrap();
    let out = device.allocate_buffer(BufferParams::default(), 16).unwrap();
    let mut commands = device
        .create_command_buffer(CommandBufferParams::reusable(0))
        .unwrap();
    commands.begin().unwrap();
    commands
        .dispatch(
            &second,
            second.lookup_export("write_constants").unwrap(),
            Workgroups::Static([1, 1, 1]),
            &[5, 6, 7, 8],
            &[BufferRef::whole(&out)],
        )
        .unwrap();
    commands.end().unwrap();
    drop(second); // the recorded (not yet run) command buffer holds the executable
    let done = device.create_semaphore(0).unwrap();
    device
        .queue_execute(&[], &[done.at(1)], &commands, &[])
        .unwrap();
    done.wait(1, Duration::from_secs(10)).unwrap();
    assert_eq!(out.read_elements::<u32>(0, 4).unwrap(), [5, 6, 7, 8]);
}
