//! The local-sync queue: run now if every wait is reached, otherwise park.
//!
//! Parking is [`hal_local::when_reached`]: the callback of the last wait to be reached runs the
//! operation on the signalling thread (through [`run_or_defer`], so chains do not nest), and a
//! failing wait fails the operation's signals (also deferred: a failure cascading down a long
//! chain of parked work runs in a loop, not in nested calls).

use hal_core::{QueueOperation, QueueWork, Result};
use hal_local::{execute_work, run_or_defer, when_reached, QueueSignals};

/// Runs an operation's work and completes its signals. Everything the work holds (buffers,
/// executables) is released before the signals, so a waiter woken by them finds it released.
fn run(mut work: QueueWork, signals: QueueSignals) {
    let result = execute_work(&mut work);
    drop(work);
    signals.complete(result);
}

/// Accepts a queue operation: runs it on this thread now if its waits are reached, fails its
/// signals if a wait failed, or parks it until the waits are signalled.
pub fn submit(operation: QueueOperation) -> Result<()> {
    let QueueOperation {
        waits,
        signals,
        work,
    } = operation;
    let signals = QueueSignals::new(signals)?;
    when_reached(
        &waits,
        signals,
        Box::new(move |resolved, signals| {
            run_or_defer(move || match resolved {
                Ok(()) => run(work, signals),
                Err(status) => {
                    drop(work);
                    signals.complete(Err(status));
                }
            })
        }),
    )
}
