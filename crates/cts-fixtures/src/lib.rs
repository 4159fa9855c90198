//! # cts-fixtures: the conformance executables in every format
//!
//! A driver's conformance instantiation calls [`formats`] and runs every executable case once
//! per format. Each format lives in its own module and links its loader, so that the loader's
//! registration is in the test program.

mod static_format;

use loader_static as _;

/// Every executable format the suite runs, with its fixtures.
pub fn formats() -> Vec<cts::Format> {
    vec![static_format::format()]
}
