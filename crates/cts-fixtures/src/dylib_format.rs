//! The ELF formats `embedded-elf-x86_64` and `system-elf-x86_64`: the conformance kernels
//! compiled by IREE 3.13 from `fixtures/mlir/cts_kernels.mlir`, and the `cts_specialized` library
//! written in C (IREE cannot express its executable constants; see
//! `fixtures/mlir/cts_specialized.mlir`), all committed in `fixtures/elf/` by
//! `cargo xtask fixtures dylib` and loaded by loader-dylib.

use cts::{Format, TestLibrary};

const EMBEDDED_KERNELS: &[u8] = include_bytes!("../../../fixtures/elf/cts_kernels.embedded.so");
const EMBEDDED_SPECIALIZED: &[u8] =
    include_bytes!("../../../fixtures/elf/cts_specialized.embedded.so");
const SYSTEM_KERNELS: &[u8] = include_bytes!("../../../fixtures/elf/cts_kernels.system.so");
const SYSTEM_SPECIALIZED: &[u8] = include_bytes!("../../../fixtures/elf/cts_specialized.system.so");

const TILE: &str =
    "a compiled kernel cannot see binding lengths, so IREE-compiled elementwise kernels \
                    always process whole 64-element tiles, and this case binds fewer elements";

/// Cases IREE-compiled conformance kernels cannot express (see `fixtures/mlir/cts_kernels.mlir`).
/// Every other executable case runs.
pub(crate) const IREE_COMPILED_UNSUPPORTED: &[(&str, &str)] = &[
    ("dispatch/abs_binding_offset/", TILE),
    ("dispatch/scale_offset/", TILE),
    ("dispatch/two_exports/", TILE),
    ("dispatch/barrier_chain/", TILE),
    ("dispatch/empty_binding/", TILE),
    ("dispatch/rebind_tables/", TILE),
    ("dispatch/mixed_direct_and_table/", TILE),
    (
        "dispatch/kernel_failure/",
        "an IREE kernel cannot return a failure status, so `fail` does nothing (and the case's \
         scale_offset binds 4 elements)",
    ),
    (
        "queue/dispatch/",
        "an IREE kernel cannot return a failure status, so `fail` does nothing (and the case's \
         scale_offset binds 4 elements)",
    ),
];

fn embedded(library: TestLibrary) -> Vec<u8> {
    match library {
        TestLibrary::Kernels => EMBEDDED_KERNELS.to_vec(),
        TestLibrary::Specialized => EMBEDDED_SPECIALIZED.to_vec(),
    }
}

fn system(library: TestLibrary) -> Vec<u8> {
    match library {
        TestLibrary::Kernels => SYSTEM_KERNELS.to_vec(),
        TestLibrary::Specialized => SYSTEM_SPECIALIZED.to_vec(),
    }
}

/// Damaged copies of a valid library, all refused before anything is mapped.
fn malformed_from(valid: &[u8]) -> Vec<(String, Vec<u8>)> {
    let patched = |offset: usize, bytes: &[u8]| {
        let mut data = valid.to_vec();
        data[offset..offset + bytes.len()].copy_from_slice(bytes);
        data
    };
    let mut no_query = valid.to_vec();
    let symbol = b"iree_hal_executable_library_query";
    for at in 0..no_query.len().saturating_sub(symbol.len()) {
        if &no_query[at..at + symbol.len()] == symbol {
            no_query[at] = b'X';
        }
    }
    vec![
        ("empty data".to_string(), Vec::new()),
        ("a static library name".to_string(), b"cts_kernels".to_vec()),
        ("the ELF magic only".to_string(), valid[..4].to_vec()),
        ("the ELF header only".to_string(), valid[..64].to_vec()),
        (
            "a library truncated to half".to_string(),
            valid[..valid.len() / 2].to_vec(),
        ),
        (
            "a library for aarch64".to_string(),
            patched(18, &183u16.to_le_bytes()),
        ),
        (
            "an executable program (ET_EXEC)".to_string(),
            patched(16, &2u16.to_le_bytes()),
        ),
        ("a 32-bit ELF".to_string(), patched(4, &[1])),
        ("a library without the query".to_string(), no_query),
    ]
}

fn embedded_malformed() -> Vec<(String, Vec<u8>)> {
    malformed_from(EMBEDDED_KERNELS)
}

fn system_malformed() -> Vec<(String, Vec<u8>)> {
    malformed_from(SYSTEM_KERNELS)
}

/// The `embedded-elf-x86_64` format.
pub fn embedded_format() -> Format {
    Format {
        name: loader_dylib::EMBEDDED_ELF_FORMAT,
        library: embedded,
        malformed: embedded_malformed,
        unsupported: IREE_COMPILED_UNSUPPORTED,
    }
}

/// The `system-elf-x86_64` format.
pub fn system_format() -> Format {
    Format {
        name: loader_dylib::SYSTEM_ELF_FORMAT,
        library: system,
        malformed: system_malformed,
        unsupported: IREE_COMPILED_UNSUPPORTED,
    }
}
