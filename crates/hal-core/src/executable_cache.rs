//! Executable caches: where executables are prepared from a format name and bytes, by whichever
//! loader of the driver takes the format.

use std::sync::Arc;

use crate::executable::{Executable, MAX_EXECUTABLE_CONSTANT_COUNT};
use crate::status::{Result, Status};

/// Everything needed to prepare an executable.
#[derive(Clone, Copy, Debug)]
pub struct ExecutableParams<'a> {
    /// The executable format, for example `static` or `embedded-elf-x86_64`.
    pub format: &'a str,
    /// The executable's bytes (for `static`: the library name).
    pub data: &'a [u8],
    /// Executable-level (specialisation) constants; their count must match the library's.
    pub constants: &'a [u32],
}

impl<'a> ExecutableParams<'a> {
    /// Parameters without executable constants.
    pub fn new(format: &'a str, data: &'a [u8]) -> ExecutableParams<'a> {
        ExecutableParams {
            format,
            data,
            constants: &[],
        }
    }
}

/// What drivers implement for executable caches.
pub trait ExecutableCacheImpl: Send + Sync + 'static {
    /// Whether some loader can load this format.
    fn can_prepare_format(&self, format: &str) -> bool;
    /// Loads an executable (the format was checked with `can_prepare_format`).
    fn prepare(&self, params: &ExecutableParams<'_>) -> Result<Executable>;
}

/// A handle to an executable cache: the place executables are prepared.
#[derive(Clone)]
pub struct ExecutableCache(Arc<dyn ExecutableCacheImpl>);

impl ExecutableCache {
    /// Wraps a driver's cache.
    pub fn new(inner: Arc<dyn ExecutableCacheImpl>) -> ExecutableCache {
        ExecutableCache(inner)
    }

    /// Whether executables of `format` can be prepared here.
    pub fn can_prepare_format(&self, format: &str) -> bool {
        self.0.can_prepare_format(format)
    }

    /// Loads an executable. An unknown format is `NOT_FOUND`; more than
    /// [`MAX_EXECUTABLE_CONSTANT_COUNT`] executable constants is `INVALID_ARGUMENT`; bad data is a
    /// loader's error.
    pub fn prepare_executable(&self, params: &ExecutableParams<'_>) -> Result<Executable> {
        if params.constants.len() > MAX_EXECUTABLE_CONSTANT_COUNT {
            return Err(Status::invalid_argument(format!(
                "{} executable constants exceed the limit of {MAX_EXECUTABLE_CONSTANT_COUNT}",
                params.constants.len()
            )));
        }
        if !self.0.can_prepare_format(params.format) {
            return Err(Status::not_found(format!(
                "no executable loader for format '{}'",
                params.format
            )));
        }
        self.0.prepare(params).map_err(|status| {
            status.with_context(format!("while preparing a '{}' executable", params.format))
        })
    }
}
