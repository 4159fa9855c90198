//! The local-sync device: hal-local's [`LocalDevice`] with work run on the calling threads.

use hal_core::{
    CommandBufferImpl, CommandBufferMode, CommandBufferParams, Device, DeviceInfo, DeviceParams,
    ParameterInfo, QueueWork, Result,
};
use hal_local::{
    execute_work, DeferredCommandBuffer, InlineCommandBuffer, LocalDevice, LocalDeviceOptions,
    QueueExecutor, QueueSignals,
};

/// URI parameters of local-sync devices: the common ones, then `inline_execution`.
pub const PARAMETERS: &[ParameterInfo] = hal_local::with_common_parameters!(ParameterInfo::new(
    "inline_execution",
    "true/false: run one-shot inline command buffers while recording (default true)",
));

/// How to build a local-sync device: the common options (also as `options.loaders`, ... through
/// `Deref`) and inline execution.
#[derive(Clone)]
pub struct SyncDeviceOptions {
    /// Loaders, imports, memory limit and memory source.
    pub common: LocalDeviceOptions,
    /// Whether one-shot command buffers that allow it execute while recorded (default true).
    /// With `false` every command buffer is recorded and replayed at submit.
    pub inline_execution: bool,
}

impl Default for SyncDeviceOptions {
    /// The common defaults, inline execution on.
    fn default() -> SyncDeviceOptions {
        SyncDeviceOptions {
            common: LocalDeviceOptions::default(),
            inline_execution: true,
        }
    }
}

hal_local::deref_common_options!(SyncDeviceOptions);

impl SyncDeviceOptions {
    /// Defaults overridden by URI parameters ([`PARAMETERS`]); a bad value is an error naming it.
    pub fn from_params(params: &DeviceParams) -> Result<SyncDeviceOptions> {
        let common = LocalDeviceOptions::from_params(params)?;
        let inline_execution = params.get_bool("inline_execution")?.unwrap_or(true);
        Ok(SyncDeviceOptions {
            common,
            inline_execution,
        })
    }
}

/// What local-sync adds to a [`LocalDevice`] (the device is a `LocalDevice<SyncDevice>`): work
/// runs on the thread that submits it, or on the one whose signal reaches its last wait.
pub struct SyncDevice {
    inline_execution: bool,
}

impl SyncDevice {
    /// Creates a device with explicit options (for embedders that bypass the registry).
    pub fn create(info: DeviceInfo, options: SyncDeviceOptions) -> Device {
        let inline_execution = options.inline_execution;
        LocalDevice::create(info, options.common, SyncDevice { inline_execution })
    }
}

impl QueueExecutor for SyncDevice {
    const DRIVER_NAME: &'static str = crate::DRIVER_NAME;

    fn dispatch_concurrency(&self) -> u32 {
        1
    }

    /// Inline for one-shot buffers that allow it and use no binding table (when inline
    /// execution is on); recorded and replayed at submit otherwise.
    fn command_buffer(&self, params: &CommandBufferParams) -> Box<dyn CommandBufferImpl> {
        let inline = self.inline_execution
            && params
                .mode
                .contains(CommandBufferMode::ONE_SHOT | CommandBufferMode::ALLOW_INLINE_EXECUTION)
            && params.binding_capacity == 0;
        if inline {
            Box::new(InlineCommandBuffer::new())
        } else {
            Box::new(DeferredCommandBuffer::new())
        }
    }

    /// Runs the work on this thread, then completes the signals. Everything the work holds
    /// (buffers, executables) is released first, so a waiter woken by them finds it released.
    fn runner(&self) -> impl FnOnce(QueueWork, QueueSignals) + Send + 'static {
        |mut work, signals| {
            let result = execute_work(&mut work);
            drop(work);
            signals.complete(result)
        }
    }
}
