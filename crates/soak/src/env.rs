//! What the threads of one driver × format run share: the device, the conformance kernels of the
//! format, a reusable command buffer every thread submits with its own binding tables, and the
//! ring (work ordered across threads by one semaphore).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBuffer, CommandBufferParams, Device, Executable,
    ExecutableParams, Semaphore, Workgroups, WHOLE_BUFFER,
};

use crate::timeout::WAIT;

/// Elements of 4 bytes each workgroup of an elementwise kernel owns (every format's kernels
/// process whole tiles, see `fixtures/mlir/cts_kernels.mlir`).
pub(crate) const TILE: usize = 64;

/// Workgroups of each dispatch the shared reusable command buffer records.
pub(crate) const REUSABLE_TILES: u32 = 2;

/// Elements of the ring's counter: a ring dispatch of `visit` runs 1 to `RING_WIDTH` workgroups,
/// each adding one to its own element.
pub(crate) const RING_WIDTH: usize = 8;

/// The `Kernels` test library of one format and the ordinals of the exports the soak uses.
pub(crate) struct Kernels {
    pub exe: Executable,
    pub abs: u32,
    pub write_constants: u32,
    pub scale_offset: u32,
    pub negate: u32,
    pub double: u32,
    pub workgroup_ids: u32,
    pub visit: u32,
    pub fail: u32,
    pub copy_via_local_memory: u32,
}

impl Kernels {
    /// Prepares the `Kernels` library of `format` on `device` and looks up its exports.
    pub(crate) fn prepare(device: &Device, format: &cts::Format) -> Result<Kernels> {
        let exe = prepare(device, format, cts::TestLibrary::Kernels, &[])?;
        let ord = |name: &str| {
            exe.lookup_export(name)
                .with_context(|| format!("looking up export '{name}' of format {}", format.name))
        };
        Ok(Kernels {
            abs: ord("abs")?,
            write_constants: ord("write_constants")?,
            scale_offset: ord("scale_offset")?,
            negate: ord("negate")?,
            double: ord("double")?,
            workgroup_ids: ord("workgroup_ids")?,
            visit: ord("visit")?,
            fail: ord("fail")?,
            copy_via_local_memory: ord("copy_via_local_memory")?,
            exe,
        })
    }
}

/// Prepares test library `library` of `format` with executable constants `constants`.
pub(crate) fn prepare(
    device: &Device,
    format: &cts::Format,
    library: cts::TestLibrary,
    constants: &[u32],
) -> Result<Executable> {
    let data = (format.library)(library);
    let cache = device
        .create_executable_cache()
        .context("creating an executable cache")?;
    cache
        .prepare_executable(&ExecutableParams {
            format: format.name,
            data: &data,
            constants,
        })
        .with_context(|| format!("preparing {library:?} of format {}", format.name))
}

/// Work ordered across every thread by one semaphore. Ticket `n` (taken from `next`) runs two
/// operations: a dispatch of `visit` over the counter (waits for `2n`, signals `2n + 1`) and a
/// host call (waits `2n + 1`, signals `2n + 2`) that checks the counter against the sum of
/// every earlier ticket's widths. A thread submits its ticket at once after taking it (so the
/// ring never waits for a thread that blocks), and checks the host call's verdict later.
pub(crate) struct Ring {
    pub semaphore: Semaphore,
    pub next: AtomicU64,
    pub counter: Buffer,
    /// What the counter must hold after the last host call that ran; only host calls touch it,
    /// one at a time in ticket order.
    pub expected: Arc<Mutex<[u32; RING_WIDTH]>>,
}

impl Ring {
    fn new(device: &Device) -> Result<Ring> {
        Ok(Ring {
            semaphore: device
                .create_semaphore(0)
                .context("creating the ring semaphore")?,
            next: AtomicU64::new(0),
            counter: device
                .allocate_buffer(BufferParams::default(), (RING_WIDTH * 4) as u64)
                .context("allocating the ring counter")?,
            expected: Arc::new(Mutex::new([0; RING_WIDTH])),
        })
    }

    /// Tickets taken so far.
    pub(crate) fn tickets(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }
}

/// Everything the threads of one driver × format share.
pub(crate) struct Env {
    pub device: Device,
    pub format: cts::Format,
    pub kernels: Kernels,
    /// The format's `fail` kernel fails its dispatch (the Rust kernels' does; IREE-compiled
    /// kernels cannot return a failure, so theirs does nothing). Probed once at start.
    pub kernel_failures: bool,
    pub ring: Ring,
    /// Reusable, recorded once, submitted by every thread with its own table: slot 0 input
    /// (f32), slot 1 output, slot 2 two u32 visit counters, slot 3 scratch. `double` 0 → 3,
    /// barrier, `negate` 3 → 1 and `visit` over 2; so output = -2 × input and each counter
    /// grows by one per submission.
    pub reusable: CommandBuffer,
}

impl Env {
    /// Prepares the kernels of `format` on `device` and records the shared command buffer.
    pub(crate) fn new(device: Device, format: cts::Format) -> Result<Env> {
        let kernels = Kernels::prepare(&device, &format)?;
        let mut reusable = device
            .create_command_buffer(CommandBufferParams::reusable(4))
            .context("creating the shared reusable command buffer")?;
        let slot = |i| BufferRef::slot(i, 0, WHOLE_BUFFER);
        let tiles = Workgroups::Static([REUSABLE_TILES, 1, 1]);
        (|| -> hal_core::Result<()> {
            reusable.begin()?;
            reusable.dispatch(
                &kernels.exe,
                kernels.double,
                tiles,
                &[],
                &[slot(0), slot(3)],
            )?;
            reusable.execution_barrier()?;
            reusable.dispatch(
                &kernels.exe,
                kernels.negate,
                tiles,
                &[],
                &[slot(3), slot(1)],
            )?;
            reusable.dispatch(&kernels.exe, kernels.visit, tiles, &[], &[slot(2)])?;
            reusable.end()
        })()
        .context("recording the shared reusable command buffer")?;
        let kernel_failures = probe_kernel_failure(&device, &kernels)?;
        Ok(Env {
            kernel_failures,
            ring: Ring::new(&device)?,
            device,
            format,
            kernels,
            reusable,
        })
    }
}

/// Whether a dispatch of `fail` fails (probed: the soak does not assume which formats can).
fn probe_kernel_failure(device: &Device, kernels: &Kernels) -> Result<bool> {
    let done = device.create_semaphore(0)?;
    device
        .queue_dispatch(
            &[],
            &[done.at(1)],
            &kernels.exe,
            kernels.fail,
            Workgroups::Static([1, 1, 1]),
            &[],
            &[],
        )
        .context("dispatching the `fail` kernel once to learn whether it fails")?;
    match done.wait(1, WAIT) {
        Ok(()) => Ok(false),
        Err(status) if status.code() == hal_core::StatusCode::DeadlineExceeded => {
            anyhow::bail!("a dispatch of the `fail` kernel neither completed nor failed: {status}")
        }
        Err(_) => Ok(true),
    }
}
