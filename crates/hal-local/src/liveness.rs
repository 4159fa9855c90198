//! Finding parked work that nothing can release any more, and failing it.
//!
//! A queue operation parked on its waits (see [`crate::when_reached`]) runs when every wait is
//! reached. A semaphore can be advanced only by a user who holds a handle to it, or by an accepted
//! operation that signals it (counted on the semaphore, see [`crate::QueueSignals`]). Once no
//! handle is open, a semaphore advances only if one of its signalers can still run: one already
//! running (or on its way to run), or one parked whose waits can all still be reached. That is a
//! least fixpoint over the graph of parked operations:
//!
//! - a semaphore is *live* if a handle is open, if a signaler is not parked (it will complete),
//!   or if a live parked operation signals it;
//! - a parked operation is *live* if each of its unreached waits is on a live semaphore.
//!
//! Every parked operation that is not live is abandoned: nothing can ever release it, not even
//! a cycle of operations waiting on each other. [`cancel_abandoned`] fails each with `CANCELLED`,
//! which fails its own signals (waking whoever waits on them) and releases what it holds.
//!
//! The verdict cannot be overturned by a race: handles cannot be made for a semaphore that has
//! none, and a parked operation starts only when a live source reaches its waits. Operations
//! being parked or resolved while the check runs count as not parked, which only keeps more work
//! alive. The check runs only when a semaphore some work waits on loses its last handle or its
//! last signaler, or when work parks on a semaphore without handles.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use hal_core::{Result, Status};
use parking_lot::Mutex;

/// A semaphore as the check sees it: whether a value is reached, and who could still advance it.
/// The check knows semaphores only through this, so that the semaphore can build on the check
/// (it runs one when its last handle closes) without the two naming each other.
pub(crate) trait Timeline: Send + Sync {
    /// Whether `value` is reached: `Ok(true)`, not yet: `Ok(false)`, or the failure.
    fn is_reached(&self, value: u64) -> Result<bool>;
    /// Whether a user handle is open.
    fn has_handles(&self) -> bool;
    /// How many accepted queue operations will still signal (or fail) it.
    fn signalers(&self) -> usize;
}

/// What a parked operation does when it is found abandoned.
pub(crate) trait Cancel: Send + Sync {
    /// Fails the parked operation with `status` (once; later calls do nothing).
    fn cancel(&self, status: Status);
}

/// One parked operation, as the check sees it.
struct Parked {
    waits: Vec<(Weak<dyn Timeline>, u64)>,
    signals: Vec<Weak<dyn Timeline>>,
    cancel: Weak<dyn Cancel>,
}

/// Every parked operation of the process, by registration number.
static PARKED: Mutex<BTreeMap<u64, Parked>> = Mutex::new(BTreeMap::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Registers a parked operation that waits for `waits` and will signal `signals`; returns the id
/// to [`unpark`] it with once it resolves.
pub(crate) fn park<S: Timeline + 'static>(
    waits: Vec<(Weak<S>, u64)>,
    signals: Vec<Weak<S>>,
    cancel: Weak<dyn Cancel>,
) -> u64 {
    let waits = waits
        .into_iter()
        .map(|(semaphore, value)| (semaphore as Weak<dyn Timeline>, value))
        .collect();
    let signals = signals
        .into_iter()
        .map(|semaphore| semaphore as Weak<dyn Timeline>)
        .collect();
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    PARKED.lock().insert(
        id,
        Parked {
            waits,
            signals,
            cancel,
        },
    );
    id
}

/// Removes a parked operation that resolved (its waits were reached, or one failed).
pub(crate) fn unpark(id: u64) {
    PARKED.lock().remove(&id);
}

/// Fails every parked operation that nothing can release any more (see the module docs).
pub fn cancel_abandoned() {
    let Verdict {
        abandoned,
        semaphores,
    } = find_abandoned();
    // Dropped only now, with the registry unlocked: the last reference to a semaphore fails the
    // work still waiting on it, which unparks that work.
    drop(semaphores);
    if abandoned.is_empty() {
        return;
    }
    let status = Status::cancelled(
        "abandoned: every handle that could signal what this work waits for was dropped",
    );
    for cancel in abandoned {
        cancel.cancel(status.clone());
    }
}

/// How many operations are parked in the process (for tests and leak checks).
pub fn parked_operations() -> usize {
    PARKED.lock().len()
}

/// What one check found.
struct Verdict {
    /// The abandoned operations.
    abandoned: Vec<Arc<dyn Cancel>>,
    /// The semaphores the check looked at, for the caller to drop once the registry is unlocked.
    semaphores: Vec<Arc<dyn Timeline>>,
}

/// Finds the parked operations nothing can release any more.
fn find_abandoned() -> Verdict {
    let parked = PARKED.lock();
    // Number the semaphores the parked operations name.
    let mut numbering = Numbering::default();
    struct Operation<'a> {
        /// Waits not reached yet.
        blockers: usize,
        signals: Vec<usize>,
        cancel: &'a Weak<dyn Cancel>,
    }
    let mut operations: Vec<Operation<'_>> = Vec::with_capacity(parked.len());
    let mut waiters: Vec<Vec<usize>> = Vec::new();
    let mut parked_signalers: Vec<usize> = Vec::new();
    for entry in parked.values() {
        let op = operations.len();
        let mut blockers = 0;
        for (weak, value) in &entry.waits {
            // A semaphore already gone failed its waiters as it dropped; one that reached the
            // value or failed resolves the operation: neither blocks it.
            let Some(semaphore) = numbering.number(weak) else {
                continue;
            };
            if numbering.semaphores[semaphore].is_reached(*value) == Ok(false) {
                waiters.resize_with(numbering.semaphores.len(), Vec::new);
                waiters[semaphore].push(op);
                blockers += 1;
            }
        }
        let mut signals = Vec::with_capacity(entry.signals.len());
        for weak in &entry.signals {
            if let Some(semaphore) = numbering.number(weak) {
                parked_signalers.resize(numbering.semaphores.len(), 0);
                parked_signalers[semaphore] += 1;
                signals.push(semaphore);
            }
        }
        operations.push(Operation {
            blockers,
            signals,
            cancel: &entry.cancel,
        });
    }
    let semaphores = numbering.semaphores;
    let count = semaphores.len();
    waiters.resize_with(count, Vec::new);
    parked_signalers.resize(count, 0);

    // Roots: semaphores with a handle or a signaler that is not parked.
    let mut live = vec![false; count];
    let mut newly_live: Vec<usize> = Vec::new();
    for (semaphore, state) in semaphores.iter().enumerate() {
        if state.has_handles() || state.signalers() > parked_signalers[semaphore] {
            live[semaphore] = true;
            newly_live.push(semaphore);
        }
    }
    let mark_signals = |op: &Operation<'_>, live: &mut Vec<bool>, newly: &mut Vec<usize>| {
        for &semaphore in &op.signals {
            if !live[semaphore] {
                live[semaphore] = true;
                newly.push(semaphore);
            }
        }
    };
    for op in &operations {
        if op.blockers == 0 {
            mark_signals(op, &mut live, &mut newly_live);
        }
    }
    while let Some(semaphore) = newly_live.pop() {
        for &op in &waiters[semaphore] {
            operations[op].blockers -= 1;
            if operations[op].blockers == 0 {
                mark_signals(&operations[op], &mut live, &mut newly_live);
            }
        }
    }
    let abandoned = operations
        .iter()
        .filter(|op| op.blockers > 0)
        .filter_map(|op| op.cancel.upgrade())
        .collect();
    Verdict {
        abandoned,
        semaphores,
    }
}

/// Dense numbers for the semaphores of one check.
#[derive(Default)]
struct Numbering {
    /// By address: the data pointer alone, as one semaphore may be reached through trait
    /// objects with different vtables.
    index: HashMap<*const (), usize>,
    semaphores: Vec<Arc<dyn Timeline>>,
}

impl Numbering {
    /// The number of a semaphore that still exists.
    fn number(&mut self, weak: &Weak<dyn Timeline>) -> Option<usize> {
        let semaphore = weak.upgrade()?;
        let next = self.semaphores.len();
        let address = Arc::as_ptr(&semaphore).cast::<()>();
        let number = *self.index.entry(address).or_insert(next);
        if number == next {
            self.semaphores.push(semaphore);
        }
        Some(number)
    }
}
