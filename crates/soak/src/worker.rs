//! One host thread of a run: its generator, its counters, and the checks every scenario reports
//! through. A check that fails is a *lost result*: wrong data, a semaphore that failed or stayed
//! short of its value (hung), work that ran although it depended on a failure, or a host call
//! that ran twice or not at all.

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use hal_core::{Buffer, BufferParams, Semaphore, StatusCode};

use crate::env::Env;
use crate::rng::Rng;
use crate::timeout::WAIT;

/// Losses described in full per thread; the rest are counted only.
const MAX_DESCRIBED: usize = 20;

/// Counters of one thread (and, summed, of a run).
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    /// Operations submitted or performed: queue operations, commands recorded into command
    /// buffers (counted once per submission that runs them), host signals, fails and waits.
    pub ops: u64,
    /// Operations whose results were checked (every operation of a scenario that ran to its
    /// checks; ring operations once their ticket is settled).
    pub checked: u64,
    /// Individual comparisons made (buffer contents, semaphore states, host-call logs).
    pub checks: u64,
    /// Failed checks: wrong, missing, duplicated or hung results, and unexpected errors.
    pub lost: u64,
    /// Failures injected on purpose whose downstream failed and whose independent work did not.
    pub injected: u64,
    /// Scenarios run.
    pub scenarios: u64,
    /// Ring tickets settled.
    pub tickets: u64,
    /// The first losses, described.
    pub losses: Vec<String>,
}

impl Stats {
    /// Adds `other` into `self`.
    pub(crate) fn add(&mut self, other: &Stats) {
        self.ops += other.ops;
        self.checked += other.checked;
        self.checks += other.checks;
        self.lost += other.lost;
        self.injected += other.injected;
        self.scenarios += other.scenarios;
        self.tickets += other.tickets;
        self.losses.extend(other.losses.iter().cloned());
    }
}

/// A ring ticket this thread submitted and has not checked yet.
pub(crate) struct Ticket {
    pub number: u64,
    /// Filled in by the ticket's host call: `Ok` when the counter held what it must.
    pub verdict: Arc<Mutex<Option<Result<(), String>>>>,
    /// Operations the ticket submitted (checked when it is settled).
    pub ops: u64,
}

/// One host thread.
pub(crate) struct Worker<'e> {
    pub env: &'e Env,
    pub rng: Rng,
    pub thread: usize,
    pub stats: Stats,
    /// The scenario running, for messages.
    pub scenario: &'static str,
    /// Operations of the scenario running.
    pub ops: u64,
    /// This thread's ring ticket not yet checked.
    pub ticket: Option<Ticket>,
    /// Injected failures numbered per thread, so each failure's message is unique.
    pub failures: u64,
    /// Set by the watchdog's reader: the scenario this thread is in.
    pub progress: &'e Mutex<Vec<&'static str>>,
    pub stop: &'e AtomicBool,
}

impl<'e> Worker<'e> {
    pub(crate) fn new(
        env: &'e Env,
        seed: u64,
        thread: usize,
        progress: &'e Mutex<Vec<&'static str>>,
        stop: &'e AtomicBool,
    ) -> Worker<'e> {
        Worker {
            env,
            rng: Rng::new(seed, thread as u64),
            thread,
            stats: Stats::default(),
            scenario: "start",
            ops: 0,
            ticket: None,
            failures: 0,
            progress,
            stop,
        }
    }

    /// Runs `round` (one scenario per call) until `deadline` (or until told to stop), then
    /// settles its ring ticket.
    pub(crate) fn run_until(mut self, deadline: Instant, round: fn(&mut Worker<'_>)) -> Stats {
        while Instant::now() < deadline && !self.stop.load(Ordering::Relaxed) {
            round(&mut self);
        }
        self.enter("settle the last ring ticket");
        self.ops = 0;
        self.settle_ticket();
        self.stats.ops += self.ops;
        self.stats.checked += self.ops;
        self.enter("done");
        self.stats
    }

    /// Notes the scenario this thread is in (read by the watchdog).
    pub(crate) fn enter(&mut self, scenario: &'static str) {
        self.scenario = scenario;
        if let Ok(mut progress) = self.progress.lock() {
            progress[self.thread] = scenario;
        }
    }

    /// Counts one operation of the scenario.
    pub(crate) fn op(&mut self) {
        self.ops += 1;
    }

    /// Counts `n` operations of the scenario.
    pub(crate) fn ops(&mut self, n: u64) {
        self.ops += n;
    }

    /// Records a lost result.
    pub(crate) fn lose(&mut self, what: String) {
        self.stats.lost += 1;
        if self.stats.losses.len() < MAX_DESCRIBED {
            self.stats.losses.push(format!(
                "thread {}, scenario {}: {what}",
                self.thread, self.scenario
            ));
        }
    }

    /// One comparison: a loss described by `what` unless `ok`.
    pub(crate) fn check(&mut self, ok: bool, what: impl FnOnce() -> String) -> bool {
        self.stats.checks += 1;
        if !ok {
            self.lose(what());
        }
        ok
    }

    /// Compares `actual` with `expected` element by element.
    pub(crate) fn check_slice<T: PartialEq + Debug>(
        &mut self,
        actual: &[T],
        expected: &[T],
        what: &str,
    ) -> bool {
        self.stats.checks += 1;
        if actual.len() != expected.len() {
            self.lose(format!(
                "{what}: {} elements, expected {}",
                actual.len(),
                expected.len()
            ));
            return false;
        }
        let wrong: Vec<usize> = (0..actual.len())
            .filter(|&i| actual[i] != expected[i])
            .collect();
        if let Some(&first) = wrong.first() {
            self.lose(format!(
                "{what}: {} of {} elements wrong, first [{first}] = {:?}, expected {:?}",
                wrong.len(),
                actual.len(),
                actual[first],
                expected[first]
            ));
            return false;
        }
        true
    }

    /// Reads `buffer` (all of it) and compares its bytes with `expected`.
    pub(crate) fn expect_bytes(
        &mut self,
        buffer: &Buffer,
        expected: &[u8],
        what: &str,
    ) -> Result<bool> {
        let mut actual = vec![0u8; buffer.len() as usize];
        buffer.read(0, &mut actual)?;
        Ok(self.check_slice(&actual, expected, what))
    }

    /// Reads the first `expected.len()` u32 of `buffer` and compares them.
    pub(crate) fn expect_u32(
        &mut self,
        buffer: &Buffer,
        expected: &[u32],
        what: &str,
    ) -> Result<bool> {
        let actual: Vec<u32> = buffer.read_elements(0, expected.len())?;
        Ok(self.check_slice(&actual, expected, what))
    }

    /// Reads the first `expected.len()` f32 of `buffer` and compares their bits.
    pub(crate) fn expect_f32(
        &mut self,
        buffer: &Buffer,
        expected: &[f32],
        what: &str,
    ) -> Result<bool> {
        let actual: Vec<f32> = buffer.read_elements(0, expected.len())?;
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        if bits(&actual) == bits(expected) {
            self.stats.checks += 1;
            return Ok(true);
        }
        Ok(self.check_slice(&actual, expected, what))
    }

    /// Waits (one host operation) for `semaphore` to reach `value`; a failure or a timeout is
    /// a lost result.
    pub(crate) fn expect_reached(&mut self, semaphore: &Semaphore, value: u64, what: &str) -> bool {
        self.op();
        let result = semaphore.wait(value, WAIT);
        self.stats.checks += 1;
        match result {
            Ok(()) => true,
            Err(status) if status.code() == StatusCode::DeadlineExceeded => {
                let at = semaphore.query();
                self.lose(format!(
                    "{what}: hung: value {value} not reached within {} s (semaphore: {at:?})",
                    WAIT.as_secs()
                ));
                false
            }
            Err(status) => {
                self.lose(format!("{what}: failed: {status}"));
                false
            }
        }
    }

    /// Waits (one host operation) for `semaphore` to fail at `value` with `code`, the status
    /// naming `needle`; reaching the value, another failure or a timeout is a lost result.
    pub(crate) fn expect_failed(
        &mut self,
        semaphore: &Semaphore,
        value: u64,
        code: StatusCode,
        needle: &str,
        what: &str,
    ) -> bool {
        self.op();
        let result = semaphore.wait(value, WAIT);
        self.stats.checks += 1;
        match result {
            Ok(()) => {
                self.lose(format!(
                    "{what}: reached {value} although it depends on an injected failure"
                ));
                false
            }
            Err(status) if status.code() == code && status.to_string().contains(needle) => true,
            Err(status) if status.code() == StatusCode::DeadlineExceeded => {
                self.lose(format!(
                    "{what}: hung: neither failed nor reached {value} within {} s",
                    WAIT.as_secs()
                ));
                false
            }
            Err(status) => {
                self.lose(format!(
                    "{what}: expected {} naming '{needle}', got {status}",
                    code.name()
                ));
                false
            }
        }
    }

    /// Checks this thread's outstanding ring ticket: the ring passed it, and its host call ran once
    /// and found the counter right.
    pub(crate) fn settle_ticket(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let semaphore = self.env.ring.semaphore.clone();
        let what = format!("ring ticket {}", ticket.number);
        if !self.expect_reached(&semaphore, 2 * ticket.number + 2, &what) {
            return;
        }
        let verdict = ticket
            .verdict
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let ok = match verdict {
            Some(Ok(())) => true,
            Some(Err(message)) => {
                self.lose(message);
                false
            }
            None => {
                self.lose(format!(
                    "{what}: the ring passed it but its host call never ran"
                ));
                false
            }
        };
        self.stats.checks += 1;
        if ok {
            self.stats.checked += ticket.ops;
            self.stats.tickets += 1;
        }
    }

    /// A zeroed buffer of `len` bytes with default parameters.
    pub(crate) fn buffer(&self, len: usize) -> Result<Buffer> {
        Ok(self
            .env
            .device
            .allocate_buffer(BufferParams::default(), len as u64)?)
    }

    /// A buffer holding `values`, written by the host.
    pub(crate) fn buffer_f32(&self, values: &[f32]) -> Result<Buffer> {
        let buffer = self.buffer(values.len() * 4)?;
        buffer.write_elements(0, values)?;
        Ok(buffer)
    }

    /// A new semaphore at 0.
    pub(crate) fn semaphore(&self) -> Result<Semaphore> {
        Ok(self.env.device.create_semaphore(0)?)
    }

    /// `n` floats holding integers in ±2^20: negation, doubling, `abs` and the soak's
    /// `scale_offset` constants are exact on them in every format.
    pub(crate) fn ints(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| (self.rng.below(1 << 21) as i64 - (1 << 20)) as f32)
            .collect()
    }

    /// A workgroup grid of `count` workgroups in 1 to 3 dimensions (the kernels' linear id is
    /// `x + X * (y + Y * z)`, so every shape covers tiles `0..count` once).
    pub(crate) fn shape(&mut self, count: u32) -> [u32; 3] {
        let divisors = |n: u32| {
            (1..=n)
                .filter(|d| n.is_multiple_of(*d))
                .collect::<Vec<u32>>()
        };
        let x = self.rng.pick(&divisors(count));
        let rest = count / x;
        let y = self.rng.pick(&divisors(rest));
        [x, y, rest / y]
    }
}

/// The little-endian bytes of `values`.
pub(crate) fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The little-endian bytes of `values`.
pub(crate) fn u32_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
