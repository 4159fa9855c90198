//! The local-task driver: one device, the host CPU's cores.

use hal_core::{Device, DeviceInfo, DeviceParams, DriverImpl, ParameterInfo, Result};

use crate::device::TaskDevice;
use crate::options::{TaskDeviceOptions, PARAMETERS};

/// The only device's path in URIs (`local-task://host`).
pub const DEVICE_PATH: &str = "host";

/// The local-task driver.
#[derive(Debug, Default)]
pub struct TaskDriver;

impl DriverImpl for TaskDriver {
    fn name(&self) -> &str {
        crate::DRIVER_NAME
    }

    fn parameters(&self) -> &'static [ParameterInfo] {
        PARAMETERS
    }

    fn enumerate_devices(&self) -> Result<Vec<DeviceInfo>> {
        Ok(vec![DeviceInfo {
            id: 0,
            name: "host CPU (worker pool)".to_string(),
            path: DEVICE_PATH.to_string(),
        }])
    }

    fn create_device(&self, info: &DeviceInfo, params: &DeviceParams) -> Result<Device> {
        TaskDevice::create(info.clone(), TaskDeviceOptions::from_params(params)?)
    }
}
