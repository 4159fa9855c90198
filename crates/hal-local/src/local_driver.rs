//! The local drivers' driver: one device, the host CPU, created by the driver's own function.

use hal_core::{Device, DeviceInfo, DeviceParams, DriverImpl, ParameterInfo, Result};

/// The path of a local driver's only device in URIs (`local-sync://host`).
pub const LOCAL_DEVICE_PATH: &str = "host";

/// A CPU driver: one device (id 0, path [`LOCAL_DEVICE_PATH`]), the host CPU.
#[derive(Clone, Copy, Debug)]
pub struct LocalDriver {
    /// The registered driver name.
    pub name: &'static str,
    /// The device's human-readable name.
    pub device_name: &'static str,
    /// The URI parameters its devices accept.
    pub parameters: &'static [ParameterInfo],
    /// Creates the device from its info and URI parameters (only known ones reach it).
    pub create_device: fn(DeviceInfo, &DeviceParams) -> Result<Device>,
}

impl DriverImpl for LocalDriver {
    fn name(&self) -> &str {
        self.name
    }

    fn parameters(&self) -> &'static [ParameterInfo] {
        self.parameters
    }

    fn enumerate_devices(&self) -> Result<Vec<DeviceInfo>> {
        Ok(vec![DeviceInfo {
            id: 0,
            name: self.device_name.to_string(),
            path: LOCAL_DEVICE_PATH.to_string(),
        }])
    }

    fn create_device(&self, info: &DeviceInfo, params: &DeviceParams) -> Result<Device> {
        (self.create_device)(info.clone(), params)
    }
}
