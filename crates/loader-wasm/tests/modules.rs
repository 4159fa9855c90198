//! Modules that are bad in ways only loading reveals fail to prepare with a clear status, and the
//! process lives on: data segments aimed outside the module's data, memories of their own,
//! out-of-range `dylink.0` sizes, too many executable constants, and initialisers that never
//! return (the budget applies to every call into wasm, not only dispatches).

mod common;

use std::time::{Duration, Instant};

use common::{device, prepare, sandbox};
use hal_core::{ExecutableParams, StatusCode};

/// A side module with `body` (fields after the memory, table and base imports) and a
/// `dylink.0` MEM_INFO of `mem_info` (payload bytes, as a WAT string).
fn side_module(mem_info: &str, body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (@custom "dylink.0" (before first) "\01{mem_info}")
             (import "env" "memory" (memory 1))
             (import "env" "__indirect_function_table" (table 1 funcref))
             (import "env" "__memory_base" (global $mb i32))
             (import "env" "__table_base" (global $tb i32))
             {body})"#
    ))
    .unwrap()
}

/// MEM_INFO of 2048 bytes of data, no table slots.
const DATA_2K: &str = r"\05\80\10\00\00\00";
/// A library query returning null (so a module that gets this far fails as INCOMPATIBLE).
const NULL_QUERY: &str = r#"(func (export "iree_hal_executable_library_query")
    (param i32 i32) (result i32) i32.const 0)"#;

fn expect_error(wasm: &[u8], code: StatusCode, needles: &[&str]) {
    let status = prepare(&device(), wasm).unwrap_err();
    assert_eq!(status.code(), code, "{status}");
    for needle in needles {
        assert!(status.to_string().contains(needle), "{needle}: {status}");
    }
}

#[test]
fn data_segments_outside_the_data_block_are_refused() {
    common::isolated("data_segments_outside_the_data_block_are_refused", || {
        let cases = [
            // Far outside the data block (the data block is one page at __memory_base).
            r#"(data (i32.const 0x7fff0000) "x")"#,
            // Running past the data block's page.
            r#"(data (i32.add (global.get $mb) (i32.const 4090)) "0123456789")"#,
            // Before it.
            r#"(data (i32.sub (global.get $mb) (i32.const 16)) "x")"#,
        ];
        for case in cases {
            let wasm = side_module(
                DATA_2K,
                &format!(r#"(data (global.get $mb) "ok") {case} {NULL_QUERY}"#),
            );
            expect_error(
                &wasm,
                StatusCode::InvalidArgument,
                &["data segment 1", "outside"],
            );
        }
        // Inside it, the module loads as far as its query.
        let wasm = side_module(
            DATA_2K,
            &format!(
                r#"(data (i32.add (global.get $mb) (i32.const 2040)) "01234567") {NULL_QUERY}"#
            ),
        );
        expect_error(&wasm, StatusCode::Incompatible, &["null"]);
        // Element segments outside the table fail instantiation; tables are bounds-checked.
        let wasm = side_module(
            DATA_2K,
            &format!(r#"(func $f) (elem (i32.const 100000) func $f) {NULL_QUERY}"#),
        );
        expect_error(&wasm, StatusCode::InvalidArgument, &["instantiating"]);
    });
}

#[test]
fn modules_with_their_own_memory_are_refused() {
    let cases = [
        (
            format!(r#"(module (memory 1) (data (i32.const 0) "x") {NULL_QUERY})"#),
            "defines 1 memory",
        ),
        (
            format!(r#"(module (import "env" "memory" (memory 1)) (memory 1) {NULL_QUERY})"#),
            "defines 1 memory",
        ),
    ];
    for (text, needle) in cases {
        expect_error(
            &wat::parse_str(&text).unwrap(),
            StatusCode::InvalidArgument,
            &[needle],
        );
    }
}

#[test]
fn tables_past_the_store_limit_are_refused_without_allocating() {
    // 2^28 slots would take 2 GiB of host memory: the store's limit refuses them first.
    let cases = [
        format!(r#"(table 268435456 funcref) {NULL_QUERY}"#),
        format!(
            r#"(table 1 funcref) (func (drop (table.grow 1 (ref.null func) (i32.const 268435456)))) {NULL_QUERY}"#
        ),
    ];
    expect_error(
        &side_module(DATA_2K, &cases[0]),
        StatusCode::InvalidArgument,
        &["instantiating"],
    );
    // A module that only could grow a table loads.
    expect_error(
        &side_module(DATA_2K, &cases[1]),
        StatusCode::Incompatible,
        &["null"],
    );
    // The imported table's declared minimum counts too.
    let wasm = wat::parse_str(format!(
        r#"(module (import "env" "memory" (memory 1))
             (import "env" "__indirect_function_table" (table 268435456 funcref)) {NULL_QUERY})"#
    ))
    .unwrap();
    expect_error(&wasm, StatusCode::InvalidArgument, &["268435456 slots"]);
}

#[test]
fn out_of_range_dylink_sizes_are_errors() {
    // 2^32 - 1 table slots: the table base plus the size overflows 32 bits.
    let wasm = side_module(r"\08\00\00\ff\ff\ff\ff\0f\00", NULL_QUERY);
    expect_error(
        &wasm,
        StatusCode::InvalidArgument,
        &["4294967295 table slots"],
    );
    // 2^32 - 1 bytes of data do not fit beside the instance's own structures.
    let wasm = side_module(r"\08\ff\ff\ff\ff\0f\00\00\00", NULL_QUERY);
    expect_error(
        &wasm,
        StatusCode::ResourceExhausted,
        &["4294967295 bytes of data"],
    );
}

#[test]
fn executable_constants_are_bounded_by_their_area() {
    common::isolated("executable_constants_are_bounded_by_their_area", || {
        // More constants than a page of scratch holds reach the library query, whose library
        // takes none: a clear error, not a write past the scratch.
        let device = device();
        let wasm = sandbox();
        let constants: Vec<u32> = (0..1000).collect();
        let status = device
            .create_executable_cache()
            .unwrap()
            .prepare_executable(&ExecutableParams {
                constants: &constants,
                ..ExecutableParams::new(loader_wasm::FORMAT, &wasm)
            })
            .unwrap_err();
        assert_eq!(status.code(), StatusCode::InvalidArgument, "{status}");
        assert!(status.to_string().contains("1000"), "{status}");
        // Straight to the loader, past any limit of hal-core.
        let constants: Vec<u32> = (0..100_000).collect();
        let request = hal_local::LoadRequest {
            format: loader_wasm::FORMAT,
            data: &wasm,
            constants: &constants,
            imports: &hal_local::NoImports,
        };
        use hal_local::ExecutableLoader;
        let status = match loader_wasm::WasmLoader.try_load(&request) {
            Err(status) => status,
            Ok(_) => panic!("loaded with 100000 constants"),
        };
        assert_eq!(status.code(), StatusCode::InvalidArgument, "{status}");
        assert!(
            status.to_string().contains("but 100000 were given"),
            "{status}"
        );
    });
}

#[test]
fn initialisers_that_never_return_are_interrupted() {
    loader_wasm::set_dispatch_budget(Duration::from_millis(300));
    let spin = r#"(loop $forever (br $forever))"#;
    let cases = [
        (
            format!(r#"(func $start {spin}) (start $start) {NULL_QUERY}"#),
            "instantiating",
        ),
        (
            format!(r#"(func (export "__wasm_apply_data_relocs") {spin}) {NULL_QUERY}"#),
            "__wasm_apply_data_relocs",
        ),
        (
            format!(r#"(func (export "__wasm_call_ctors") {spin}) {NULL_QUERY}"#),
            "__wasm_call_ctors",
        ),
        (
            format!(
                r#"(func (export "iree_hal_executable_library_query") (param i32 i32) (result i32)
                     {spin} i32.const 0)"#
            ),
            "library query",
        ),
    ];
    for (body, needle) in cases {
        let started = Instant::now();
        expect_error(
            &side_module(DATA_2K, &body),
            StatusCode::DeadlineExceeded,
            &[needle, "budget"],
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{needle} took too long"
        );
    }
}
