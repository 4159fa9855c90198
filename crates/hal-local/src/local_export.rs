//! An export of a local executable, found once: the executable's handle, which keeps it alive,
//! with the executable downcast and the export's entry looked up, so work that keeps a dispatch
//! (a recorded program, local-task's tiled dispatch) never downcasts or looks it up again.

use std::fmt;
use std::ptr::NonNull;

use hal_core::{Executable, Result};

use crate::library::ExportEntry;
use crate::local_executable::LocalExecutable;

/// Export `ordinal` of a local executable, held.
#[derive(Clone)]
pub struct LocalExport {
    /// Keeps the executable, and so what `local` and `export` point to, alive and in place.
    executable: Executable,
    /// The executable, downcast (it lives in `executable`'s shared allocation).
    local: NonNull<LocalExecutable>,
    /// The export's entry (in `local`'s export table, never changed after loading).
    export: NonNull<ExportEntry>,
}

// SAFETY: the pointers are shared references into the executable this value holds, which is
// `Send + Sync` and immutable once loaded; sending or sharing a `LocalExport` only sends or shares
// those references, as holding `&LocalExecutable` and `&ExportEntry` beside the handle would.
unsafe impl Send for LocalExport {}
// SAFETY: as above.
unsafe impl Sync for LocalExport {}

impl LocalExport {
    /// Export `ordinal` of `executable`: `INVALID_ARGUMENT` when the executable is not a local
    /// one, `OUT_OF_RANGE` when it has no such export.
    pub fn new(executable: &Executable, ordinal: u32) -> Result<LocalExport> {
        let local = LocalExecutable::from_handle(executable)?;
        let export = local.export(ordinal)?;
        Ok(LocalExport::of(executable, local, export))
    }

    /// The export `export` of `local`, which `executable` holds (the caller's promise: only this
    /// crate's checked constructors call it).
    pub(crate) fn of(
        executable: &Executable,
        local: &LocalExecutable,
        export: &ExportEntry,
    ) -> LocalExport {
        LocalExport {
            executable: executable.clone(),
            local: NonNull::from(local),
            export: NonNull::from(export),
        }
    }

    /// The executable's handle.
    #[inline]
    pub fn executable(&self) -> &Executable {
        &self.executable
    }

    /// The executable, as the local drivers' type.
    #[inline]
    pub fn local(&self) -> &LocalExecutable {
        // SAFETY: `local` points into the executable `self.executable` keeps alive, at an address
        // that never changes (it is inside a shared allocation), for at least as long as `self`.
        unsafe { self.local.as_ref() }
    }

    /// The export's entry.
    #[inline]
    pub fn entry(&self) -> &ExportEntry {
        // SAFETY: as in `local`: the entry is in the executable's export table, which is not
        // changed after loading.
        unsafe { self.export.as_ref() }
    }
}

impl fmt::Debug for LocalExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalExport")
            .field("library", &self.local().library_name())
            .field("export", &self.entry().info.name)
            .field("ordinal", &self.entry().ordinal)
            .finish()
    }
}
