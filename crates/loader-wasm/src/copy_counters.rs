//! How bindings reached kernels so far in this process: counters the staging and the instances'
//! windows add to, and [`copy_statistics`], which reads them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bindings passed in place (see [`CopyStatistics::zero_copy_bindings`]).
pub(crate) static ZERO_COPY_BINDINGS: AtomicU64 = AtomicU64::new(0);
/// Bindings staged (see [`CopyStatistics::copied_bindings`]).
pub(crate) static COPIED_BINDINGS: AtomicU64 = AtomicU64::new(0);
/// Bytes staging moved (see [`CopyStatistics::copied_bytes`]).
pub(crate) static COPIED_BYTES: AtomicU64 = AtomicU64::new(0);
/// Windows mapped (see [`CopyStatistics::windows_mapped`]).
pub(crate) static WINDOWS_MAPPED: AtomicU64 = AtomicU64::new(0);

/// How bindings reached kernels so far in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStatistics {
    /// Bindings of dispatches passed in place: their buffer lives in the pool and its pages are
    /// shown in the memory of the instances that run the dispatch.
    pub zero_copy_bindings: u64,
    /// Windows mapped (one `mmap` each): a run needed pages that the previous run on that thread
    /// and executable did not show. Staged copies are shown through windows too.
    pub windows_mapped: u64,
    /// Bindings of dispatches staged: copied into pool memory before the dispatch and back after
    /// it (buffers outside the pool, such as imported host memory). Bindings over the same bytes
    /// share one copy.
    pub copied_bindings: u64,
    /// Bytes those copies moved: each staged range's length once in and once out (only changed
    /// bytes are written back).
    pub copied_bytes: u64,
}

/// The counters since the process started.
pub fn copy_statistics() -> CopyStatistics {
    CopyStatistics {
        zero_copy_bindings: ZERO_COPY_BINDINGS.load(Ordering::Relaxed),
        windows_mapped: WINDOWS_MAPPED.load(Ordering::Relaxed),
        copied_bindings: COPIED_BINDINGS.load(Ordering::Relaxed),
        copied_bytes: COPIED_BYTES.load(Ordering::Relaxed),
    }
}
