//! Running ready work on the current thread without unbounded recursion (used by both CPU
//! drivers when a signal makes queue work ready).
//!
//! When a signal satisfies the last wait of parked work, that work runs on the signalling
//! thread. Its own signals may release more work, and so on: run naively, a chain of N parked
//! operations would nest N deep. Instead the outermost call on a thread drains a thread-local
//! queue, and calls made while draining only enqueue.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

type Job = Box<dyn FnOnce()>;

thread_local! {
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    static READY: RefCell<VecDeque<Job>> = const { RefCell::new(VecDeque::new()) };
}

struct DrainGuard;

impl Drop for DrainGuard {
    fn drop(&mut self) {
        DRAINING.with(|d| d.set(false));
    }
}

/// Runs `job` now, or after the job this thread is already running if there is one.
pub fn run_or_defer(job: impl FnOnce() + 'static) {
    if DRAINING.with(|d| d.get()) {
        READY.with(|q| q.borrow_mut().push_back(Box::new(job)));
        return;
    }
    DRAINING.with(|d| d.set(true));
    let _guard = DrainGuard;
    job();
    while let Some(next) = READY.with(|q| q.borrow_mut().pop_front()) {
        next();
    }
}

/// Runs `f` — user code such as a host call — as if no job were running on this thread: work
/// that `f` makes ready (by signalling a semaphore) runs at once, inside `f`, instead of after the
/// job that runs `f`. So a host call may signal a semaphore and then wait for the work it
/// released. Jobs deferred before stay queued and run after `f`, in order.
pub fn run_nested<R>(f: impl FnOnce() -> R) -> R {
    struct Restore {
        draining: bool,
        queued: VecDeque<Job>,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            DRAINING.with(|d| d.set(self.draining));
            let queued = std::mem::take(&mut self.queued);
            READY.with(|q| {
                let mut q = q.borrow_mut();
                // Anything `f` left (nothing, unless it panicked mid-drain) runs after the jobs
                // that were waiting before it.
                let inner = std::mem::replace(&mut *q, queued);
                q.extend(inner);
            });
        }
    }
    let _restore = Restore {
        draining: DRAINING.with(|d| d.replace(false)),
        queued: READY.with(|q| std::mem::take(&mut *q.borrow_mut())),
    };
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn nested_jobs_run_after_the_current_one_in_order() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        run_or_defer(move || {
            l.borrow_mut().push(1);
            let l2 = l.clone();
            run_or_defer(move || l2.borrow_mut().push(3));
            l.borrow_mut().push(2);
        });
        assert_eq!(*log.borrow(), [1, 2, 3]);
    }

    #[test]
    fn nested_scopes_run_released_work_at_once() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        run_or_defer(move || {
            let queued = l.clone();
            run_or_defer(move || queued.borrow_mut().push("queued before"));
            let inner = l.clone();
            run_nested(move || {
                let released = inner.clone();
                run_or_defer(move || released.borrow_mut().push("released inside"));
                inner.borrow_mut().push("after release");
            });
            l.borrow_mut().push("end of job");
        });
        assert_eq!(
            *log.borrow(),
            [
                "released inside",
                "after release",
                "end of job",
                "queued before"
            ]
        );
    }

    #[test]
    fn deep_chains_do_not_recurse() {
        fn chain(n: u32, counter: Rc<Cell<u32>>) {
            counter.set(counter.get() + 1);
            if n > 0 {
                run_or_defer(move || chain(n - 1, counter));
            }
        }
        let counter = Rc::new(Cell::new(0));
        let c = counter.clone();
        run_or_defer(move || chain(1_000_000, c));
        assert_eq!(counter.get(), 1_000_001);
    }
}
