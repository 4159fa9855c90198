//! # cts-fixtures: the conformance executables in every format
//!
//! A driver's conformance instantiation calls [`formats`] and runs every executable case once
//! per format. Each format lives in its own module and links its loader, so that the loader's
//! registration is in the test program.

mod dylib_format;
mod static_format;
mod wasm_format;

use loader_dylib as _;
use loader_static as _;
use loader_wasm as _;

/// Every executable format the suite runs, with its fixtures.
pub fn formats() -> Vec<cts::Format> {
    let mut formats = vec![static_format::format()];
    formats.push(dylib_format::embedded_format());
    formats.push(dylib_format::system_format());
    formats.push(wasm_format::format());
    formats
}
