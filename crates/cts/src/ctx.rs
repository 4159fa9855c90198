//! What a case gets: the device, the format and binding mode of its instance, and helpers to
//! make buffers, prepare the test libraries, and record and submit command buffers in either
//! binding mode.

use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use hal_core::{
    Buffer, BufferParams, BufferRef, CommandBuffer, CommandBufferMode, CommandBufferParams,
    CommandCategory, DeviceSize, Executable, ExecutableParams, Semaphore, Timepoint,
};

use crate::{Backend, Format, Tag, TestLibrary};

/// The bound on every blocking wait in a case: a bug fails the case instead of hanging it.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// How commands of a `[both]` case reference buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BindingMode {
    /// Buffers are named at record time.
    Direct,
    /// Buffers are slots of a binding table given at submit (slot i = the i-th buffer).
    Table,
}

impl BindingMode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            BindingMode::Direct => "direct",
            BindingMode::Table => "table",
        }
    }
}

/// How long a recorded command buffer lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// One-shot, inline execution allowed in direct mode (a plain one-shot in table mode).
    /// Only for work whose waits are already reached.
    Inline,
    /// One-shot, never executed while recorded: safe for work that waits.
    OneShot,
    /// Reusable: replayed at each submit.
    Reusable,
}

/// Buffer references for the current binding mode: direct references to `buffers[i]`, or slot
/// `i` of the binding table [`Ctx::table`] builds from the same list.
pub(crate) struct Refs<'b> {
    buffers: Vec<&'b Buffer>,
    mode: BindingMode,
}

impl<'b> Refs<'b> {
    /// The whole of buffer `i`.
    pub(crate) fn whole(&self, i: usize) -> BufferRef<'b> {
        self.range(i, 0, hal_core::WHOLE_BUFFER)
    }

    /// `[offset, offset + length)` of buffer `i`.
    pub(crate) fn range(&self, i: usize, offset: DeviceSize, length: DeviceSize) -> BufferRef<'b> {
        match self.mode {
            BindingMode::Direct => BufferRef::range(self.buffers[i], offset, length),
            BindingMode::Table => BufferRef::slot(i as u32, offset, length),
        }
    }
}

/// The test library `Kernels`, with its exports looked up by name.
pub(crate) struct Kernels {
    pub exe: Executable,
}

impl Kernels {
    /// The ordinal of export `name`.
    pub(crate) fn ord(&self, name: &str) -> Result<u32> {
        self.exe
            .lookup_export(name)
            .with_context(|| format!("looking up test export '{name}'"))
    }
}

/// The context of one case instance.
pub(crate) struct Ctx<'a> {
    pub backend: &'a Backend,
    pub device: hal_core::Device,
    format: Option<&'a Format>,
    mode: Option<BindingMode>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        backend: &'a Backend,
        device: hal_core::Device,
        format: Option<&'a Format>,
        mode: Option<BindingMode>,
    ) -> Ctx<'a> {
        Ctx {
            backend,
            device,
            format,
            mode,
        }
    }

    /// Whether the backend supports `tag` (for cases that add optional checks).
    pub(crate) fn has(&self, tag: Tag) -> bool {
        self.backend.tags.contains(&tag)
    }

    /// The executable format of this instance.
    pub(crate) fn format(&self) -> Result<&'a Format> {
        self.format
            .ok_or_else(|| anyhow!("internal: case needs a format but has none"))
    }

    /// The binding mode of this instance (direct for cases that run once).
    pub(crate) fn mode(&self) -> BindingMode {
        self.mode.unwrap_or(BindingMode::Direct)
    }

    /// A new semaphore.
    pub(crate) fn semaphore(&self, initial: u64) -> Result<Semaphore> {
        Ok(self.device.create_semaphore(initial)?)
    }

    /// A zeroed buffer with default parameters (transfer, dispatch, indirect, mapping).
    pub(crate) fn buffer(&self, size: DeviceSize) -> Result<Buffer> {
        self.device
            .allocate_buffer(BufferParams::default(), size)
            .with_context(|| format!("allocating a {size}-byte buffer"))
    }

    /// A buffer holding `bytes`.
    pub(crate) fn buffer_bytes(&self, bytes: &[u8]) -> Result<Buffer> {
        let buffer = self.buffer(bytes.len() as DeviceSize)?;
        buffer.write(0, bytes)?;
        Ok(buffer)
    }

    /// A buffer holding `values`.
    pub(crate) fn buffer_u32(&self, values: &[u32]) -> Result<Buffer> {
        let buffer = self.buffer(4 * values.len() as DeviceSize)?;
        buffer.write_elements(0, values)?;
        Ok(buffer)
    }

    /// A buffer holding `values`.
    pub(crate) fn buffer_f32(&self, values: &[f32]) -> Result<Buffer> {
        let buffer = self.buffer(4 * values.len() as DeviceSize)?;
        buffer.write_elements(0, values)?;
        Ok(buffer)
    }

    /// Prepares `library` of this instance's format with executable constants.
    pub(crate) fn prepare(
        &self,
        library: TestLibrary,
        constants: &[u32],
    ) -> hal_core::Result<Executable> {
        let format = self
            .format
            .ok_or_else(|| hal_core::Status::internal("case has no format"))?;
        let data = (format.library)(library);
        let cache = self.device.create_executable_cache()?;
        cache.prepare_executable(&ExecutableParams {
            format: format.name,
            data: &data,
            constants,
        })
    }

    /// The `Kernels` library of this instance's format.
    pub(crate) fn kernels(&self) -> Result<Kernels> {
        let exe = self
            .prepare(TestLibrary::Kernels, &[])
            .context("preparing the Kernels test library")?;
        Ok(Kernels { exe })
    }

    /// Command buffer parameters for `lifetime` in the current binding mode with `slots`
    /// binding-table slots.
    pub(crate) fn params(&self, lifetime: Lifetime, slots: usize) -> CommandBufferParams {
        let binding_capacity = match self.mode() {
            BindingMode::Direct => 0,
            BindingMode::Table => slots as u32,
        };
        let mode = match (lifetime, self.mode()) {
            (Lifetime::Inline, BindingMode::Direct) => {
                CommandBufferMode::ONE_SHOT | CommandBufferMode::ALLOW_INLINE_EXECUTION
            }
            (Lifetime::Inline | Lifetime::OneShot, _) => CommandBufferMode::ONE_SHOT,
            (Lifetime::Reusable, _) => CommandBufferMode::empty(),
        };
        CommandBufferParams {
            mode,
            categories: CommandCategory::ANY,
            binding_capacity,
        }
    }

    /// Creates, begins, records (through `record`, with references to `buffers` in the current
    /// binding mode) and ends a command buffer.
    pub(crate) fn record<'b>(
        &self,
        lifetime: Lifetime,
        buffers: &[&'b Buffer],
        record: impl FnOnce(&mut CommandBuffer, &Refs<'b>) -> hal_core::Result<()>,
    ) -> hal_core::Result<CommandBuffer> {
        let mut command_buffer = self
            .device
            .create_command_buffer(self.params(lifetime, buffers.len()))?;
        command_buffer.begin()?;
        let refs = Refs {
            buffers: buffers.to_vec(),
            mode: self.mode(),
        };
        record(&mut command_buffer, &refs)?;
        command_buffer.end()?;
        Ok(command_buffer)
    }

    /// The binding table for `buffers` in the current mode: empty for direct references.
    pub(crate) fn table<'b>(&self, buffers: &[&'b Buffer]) -> Vec<Option<BufferRef<'b>>> {
        match self.mode() {
            BindingMode::Direct => Vec::new(),
            BindingMode::Table => buffers.iter().map(|b| Some(BufferRef::whole(b))).collect(),
        }
    }

    /// Submits `command_buffer` with the table for `buffers`, with no waits, and waits (bounded)
    /// for it to complete. A failed submission is the error.
    pub(crate) fn submit_and_wait(
        &self,
        command_buffer: &CommandBuffer,
        buffers: &[&Buffer],
    ) -> hal_core::Result<()> {
        let done = self.device.create_semaphore(0)?;
        self.device
            .queue_execute(&[], &[done.at(1)], command_buffer, &self.table(buffers))?;
        done.wait(1, WAIT)
    }

    /// Records a one-shot command buffer (inline in direct mode), submits it and waits.
    pub(crate) fn execute<'b>(
        &self,
        buffers: &[&'b Buffer],
        record: impl FnOnce(&mut CommandBuffer, &Refs<'b>) -> hal_core::Result<()>,
    ) -> hal_core::Result<()> {
        let command_buffer = self.record(Lifetime::Inline, buffers, record)?;
        self.submit_and_wait(&command_buffer, buffers)
    }

    /// Waits (bounded) for all timepoints.
    pub(crate) fn wait_all(&self, timepoints: &[Timepoint]) -> hal_core::Result<()> {
        self.device
            .wait_semaphores(hal_core::WaitMode::All, timepoints, WAIT)
    }
}

/// Reads a buffer's contents as bytes.
pub(crate) fn read_bytes(buffer: &Buffer) -> Result<Vec<u8>> {
    let mut bytes = vec![0; buffer.len() as usize];
    buffer.read(0, &mut bytes)?;
    Ok(bytes)
}

/// Reads a buffer's contents as u32s.
pub(crate) fn read_u32(buffer: &Buffer) -> Result<Vec<u32>> {
    Ok(buffer.read_elements(0, buffer.len() as usize / 4)?)
}

/// Reads a buffer's contents as f32s.
pub(crate) fn read_f32(buffer: &Buffer) -> Result<Vec<f32>> {
    Ok(buffer.read_elements(0, buffer.len() as usize / 4)?)
}

/// Checks that `semaphore` has not reached `value` yet (and did not fail).
pub(crate) fn expect_pending(semaphore: &Semaphore, value: u64, what: &str) -> Result<()> {
    let current = semaphore
        .query()
        .with_context(|| format!("{what}: querying"))?;
    anyhow::ensure!(
        current < value,
        "{what}: expected the semaphore below {value}, it is at {current}"
    );
    Ok(())
}
