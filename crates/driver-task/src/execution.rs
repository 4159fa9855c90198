//! One queue operation running on the pool: its regions, its device access, its completion.

use std::any::Any;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hal_core::{BindingTableEntry, QueueWork, Result, Status, Submission};
use hal_local::{not_local, DeviceScope, QueueSignals, RecordedProgram};
use parking_lot::Mutex;

use crate::plan::{plan_commands, plan_work, region_boundaries};
use crate::pool::{Job, WorkerContext, WorkerPool};
use crate::regions::{region_tiles, Claim, Region, Regions, Tiled, MAX_REGION_TILES};
use crate::tiled_work::TiledWork;

/// The pool local-task's devices run their executions on.
pub type TaskPool = WorkerPool<Execution>;

/// Regions of at most this many tiles are small: a waiting thread runs them itself.
const SMALL_REGION_TILES: u64 = 8;

/// What an execution's regions are planned from, held until it finishes.
enum PlannedWork {
    /// A recorded program with its binding table; `boundaries` are the command ranges of the
    /// regions.
    Program {
        program: Arc<dyn Any + Send + Sync>,
        table: Vec<Option<BindingTableEntry>>,
        boundaries: Vec<Range<usize>>,
    },
    /// One queue operation's work: a single region.
    Work(QueueWork),
}

/// A queue operation in flight.
pub struct Execution {
    regions: Regions<TiledWork>,
    /// Taken when the execution finishes, so what the work holds is released before the
    /// signals.
    source: Mutex<Option<PlannedWork>>,
    scope: Mutex<DeviceScope>,
    failure: Mutex<Option<Status>>,
    failed: AtomicBool,
    finished: AtomicBool,
    /// Whether the pool's active list holds this execution (added once, at its first region).
    listed: AtomicBool,
    /// Completed (taken) once, when the execution finishes.
    signals: Mutex<Option<QueueSignals>>,
    threads: usize,
    max_concurrency: u8,
}

impl Execution {
    fn new(
        source: PlannedWork,
        regions: usize,
        signals: QueueSignals,
        threads: usize,
        max_concurrency: u8,
    ) -> Execution {
        Execution {
            regions: Regions::new(regions),
            source: Mutex::new(Some(source)),
            scope: Mutex::new(DeviceScope::new()),
            failure: Mutex::new(None),
            failed: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            listed: AtomicBool::new(false),
            signals: Mutex::new(Some(signals)),
            threads,
            max_concurrency,
        }
    }

    /// Starts `work`: completes it at once if it has nothing to run, otherwise opens its first
    /// region and hands it to the pool. Never blocks.
    pub fn start(pool: &Arc<TaskPool>, work: QueueWork, signals: QueueSignals) {
        // A queue operation whose waits are reached: the submission as the timeline shows it.
        tracing::trace!(work = work.name(), "queue operation started");
        let (threads, max_concurrency) = (pool.threads(), pool.max_concurrency());
        let execution = match work {
            QueueWork::Barrier => return signals.complete(Ok(())),
            QueueWork::Execute {
                submission: Submission::Executed(failure),
                binding_table,
            } => {
                drop(binding_table);
                return signals.complete(failure.map_or(Ok(()), Err));
            }
            QueueWork::Execute {
                submission: Submission::Deferred(program),
                binding_table,
            } => {
                let Some(recorded) = program.downcast_ref::<RecordedProgram>() else {
                    return signals.complete(Err(not_local()));
                };
                let boundaries = region_boundaries(recorded, &binding_table);
                let count = boundaries.len();
                let source = PlannedWork::Program {
                    program,
                    table: binding_table,
                    boundaries,
                };
                Execution::new(source, count, signals, threads, max_concurrency)
            }
            work => Execution::new(
                PlannedWork::Work(work),
                1,
                signals,
                threads,
                max_concurrency,
            ),
        };
        let execution = Arc::new(execution);
        execution.open_from(pool, 0, false);
    }

    /// Plans region `index`: its tiled work, with device access taken through the scope.
    fn plan(&self, index: usize) -> Result<Vec<TiledWork>> {
        let mut scope = self.scope.lock();
        let mut source = self.source.lock();
        match source.as_mut() {
            None => Err(Status::internal("a finished execution planned a region")),
            Some(PlannedWork::Program {
                program,
                table,
                boundaries,
            }) => {
                let program = program
                    .downcast_ref::<RecordedProgram>()
                    .expect("checked at start");
                plan_commands(
                    program,
                    table,
                    boundaries[index].clone(),
                    index,
                    &mut scope,
                    self.max_concurrency,
                )
            }
            Some(PlannedWork::Work(work)) => {
                Ok(vec![plan_work(work, &mut scope, self.max_concurrency)?])
            }
        }
    }

    /// Opens the first non-empty region at or after `index`, or finishes the execution.
    /// With `opener_runs` the caller goes on running this execution: it gets the new region's
    /// first chunk, claimed before anyone else can see the region.
    fn open_from(
        self: &Arc<Self>,
        pool: &Arc<TaskPool>,
        mut index: usize,
        opener_runs: bool,
    ) -> Option<Claim> {
        while index < self.regions.len() && !self.failed.load(Ordering::Acquire) {
            match self.plan(index) {
                Ok(items) if region_tiles(&items).is_none() => {
                    self.record_failure(Status::out_of_range(format!(
                        "region {index} holds more than {MAX_REGION_TILES} workgroups and transfer tiles"
                    )));
                }
                Ok(items) => {
                    let region = Region::new(items, self.threads);
                    let total = region.total();
                    tracing::trace!(region = index, tiles = total, "region opened");
                    let (_, first) = self.regions.open_claiming(index, region, opener_runs);
                    if total > 0 {
                        let claimed = first.map_or(0, |c| c.count);
                        pool.announce(self, total - claimed);
                        return first;
                    }
                    // Nothing to run (zero workgroups): the region is complete already.
                    self.finish_region(index);
                }
                Err(status) => self.record_failure(status),
            }
            index += 1;
        }
        self.finish(pool);
        None
    }

    fn record_failure(&self, status: Status) {
        let mut failure = self.failure.lock();
        if failure.is_none() {
            *failure = Some(status);
        }
        self.failed.store(true, Ordering::Release);
    }

    /// Ends every item of a completed region (runner sessions write staged bindings back)
    /// before the next region may start.
    fn finish_region(&self, index: usize) {
        for item in self.regions.region(index).items() {
            if let Err(status) = item.finish() {
                self.record_failure(status);
            }
        }
    }

    fn run_claim(&self, claim: Claim, context: &mut WorkerContext<'_>) -> Result<()> {
        // One span per chunk of tiles a thread claims: a trace shows each worker's tiles on its
        // own track.
        let _span = tracing::trace_span!(
            "tiles",
            region = claim.region,
            first = claim.start,
            count = claim.count,
            processor = context.processor_id
        )
        .entered();
        let region = self.regions.region(claim.region);
        let (mut item, mut tile) = region.locate(claim.start);
        let mut left = claim.count;
        while left > 0 {
            let current = &region.items()[item];
            let run = left.min(current.tiles() - tile);
            let _item =
                tracing::trace_span!("item", kind = current.kind(), first = tile, count = run)
                    .entered();
            current.run(tile, run, context)?;
            left -= run;
            item += 1;
            tile = 0;
        }
        Ok(())
    }

    /// Completes the execution once: releases device access and what the work holds (buffers,
    /// the command buffer's program), then signals (or fails) the semaphores, then lets the pool
    /// forget it; the planned regions go when the last reference does.
    fn finish(self: &Arc<Self>, pool: &Arc<TaskPool>) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::trace!(
            regions = self.regions.len(),
            failed = self.failed.load(Ordering::Relaxed),
            "queue operation finished"
        );
        self.scope.lock().release();
        let source = self.source.lock().take();
        drop(source);
        let failure = self.failure.lock().take();
        if let Some(signals) = self.signals.lock().take() {
            signals.complete(failure.map_or(Ok(()), Err));
        }
        pool.forget(self);
    }
}

/// The pool sees an execution through its open region.
impl Job for Execution {
    /// Whether the open region is large and still running (workers are busy with it).
    fn has_large_region(&self) -> bool {
        !self.finished.load(Ordering::Relaxed)
            && self
                .regions
                .current()
                .is_some_and(|(_, region)| region.total() > SMALL_REGION_TILES)
    }

    fn mark_listed(&self) -> bool {
        !self.listed.swap(true, Ordering::AcqRel)
    }

    #[inline]
    fn has_claimable(&self) -> bool {
        !self.finished.load(Ordering::Relaxed)
            && self
                .regions
                .current()
                .is_some_and(|(_, r)| r.has_unclaimed())
    }

    fn step(self: &Arc<Self>, pool: &Arc<TaskPool>, context: &mut WorkerContext<'_>) -> bool {
        let Some(mut claim) = self.regions.claim() else {
            return false;
        };
        loop {
            if !self.failed.load(Ordering::Relaxed) {
                if let Err(status) = self.run_claim(claim, context) {
                    self.record_failure(status);
                }
            }
            if !self.regions.complete(claim) {
                return true;
            }
            self.finish_region(claim.region);
            // Last finisher: open the next region, keeping its first chunk.
            match self.open_from(pool, claim.region + 1, true) {
                Some(next) => claim = next,
                None => return true,
            }
        }
    }

    /// Whether the open region runs host code (a host call, alloca or dealloca) rather than
    /// only kernel and transfer tiles.
    fn runs_host_code(&self) -> bool {
        self.regions.current().is_some_and(|(_, region)| {
            region
                .items()
                .iter()
                .any(|item| matches!(item, TiledWork::Host(_)))
        })
    }

    /// Whether the open region is small enough that a waiting thread should run it itself
    /// (larger ones are left to the workers, so the waiter does not oversubscribe the cores).
    fn is_small(&self) -> bool {
        self.regions
            .current()
            .is_some_and(|(_, region)| region.total() <= SMALL_REGION_TILES)
    }
}
