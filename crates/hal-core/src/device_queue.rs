//! The queue calls of a [`Device`]: each is validated here, once for all drivers, and becomes
//! one [`QueueOperation`] the driver runs once its waits are reached.

use crate::buffer::{check_no_overlap, Buffer};
use crate::buffer_ref::{BindingTableEntry, BufferRef};
use crate::command_buffer::CommandBuffer;
use crate::command_validation::{
    check_indirect_parameters, resolve_direct_refs, validate_dispatch_shape,
};
use crate::device::Device;
use crate::dispatch_options::DispatchOptions;
use crate::executable::Executable;
use crate::fill_pattern::{check_fill_alignment, FillPattern};
use crate::memory::{BufferParams, BufferUsage, DeviceSize};
use crate::queue::{QueueOperation, QueueWork};
use crate::semaphore::Timepoint;
use crate::status::{Result, Status};
use crate::workgroups::{workgroup_total, WorkgroupCount, Workgroups};

/// The range `[offset, offset + length)` of `buffer` (whole: the rest of it) as a queue operation
/// holds it, after checking that the buffer allows `usage` and holds the range; errors name
/// `what`.
fn queued_range(
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
        let target = queued_range(
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
        let target = queued_range(
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
        let source = queued_range(
            source,
            source_offset,
            length,
            BufferUsage::TRANSFER_SOURCE,
            "queue copy source",
        )?;
        let target = queued_range(
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

#[cfg(test)]
mod tests {
    use std::any::Any;
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::allocator::Allocator;
    use crate::command_buffer_impl::CommandBufferImpl;
    use crate::command_buffer_params::CommandBufferParams;
    use crate::device::{DeviceImpl, DeviceInfo};
    use crate::dispatch_options::MAX_DYNAMIC_LOCAL_MEMORY;
    use crate::event::Event;
    use crate::executable_cache::ExecutableCache;
    use crate::recording_command_buffer::{RecordingCommandBuffer, SeenDispatch};
    use crate::semaphore::{Semaphore, WaitMode};
    use crate::status::StatusCode;
    use crate::test_support::{buffer, executable, expect_status, export};
    use crate::timeout::Timeout;

    /// A device whose queue keeps every operation it accepts instead of running it.
    struct RecordingDevice {
        info: DeviceInfo,
        operations: Mutex<Vec<QueueOperation>>,
        command_buffer_dispatches: Arc<Mutex<Vec<SeenDispatch>>>,
    }

    impl RecordingDevice {
        /// A device with an empty queue, and its handle.
        fn create() -> (Arc<RecordingDevice>, Device) {
            let device = Arc::new(RecordingDevice {
                info: DeviceInfo {
                    id: 0,
                    name: "recording".to_string(),
                    path: String::new(),
                },
                operations: Mutex::new(Vec::new()),
                command_buffer_dispatches: Arc::default(),
            });
            (device.clone(), Device::new(device))
        }
    }

    fn not_here<T>() -> Result<T> {
        Err(Status::unimplemented("not part of the recording device"))
    }

    impl DeviceImpl for RecordingDevice {
        fn info(&self) -> &DeviceInfo {
            &self.info
        }
        fn driver_name(&self) -> &str {
            "recording"
        }
        fn allocator(&self) -> Allocator {
            unimplemented!("the recording device has no allocator")
        }
        fn executable_formats(&self) -> Vec<String> {
            Vec::new()
        }
        fn dispatch_concurrency(&self) -> u32 {
            1
        }
        fn create_command_buffer(
            &self,
            _params: &CommandBufferParams,
        ) -> Result<Box<dyn CommandBufferImpl>> {
            Ok(Box::new(RecordingCommandBuffer {
                dispatches: self.command_buffer_dispatches.clone(),
            }))
        }
        fn create_semaphore(&self, _initial_value: u64) -> Result<Semaphore> {
            not_here()
        }
        fn create_event(&self) -> Result<Event> {
            not_here()
        }
        fn create_executable_cache(&self) -> Result<ExecutableCache> {
            not_here()
        }
        fn queue_submit(&self, operation: QueueOperation) -> Result<()> {
            self.operations.lock().push(operation);
            Ok(())
        }
        fn wait_semaphores(
            &self,
            _mode: WaitMode,
            _timepoints: &[Timepoint],
            _timeout: Timeout,
        ) -> Result<()> {
            not_here()
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    /// A reusable buffer with `capacity` slots whose only command copies slot `from` to `to`.
    fn copy_between_slots(device: &Device, capacity: u32, from: u32, to: u32) -> CommandBuffer {
        let mut command_buffer = device
            .create_command_buffer(CommandBufferParams::reusable(capacity))
            .unwrap();
        command_buffer.begin().unwrap();
        command_buffer
            .copy(BufferRef::slot(from, 0, 16), BufferRef::slot(to, 0, 16))
            .unwrap();
        command_buffer.end().unwrap();
        command_buffer
    }

    fn recording(device: &Device) -> CommandBuffer {
        let mut command_buffer = device
            .create_command_buffer(CommandBufferParams::one_shot_inline())
            .unwrap();
        command_buffer.begin().unwrap();
        command_buffer
    }

    #[test]
    fn dynamic_local_memory_past_the_limit_is_refused_naming_value_and_limit() {
        let (recording_device, device) = RecordingDevice::create();
        let mut big = export("big", 0, 1);
        big.local_memory_size = u32::MAX - 100;
        let exe = executable(vec![export("k", 0, 1), big]).unwrap();
        let a = buffer(16);
        let mut command_buffer = recording(&device);
        let too_much = MAX_DYNAMIC_LOCAL_MEMORY + 1;
        let error = command_buffer
            .dispatch_with(
                &exe,
                0,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
                DispatchOptions {
                    dynamic_local_memory: too_much,
                },
            )
            .unwrap_err();
        expect_status(
            error,
            StatusCode::OutOfRange,
            &[
                "'k'",
                &too_much.to_string(),
                &MAX_DYNAMIC_LOCAL_MEMORY.to_string(),
            ],
        );
        // Within the limit, but not with the export's static local memory in 32 bits.
        let error = command_buffer
            .dispatch_with(
                &exe,
                1,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
                DispatchOptions {
                    dynamic_local_memory: 101,
                },
            )
            .unwrap_err();
        expect_status(
            error,
            StatusCode::OutOfRange,
            &["'big'", "101", &(u32::MAX - 100).to_string()],
        );
        assert!(recording_device.command_buffer_dispatches.lock().is_empty());
        // The same options through the queue: refused, nothing queued.
        let error = device
            .queue_dispatch_with(
                &[],
                &[],
                &exe,
                0,
                Workgroups::Static([1, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
                DispatchOptions {
                    dynamic_local_memory: too_much,
                },
            )
            .unwrap_err();
        expect_status(
            error,
            StatusCode::OutOfRange,
            &[&too_much.to_string(), &MAX_DYNAMIC_LOCAL_MEMORY.to_string()],
        );
        assert!(recording_device.operations.lock().is_empty());
    }

    #[test]
    fn queue_dispatch_with_carries_the_dynamic_local_memory() {
        let (recording_device, device) = RecordingDevice::create();
        let exe = executable(vec![export("k", 0, 1)]).unwrap();
        let a = buffer(16);
        for dynamic_local_memory in [0, 8192] {
            device
                .queue_dispatch_with(
                    &[],
                    &[],
                    &exe,
                    0,
                    Workgroups::Static([2, 1, 1]),
                    &[],
                    &[BufferRef::whole(&a)],
                    DispatchOptions {
                        dynamic_local_memory,
                    },
                )
                .unwrap();
        }
        device
            .queue_dispatch(
                &[],
                &[],
                &exe,
                0,
                Workgroups::Static([2, 1, 1]),
                &[],
                &[BufferRef::whole(&a)],
            )
            .unwrap();
        let seen: Vec<u32> = recording_device
            .operations
            .lock()
            .iter()
            .map(|operation| match &operation.work {
                QueueWork::Dispatch {
                    dynamic_local_memory,
                    ..
                } => *dynamic_local_memory,
                other => panic!("expected a dispatch, got {other:?}"),
            })
            .collect();
        assert_eq!(seen, [0, 8192, 0]);
    }

    #[test]
    fn queue_execute_hands_empty_slots_to_the_driver() {
        let (recording, device) = RecordingDevice::create();
        let command_buffer = copy_between_slots(&device, 3, 0, 2);
        let a = buffer(16);
        device
            .queue_execute(
                &[],
                &[],
                &command_buffer,
                &[Some(BufferRef::whole(&a)), None, Some(BufferRef::whole(&a))],
            )
            .unwrap();
        let operations = recording.operations.lock();
        let QueueWork::Execute { binding_table, .. } = &operations[0].work else {
            panic!("expected an execute, got {:?}", operations[0].work);
        };
        let filled: Vec<bool> = binding_table.iter().map(Option::is_some).collect();
        assert_eq!(filled, [true, false, true]);
    }
}
