//! The queue calls of a [`Device`]: each is validated here, once for all drivers, and becomes
//! one [`QueueOperation`] the driver runs once its waits are reached.

use crate::buffer::{check_no_overlap, Buffer};
use crate::buffer_ref::{BindingTableEntry, BufferRef};
use crate::command_buffer::{
    check_indirect_parameters, resolve_direct_refs, validate_dispatch_shape, CommandBuffer,
    DispatchOptions,
};
use crate::device::Device;
use crate::executable::Executable;
use crate::fill_pattern::{check_fill_alignment, FillPattern};
use crate::memory::{BufferParams, BufferUsage, DeviceSize};
use crate::queue::{QueueOperation, QueueWork};
use crate::semaphore::Timepoint;
use crate::status::{Result, Status};
use crate::workgroups::WorkgroupCount;
use crate::workgroups::{workgroup_total, Workgroups};

fn entry(
    buffer: &Buffer,
    offset: DeviceSize,
    length: DeviceSize,
    usage: BufferUsage,
    what: &str,
) -> Result<BindingTableEntry> {
    buffer.require_usage(usage, what)?;
    let length = buffer
        .resolve_range(offset, length)
        .map_err(|s| s.with_context(what.to_string()))?;
    Ok(BindingTableEntry {
        buffer: buffer.clone(),
        offset,
        length,
    })
}

fn check_signals(signals: &[Timepoint]) -> Result<()> {
    for (i, signal) in signals.iter().enumerate() {
        if signals[..i]
            .iter()
            .any(|other| other.semaphore.ptr_eq(&signal.semaphore))
        {
            return Err(Status::invalid_argument(format!(
                "signal list names the same semaphore twice (entry {i}, value {})",
                signal.value
            )));
        }
    }
    Ok(())
}

/// Runs a user's host call, turning a panic into a status: the call runs on whichever thread
/// releases it (a signalling host thread, a worker), and an unwinding panic there would skip the
/// completion of this operation and of everything that thread was about to run.
fn catch_host_call_panic(call: impl FnOnce() -> Result<()>) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        Err(Status::internal(format!("host call panicked: {what}")))
    })
}

impl Device {
    fn submit(&self, waits: &[Timepoint], signals: &[Timepoint], work: QueueWork) -> Result<()> {
        check_signals(signals)?;
        self.inner().queue_submit(QueueOperation {
            waits: waits.to_vec(),
            signals: signals.to_vec(),
            work,
        })
    }

    /// Once `waits` are reached, runs `command_buffer` with `binding_table`, then signals.
    ///
    /// Slot `i` of the table is `binding_table[i]`: a direct reference to a buffer range, or
    /// `None` for an empty slot (IREE's slot numbers have gaps). Empty slots are accepted as long
    /// as no recorded command uses them; a used slot that is empty, missing, too short or of the
    /// wrong usage refuses the call with an error naming the slot (see
    /// [`CommandBuffer::prepare_submit`]). Pass `&[]` for a buffer that uses no slots.
    pub fn queue_execute(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        command_buffer: &CommandBuffer,
        binding_table: &[Option<BufferRef<'_>>],
    ) -> Result<()> {
        // Everything that can refuse the call comes before the one-shot claim is committed, so
        // a refused call has no effect.
        check_signals(signals)?;
        let (binding_table, claim) = command_buffer.prepare_submit(binding_table)?;
        let submission = command_buffer.inner().submission();
        self.inner().queue_submit(QueueOperation {
            waits: waits.to_vec(),
            signals: signals.to_vec(),
            work: QueueWork::Execute {
                submission,
                binding_table,
            },
        })?;
        claim.commit();
        Ok(())
    }

    /// Once `waits` are reached, signals `signals`.
    pub fn queue_barrier(&self, waits: &[Timepoint], signals: &[Timepoint]) -> Result<()> {
        self.submit(waits, signals, QueueWork::Barrier)
    }

    /// Fills `[offset, offset + length)` of `target` with `pattern`.
    pub fn queue_fill(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        target: &Buffer,
        offset: DeviceSize,
        length: DeviceSize,
        pattern: FillPattern,
    ) -> Result<()> {
        let target = entry(
            target,
            offset,
            length,
            BufferUsage::TRANSFER_TARGET,
            "queue fill target",
        )?;
        check_fill_alignment(target.offset, target.length, pattern)?;
        self.submit(waits, signals, QueueWork::Fill { target, pattern })
    }

    /// Writes `data` at `offset` of `target`. The bytes are captured now, whatever the waits.
    pub fn queue_update(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        data: &[u8],
        target: &Buffer,
        offset: DeviceSize,
    ) -> Result<()> {
        let target = entry(
            target,
            offset,
            data.len() as DeviceSize,
            BufferUsage::TRANSFER_TARGET,
            "queue update target",
        )?;
        self.submit(
            waits,
            signals,
            QueueWork::Update {
                data: data.to_vec(),
                target,
            },
        )
    }

    /// Copies `length` bytes from `source` at `source_offset` to `target` at `target_offset`.
    #[allow(clippy::too_many_arguments)]
    pub fn queue_copy(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        source: &Buffer,
        source_offset: DeviceSize,
        target: &Buffer,
        target_offset: DeviceSize,
        length: DeviceSize,
    ) -> Result<()> {
        let source = entry(
            source,
            source_offset,
            length,
            BufferUsage::TRANSFER_SOURCE,
            "queue copy source",
        )?;
        let target = entry(
            target,
            target_offset,
            source.length,
            BufferUsage::TRANSFER_TARGET,
            "queue copy target",
        )?;
        if source.buffer.same_allocation(&target.buffer) {
            check_no_overlap(
                source.buffer.storage_offset() + source.offset,
                target.buffer.storage_offset() + target.offset,
                source.length,
            )?;
        }
        self.submit(waits, signals, QueueWork::Copy { source, target })
    }

    /// Dispatches export `ordinal` of `executable` without a command buffer. The same as
    /// [`Device::queue_dispatch_with`] with default [`DispatchOptions`].
    #[allow(clippy::too_many_arguments)]
    pub fn queue_dispatch(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        executable: &Executable,
        ordinal: u32,
        workgroups: Workgroups<'_>,
        constants: &[u32],
        bindings: &[BufferRef<'_>],
    ) -> Result<()> {
        self.queue_dispatch_with(
            waits,
            signals,
            executable,
            ordinal,
            workgroups,
            constants,
            bindings,
            DispatchOptions::default(),
        )
    }

    /// [`Device::queue_dispatch`] with `options`: dynamic workgroup local memory beyond the
    /// export's static amount. Options out of range ([`DispatchOptions::validate`]) refuse the
    /// call with `OUT_OF_RANGE` naming the value and the limit.
    #[allow(clippy::too_many_arguments)]
    pub fn queue_dispatch_with(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        executable: &Executable,
        ordinal: u32,
        workgroups: Workgroups<'_>,
        constants: &[u32],
        bindings: &[BufferRef<'_>],
        options: DispatchOptions,
    ) -> Result<()> {
        let export = validate_dispatch_shape(executable, ordinal, constants, bindings)?;
        options.validate(export)?;
        let mut resolved = resolve_direct_refs(bindings, "queue dispatch binding")?;
        for (index, binding) in resolved.iter_mut().enumerate() {
            if !binding
                .buffer
                .usage()
                .intersects(BufferUsage::DISPATCH_STORAGE | BufferUsage::DISPATCH_UNIFORM_READ)
            {
                return Err(Status::permission_denied(format!(
                    "dispatch binding {index} needs a DISPATCH_STORAGE usage, but the buffer allows only {:?}",
                    binding.buffer.usage()
                )));
            }
        }
        let workgroups = match workgroups {
            Workgroups::Static(counts) => {
                workgroup_total(counts)?;
                WorkgroupCount::Static(counts)
            }
            Workgroups::Indirect(parameters) => {
                let entry =
                    resolve_direct_refs(&[parameters], "indirect workgroup count")?.remove(0);
                entry.buffer.require_usage(
                    BufferUsage::DISPATCH_INDIRECT_PARAMETERS,
                    "indirect workgroup count",
                )?;
                check_indirect_parameters(entry.offset, Some(entry.length))?;
                WorkgroupCount::Indirect(entry)
            }
        };
        self.submit(
            waits,
            signals,
            QueueWork::Dispatch {
                executable: executable.clone(),
                ordinal,
                workgroups,
                constants: constants.to_vec(),
                bindings: resolved,
                dynamic_local_memory: options.dynamic_local_memory,
            },
        )
    }

    /// Returns a buffer at once whose memory is allocated when `waits` are reached; it may be
    /// used by work that waits for `signals`.
    pub fn queue_alloca(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        params: BufferParams,
        size: DeviceSize,
    ) -> Result<Buffer> {
        let buffer = self.allocator().allocate_uncommitted(params, size)?;
        self.submit(
            waits,
            signals,
            QueueWork::Alloca {
                buffer: buffer.clone(),
            },
        )?;
        Ok(buffer)
    }

    /// Releases `buffer`'s memory once `waits` are reached. Later use of the buffer is an error.
    pub fn queue_dealloca(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        buffer: &Buffer,
    ) -> Result<()> {
        self.submit(
            waits,
            signals,
            QueueWork::Dealloca {
                buffer: buffer.clone(),
            },
        )
    }

    /// Calls `call` on a host thread once `waits` are reached; an error it returns fails the
    /// signal semaphores. A panic in `call` is caught where it is called and fails the signal
    /// semaphores with `INTERNAL` naming the panic; it never unwinds into the runtime or the
    /// thread that happens to run the call.
    pub fn queue_host_call(
        &self,
        waits: &[Timepoint],
        signals: &[Timepoint],
        call: impl FnOnce() -> Result<()> + Send + 'static,
    ) -> Result<()> {
        self.submit(
            waits,
            signals,
            QueueWork::HostCall {
                call: Box::new(move || catch_host_call_panic(call)),
            },
        )
    }

    /// Makes sure queued work will make progress.
    pub fn queue_flush(&self) -> Result<()> {
        self.inner().queue_flush()
    }
}
