//! The `static` format: the conformance kernels linked into the program as Rust static
//! libraries (`cts-kernels`); the executable data is the library name.

use cts::{Format, TestLibrary};

fn library(library: TestLibrary) -> Vec<u8> {
    match library {
        TestLibrary::Kernels => cts_kernels::KERNELS_LIBRARY_NAME.as_bytes().to_vec(),
        TestLibrary::Specialized => cts_kernels::SPECIALIZED_LIBRARY_NAME.as_bytes().to_vec(),
    }
}

fn malformed() -> Vec<(String, Vec<u8>)> {
    vec![
        ("empty data".to_string(), Vec::new()),
        (
            "a library name no linked library has".to_string(),
            b"cts_no_such_library".to_vec(),
        ),
        (
            "non-UTF-8 bytes".to_string(),
            vec![0xFF, 0xFE, 0x00, 0x80, 0xC3],
        ),
        (
            "a known name with a trailing NUL".to_string(),
            [cts_kernels::KERNELS_LIBRARY_NAME.as_bytes(), &[0]].concat(),
        ),
    ]
}

/// The `static` format.
pub fn format() -> Format {
    Format {
        name: loader_static::STATIC_FORMAT,
        library,
        malformed,
        unsupported: &[],
    }
}
