//! The local-sync driver: one device, the host CPU.

use hal_core::{Device, DeviceInfo, DeviceParams, DriverImpl, ParameterInfo, Result};
use hal_local::{registered_loaders, select_loaders};

use crate::device::{SyncDevice, SyncDeviceOptions};

/// URI parameters of local-sync devices.
pub const PARAMETERS: &[ParameterInfo] = &[
    ParameterInfo {
        name: "loaders",
        description:
            "comma-separated executable loader names to enable (default: every linked loader)",
    },
    ParameterInfo {
        name: "inline_execution",
        description:
            "true/false: run one-shot inline command buffers while recording (default true)",
    },
    ParameterInfo {
        name: "memory_limit",
        description: "bytes of buffer memory the allocator keeps live at once (default unlimited)",
    },
];

/// The local-sync driver.
#[derive(Debug, Default)]
pub struct SyncDriver;

/// The only device's path in URIs (`local-sync://host`).
pub const DEVICE_PATH: &str = "host";

fn device_info() -> DeviceInfo {
    DeviceInfo {
        id: 0,
        name: "host CPU (synchronous)".to_string(),
        path: DEVICE_PATH.to_string(),
    }
}

impl DriverImpl for SyncDriver {
    fn name(&self) -> &str {
        crate::DRIVER_NAME
    }

    fn parameters(&self) -> &'static [ParameterInfo] {
        PARAMETERS
    }

    fn enumerate_devices(&self) -> Result<Vec<DeviceInfo>> {
        Ok(vec![device_info()])
    }

    fn create_device(&self, info: &DeviceInfo, params: &DeviceParams) -> Result<Device> {
        let mut options = SyncDeviceOptions::default();
        if let Some(list) = params.get("loaders") {
            options.loaders = select_loaders(list, &registered_loaders())?;
        }
        if let Some(inline) = params.get_bool("inline_execution")? {
            options.inline_execution = inline;
        }
        options.memory_limit = params.get_u64("memory_limit", 0, u64::MAX)?;
        Ok(SyncDevice::create(info.clone(), options))
    }
}
