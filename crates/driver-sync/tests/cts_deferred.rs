//! The conformance suite against `local-sync` with inline execution turned off
//! (`local-sync://?inline_execution=false`): every command buffer, one-shot ones included, is
//! recorded and replayed at submit.

#[path = "cts.rs"]
mod instantiation;

fn main() {
    cts::main(
        instantiation::backend("local-sync://?inline_execution=false"),
        &cts_fixtures::formats(),
    )
}
