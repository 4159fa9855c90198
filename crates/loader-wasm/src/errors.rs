//! The statuses the loader's failures become: a bad module is `INVALID_ARGUMENT` naming what is
//! wrong, and a call into wasm that ran past its budget is `DEADLINE_EXCEEDED`.

use hal_core::{Status, StatusCode};
use wasmtime::Trap;

use crate::engine::dispatch_budget;

/// A status with `code` and `message`.
pub(crate) fn status(code: StatusCode, message: impl Into<String>) -> Status {
    Status::new(code, message.into())
}

/// `INVALID_ARGUMENT` with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> Status {
    status(StatusCode::InvalidArgument, message)
}

/// `INVALID_ARGUMENT`: wasmtime refused something of the module (`context` says what).
pub(crate) fn wasm_error(context: &str, error: wasmtime::Error) -> Status {
    invalid(format!("{context}: {error:#}"))
}

/// A failed call into wasm while loading: `DEADLINE_EXCEEDED` if it ran past the budget, else
/// `INVALID_ARGUMENT` naming the trap (the module is bad).
pub(crate) fn load_error(context: &str, error: wasmtime::Error) -> Status {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => status(
            StatusCode::DeadlineExceeded,
            format!(
                "{context}: ran past its budget of {:?} and was interrupted",
                dispatch_budget()
            ),
        ),
        _ => wasm_error(context, error),
    }
}

/// What a failed call into a kernel became: `DEADLINE_EXCEEDED` if it ran past the budget,
/// `ABORTED` naming the trap, else `INTERNAL`; and the words saying so.
pub(crate) fn describe_trap(error: &wasmtime::Error) -> (StatusCode, String) {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => (
            StatusCode::DeadlineExceeded,
            format!(
                "ran past its budget of {:?} and was interrupted",
                dispatch_budget()
            ),
        ),
        Some(trap) => (StatusCode::Aborted, format!("trapped: {trap}")),
        None => (StatusCode::Internal, format!("failed: {error:#}")),
    }
}
