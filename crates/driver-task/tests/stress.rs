//! Thousands of submissions forming a random DAG, from several threads, with host-signalled
//! semaphores mixed in and kernel failures injected at random. Everything must complete or fail
//! exactly as the dependencies say, within a bounded time: no deadlock, no lost signal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hal_core::{
    create_device, BufferParams, BufferRef, Device, Executable, ExecutableParams, Semaphore,
    StatusCode, WaitMode, Workgroups,
};
use parking_lot::Mutex;

use cts_kernels as _;
use driver_task as _;
use loader_static as _;

const THREADS: usize = 3;
const OPS_PER_THREAD: usize = 1000;
const CHAINS: usize = 16;
const HOST_SEMAPHORES: usize = 3;
const HOST_MAX: u64 = 40;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What an operation is, for checking the outcome.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Part of the healthy DAG: must run exactly once.
    Healthy,
    /// An injected kernel failure, signalling its own semaphore.
    Failing,
    /// Waits on an injected failure (and healthy work): must fail without running.
    Victim,
}

struct Recorded {
    /// Per chain: the last value assigned.
    last: Vec<u64>,
    /// Each operation's kind, and the private semaphore of failing operations and victims.
    ops: Vec<(Kind, Option<Semaphore>)>,
}

fn kernels(device: &Device) -> Executable {
    let cache = device.create_executable_cache().unwrap();
    cache
        .prepare_executable(&ExecutableParams::new(
            "static",
            cts_kernels::KERNELS_LIBRARY_NAME.as_bytes(),
        ))
        .unwrap()
}

fn run_stress(uri: &str, seed: u64) {
    let started = Instant::now();
    let device = create_device(uri).unwrap();
    let executable = kernels(&device);
    let (visit, fail) = (
        executable.lookup_export("visit").unwrap(),
        executable.lookup_export("fail").unwrap(),
    );
    let total = THREADS * OPS_PER_THREAD;
    let buffer = device
        .allocate_buffer(BufferParams::default(), (total * 4) as u64)
        .unwrap();
    let chains: Vec<Semaphore> = (0..CHAINS)
        .map(|_| device.create_semaphore(0).unwrap())
        .collect();
    let hosts: Vec<Semaphore> = (0..HOST_SEMAPHORES)
        .map(|_| device.create_semaphore(0).unwrap())
        .collect();
    let state = Mutex::new(Recorded {
        last: vec![0; CHAINS],
        ops: Vec::new(),
    });

    std::thread::scope(|scope| {
        // Host signals, mixed in while the submitters run.
        let hosts_ref = &hosts;
        scope.spawn(move || {
            for value in 1..=HOST_MAX {
                std::thread::sleep(Duration::from_micros(200));
                for host in hosts_ref {
                    host.signal(value).unwrap();
                }
            }
        });
        for thread in 0..THREADS {
            let (state, chains, hosts, device, executable, buffer) =
                (&state, &chains, &hosts, &device, &executable, &buffer);
            scope.spawn(move || {
                let mut rng = Rng(seed ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                for _ in 0..OPS_PER_THREAD {
                    // Waits and signal values are chosen, and the operation submitted, under the
                    // lock, so each chain's values are enqueued in order.
                    let mut state = state.lock();
                    let id = state.ops.len();
                    let failing: Vec<Semaphore> = state
                        .ops
                        .iter()
                        .filter(|(kind, _)| *kind == Kind::Failing)
                        .filter_map(|(_, s)| s.clone())
                        .collect();
                    let roll = rng.below(100);
                    let kind = if roll == 0 {
                        Kind::Failing
                    } else if roll == 1 && !failing.is_empty() {
                        Kind::Victim
                    } else {
                        Kind::Healthy
                    };
                    // Waits: healthy chain values (any reached or future one), host values.
                    let mut waits = Vec::new();
                    for _ in 0..rng.below(3) {
                        let other = rng.below(CHAINS as u64) as usize;
                        if state.last[other] > 0 {
                            waits.push(chains[other].at(1 + rng.below(state.last[other])));
                        }
                    }
                    if rng.below(4) == 0 {
                        waits.push(
                            hosts[rng.below(HOST_SEMAPHORES as u64) as usize]
                                .at(1 + rng.below(HOST_MAX)),
                        );
                    }
                    let binding = [BufferRef::range(buffer, (id * 4) as u64, 4)];
                    let groups = Workgroups::Static([1, 1, 1]);
                    let private = match kind {
                        Kind::Healthy => {
                            let chain = rng.below(CHAINS as u64) as usize;
                            let value = state.last[chain] + 1;
                            // The previous value of the chain first, so its signals stay in order.
                            waits.push(chains[chain].at(value - 1));
                            state.last[chain] = value;
                            let signals = [chains[chain].at(value)];
                            device
                                .queue_dispatch(
                                    &waits,
                                    &signals,
                                    executable,
                                    visit,
                                    groups,
                                    &[],
                                    &binding,
                                )
                                .unwrap();
                            None
                        }
                        Kind::Failing => {
                            let own = device.create_semaphore(0).unwrap();
                            device
                                .queue_dispatch(
                                    &waits,
                                    &[own.at(1)],
                                    executable,
                                    fail,
                                    groups,
                                    &[],
                                    &[],
                                )
                                .unwrap();
                            Some(own)
                        }
                        Kind::Victim => {
                            let own = device.create_semaphore(0).unwrap();
                            waits.push(failing[rng.below(failing.len() as u64) as usize].at(1));
                            device
                                .queue_dispatch(
                                    &waits,
                                    &[own.at(1)],
                                    executable,
                                    visit,
                                    groups,
                                    &[],
                                    &binding,
                                )
                                .unwrap();
                            Some(own)
                        }
                    };
                    state.ops.push((kind, private));
                }
            });
        }
    });

    // Everything resolves within the bound: healthy chains reach their last values, every
    // private semaphore fails with the kernel's error.
    let state = state.into_inner();
    let bound = Duration::from_secs(30);
    let chain_points: Vec<_> = chains
        .iter()
        .zip(&state.last)
        .map(|(s, &v)| s.at(v))
        .collect();
    device
        .wait_semaphores(WaitMode::All, &chain_points, bound)
        .unwrap();
    device
        .wait_semaphores(WaitMode::All, &[hosts[0].at(HOST_MAX)], bound)
        .unwrap();
    let visited = buffer.read_elements::<u32>(0, state.ops.len()).unwrap();
    let mut counts = [0usize; 3];
    for (id, (kind, private)) in state.ops.iter().enumerate() {
        counts[*kind as usize] += 1;
        match kind {
            Kind::Healthy => assert_eq!(
                visited[id], 1,
                "healthy operation {id} ran {} times",
                visited[id]
            ),
            Kind::Failing | Kind::Victim => {
                let error = private.as_ref().unwrap().wait(1, bound).unwrap_err();
                assert_eq!(
                    error.code(),
                    StatusCode::Internal,
                    "operation {id} ({kind:?}): {error}"
                );
                assert_eq!(visited[id], 0, "operation {id} ({kind:?}) ran");
            }
        }
    }
    assert!(
        counts[Kind::Failing as usize] > 0 && counts[Kind::Victim as usize] > 0,
        "no failures injected: {counts:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn random_dags_with_host_signals_and_failures() {
    for seed in [1, 2, 3] {
        run_stress("local-task", seed);
    }
}

#[test]
fn random_dags_on_one_worker_without_helping() {
    run_stress("local-task://?workers=1&help_wait=false&spin_us=0", 7);
}

#[test]
fn concurrent_devices_share_nothing() {
    let devices: Vec<Arc<Device>> = (0..3)
        .map(|_| Arc::new(create_device("local-task://?workers=2").unwrap()))
        .collect();
    std::thread::scope(|scope| {
        for device in &devices {
            scope.spawn(move || {
                let executable = kernels(device);
                let ids = executable.lookup_export("workgroup_ids").unwrap();
                let buffer = device
                    .allocate_buffer(BufferParams::default(), 4096 * 4)
                    .unwrap();
                let done = device.create_semaphore(0).unwrap();
                for round in 1..=50u64 {
                    device
                        .queue_dispatch(
                            &[],
                            &[done.at(round)],
                            &executable,
                            ids,
                            Workgroups::Static([4096, 1, 1]),
                            &[],
                            &[BufferRef::whole(&buffer)],
                        )
                        .unwrap();
                    done.wait(round, Duration::from_secs(30)).unwrap();
                    let values = buffer.read_elements::<u32>(0, 4096).unwrap();
                    assert!(values.iter().enumerate().all(|(i, &v)| v == i as u32));
                }
            });
        }
    });
}
