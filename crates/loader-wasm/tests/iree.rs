//! IREE 3.13's wasm32 executables (fixtures/wasm, built by `cargo xtask fixtures wasm`) through
//! the loader on `local-sync`: the add and matmul programs against `iree-run-module`'s outputs,
//! and the conformance kernels' workgroup ids.

mod common;

use common::{buffer_with, device, dispatch, prepare};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).unwrap()
}

#[test]
fn workgroup_ids_cover_every_workgroup() {
    let device = device();
    let executable = prepare(&device, &fixture("wasm/cts_kernels.wasm")).unwrap();
    let out = buffer_with(&device, &vec![u32::MAX; 64]);
    dispatch(
        &device,
        &executable,
        "workgroup_ids",
        [4, 2, 3],
        &[],
        &[&out],
    )
    .unwrap();
    let ids = out.read_elements::<u32>(0, 64).unwrap();
    let expected: Vec<u32> = (0..64).map(|i| if i < 24 { i } else { u32::MAX }).collect();
    assert_eq!(ids, expected);
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The add program's inputs, as `cargo xtask fixtures dylib` fed `iree-run-module`.
pub fn add_inputs() -> [Vec<f32>; 2] {
    let n = 1_048_576usize;
    [
        (0..n).map(|i| (i % 251) as f32 * 0.25 - 31.0).collect(),
        (0..n).map(|i| (i % 127) as f32 * 0.5 - 16.0).collect(),
    ]
}

/// The matmul program's inputs.
pub fn matmul_inputs() -> [Vec<f32>; 2] {
    let n = 512 * 512usize;
    [
        (0..n).map(|j| ((j * 7) % 97) as f32 / 16.0 - 3.0).collect(),
        (0..n).map(|j| ((j * 5) % 89) as f32 / 8.0 - 5.0).collect(),
    ]
}

fn run_program(wasm: &str, inputs: [Vec<f32>; 2], workgroups: u32) -> Vec<f32> {
    let device = device();
    let executable = prepare(&device, &fixture(wasm)).unwrap();
    assert_eq!(executable.export_count(), 1);
    let a = buffer_with(&device, &inputs[0]);
    let b = buffer_with(&device, &inputs[1]);
    let out = buffer_with(&device, &vec![0f32; inputs[0].len()]);
    let name = executable.exports()[0].name.clone();
    dispatch(
        &device,
        &executable,
        &name,
        [workgroups, 1, 1],
        &[],
        &[&a, &b, &out],
    )
    .unwrap();
    out.read_elements::<f32>(0, inputs[0].len()).unwrap()
}

#[test]
fn add_matches_iree_run_module() {
    let got = run_program("wasm/add.wasm", add_inputs(), 256);
    assert_eq!(got, floats(&fixture("expected/add.f32")));
}

#[test]
fn matmul_matches_iree_run_module() {
    let got = run_program("wasm/matmul.wasm", matmul_inputs(), 64);
    let expected = floats(&fixture("expected/matmul.f32"));
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            (g - e).abs() <= 1e-3 * e.abs().max(1.0),
            "[{i}] = {g}, expected {e}"
        );
    }
}
