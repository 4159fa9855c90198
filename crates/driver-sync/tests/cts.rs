//! The conformance suite against the `local-sync` driver with the `static` executable loader.
//!
//! Run with `cargo test -p driver-sync --test cts [-- --filter SUBSTRING --report PATH]`.
//! `cts_deferred.rs` runs the same suite with inline execution turned off.

// Referenced so that the linker keeps their `inventory` registrations.
use driver_sync as _;
use loader_static as _;

use cts::{Backend, Format, Tag, TestLibrary};

/// The `static` format's executable data is the name of a library linked into the program.
fn static_library(library: TestLibrary) -> Vec<u8> {
    match library {
        TestLibrary::Kernels => cts_kernels::KERNELS_LIBRARY_NAME.as_bytes().to_vec(),
        TestLibrary::Specialized => cts_kernels::SPECIALIZED_LIBRARY_NAME.as_bytes().to_vec(),
    }
}

fn static_malformed() -> Vec<(String, Vec<u8>)> {
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

/// The `static` format with the conformance kernels.
pub fn static_format() -> Format {
    Format {
        name: "static",
        library: static_library,
        malformed: static_malformed,
    }
}

/// local-sync supports every tag; nothing is unsupported or expected to fail.
pub fn backend(uri: &'static str) -> Backend {
    Backend {
        name: "local-sync",
        uri,
        tags: &[
            Tag::AsyncQueue,
            Tag::Indirect,
            Tag::Events,
            Tag::Mapping,
            Tag::HostCalls,
            Tag::Threads,
        ],
        unsupported: &[],
        expected_failures: &[],
    }
}

#[allow(dead_code)] // `cts_deferred.rs` includes this file for the fixtures only.
fn main() {
    cts::main(backend("local-sync"), &[static_format()])
}
