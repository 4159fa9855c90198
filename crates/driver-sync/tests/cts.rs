//! The conformance suite against the `local-sync` driver, in every executable format
//! `cts-fixtures` provides.
//!
//! Run with `cargo test -p driver-sync --test cts [-- --filter SUBSTRING --report PATH]`.
//! `cts_deferred.rs` runs the same suite with inline execution turned off.

// Referenced so that the linker keeps the driver's `inventory` registration.
use driver_sync as _;

use cts::{Backend, Tag};

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

#[allow(dead_code)] // `cts_deferred.rs` includes this file for `backend` only.
fn main() {
    cts::main(backend("local-sync"), &cts_fixtures::formats())
}
