//! The suites, in the order they run.

mod allocator;
mod command_buffer;
mod dispatch;
mod driver;
mod executable;
mod mapping;
mod queue;
mod robustness;
mod semaphore;
mod semaphore_threads;
mod stress;
mod submission;
mod transfer;

use crate::case::Case;

/// Every case of every suite.
pub(crate) fn all() -> Vec<Case> {
    [
        driver::cases(),
        allocator::cases(),
        mapping::cases(),
        command_buffer::cases(),
        transfer::cases(),
        dispatch::cases(),
        executable::cases(),
        semaphore::cases(),
        semaphore_threads::cases(),
        queue::cases(),
        submission::cases(),
        robustness::cases(),
        stress::cases(),
    ]
    .concat()
}
