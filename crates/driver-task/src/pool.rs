//! The worker pool: threads that run tiles of the jobs announced to them, spin briefly when idle,
//! then sleep. The pool knows jobs only through [`Job`], which it defines: what it schedules
//! (local-task's executions) builds on it, not the other way round.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hal_local::{
    current_processor_id, with_thread_local_memory, DenormalsFlushed, LocalMemory, WaitHelper,
};
use parking_lot::Mutex;

use crate::options::{Affinity, TaskDeviceOptions};
use crate::sleep::Sleep;

thread_local! {
    /// The pool this thread works for (address), so a device dropped on one of its own workers
    /// does not join itself.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Where a worker runs tiles.
pub struct WorkerContext<'a> {
    /// The worker's local memory for kernels.
    pub local_memory: &'a mut LocalMemory,
    /// The CPU the worker runs on.
    pub processor_id: u32,
}

/// Work the pool schedules: announced once it has tiles, run a chunk at a time by whichever
/// thread finds it, forgotten when it finishes.
pub trait Job: Send + Sync + Sized + 'static {
    /// Whether a claim would find tiles now.
    fn has_claimable(&self) -> bool;
    /// Whether the tiles open now are few enough for a waiting thread to run them itself.
    fn is_small(&self) -> bool;
    /// Whether the tiles open now run host code (which may block for any time).
    fn runs_host_code(&self) -> bool;
    /// Whether a large set of tiles is open and running (workers hold every core).
    fn has_large_region(&self) -> bool;
    /// True the first time only: the pool then adds the job to its active list.
    fn mark_listed(&self) -> bool;
    /// Claims and runs one chunk of tiles on the calling thread; false if there was nothing to
    /// claim.
    fn step(
        self: &Arc<Self>,
        pool: &Arc<WorkerPool<Self>>,
        context: &mut WorkerContext<'_>,
    ) -> bool;
}

/// What the workers, the device and waiting threads share: the jobs with tiles to run, and how
/// idle workers sleep.
pub struct WorkerPool<J: Job> {
    active: Mutex<Vec<Arc<J>>>,
    active_count: AtomicUsize,
    sleep: Sleep,
    shutdown: AtomicBool,
    workers: usize,
    /// Whether waiting threads may run tiles (the device's `help_wait`).
    help_wait: bool,
    /// Taken by the one non-worker thread that may run tiles at a time (a helping waiter, or
    /// after shutdown the thread that made work ready), so that `max_concurrency` is true.
    outside_runner: AtomicBool,
    spin: Duration,
    /// How many idle workers may spin at once: one core is left for host threads.
    max_spinners: usize,
}

impl<J: Job> WorkerPool<J> {
    /// How many threads may claim tiles of one region at once: the workers, plus one thread
    /// from outside the pool (a helping waiter) when waiters help.
    pub fn threads(&self) -> usize {
        self.workers + usize::from(self.help_wait)
    }

    /// `max_concurrency` for dispatch states: [`WorkerPool::threads`].
    pub fn max_concurrency(&self) -> u8 {
        self.threads().clamp(1, u8::MAX as usize) as u8
    }

    /// Makes a job with open tiles visible to workers and wakes up to `tiles` of them (`tiles`
    /// excludes a chunk the opener already claimed: it comes back for more).
    pub fn announce(self: &Arc<Self>, execution: &Arc<J>, tiles: u64) {
        if execution.mark_listed() {
            let mut active = self.active.lock();
            active.push(execution.clone());
            self.active_count.store(active.len(), Ordering::Release);
        }
        if self.shutdown.load(Ordering::Acquire) {
            // No workers left: the announcing thread runs the work itself (or leaves it to the
            // thread already doing so, which looks again before it stops).
            while self.run_outside(|e| e.has_claimable()) {}
            return;
        }
        let wanted = usize::try_from(tiles)
            .unwrap_or(usize::MAX)
            .min(self.workers);
        if wanted > 0 {
            self.sleep.notify(wanted);
        }
    }

    /// Drops a finished job from the active list.
    pub fn forget(&self, execution: &Arc<J>) {
        let mut active = self.active.lock();
        active.retain(|e| !Arc::ptr_eq(e, execution));
        self.active_count.store(active.len(), Ordering::Release);
    }

    fn find_work(&self) -> Option<Arc<J>> {
        self.find(|e| e.has_claimable())
    }

    fn find(&self, wanted: impl Fn(&J) -> bool) -> Option<Arc<J>> {
        if self.active_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.active.lock().iter().find(|e| wanted(e)).cloned()
    }

    /// Runs one chunk of a small region of device tiles on the calling thread (a waiting host
    /// thread); false if there was none. Large regions are the workers': a waiter taking tiles
    /// there would only oversubscribe the cores. Regions that run host code (host calls, queue
    /// alloca and dealloca) are the workers' too: it may block for any time, or on the waiting
    /// thread itself.
    pub fn help_once(self: &Arc<Self>) -> bool {
        self.help_wait
            && self.run_outside(|e| e.has_claimable() && e.is_small() && !e.runs_host_code())
    }

    /// Runs one chunk of a `wanted` execution on the calling thread, which is not a worker, if
    /// no other such thread is running one. False when there is nothing for it to do: nothing
    /// wanted, or another outside thread holds the slot — which looks for work again after it
    /// gives the slot back, so work announced meanwhile is not stranded.
    fn run_outside(self: &Arc<Self>, wanted: impl Fn(&J) -> bool) -> bool {
        if self.find(&wanted).is_none()
            || self
                .outside_runner
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let ran = self.run_once(&wanted);
        self.outside_runner.store(false, Ordering::Release);
        ran || self.find(&wanted).is_some()
    }

    fn run_once(self: &Arc<Self>, wanted: impl Fn(&J) -> bool) -> bool {
        let Some(execution) = self.find(wanted) else {
            return false;
        };
        let _fpu = DenormalsFlushed::new();
        with_thread_local_memory(|local_memory| {
            let mut context = WorkerContext {
                local_memory,
                processor_id: current_processor_id(),
            };
            execution.step(self, &mut context)
        })
    }

    fn worker_loop(self: &Arc<Self>, cpu: Option<usize>) {
        // Workers keep denormals flushed for their whole life, as IREE's do.
        let _fpu = DenormalsFlushed::new();
        let mut local_memory = LocalMemory::default();
        loop {
            if let Some(execution) = self.find_work() {
                let processor_id = cpu.map_or_else(current_processor_id, |c| c as u32);
                let mut context = WorkerContext {
                    local_memory: &mut local_memory,
                    processor_id,
                };
                while execution.step(self, &mut context) {}
                continue;
            }
            let seen = self.sleep.epoch();
            if self.find_work().is_some() {
                continue;
            }
            if self.shutdown.load(Ordering::Acquire) {
                return;
            }
            // Spin only while a core is left for host threads (they submit and wait); the
            // other workers park at once.
            if self.sleep.begin_spin(self.max_spinners) {
                let until = Instant::now() + self.spin;
                let mut spins = 0u32;
                while self.sleep.epoch() == seen {
                    std::hint::spin_loop();
                    spins = spins.wrapping_add(1);
                    // Reading the clock is costly: do it now and then.
                    if spins.is_multiple_of(64) && Instant::now() >= until {
                        break;
                    }
                }
                self.sleep.end_spin();
            }
            if self.sleep.epoch() == seen {
                self.sleep.sleep(seen);
            }
        }
    }
}

/// Lets threads waiting on this pool's semaphores run its work (see [`WaitHelper`]).
pub struct PoolHelper<J: Job>(pub Weak<WorkerPool<J>>);

impl<J: Job> WaitHelper for PoolHelper<J> {
    fn help_once(&self) -> bool {
        self.0.upgrade().is_some_and(|pool| pool.help_once())
    }

    fn spin(&self) -> Duration {
        // While workers run a large region they hold every core: a spinning waiter would only
        // slow them down, so it blocks at once.
        self.0.upgrade().map_or(Duration::ZERO, |pool| {
            if pool.find(|e| e.has_large_region()).is_some() {
                Duration::ZERO
            } else {
                pool.spin
            }
        })
    }
}

/// The worker threads of one device, joined when it drops.
pub struct Pool<J: Job> {
    shared: Arc<WorkerPool<J>>,
    threads: Vec<JoinHandle<()>>,
}

fn pin_to(cpu: usize) {
    // SAFETY: `set` is a plain bit set sized for `cpu_set_t`; sched_setaffinity only reads it.
    // A failure (CPU offline, restricted cgroup) leaves the thread unpinned, which is harmless.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

impl<J: Job> Pool<J> {
    /// Starts `options.workers` threads.
    pub fn start(options: &TaskDeviceOptions) -> hal_core::Result<Pool<J>> {
        let shared = Arc::new(WorkerPool {
            active: Mutex::new(Vec::new()),
            active_count: AtomicUsize::new(0),
            sleep: Sleep::default(),
            shutdown: AtomicBool::new(false),
            workers: options.workers,
            help_wait: options.help_wait,
            outside_runner: AtomicBool::new(false),
            spin: options.spin,
            max_spinners: options.workers.min(
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .saturating_sub(1),
            ),
        });
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut threads = Vec::with_capacity(options.workers);
        for index in 0..options.workers {
            let worker = shared.clone();
            let cpu = match options.affinity {
                Affinity::None => None,
                Affinity::Cores => Some(index % cpus),
            };
            let thread = std::thread::Builder::new()
                .name(format!("local-task-{index}"))
                .spawn(move || {
                    WORKER_OF.with(|w| w.set(Arc::as_ptr(&worker) as usize));
                    if let Some(cpu) = cpu {
                        pin_to(cpu);
                    }
                    worker.worker_loop(cpu);
                })
                .map_err(|e| {
                    hal_core::Status::resource_exhausted(format!(
                        "cannot start worker thread {index}: {e}"
                    ))
                })?;
            threads.push(thread);
        }
        Ok(Pool { shared, threads })
    }

    /// The shared state.
    pub fn shared(&self) -> &Arc<WorkerPool<J>> {
        &self.shared
    }
}

impl<J: Job> Drop for Pool<J> {
    /// Workers finish the work already announced, then exit. Work that becomes ready later runs
    /// on the thread that makes it ready.
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.sleep.notify(usize::MAX);
        let me = Arc::as_ptr(&self.shared) as usize;
        if WORKER_OF.with(|w| w.get()) == me {
            return; // Dropped on one of our own workers: it cannot join itself.
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
