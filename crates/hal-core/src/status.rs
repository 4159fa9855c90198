//! The typed status error every HAL call returns.
//!
//! A [`Status`] carries a [`StatusCode`] saying what kind of failure happened, a message naming
//! the bad value, and a stack of context lines added as the error travels outwards. It is cheap
//! to clone (one `Arc`), because a failed semaphore hands the same status to every waiter.

use std::fmt;
use std::sync::Arc;

/// What kind of failure a [`Status`] reports. The codes follow IREE's (and absl's) status codes
/// so that messages read the same as the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusCode {
    /// The operation was cancelled, usually by the caller.
    Cancelled,
    /// An error that fits no other code.
    Unknown,
    /// The caller passed a bad argument, whatever the state of the system.
    InvalidArgument,
    /// A deadline or timeout expired before the operation completed.
    DeadlineExceeded,
    /// A named entity (driver, device, export, format) does not exist.
    NotFound,
    /// The entity the caller tried to create already exists.
    AlreadyExists,
    /// The caller may not do this.
    PermissionDenied,
    /// Memory or another resource ran out, or a request exceeds a hard limit.
    ResourceExhausted,
    /// The system is not in the state the operation requires (for example recording into a
    /// command buffer that was not begun).
    FailedPrecondition,
    /// The operation was aborted, typically because something it depended on failed.
    Aborted,
    /// An offset, length, index or count is past the valid range.
    OutOfRange,
    /// The operation is not implemented or not supported by this backend.
    Unimplemented,
    /// An invariant was broken; for example a kernel returned a failure code.
    Internal,
    /// The service is unavailable (for example a loader refused the data as not its own).
    Unavailable,
    /// Unrecoverable data loss or corruption.
    DataLoss,
    /// The caller is not authenticated.
    Unauthenticated,
    /// The data is well-formed but incompatible with this runtime or machine.
    Incompatible,
}

impl StatusCode {
    /// The upper-case name used in messages, for example `INVALID_ARGUMENT`.
    pub fn name(self) -> &'static str {
        match self {
            StatusCode::Cancelled => "CANCELLED",
            StatusCode::Unknown => "UNKNOWN",
            StatusCode::InvalidArgument => "INVALID_ARGUMENT",
            StatusCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            StatusCode::NotFound => "NOT_FOUND",
            StatusCode::AlreadyExists => "ALREADY_EXISTS",
            StatusCode::PermissionDenied => "PERMISSION_DENIED",
            StatusCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            StatusCode::FailedPrecondition => "FAILED_PRECONDITION",
            StatusCode::Aborted => "ABORTED",
            StatusCode::OutOfRange => "OUT_OF_RANGE",
            StatusCode::Unimplemented => "UNIMPLEMENTED",
            StatusCode::Internal => "INTERNAL",
            StatusCode::Unavailable => "UNAVAILABLE",
            StatusCode::DataLoss => "DATA_LOSS",
            StatusCode::Unauthenticated => "UNAUTHENTICATED",
            StatusCode::Incompatible => "INCOMPATIBLE",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct StatusInner {
    code: StatusCode,
    message: String,
    context: Vec<String>,
}

/// A failure: a code, a message naming the bad value, and context lines (innermost first).
#[derive(Clone, PartialEq, Eq)]
pub struct Status(Arc<StatusInner>);

/// The result type of every HAL call.
pub type Result<T, E = Status> = std::result::Result<T, E>;

macro_rules! status_constructors {
    ($($(#[$doc:meta])* $fn_name:ident => $code:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $fn_name(message: impl Into<String>) -> Status {
                Status::new(StatusCode::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with `code` and `message` and no context.
    pub fn new(code: StatusCode, message: impl Into<String>) -> Status {
        Status(Arc::new(StatusInner {
            code,
            message: message.into(),
            context: Vec::new(),
        }))
    }

    status_constructors! {
        /// An [`StatusCode::InvalidArgument`] status.
        invalid_argument => InvalidArgument,
        /// An [`StatusCode::OutOfRange`] status.
        out_of_range => OutOfRange,
        /// A [`StatusCode::FailedPrecondition`] status.
        failed_precondition => FailedPrecondition,
        /// A [`StatusCode::DeadlineExceeded`] status.
        deadline_exceeded => DeadlineExceeded,
        /// A [`StatusCode::NotFound`] status.
        not_found => NotFound,
        /// A [`StatusCode::Unavailable`] status.
        unavailable => Unavailable,
        /// A [`StatusCode::ResourceExhausted`] status.
        resource_exhausted => ResourceExhausted,
        /// An [`StatusCode::Aborted`] status.
        aborted => Aborted,
        /// A [`StatusCode::Cancelled`] status.
        cancelled => Cancelled,
        /// A [`StatusCode::DataLoss`] status.
        data_loss => DataLoss,
        /// An [`StatusCode::Internal`] status.
        internal => Internal,
        /// An [`StatusCode::Unimplemented`] status.
        unimplemented => Unimplemented,
        /// An [`StatusCode::Incompatible`] status.
        incompatible => Incompatible,
        /// A [`StatusCode::PermissionDenied`] status.
        permission_denied => PermissionDenied,
        /// An [`StatusCode::AlreadyExists`] status.
        already_exists => AlreadyExists,
    }

    /// What kind of failure this is.
    pub fn code(&self) -> StatusCode {
        self.0.code
    }

    /// The message given when the status was created.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Context lines added on the way out, innermost first.
    pub fn context(&self) -> &[String] {
        &self.0.context
    }

    /// This status with one more context line (for example `"while preparing executable 'x'"`).
    pub fn with_context(mut self, context: impl Into<String>) -> Status {
        Arc::make_mut(&mut self.0).context.push(context.into());
        self
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)?;
        for line in &self.0.context {
            write!(f, "; {line}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Status {}

/// Adds context lines to a failing [`Result`].
pub trait ResultExt<T> {
    /// Adds `context` to the error, if there is one.
    fn context(self, context: impl Into<String>) -> Result<T>;
    /// Adds the context `make` returns to the error, computing it only on failure.
    fn with_context<C: Into<String>>(self, make: impl FnOnce() -> C) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|status| status.with_context(context))
    }

    fn with_context<C: Into<String>>(self, make: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|status| status.with_context(make()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_code_message_and_context() {
        let status = Status::invalid_argument("binding 3 is out of range")
            .with_context("while recording dispatch");
        assert_eq!(status.code(), StatusCode::InvalidArgument);
        assert_eq!(
            status.to_string(),
            "INVALID_ARGUMENT: binding 3 is out of range; while recording dispatch"
        );
    }

    #[test]
    fn clones_share_until_context_is_added() {
        let a = Status::internal("x");
        let b = a.clone().with_context("more");
        assert!(a.context().is_empty());
        assert_eq!(b.context(), ["more"]);
    }

    #[test]
    fn result_is_pointer_sized() {
        assert_eq!(
            std::mem::size_of::<Result<()>>(),
            std::mem::size_of::<usize>()
        );
    }
}
