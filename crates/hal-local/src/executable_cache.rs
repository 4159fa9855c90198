//! The executable cache of CPU drivers: tries each loader that supports a format in turn.

use std::sync::Arc;

use hal_core::{Executable, ExecutableCacheImpl, ExecutableParams, Result, Status};

use crate::imports::ImportProvider;
use crate::loader::{ExecutableLoader, LoadOutcome, LoadRequest};

/// Prepares executables with a fixed set of loaders.
pub struct LocalExecutableCache {
    loaders: Vec<Arc<dyn ExecutableLoader>>,
    imports: Arc<dyn ImportProvider>,
}

impl LocalExecutableCache {
    /// A cache over `loaders` that resolves imports with `imports`.
    pub fn new(
        loaders: Vec<Arc<dyn ExecutableLoader>>,
        imports: Arc<dyn ImportProvider>,
    ) -> LocalExecutableCache {
        LocalExecutableCache { loaders, imports }
    }
}

impl ExecutableCacheImpl for LocalExecutableCache {
    fn can_prepare_format(&self, format: &str) -> bool {
        self.loaders
            .iter()
            .any(|loader| loader.supports_format(format))
    }

    fn prepare(&self, params: &ExecutableParams<'_>) -> Result<Executable> {
        let request = LoadRequest {
            format: params.format,
            data: params.data,
            constants: params.constants,
            imports: self.imports.as_ref(),
        };
        let mut declined = Vec::new();
        for loader in self
            .loaders
            .iter()
            .filter(|l| l.supports_format(params.format))
        {
            match loader.try_load(&request)? {
                LoadOutcome::Loaded(executable) => return Ok(executable),
                LoadOutcome::NotMine(reason) => {
                    declined.push(format!("{}: {reason}", loader.name()))
                }
            }
        }
        Err(Status::not_found(format!(
            "no loader took the {}-byte '{}' executable ({})",
            params.data.len(),
            params.format,
            declined.join("; ")
        )))
    }
}
