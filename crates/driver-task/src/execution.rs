//! One queue operation running on the pool: its regions, its device access, its completion.

use std::any::Any;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hal_core::{
    check_no_overlap, BindingTableEntry, Executable, QueueWork, QueueWorkgroups, RangeUse,
    ResolvedRef, Result, Status, SubmissionHandle,
};
use hal_local::{
    dispatch_state, local_memory_size, read_workgroup_counts, Command, DeviceScope, DispatchArgs,
    LocalExecutable, QueueSignals, RecordedCommands, RecordedWorkgroups,
};
use parking_lot::Mutex;

use crate::item::{DispatchItem, Item, Once, WorkerContext};
use crate::pool::PoolShared;
use crate::region_uses::{split_at_conflicts, RegionUses};
use crate::regions::{region_tiles, Claim, Region, Regions, MAX_REGION_TILES};

/// Regions of at most this many tiles are small: a waiting thread runs them itself.
const SMALL_REGION_TILES: u64 = 8;

/// What the regions are planned from.
enum Source {
    /// A recorded command buffer with its binding table; `boundaries` are the command ranges of
    /// the regions.
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
    regions: Regions<Item>,
    /// Taken when the execution finishes, so what the work holds is released before the
    /// signals.
    source: Mutex<Option<Source>>,
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

fn entry_ref(entry: &BindingTableEntry) -> ResolvedRef<'_> {
    ResolvedRef {
        buffer: &entry.buffer,
        offset: entry.offset,
        length: entry.length,
    }
}

/// Splits a program's commands at barriers (and event waits, which CPU drivers treat as
/// barriers) into region command ranges, and further where two commands of a region would race
/// with Rust code (see [`crate::region_uses`]).
fn region_boundaries(
    program: &RecordedCommands,
    table: &[Option<BindingTableEntry>],
) -> Vec<Range<usize>> {
    let mut boundaries = Vec::new();
    let mut start = 0;
    let close = |range: Range<usize>, boundaries: &mut Vec<Range<usize>>| {
        if range.len() > 1 {
            boundaries.extend(split_at_conflicts(range, |index, note| {
                command_uses(program, &program.commands[index], table, note)
            }));
        } else if !range.is_empty() {
            boundaries.push(range);
        }
    };
    for (index, command) in program.commands.iter().enumerate() {
        if matches!(command, Command::Barrier | Command::WaitEvents(_)) {
            close(start..index, &mut boundaries);
            start = index + 1;
        }
    }
    close(start..program.commands.len(), &mut boundaries);
    boundaries
}

/// Calls `note` for every byte range `command` touches and how; references that do not resolve
/// are skipped (planning reports them).
fn command_uses(
    program: &RecordedCommands,
    command: &Command,
    table: &[Option<BindingTableEntry>],
    note: &mut dyn FnMut(&ResolvedRef<'_>, RangeUse),
) {
    let mut note_ref = |reference: &hal_local::OwnedRef, usage: RangeUse| {
        if let Ok(range) = reference.as_ref().resolve(table) {
            note(&range, usage);
        }
    };
    match command {
        Command::Fill { target, .. } | Command::Update { target, .. } => {
            note_ref(target, RangeUse::WRITE)
        }
        Command::Copy { source, target } => {
            note_ref(source, RangeUse::READ);
            note_ref(target, RangeUse::WRITE);
        }
        Command::Dispatch {
            executable,
            ordinal,
            workgroups,
            bindings,
            ..
        } => {
            if let RecordedWorkgroups::Indirect(parameters) = workgroups {
                note_ref(parameters, RangeUse::READ);
            }
            let Ok(export) = LocalExecutable::from_handle(executable)
                .and_then(|local| local.export(*ordinal).map(|export| export.views))
            else {
                return;
            };
            for (binding, reference) in program.bindings[bindings.clone()].iter().enumerate() {
                note_ref(reference, export.use_of(binding));
            }
        }
        Command::Barrier
        | Command::WaitEvents(_)
        | Command::SignalEvent(_)
        | Command::ResetEvent(_) => {}
    }
}

/// Builds a dispatch item from resolved binding pointers and lengths; its workgroups get the
/// export's static local memory plus `dynamic_local_memory` bytes.
fn dispatch_item(
    executable: &Executable,
    ordinal: u32,
    counts: [u32; 3],
    constants: &[u32],
    bindings: impl Iterator<Item = Result<(*mut std::ffi::c_void, usize)>>,
    max_concurrency: u8,
    dynamic_local_memory: u32,
) -> Result<Item> {
    let local = LocalExecutable::from_handle(executable)?;
    let export = local.export(ordinal)?;
    let mut ptrs = Vec::new();
    let mut lengths = Vec::new();
    for binding in bindings {
        let (ptr, length) = binding?;
        ptrs.push(ptr);
        lengths.push(length);
    }
    let constants: Box<[u32]> = constants.into();
    let mut ptrs: Box<[*mut std::ffi::c_void]> = ptrs.into();
    let lengths: Box<[usize]> = lengths.into();
    // SAFETY: the pointers come from the execution's scope, which holds device access to their
    // allocations until the execution finishes, after every region (and so this item's session)
    // is done.
    let session = unsafe { local.begin_dispatch(export, &mut ptrs, &lengths) }?;
    let state = dispatch_state(&DispatchArgs {
        export,
        workgroup_count: counts,
        constants: &constants,
        binding_ptrs: &ptrs,
        binding_lengths: &lengths,
        max_concurrency,
    })?;
    Ok(Item::Dispatch(DispatchItem {
        executable: executable.clone(),
        ordinal,
        state,
        workgroups: hal_core::workgroup_total(counts)?,
        local_memory_size: local_memory_size(export, dynamic_local_memory),
        _constants: constants,
        _binding_ptrs: ptrs,
        _binding_lengths: lengths,
        session: Mutex::new(session),
    }))
}

fn copy_item(
    scope: &mut DeviceScope,
    source: &ResolvedRef<'_>,
    target: &ResolvedRef<'_>,
) -> Result<Item> {
    if source.length != target.length {
        return Err(Status::invalid_argument(format!(
            "copy of {} bytes into a {}-byte range",
            source.length, target.length
        )));
    }
    if source.buffer.same_allocation(target.buffer) {
        check_no_overlap(
            source.storage_offset(),
            target.storage_offset(),
            source.length,
        )?;
    }
    let from = scope.pointer(source, RangeUse::READ)?;
    let to = scope.pointer(target, RangeUse::WRITE)?;
    Ok(Item::Copy {
        from,
        to,
        len: source.length as usize,
    })
}

fn fill_item(
    scope: &mut DeviceScope,
    target: &ResolvedRef<'_>,
    pattern: hal_core::FillPattern,
) -> Result<Item> {
    hal_core::check_fill_alignment(target.offset, target.length, pattern)?;
    Ok(Item::Fill {
        ptr: scope.pointer(target, RangeUse::WRITE)?,
        len: target.length as usize,
        pattern,
    })
}

fn update_item(scope: &mut DeviceScope, data: &[u8], target: &ResolvedRef<'_>) -> Result<Item> {
    if target.length != data.len() as u64 {
        return Err(Status::invalid_argument(format!(
            "update of {} bytes into a {}-byte range",
            data.len(),
            target.length
        )));
    }
    Ok(Item::Copy {
        from: data.as_ptr(),
        to: scope.pointer(target, RangeUse::WRITE)?,
        len: data.len(),
    })
}

impl Execution {
    fn new(
        source: Source,
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
    pub fn start(pool: &Arc<PoolShared>, work: QueueWork, signals: QueueSignals) {
        // A queue operation whose waits are reached: the submission as the timeline shows it.
        tracing::trace!(work = work.name(), "queue operation started");
        let (threads, max_concurrency) = (pool.threads(), pool.max_concurrency());
        let execution = match work {
            QueueWork::Barrier => return signals.complete(Ok(())),
            QueueWork::Execute {
                submission: SubmissionHandle::Executed(failure),
                binding_table,
            } => {
                drop(binding_table);
                return signals.complete(failure.map_or(Ok(()), Err));
            }
            QueueWork::Execute {
                submission: SubmissionHandle::Deferred(program),
                binding_table,
            } => {
                let Some(commands) = program.downcast_ref::<RecordedCommands>() else {
                    let status = Status::invalid_argument(
                        "command buffer was not recorded by a local CPU driver",
                    );
                    return signals.complete(Err(status));
                };
                let boundaries = region_boundaries(commands, &binding_table);
                let count = boundaries.len();
                let source = Source::Program {
                    program,
                    table: binding_table,
                    boundaries,
                };
                Execution::new(source, count, signals, threads, max_concurrency)
            }
            work => Execution::new(Source::Work(work), 1, signals, threads, max_concurrency),
        };
        let execution = Arc::new(execution);
        execution.open_from(pool, 0, false);
    }

    /// Plans region `index` from the source.
    fn plan(&self, index: usize) -> Result<Vec<Item>> {
        let mut scope = self.scope.lock();
        let scope = &mut *scope;
        let mut source = self.source.lock();
        let Some(source) = source.as_mut() else {
            return Err(Status::internal("a finished execution planned a region"));
        };
        match source {
            Source::Program {
                program,
                table,
                boundaries,
            } => {
                let program = program
                    .downcast_ref::<RecordedCommands>()
                    .expect("checked at start");
                let range = boundaries[index].clone();
                let mut items = Vec::with_capacity(range.len());
                // Commands of one region run at the same time: check them against each other
                // when there are several.
                let mut uses = (range.len() > 1).then(RegionUses::default);
                for (number, command) in program.commands[range.clone()].iter().enumerate() {
                    let number = range.start + number;
                    let mut note = |r: &ResolvedRef<'_>, usage: RangeUse| {
                        if let Some(uses) = uses.as_mut() {
                            uses.note(number, r, usage);
                        }
                    };
                    let item = match command {
                        Command::Barrier
                        | Command::WaitEvents(_)
                        | Command::SignalEvent(_)
                        | Command::ResetEvent(_) => continue,
                        Command::Fill { target, pattern } => {
                            let target = target.as_ref().resolve(table)?;
                            note(&target, RangeUse::WRITE);
                            fill_item(scope, &target, *pattern)?
                        }
                        Command::Update { data, target } => {
                            let target = target.as_ref().resolve(table)?;
                            note(&target, RangeUse::WRITE);
                            update_item(scope, &program.data[data.clone()], &target)?
                        }
                        Command::Copy { source, target } => {
                            let source = source.as_ref().resolve(table)?;
                            let mut target = target.as_ref().resolve(table)?;
                            target.length = target.length.min(source.length);
                            note(&source, RangeUse::READ);
                            note(&target, RangeUse::WRITE);
                            copy_item(scope, &source, &target)?
                        }
                        Command::Dispatch {
                            executable,
                            ordinal,
                            workgroups,
                            constants,
                            bindings,
                            dynamic_local_memory,
                        } => {
                            let local = LocalExecutable::from_handle(executable)?;
                            let views = local.export(*ordinal)?.views;
                            let counts = match workgroups {
                                RecordedWorkgroups::Static(counts) => *counts,
                                RecordedWorkgroups::Indirect(parameters) => {
                                    let parameters = parameters.as_ref().resolve(table)?;
                                    note(&parameters, RangeUse::READ);
                                    read_workgroup_counts(scope, &parameters)?
                                }
                            };
                            let mut resolved = Vec::with_capacity(bindings.len());
                            for (binding, reference) in
                                program.bindings[bindings.clone()].iter().enumerate()
                            {
                                let range = reference.as_ref().resolve(table)?;
                                let usage = views.use_of(binding);
                                note(&range, usage);
                                resolved.push((
                                    scope.binding_pointer(&range, usage)?,
                                    range.length as usize,
                                ));
                            }
                            dispatch_item(
                                executable,
                                *ordinal,
                                counts,
                                &program.constants[constants.clone()],
                                resolved.into_iter().map(Ok),
                                self.max_concurrency,
                                *dynamic_local_memory,
                            )?
                        }
                    };
                    items.push(item);
                }
                if let Some(uses) = uses {
                    uses.check(index)?;
                }
                Ok(items)
            }
            Source::Work(work) => {
                let item = match work {
                    QueueWork::Fill { target, pattern } => {
                        fill_item(scope, &entry_ref(target), *pattern)?
                    }
                    QueueWork::Update { data, target } => {
                        update_item(scope, data, &entry_ref(target))?
                    }
                    QueueWork::Copy { source, target } => {
                        copy_item(scope, &entry_ref(source), &entry_ref(target))?
                    }
                    QueueWork::Dispatch {
                        executable,
                        ordinal,
                        workgroups,
                        constants,
                        bindings,
                        dynamic_local_memory,
                    } => {
                        let views = LocalExecutable::from_handle(executable)?
                            .export(*ordinal)?
                            .views;
                        let counts = match workgroups {
                            QueueWorkgroups::Static(counts) => *counts,
                            QueueWorkgroups::Indirect(parameters) => {
                                read_workgroup_counts(scope, &entry_ref(parameters))?
                            }
                        };
                        let mut resolved = Vec::with_capacity(bindings.len());
                        for (index, binding) in bindings.iter().enumerate() {
                            resolved.push((
                                scope.binding_pointer(&entry_ref(binding), views.use_of(index))?,
                                binding.length as usize,
                            ));
                        }
                        dispatch_item(
                            executable,
                            *ordinal,
                            counts,
                            constants,
                            resolved.into_iter().map(Ok),
                            self.max_concurrency,
                            *dynamic_local_memory,
                        )?
                    }
                    QueueWork::Alloca { buffer } => {
                        let buffer = buffer.clone();
                        Item::Once(Mutex::new(Some(
                            Box::new(move || buffer.storage().commit()) as Once,
                        )))
                    }
                    QueueWork::Dealloca { buffer } => {
                        let buffer = buffer.clone();
                        Item::Once(Mutex::new(Some(
                            Box::new(move || buffer.storage().decommit()) as Once,
                        )))
                    }
                    QueueWork::HostCall { .. } => match std::mem::replace(work, QueueWork::Barrier)
                    {
                        QueueWork::HostCall { call } => Item::Once(Mutex::new(Some(Box::new(
                            move || hal_local::run_nested(call),
                        )
                            as Once))),
                        _ => unreachable!("matched a host call above"),
                    },
                    QueueWork::Barrier | QueueWork::Execute { .. } => {
                        unreachable!("handled in start")
                    }
                };
                Ok(vec![item])
            }
        }
    }

    /// Opens the first non-empty region at or after `index`, or finishes the execution.
    /// With `opener_runs` the caller goes on running this execution: it gets the new region's
    /// first chunk, claimed before anyone else can see the region.
    fn open_from(
        self: &Arc<Self>,
        pool: &Arc<PoolShared>,
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

    /// Whether the open region is large and still running (workers are busy with it).
    pub fn has_large_region(&self) -> bool {
        !self.finished.load(Ordering::Relaxed)
            && self
                .regions
                .current()
                .is_some_and(|(_, region)| region.total() > SMALL_REGION_TILES)
    }

    /// True the first time only: the caller adds the execution to the active list.
    pub fn mark_listed(&self) -> bool {
        !self.listed.swap(true, Ordering::AcqRel)
    }

    /// Whether a claim would find tiles now.
    #[inline]
    pub fn has_claimable(&self) -> bool {
        !self.finished.load(Ordering::Relaxed)
            && self
                .regions
                .current()
                .is_some_and(|(_, r)| r.has_unclaimed())
    }

    /// Claims and runs one chunk of tiles; false if there was nothing to claim.
    pub fn step(self: &Arc<Self>, pool: &Arc<PoolShared>, context: &mut WorkerContext<'_>) -> bool {
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

    /// Ends every item of a completed region (runner sessions write staged bindings back)
    /// before the next region may start.
    fn finish_region(&self, index: usize) {
        for item in self.regions.region(index).items() {
            if let Err(status) = item.finish() {
                self.record_failure(status);
            }
        }
    }

    /// Whether the open region runs host code (a host call, alloca or dealloca) rather than
    /// only kernel and transfer tiles.
    pub fn runs_host_code(&self) -> bool {
        self.regions.current().is_some_and(|(_, region)| {
            region
                .items()
                .iter()
                .any(|item| matches!(item, Item::Once(_)))
        })
    }

    /// Whether the open region is small enough that a waiting thread should run it itself
    /// (larger ones are left to the workers, so the waiter does not oversubscribe the cores).
    pub fn is_small(&self) -> bool {
        self.regions
            .current()
            .is_some_and(|(_, region)| region.total() <= SMALL_REGION_TILES)
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
            let run = left.min(crate::regions::Tiled::tiles(current) - tile);
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
    fn finish(self: &Arc<Self>, pool: &Arc<PoolShared>) {
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
