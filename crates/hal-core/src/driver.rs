//! Drivers and the registry that Cargo features fill.
//!
//! Each driver crate submits one [`DriverRegistration`] through `inventory`. Which drivers a
//! program sees is decided by which driver crates it links (the `hal` facade's features).

use std::sync::Arc;

use crate::device::{Device, DeviceInfo};
use crate::device_params::{DeviceParams, ParameterInfo};
use crate::device_uri::{DeviceSelector, DeviceUri};
use crate::status::{Result, Status};

/// What a driver crate implements.
pub trait DriverImpl: Send + Sync + 'static {
    /// The registered name, for example `local-sync`.
    fn name(&self) -> &str;
    /// The URI parameters the driver's devices accept.
    fn parameters(&self) -> &'static [ParameterInfo];
    /// The devices the driver can create.
    fn enumerate_devices(&self) -> Result<Vec<DeviceInfo>>;
    /// Creates the device `info` (one of `enumerate_devices`) with checked-known parameters.
    fn create_device(&self, info: &DeviceInfo, params: &DeviceParams) -> Result<Device>;
}

/// A driver's entry in the registry.
pub struct DriverRegistration {
    /// The driver name used in URIs.
    pub name: &'static str,
    /// One line on what the driver is.
    pub description: &'static str,
    /// Creates the driver.
    pub create: fn() -> Result<Arc<dyn DriverImpl>>,
}

inventory::collect!(DriverRegistration);

/// Every driver linked into this program, sorted by name.
pub fn registered_drivers() -> Vec<&'static DriverRegistration> {
    let mut drivers: Vec<_> = inventory::iter::<DriverRegistration>.into_iter().collect();
    drivers.sort_by_key(|registration| registration.name);
    drivers
}

/// A handle to a driver.
#[derive(Clone)]
pub struct Driver(Arc<dyn DriverImpl>);

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Driver").field(&self.0.name()).finish()
    }
}

impl Driver {
    /// Wraps a driver implementation (used by embedders that construct drivers directly).
    pub fn new(inner: Arc<dyn DriverImpl>) -> Driver {
        Driver(inner)
    }

    /// Creates the registered driver named `name`; unknown names are `NOT_FOUND` listing the
    /// registered ones.
    pub fn create(name: &str) -> Result<Driver> {
        let drivers = registered_drivers();
        let registration = drivers.iter().find(|r| r.name == name).ok_or_else(|| {
            let names: Vec<&str> = drivers.iter().map(|r| r.name).collect();
            Status::not_found(format!(
                "no driver named '{name}'; registered drivers: {names:?}"
            ))
        })?;
        Ok(Driver((registration.create)()?))
    }

    /// The driver name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The URI parameters the driver accepts.
    pub fn parameters(&self) -> &'static [ParameterInfo] {
        self.0.parameters()
    }

    /// The devices the driver can create.
    pub fn enumerate_devices(&self) -> Result<Vec<DeviceInfo>> {
        self.0.enumerate_devices()
    }

    fn create_from(&self, info: &DeviceInfo, params: &DeviceParams) -> Result<Device> {
        params.check_known(self.0.name(), self.0.parameters())?;
        self.0.create_device(info, params)
    }

    /// Creates the default device (the first enumerated).
    pub fn create_default_device(&self, params: &DeviceParams) -> Result<Device> {
        self.create_device_by_ordinal(0, params)
    }

    /// Creates the device with id `id`.
    pub fn create_device_by_id(&self, id: u64, params: &DeviceParams) -> Result<Device> {
        let devices = self.enumerate_devices()?;
        let info = devices.iter().find(|d| d.id == id).ok_or_else(|| {
            Status::not_found(format!("driver {} has no device with id {id}", self.name()))
        })?;
        self.create_from(info, params)
    }

    /// Creates the `ordinal`-th enumerated device.
    pub fn create_device_by_ordinal(
        &self,
        ordinal: usize,
        params: &DeviceParams,
    ) -> Result<Device> {
        let devices = self.enumerate_devices()?;
        let info = devices.get(ordinal).ok_or_else(|| {
            Status::not_found(format!(
                "driver {} has {} device(s); ordinal {ordinal} is out of range",
                self.name(),
                devices.len()
            ))
        })?;
        self.create_from(info, params)
    }

    /// Creates the device whose path is `path`; the empty path is the default device.
    pub fn create_device_by_path(&self, path: &str, params: &DeviceParams) -> Result<Device> {
        if path.is_empty() {
            return self.create_default_device(params);
        }
        let devices = self.enumerate_devices()?;
        let info = devices.iter().find(|d| d.path == path).ok_or_else(|| {
            let paths: Vec<&str> = devices.iter().map(|d| d.path.as_str()).collect();
            Status::not_found(format!(
                "driver {} has no device with path '{path}'; its devices: {paths:?}",
                self.name()
            ))
        })?;
        self.create_from(info, params)
    }
}

/// Creates a device from a URI such as `local-sync`, `local-sync://` or
/// `local-sync://@0?key=value`.
pub fn create_device(uri: &str) -> Result<Device> {
    let parsed = DeviceUri::parse(uri)?;
    let driver = Driver::create(&parsed.driver)?;
    let params = DeviceParams::new(parsed.params);
    match parsed.selector {
        DeviceSelector::Default => driver.create_default_device(&params),
        DeviceSelector::Path(path) => driver.create_device_by_path(&path, &params),
        DeviceSelector::Ordinal(ordinal) => driver.create_device_by_ordinal(ordinal, &params),
    }
    .map_err(|status| status.with_context(format!("while creating device '{uri}'")))
}
