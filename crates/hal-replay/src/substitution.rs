//! Executable substitution: running another build of the same program (its `system-elf` or
//! `wasm32` executables) in place of the captured ones. The capture's workgroup counts were
//! computed for the captured build, so a substitute is refused unless its exports have the
//! captured shape: the same count, names, constants, bindings and workgroup sizes.

use std::path::Path;

use hal_core::{Executable, ExportInfo, Result, Status};

use crate::payloads::CapturedFunction;

/// A replacement for one captured executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Substitute {
    /// The executable format, for example `system-elf-x86_64` or `system-wasm-wasm_32`.
    pub format: String,
    /// The executable's bytes.
    pub data: Vec<u8>,
}

impl Substitute {
    /// Reads a substitute from `path`, taking its format from the extension: `.so` is
    /// `system-elf-x86_64`, `.wasm` is `system-wasm-wasm_32`, `.elf` is `embedded-elf-x86_64`.
    pub fn from_file(path: &Path) -> Result<Substitute> {
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("so") => "system-elf-x86_64",
            Some("wasm") => "system-wasm-wasm_32",
            Some("elf") => "embedded-elf-x86_64",
            _ => {
                return Err(Status::invalid_argument(format!(
                    "{}: cannot tell the executable format from the extension (use .so, .wasm \
                     or .elf)",
                    path.display()
                )))
            }
        };
        let data = std::fs::read(path)
            .map_err(|error| Status::not_found(format!("reading {}: {error}", path.display())))?;
        Ok(Substitute {
            format: format.to_string(),
            data,
        })
    }
}

/// The captured shape of one export, from the capture's metadata or the captured executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExportShape {
    name: String,
    constant_count: u32,
    binding_count: u32,
    /// `None` where the capture does not say (a zero size in metadata).
    workgroup_size: Option<[u32; 3]>,
}

impl ExportShape {
    pub(crate) fn from_captured(function: &CapturedFunction) -> ExportShape {
        ExportShape {
            name: function.name.clone(),
            constant_count: u32::from(function.constant_count),
            binding_count: u32::from(function.binding_count),
            workgroup_size: (function.workgroup_size != [0; 3]).then_some(function.workgroup_size),
        }
    }

    pub(crate) fn from_export(export: &ExportInfo) -> ExportShape {
        ExportShape {
            name: export.name.clone(),
            constant_count: export.constant_count,
            binding_count: export.binding_count,
            workgroup_size: Some(export.workgroup_size),
        }
    }
}

/// Checks that `substitute` has exactly the exports `captured` describes, naming the first
/// difference.
pub(crate) fn check_shape(captured: &[ExportShape], substitute: &Executable) -> Result<()> {
    let exports = substitute.exports();
    if exports.len() != captured.len() {
        return Err(Status::incompatible(format!(
            "the substitute has {} exports, the captured executable {}",
            exports.len(),
            captured.len()
        )));
    }
    for (ordinal, (want, have)) in captured.iter().zip(exports).enumerate() {
        let have = ExportShape::from_export(have);
        let differs = |what: &str, want: String, have: String| {
            Status::incompatible(format!(
                "export {ordinal} ('{}'): the capture has {what} {want}, the substitute {have}",
                want_name(captured, ordinal)
            ))
        };
        if want.name != have.name {
            return Err(differs("name", want.name.clone(), have.name));
        }
        if want.constant_count != have.constant_count {
            return Err(differs(
                "constant count",
                want.constant_count.to_string(),
                have.constant_count.to_string(),
            ));
        }
        if want.binding_count != have.binding_count {
            return Err(differs(
                "binding count",
                want.binding_count.to_string(),
                have.binding_count.to_string(),
            ));
        }
        if let (Some(want_size), Some(have_size)) = (want.workgroup_size, have.workgroup_size) {
            if want_size != have_size {
                return Err(differs(
                    "workgroup size",
                    format!("{want_size:?}"),
                    format!("{have_size:?}"),
                ));
            }
        }
    }
    Ok(())
}

fn want_name(captured: &[ExportShape], ordinal: usize) -> &str {
    &captured[ordinal].name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_name_formats_and_unknown_ones_are_refused() {
        let error = Substitute::from_file(Path::new("kernel.bin")).unwrap_err();
        assert!(error.message().contains("kernel.bin"), "{error}");
        let error = Substitute::from_file(Path::new("/nonexistent/kernel.so")).unwrap_err();
        assert!(
            error.message().contains("/nonexistent/kernel.so"),
            "{error}"
        );
    }

    #[test]
    fn a_zero_captured_workgroup_size_is_not_compared() {
        let shape = ExportShape::from_captured(&CapturedFunction {
            name: "f".into(),
            flags: 0,
            workgroup_size: [0; 3],
            constant_count: 1,
            binding_count: 2,
            parameter_count: 0,
        });
        assert_eq!(shape.workgroup_size, None);
    }
}
