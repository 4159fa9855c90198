//! The errors every check gives: data that is not a loadable kernel library, saying why.

use hal_core::Status;

/// An `INVALID_ARGUMENT` status saying the data is not a loadable kernel library, and why.
pub(crate) fn bad(message: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("not a loadable kernel library: {message}"))
}

/// A status saying `what` needs bytes past the end of the file.
pub(crate) fn truncated(what: &str, start: u64, size: u64, file: usize) -> Status {
    bad(format_args!(
        "truncated: {what} needs bytes [{start}, {}) but the file has {file} bytes",
        start.saturating_add(size)
    ))
}
