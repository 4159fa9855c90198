//! Loading an executable file on a device, for the commands that take one (`inspect`, `run`,
//! `benchmark`): its format given or recognised by the linked loaders, its executable-level
//! constants given on the command line.

use std::path::Path;

use anyhow::{Context, Result};
use hal::{Device, Executable, ExecutableParams};

/// An executable loaded from a file, and how its format was decided.
pub struct LoadedFile {
    /// The executable.
    pub executable: Executable,
    /// Its format.
    pub format: String,
    /// `given` or `inferred`.
    pub how: &'static str,
}

/// Loads `path` on `device` as `format` (or the format the linked loaders recognise) with
/// executable constants `constants`.
pub fn load(
    device: &Device,
    path: &Path,
    format: Option<&str>,
    constants: &[u32],
) -> Result<LoadedFile> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (format, how) = match format {
        Some(format) => (format.to_string(), "given"),
        None => (
            hal::infer_format(&data).with_context(|| {
                format!(
                    "{}: no linked loader recognises it (formats: {}); give --format",
                    path.display(),
                    hal::registered_formats().join(", ")
                )
            })?,
            "inferred",
        ),
    };
    let executable = device
        .create_executable_cache()?
        .prepare_executable(&ExecutableParams {
            constants,
            ..ExecutableParams::new(&format, &data)
        })
        .with_context(|| format!("loading {} as {format}", path.display()))?;
    Ok(LoadedFile {
        executable,
        format,
        how,
    })
}
