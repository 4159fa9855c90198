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

/// The environment variable that narrows [`formats`]: a comma-separated list of format names.
pub const FORMATS_VARIABLE: &str = "CTS_FIXTURE_FORMATS";

/// Every executable format the suite runs, with its fixtures.
///
/// With `CTS_FIXTURE_FORMATS=NAME[,NAME...]` in the environment, only the formats named (for
/// programs run under a tool that cannot run every loader: valgrind refuses loader-wasm's
/// address-space reservations, see `cargo xtask sanitize`). A name no format has is a panic
/// naming the known formats. Unset, every format.
pub fn formats() -> Vec<cts::Format> {
    let mut formats = vec![static_format::format()];
    formats.push(dylib_format::embedded_format());
    formats.push(dylib_format::system_format());
    formats.push(wasm_format::format());
    match std::env::var(FORMATS_VARIABLE) {
        Ok(names) => select(formats, &names),
        Err(_) => formats,
    }
}

/// The formats among `formats` that `names` (comma-separated) lists.
fn select(formats: Vec<cts::Format>, names: &str) -> Vec<cts::Format> {
    let wanted: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    for name in &wanted {
        if !formats.iter().any(|f| f.name == *name) {
            let known: Vec<&str> = formats.iter().map(|f| f.name).collect();
            panic!("{FORMATS_VARIABLE} names format '{name}', which is not one of {known:?}");
        }
    }
    formats
        .into_iter()
        .filter(|f| wanted.contains(&f.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_selects_formats_by_name() {
        let all = || {
            vec![
                static_format::format(),
                dylib_format::embedded_format(),
                wasm_format::format(),
            ]
        };
        let names = |formats: Vec<cts::Format>| formats.iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(select(all(), "static, embedded-elf-x86_64")),
            ["static", "embedded-elf-x86_64"]
        );
        assert_eq!(names(select(all(), "")), Vec::<&str>::new());
        let unknown = std::panic::catch_unwind(|| select(all(), "static,nope"));
        assert!(unknown.is_err());
    }
}
