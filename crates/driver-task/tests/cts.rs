//! The conformance suite against the `local-task` driver, in every executable format
//! `cts-fixtures` provides. `cargo test -p driver-task --test cts [-- --filter SUBSTRING]`.

use driver_task as _;

use cts::{Backend, Tag};

fn main() {
    cts::main(
        Backend {
            name: "local-task",
            uri: "local-task",
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
        },
        &cts_fixtures::formats(),
    )
}
