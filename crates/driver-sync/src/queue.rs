//! The local-sync queue: run now if every wait is reached, otherwise park.
//!
//! Parking is [`hal_local::when_reached`]: the callback of the last wait to be reached runs the
//! operation on the signalling thread (through [`run_or_defer`], so chains do not nest), and a
//! failing wait fails the operation's signals at once.

use hal_core::{QueueOperation, Result};
use hal_local::{complete, execute_work, fail_all, run_or_defer, when_reached, LocalSemaphore};

/// Runs an operation's work and completes its signals: resources are released only after the
/// signals, so waiters wake as early as possible.
fn run(mut operation: QueueOperation) {
    let result = execute_work(&mut operation.work);
    complete(&operation.signals, result);
    drop(operation);
}

/// Accepts a queue operation: runs it on this thread now if its waits are reached, fails its
/// signals if a wait failed, or parks it until the waits are signalled.
pub fn submit(mut operation: QueueOperation) -> Result<()> {
    for signal in &operation.signals {
        LocalSemaphore::from_handle(&signal.semaphore)?;
    }
    let waits = std::mem::take(&mut operation.waits);
    when_reached(
        &waits,
        Box::new(move |resolved| match resolved {
            Ok(()) => run_or_defer(move || run(operation)),
            Err(status) => fail_all(&operation.signals, &status),
        }),
    )
}
