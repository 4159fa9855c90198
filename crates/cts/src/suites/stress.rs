//! Stress: thousands of submissions forming a random DAG across semaphores owned by several
//! host threads, with host signals and parked work mixed in. Every result is checked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};
use hal_core::{
    Buffer, BufferRef, CommandBufferMode, CommandBufferParams, CommandCategory, Semaphore,
    Timepoint,
};

use crate::case::Case;
use crate::check::{expect_slice, XorShift};
use crate::ctx::{read_u32, Ctx, WAIT};
use crate::Tag;

const SUITE: &str = "stress";

pub(crate) fn cases() -> Vec<Case> {
    vec![Case::new(SUITE, "random_dag", random_dag).tags(&[Tag::Threads])]
}

const THREADS: usize = 3;
const CHAINS_PER_THREAD: usize = 4;
const CHAINS: usize = THREADS * CHAINS_PER_THREAD;
const OPS_PER_CHAIN: usize = 500;
/// The whole case must finish well inside this.
const BUDGET: Duration = Duration::from_secs(30);

/// The value op (chain, step) writes into its own slot.
fn tag(chain: usize, step: usize) -> u32 {
    ((chain as u32 + 1) << 20) | (step as u32 + 1)
}

fn slot(chain: usize, step: usize) -> u64 {
    ((chain * OPS_PER_CHAIN + step) * 4) as u64
}

/// What one op did, for the checker: the value it wrote into its own slot (0: none) and the
/// op whose slot it copied into its witness slot.
#[derive(Clone, Copy)]
struct Op {
    chain: usize,
    step: usize,
    out: u32,
    witness_of: Option<(usize, usize)>,
}

struct Shared<'a> {
    ctx: &'a Ctx<'a>,
    chains: Vec<Semaphore>,
    /// Highest step value of each chain whose signalling op has been enqueued or signalled.
    published: Vec<AtomicU64>,
    out: Buffer,
    witness: Buffer,
}

/// Runs this thread's ops. Op (chain, step) signals its chain's value `step + 1`; it waits for
/// the chain's previous value, for up to two published timepoints of other chains, and
/// sometimes for its thread's gate, which the thread signals later.
fn worker(shared: &Shared<'_>, thread: usize, seed: u64) -> Result<Vec<Op>> {
    let ctx = shared.ctx;
    let device = &ctx.device;
    let mut rng = XorShift::new(seed);
    let gate = device.create_semaphore(0)?;
    let (mut gate_enqueued, mut gate_signalled) = (0u64, 0u64);
    let mut ops = Vec::new();
    let my_chains = thread * CHAINS_PER_THREAD..(thread + 1) * CHAINS_PER_THREAD;
    let mut order: Vec<usize> = my_chains
        .flat_map(|c| std::iter::repeat_n(c, OPS_PER_CHAIN))
        .collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut next_step = [0usize; CHAINS];
    let reusable = if ctx.has(Tag::Indirect) {
        let mut cb = device.create_command_buffer(CommandBufferParams::reusable(2))?;
        cb.begin()?;
        cb.copy(BufferRef::slot(0, 0, 4), BufferRef::slot(1, 0, 4))?;
        cb.end()?;
        Some(cb)
    } else {
        None
    };
    let deferred = CommandBufferParams {
        mode: CommandBufferMode::ONE_SHOT,
        categories: CommandCategory::ANY,
        binding_capacity: 0,
    };
    // Signalling the gate up to what was enqueued releases everything this thread parked on it.
    let open_gate = |gate_signalled: &mut u64, gate_enqueued: u64| -> Result<()> {
        if gate_enqueued > *gate_signalled {
            gate.signal(gate_enqueued)?;
            *gate_signalled = gate_enqueued;
        }
        Ok(())
    };

    for chain in order {
        let step = next_step[chain];
        next_step[chain] += 1;
        let value = step as u64 + 1;
        let mut waits: Vec<Timepoint> = vec![shared.chains[chain].at(value - 1)];
        let mut dependency = None;
        for _ in 0..rng.below(3) {
            let other = rng.below(CHAINS as u64) as usize;
            let published = shared.published[other].load(Ordering::Acquire);
            if other != chain && published > 0 {
                let at = 1 + rng.below(published);
                waits.push(shared.chains[other].at(at));
                dependency.get_or_insert((other, at as usize - 1));
            }
        }
        if rng.below(4) == 0 {
            if gate_enqueued == gate_signalled || rng.below(2) == 0 {
                gate_enqueued += 1;
            }
            waits.push(gate.at(gate_enqueued));
        }
        let signal = [shared.chains[chain].at(value)];
        let mut op = Op {
            chain,
            step,
            out: 0,
            witness_of: None,
        };
        let own_slot = BufferRef::range(&shared.out, slot(chain, step), 4);
        let witness_slot = BufferRef::range(&shared.witness, slot(chain, step), 4);
        match rng.below(10) {
            // A host signal: open the gate first (so nothing this thread parked waits on it
            // while it blocks), wait for the chain's previous value, then signal.
            0 => {
                open_gate(&mut gate_signalled, gate_enqueued)?;
                shared.chains[chain].wait(value - 1, WAIT)?;
                shared.chains[chain].signal(value)?;
            }
            1 | 2 => {
                device.queue_update(
                    &waits,
                    &signal,
                    &tag(chain, step).to_le_bytes(),
                    &shared.out,
                    slot(chain, step),
                )?;
                op.out = tag(chain, step);
            }
            3 => device.queue_barrier(&waits, &signal)?,
            4 if reusable.is_some() && dependency.is_some() => {
                let (other, other_step) = dependency.expect("checked by the guard");
                let table = [
                    Some(BufferRef::range(&shared.out, slot(other, other_step), 4)),
                    Some(witness_slot),
                ];
                device.queue_execute(
                    &waits,
                    &signal,
                    reusable.as_ref().expect("checked by the guard"),
                    &table,
                )?;
                op.witness_of = dependency;
            }
            _ => {
                let mut cb = device.create_command_buffer(deferred)?;
                cb.begin()?;
                cb.update(&tag(chain, step).to_le_bytes(), own_slot)?;
                if let Some((other, other_step)) = dependency {
                    cb.copy(
                        BufferRef::range(&shared.out, slot(other, other_step), 4),
                        witness_slot,
                    )?;
                    op.witness_of = dependency;
                }
                cb.end()?;
                device.queue_execute(&waits, &signal, &cb, &[])?;
                op.out = tag(chain, step);
            }
        }
        ops.push(op);
        shared.published[chain].fetch_max(value, Ordering::AcqRel);
        if rng.below(16) == 0 {
            open_gate(&mut gate_signalled, gate_enqueued)?;
        }
    }
    open_gate(&mut gate_signalled, gate_enqueued)?;
    Ok(ops)
}

fn random_dag(ctx: &Ctx<'_>) -> Result<()> {
    let start = Instant::now();
    let size = (CHAINS * OPS_PER_CHAIN * 4) as u64;
    let shared = Shared {
        ctx,
        chains: (0..CHAINS)
            .map(|_| ctx.device.create_semaphore(0))
            .collect::<hal_core::Result<_>>()?,
        published: (0..CHAINS).map(|_| AtomicU64::new(0)).collect(),
        out: ctx.buffer(size)?,
        witness: ctx.buffer(size)?,
    };
    let ops = std::thread::scope(|scope| -> Result<Vec<Op>> {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let shared = &shared;
                scope.spawn(move || {
                    let result = worker(shared, thread, 0x5EED + thread as u64);
                    if result.is_err() {
                        // Unblock the other threads at once: their waits return the failure.
                        for chain in &shared.chains {
                            chain.fail(hal_core::Status::aborted(format!(
                                "stress thread {thread} failed"
                            )));
                        }
                    }
                    result
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut first_error = None;
        for (thread, handle) in handles.into_iter().enumerate() {
            match handle.join() {
                Ok(Ok(ops)) => all.extend(ops),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error.context(format!("stress thread {thread}")));
                }
                Err(_) => {
                    first_error.get_or_insert(anyhow!("stress thread {thread} panicked"));
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(all),
        }
    })?;
    let finals: Vec<Timepoint> = shared
        .chains
        .iter()
        .map(|c| c.at(OPS_PER_CHAIN as u64))
        .collect();
    ctx.wait_all(&finals)?;
    for (chain, semaphore) in shared.chains.iter().enumerate() {
        let value = semaphore.query()?;
        ensure!(
            value == OPS_PER_CHAIN as u64,
            "chain {chain} ended at {value}, expected {OPS_PER_CHAIN}"
        );
    }

    let out = read_u32(&shared.out)?;
    let witness = read_u32(&shared.witness)?;
    let index = |chain: usize, step: usize| chain * OPS_PER_CHAIN + step;
    let mut expected_out = vec![0u32; CHAINS * OPS_PER_CHAIN];
    for op in &ops {
        expected_out[index(op.chain, op.step)] = op.out;
    }
    expect_slice(&out, &expected_out, "every op's own slot")?;
    // A witness copy read its dependency's slot after the dependency completed, so it holds the
    // slot's final value; reading anything else means the op ran too early.
    let mut expected_witness = vec![0u32; CHAINS * OPS_PER_CHAIN];
    let mut checked = 0;
    for op in &ops {
        if let Some((chain, step)) = op.witness_of {
            expected_witness[index(op.chain, op.step)] = expected_out[index(chain, step)];
            checked += 1;
        }
    }
    expect_slice(
        &witness,
        &expected_witness,
        "witness copies of dependencies (slot = chain * 500 + step)",
    )?;
    ensure!(
        checked > 100,
        "only {checked} dependencies were checked; the DAG is too sparse"
    );
    ensure!(
        start.elapsed() < BUDGET,
        "the stress case took {:?}",
        start.elapsed()
    );
    Ok(())
}
