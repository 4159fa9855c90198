//! The `system-wasm-wasm_32` format, run by loader-wasm: the conformance kernels
//! (`fixtures/mlir/cts_kernels.mlir`) compiled by IREE 3.13 for wasm32 with SIMD, and the
//! `cts_specialized` library written in WebAssembly text (`fixtures/wasm/cts_specialized.wat`;
//! IREE cannot express its executable constants), both committed in `fixtures/wasm/` by
//! `cargo xtask fixtures wasm`.

use cts::{Format, TestLibrary};

const KERNELS: &[u8] = include_bytes!("../../../fixtures/wasm/cts_kernels.wasm");
const SPECIALIZED: &[u8] = include_bytes!("../../../fixtures/wasm/cts_specialized.wasm");

const TILE: &str =
    "a compiled kernel cannot see binding lengths, so IREE-compiled elementwise kernels \
                    always process whole 64-element tiles, and this case binds fewer elements";
const FAIL: &str =
    "an IREE kernel cannot return a failure status, so `fail` does nothing (and the \
                    case's scale_offset binds 4 elements); loader-wasm's own tests cover traps";

/// Cases IREE-compiled conformance kernels cannot express (see `fixtures/mlir/cts_kernels.mlir`);
/// the same list as the ELF formats'.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("dispatch/abs_binding_offset/", TILE),
    ("dispatch/scale_offset/", TILE),
    ("dispatch/two_exports/", TILE),
    ("dispatch/barrier_chain/", TILE),
    ("dispatch/empty_binding/", TILE),
    ("dispatch/rebind_tables/", TILE),
    ("dispatch/mixed_direct_and_table/", TILE),
    ("dispatch/kernel_failure/", FAIL),
    ("queue/dispatch/", FAIL),
];

fn library(library: TestLibrary) -> Vec<u8> {
    match library {
        TestLibrary::Kernels => KERNELS.to_vec(),
        TestLibrary::Specialized => SPECIALIZED.to_vec(),
    }
}

fn malformed() -> Vec<(String, Vec<u8>)> {
    let mut truncated = KERNELS.to_vec();
    truncated.truncate(KERNELS.len() / 2);
    let mut no_query = KERNELS.to_vec();
    // Rename the query export so the module has none.
    if let Some(at) = no_query
        .windows(b"iree_hal_executable_library_query".len())
        .position(|w| w == b"iree_hal_executable_library_query")
    {
        no_query[at] = b'X';
    }
    vec![
        ("empty data".to_string(), Vec::new()),
        ("a native library name".to_string(), b"cts_kernels".to_vec()),
        (
            "the wasm header only".to_string(),
            b"\0asm\x01\0\0\0".to_vec(),
        ),
        ("a truncated module".to_string(), truncated),
        ("a module without the library query".to_string(), no_query),
    ]
}

/// The `system-wasm-wasm_32` format.
pub fn format() -> Format {
    Format {
        name: loader_wasm::FORMAT,
        library,
        malformed,
        unsupported: UNSUPPORTED,
    }
}
