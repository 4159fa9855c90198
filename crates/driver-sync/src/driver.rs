//! The local-sync driver: one device, the host CPU.

use std::sync::Arc;

use hal_core::{Device, DeviceInfo, DeviceParams, DriverImpl, ParameterInfo, Result, Status};
use hal_local::{registered_loaders, ExecutableLoader};

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

/// Picks the loaders named in `list` from `available`, naming the first unknown one.
fn select_loaders(
    list: &str,
    available: Vec<Arc<dyn ExecutableLoader>>,
) -> Result<Vec<Arc<dyn ExecutableLoader>>> {
    let mut selected = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let loader = available.iter().find(|l| l.name() == name).ok_or_else(|| {
            let names: Vec<&str> = available.iter().map(|l| l.name()).collect();
            Status::invalid_argument(format!(
                "parameter 'loaders' names unknown loader '{name}'; linked loaders: {names:?}"
            ))
        })?;
        if !selected
            .iter()
            .any(|l: &Arc<dyn ExecutableLoader>| Arc::ptr_eq(l, loader))
        {
            selected.push(loader.clone());
        }
    }
    Ok(selected)
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
            options.loaders = select_loaders(list, registered_loaders())?;
        }
        if let Some(inline) = params.get_bool("inline_execution")? {
            options.inline_execution = inline;
        }
        Ok(SyncDevice::create(info.clone(), options))
    }
}
