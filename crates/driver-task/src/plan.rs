//! Planning: how local-task applies the one command form ([`ResolvedCommand`]) — a region's
//! commands become tiled work, with raw pointers taken through the execution's device scope.
//!
//! Commands come resolved and checked from hal-local (a recorded program's through
//! [`RecordedProgram::resolve`], a queued command's through [`ResolvedCommand::of_queue_work`]),
//! so nothing here checks a command again; it only decides how its bytes are cut into tiles.

use std::ops::Range;

use hal_core::{BindingTableEntry, QueueWork, RangeUse, ResolvedRef, Result};
use hal_local::{
    dispatch_state, local_memory_size, run_nested, DeviceScope, DispatchArgs, RecordedProgram,
    ResolvedCommand, ResolvedDispatch,
};
use parking_lot::Mutex;

use crate::region_uses::{split_at_conflicts, RegionUses};
use crate::tiled_work::{HostWork, TiledDispatch, TiledWork};

/// Splits a program's commands at barriers (and event waits, which CPU drivers treat as
/// barriers) into region command ranges, and further where two commands of a region would race
/// with Rust code (see [`crate::region_uses`]).
pub fn region_boundaries(
    program: &RecordedProgram,
    table: &[Option<BindingTableEntry>],
) -> Vec<Range<usize>> {
    let mut boundaries = Vec::new();
    let mut start = 0;
    let close = |range: Range<usize>, boundaries: &mut Vec<Range<usize>>| {
        if range.len() > 1 {
            boundaries.extend(split_at_conflicts(range, |index, note| {
                // A command that does not resolve reports nothing here; planning reports it.
                if let Ok(Some(command)) = program.resolve(&program.commands[index], table) {
                    let _ = command.for_each_use(note);
                }
            }));
        } else if !range.is_empty() {
            boundaries.push(range);
        }
    };
    for (index, command) in program.commands.iter().enumerate() {
        if command.is_barrier() {
            close(start..index, &mut boundaries);
            start = index + 1;
        }
    }
    close(start..program.commands.len(), &mut boundaries);
    boundaries
}

/// The tiled work of commands `commands` of `program` (region `region`), run with `table`.
/// Commands of one region run at the same time: when there are several they are checked
/// against each other ([`RegionUses`]).
pub fn plan_commands(
    program: &RecordedProgram,
    table: &[Option<BindingTableEntry>],
    commands: Range<usize>,
    region: usize,
    scope: &mut DeviceScope,
    max_concurrency: u8,
) -> Result<Vec<TiledWork>> {
    let mut work = Vec::with_capacity(commands.len());
    let mut uses = (commands.len() > 1).then(RegionUses::default);
    for index in commands {
        let Some(command) = program.resolve(&program.commands[index], table)? else {
            continue;
        };
        let mut note = |range: &ResolvedRef<'_>, usage: RangeUse| {
            if let Some(uses) = uses.as_mut() {
                uses.note(index, range, usage);
            }
        };
        work.push(tiled_command(&command, scope, max_concurrency, &mut note)?);
    }
    if let Some(uses) = uses {
        uses.check(region)?;
    }
    Ok(work)
}

/// The tiled work of one queue operation that is not a command buffer: a command, an
/// allocation, or a host call (taken out of `work`: it runs once).
pub fn plan_work(
    work: &mut QueueWork,
    scope: &mut DeviceScope,
    max_concurrency: u8,
) -> Result<TiledWork> {
    if let Some(command) = ResolvedCommand::of_queue_work(work)? {
        return tiled_command(&command, scope, max_concurrency, &mut |_, _| {});
    }
    let host: HostWork = match work {
        QueueWork::Alloca { buffer } => {
            let buffer = buffer.clone();
            Box::new(move || buffer.storage().commit())
        }
        QueueWork::Dealloca { buffer } => {
            let buffer = buffer.clone();
            Box::new(move || buffer.storage().decommit())
        }
        QueueWork::HostCall { .. } => match std::mem::replace(work, QueueWork::Barrier) {
            QueueWork::HostCall { call } => Box::new(move || run_nested(call)),
            _ => unreachable!("matched a host call above"),
        },
        QueueWork::Barrier
        | QueueWork::Execute { .. }
        | QueueWork::Fill { .. }
        | QueueWork::Update { .. }
        | QueueWork::Copy { .. }
        | QueueWork::Dispatch { .. } => {
            unreachable!("barriers and command buffers are started, commands planned above")
        }
    };
    Ok(TiledWork::Host(Mutex::new(Some(host))))
}

/// The tiled work of one resolved command; `note` hears every range it touches and how.
fn tiled_command(
    command: &ResolvedCommand<'_>,
    scope: &mut DeviceScope,
    max_concurrency: u8,
    note: &mut dyn FnMut(&ResolvedRef<'_>, RangeUse),
) -> Result<TiledWork> {
    Ok(match command {
        ResolvedCommand::Fill(fill) => {
            note(fill.target(), RangeUse::WRITE);
            TiledWork::Fill {
                ptr: scope.pointer(fill.target(), RangeUse::WRITE)?,
                len: fill.target().length as usize,
                pattern: fill.pattern(),
            }
        }
        ResolvedCommand::Update(update) => {
            note(update.target(), RangeUse::WRITE);
            TiledWork::Copy {
                from: update.data().as_ptr(),
                to: scope.pointer(update.target(), RangeUse::WRITE)?,
                len: update.data().len(),
            }
        }
        ResolvedCommand::Copy(copy) => {
            note(copy.source(), RangeUse::READ);
            note(copy.target(), RangeUse::WRITE);
            TiledWork::Copy {
                from: scope.pointer(copy.source(), RangeUse::READ)?,
                to: scope.pointer(copy.target(), RangeUse::WRITE)?,
                len: copy.source().length as usize,
            }
        }
        ResolvedCommand::Dispatch(dispatch) => {
            tiled_dispatch(dispatch, scope, max_concurrency, note)?
        }
    })
}

/// A dispatch's workgroups as tiles: binding pointers taken through `scope`, the dispatch state
/// built once for every worker.
fn tiled_dispatch(
    dispatch: &ResolvedDispatch<'_>,
    scope: &mut DeviceScope,
    max_concurrency: u8,
    note: &mut dyn FnMut(&ResolvedRef<'_>, RangeUse),
) -> Result<TiledWork> {
    if let hal_core::WorkgroupCount::Indirect(parameters) = dispatch.workgroups() {
        note(parameters, RangeUse::READ);
    }
    let counts = dispatch.counts(scope)?;
    let views = dispatch.export().views;
    let mut ptrs = Vec::with_capacity(dispatch.bindings().len());
    let mut lengths = Vec::with_capacity(dispatch.bindings().len());
    dispatch.bindings().try_for_each(|index, range| {
        let usage = views.use_of(index);
        note(&range, usage);
        ptrs.push(scope.binding_pointer(&range, usage)?);
        lengths.push(range.length as usize);
        Ok(())
    })?;
    let constants: Box<[u32]> = dispatch.constants().into();
    let mut ptrs: Box<[*mut std::ffi::c_void]> = ptrs.into();
    let lengths: Box<[usize]> = lengths.into();
    // SAFETY: the pointers come from the execution's scope, which holds device access to their
    // allocations until the execution finishes, after every region (and so this dispatch's
    // session) is done.
    let session = unsafe {
        dispatch
            .local()
            .begin_dispatch(dispatch.export(), &mut ptrs, &lengths)
    }?;
    let state = dispatch_state(&DispatchArgs {
        export: dispatch.export(),
        workgroup_count: counts,
        constants: &constants,
        binding_ptrs: &ptrs,
        binding_lengths: &lengths,
        max_concurrency,
    })?;
    Ok(TiledWork::Dispatch(TiledDispatch::new(
        dispatch,
        state,
        hal_core::workgroup_total(counts)?,
        local_memory_size(dispatch.export(), dispatch.dynamic_local_memory()),
        constants,
        ptrs,
        lengths,
        session,
    )))
}
