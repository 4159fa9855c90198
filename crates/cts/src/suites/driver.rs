//! Drivers: the registry, device creation by name, URI, id, ordinal and path, and device queries.

use anyhow::{ensure, Context as _, Result};
use hal_core::{create_device, registered_drivers, DeviceParams, Driver, StatusCode};

use crate::case::Case;
use crate::check::expect_err;
use crate::ctx::Ctx;

const SUITE: &str = "driver";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "registry", registry),
        Case::new(SUITE, "create_by_uri", create_by_uri),
        Case::new(SUITE, "unknown_driver", unknown_driver),
        Case::new(SUITE, "unknown_parameter", unknown_parameter),
        Case::new(SUITE, "parameter_values", parameter_values),
        Case::new(SUITE, "malformed_uri", malformed_uri),
        Case::new(SUITE, "enumerate_and_create", enumerate_and_create),
        Case::new(SUITE, "empty_path", empty_path),
        Case::new(SUITE, "missing_device", missing_device),
        Case::new(SUITE, "device_queries", device_queries),
        Case::new(SUITE, "format_listed", format_listed).exe(),
    ]
}

/// Every registered driver can be created by name; the backend's driver is registered.
fn registry(ctx: &Ctx<'_>) -> Result<()> {
    let registrations = registered_drivers();
    let names: Vec<&str> = registrations.iter().map(|r| r.name).collect();
    ensure!(
        names.contains(&ctx.backend.name),
        "driver '{}' is not registered; registered: {names:?}",
        ctx.backend.name
    );
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    ensure!(
        sorted == names,
        "registered drivers are not sorted and unique: {names:?}"
    );
    for registration in &registrations {
        ensure!(
            !registration.description.is_empty(),
            "driver '{}' has an empty description",
            registration.name
        );
        let driver = Driver::create(registration.name)
            .with_context(|| format!("creating driver '{}'", registration.name))?;
        ensure!(
            driver.name() == registration.name,
            "driver '{}' reports name '{}'",
            registration.name,
            driver.name()
        );
        for parameter in driver.parameters() {
            ensure!(
                !parameter.name.is_empty() && !parameter.description.is_empty(),
                "driver '{}' declares a parameter without a name or description: {parameter:?}",
                registration.name
            );
        }
    }
    Ok(())
}

/// The plain name, `name://`, `name://@0` and the backend's URI all create devices of the driver.
fn create_by_uri(ctx: &Ctx<'_>) -> Result<()> {
    let name = ctx.backend.name;
    let uris = [
        name.to_string(),
        format!("{name}://"),
        format!("{name}://@0"),
        ctx.backend.uri.to_string(),
    ];
    for uri in &uris {
        let device = create_device(uri).with_context(|| format!("creating device '{uri}'"))?;
        ensure!(
            device.driver_name() == name,
            "device from '{uri}' reports driver '{}'",
            device.driver_name()
        );
    }
    // With parameters: the backend's URI may carry some; every declared parameter is accepted by
    // name (its value is driver-specific, so only a bad name is checked in `unknown_parameter`).
    let driver = Driver::create(name)?;
    let device = driver.create_default_device(&DeviceParams::default())?;
    ensure!(
        device.driver_name() == name,
        "default device reports driver '{}'",
        device.driver_name()
    );
    Ok(())
}

fn unknown_driver(ctx: &Ctx<'_>) -> Result<()> {
    let bogus = "cts-no-such-driver";
    expect_err(
        Driver::create(bogus),
        StatusCode::NotFound,
        &[bogus, ctx.backend.name],
        "Driver::create of an unknown name",
    )?;
    expect_err(
        create_device(bogus),
        StatusCode::NotFound,
        &[bogus],
        "create_device of an unknown driver",
    )?;
    expect_err(
        create_device(&format!("{bogus}://@0?x=1")),
        StatusCode::NotFound,
        &[bogus],
        "URI of an unknown driver",
    )?;
    Ok(())
}

fn unknown_parameter(ctx: &Ctx<'_>) -> Result<()> {
    let name = ctx.backend.name;
    let uri = format!("{name}://?cts_bogus_key=1");
    expect_err(
        create_device(&uri),
        StatusCode::InvalidArgument,
        &["cts_bogus_key"],
        "URI with an unknown parameter",
    )?;
    let driver = Driver::create(name)?;
    let params = DeviceParams::from_pairs(&[("cts_other_key", "x")]);
    expect_err(
        driver.create_default_device(&params),
        StatusCode::InvalidArgument,
        &["cts_other_key"],
        "unknown parameter by ordinal",
    )?;
    let devices = driver.enumerate_devices()?;
    let first = devices.first().context("the driver lists no device")?;
    expect_err(
        driver.create_device_by_id(first.id, &params),
        StatusCode::InvalidArgument,
        &["cts_other_key"],
        "unknown parameter by id",
    )?;
    Ok(())
}

/// Each declared parameter with a nonsense value is either accepted or rejected with an error
/// that names the parameter or the value; with an empty value likewise. Never a panic.
fn parameter_values(ctx: &Ctx<'_>) -> Result<()> {
    let name = ctx.backend.name;
    let driver = Driver::create(name)?;
    for parameter in driver.parameters() {
        for value in ["cts-bad-value", "", "-1"] {
            let uri = format!("{name}://?{}={value}", parameter.name);
            if let Err(status) = create_device(&uri) {
                let text = status.to_string();
                let named =
                    text.contains(parameter.name) || (!value.is_empty() && text.contains(value));
                ensure!(named, "'{uri}' failed with an error naming neither the parameter nor the value: {status}");
                ensure!(
                    matches!(
                        status.code(),
                        StatusCode::InvalidArgument | StatusCode::OutOfRange | StatusCode::NotFound
                    ),
                    "'{uri}' failed with an unexpected code: {status}"
                );
            }
        }
    }
    Ok(())
}

fn malformed_uri(ctx: &Ctx<'_>) -> Result<()> {
    let name = ctx.backend.name;
    let uris = [
        String::new(),
        "://".to_string(),
        "bad name".to_string(),
        format!("{name}://?novalue"),
        format!("{name}://?=1"),
        format!("{name}://?a=1&a=2"),
        format!("{name}://@x"),
        format!("{name}://a/b"),
    ];
    for uri in &uris {
        expect_err(
            create_device(uri),
            StatusCode::InvalidArgument,
            &[&format!("'{uri}'")],
            &format!("malformed URI '{uri}'"),
        )?;
    }
    Ok(())
}

/// Every listed device can be created by id, by ordinal, by path and by URI.
fn enumerate_and_create(ctx: &Ctx<'_>) -> Result<()> {
    let driver = Driver::create(ctx.backend.name)?;
    let devices = driver.enumerate_devices()?;
    ensure!(
        !devices.is_empty(),
        "driver '{}' lists no device",
        ctx.backend.name
    );
    let none = DeviceParams::default();
    for (ordinal, info) in devices.iter().enumerate() {
        ensure!(
            devices.iter().filter(|other| other.id == info.id).count() == 1,
            "device id {} is listed twice",
            info.id
        );
        let by_id = driver
            .create_device_by_id(info.id, &none)
            .with_context(|| format!("by id {}", info.id))?;
        ensure!(
            by_id.info() == info,
            "device by id {} reports {:?}, listed as {info:?}",
            info.id,
            by_id.info()
        );
        let by_ordinal = driver
            .create_device_by_ordinal(ordinal, &none)
            .with_context(|| format!("by ordinal {ordinal}"))?;
        ensure!(
            by_ordinal.info() == info,
            "device by ordinal {ordinal} reports {:?}",
            by_ordinal.info()
        );
        let by_uri = create_device(&format!("{}://@{ordinal}", ctx.backend.name))?;
        ensure!(
            by_uri.info() == info,
            "device by URI @{ordinal} reports {:?}",
            by_uri.info()
        );
        if !info.path.is_empty() {
            let by_path = driver
                .create_device_by_path(&info.path, &none)
                .with_context(|| format!("by path '{}'", info.path))?;
            ensure!(
                by_path.info() == info,
                "device by path '{}' reports {:?}",
                info.path,
                by_path.info()
            );
            let by_uri = create_device(&format!("{}://{}", ctx.backend.name, info.path))?;
            ensure!(
                by_uri.info() == info,
                "device by URI path '{}' reports {:?}",
                info.path,
                by_uri.info()
            );
        }
    }
    Ok(())
}

/// The empty path selects the default (first) device.
fn empty_path(ctx: &Ctx<'_>) -> Result<()> {
    let driver = Driver::create(ctx.backend.name)?;
    let devices = driver.enumerate_devices()?;
    let first = devices.first().context("the driver lists no device")?;
    let device = driver.create_device_by_path("", &DeviceParams::default())?;
    ensure!(
        device.info() == first,
        "the empty path gave {:?}, the first device is {first:?}",
        device.info()
    );
    let device = create_device(&format!("{}://", ctx.backend.name))?;
    ensure!(
        device.info() == first,
        "'{}://' gave {:?}",
        ctx.backend.name,
        device.info()
    );
    Ok(())
}

fn missing_device(ctx: &Ctx<'_>) -> Result<()> {
    let driver = Driver::create(ctx.backend.name)?;
    let devices = driver.enumerate_devices()?;
    let none = DeviceParams::default();
    let ordinal = devices.len();
    expect_err(
        driver.create_device_by_ordinal(ordinal, &none),
        StatusCode::NotFound,
        &[&ordinal.to_string()],
        "ordinal past the list",
    )?;
    let id = devices
        .iter()
        .map(|d| d.id)
        .max()
        .unwrap_or(0)
        .wrapping_add(1000);
    expect_err(
        driver.create_device_by_id(id, &none),
        StatusCode::NotFound,
        &[&id.to_string()],
        "unknown id",
    )?;
    expect_err(
        driver.create_device_by_path("cts-no-such-path", &none),
        StatusCode::NotFound,
        &["cts-no-such-path"],
        "unknown path",
    )?;
    expect_err(
        create_device(&format!("{}://@{ordinal}", ctx.backend.name)),
        StatusCode::NotFound,
        &[&ordinal.to_string()],
        "URI ordinal past the list",
    )?;
    Ok(())
}

fn device_queries(ctx: &Ctx<'_>) -> Result<()> {
    let device = &ctx.device;
    ensure!(
        device.driver_name() == ctx.backend.name,
        "driver_name is '{}'",
        device.driver_name()
    );
    ensure!(
        device.id() == device.info().id,
        "id() {} differs from info().id {}",
        device.id(),
        device.info().id
    );
    ensure!(
        !device.info().name.is_empty(),
        "the device has an empty name"
    );
    let listed = Driver::create(ctx.backend.name)?.enumerate_devices()?;
    ensure!(
        listed.contains(device.info()),
        "device {:?} is not among the listed {listed:?}",
        device.info()
    );
    ensure!(
        device.dispatch_concurrency() >= 1,
        "dispatch concurrency is {}",
        device.dispatch_concurrency()
    );
    let formats = device.executable_formats();
    let mut unique = formats.clone();
    unique.sort();
    unique.dedup();
    ensure!(
        unique.len() == formats.len(),
        "executable formats repeat: {formats:?}"
    );
    let cache = device.create_executable_cache()?;
    for format in &formats {
        ensure!(
            cache.can_prepare_format(format),
            "the device lists format '{format}' but its cache cannot prepare it"
        );
    }
    let _ = device.allocator().statistics();
    Ok(())
}

fn format_listed(ctx: &Ctx<'_>) -> Result<()> {
    let format = ctx.format()?;
    let formats = ctx.device.executable_formats();
    ensure!(
        formats.iter().any(|f| f == format.name),
        "format '{}' is not among the device's {formats:?}",
        format.name
    );
    ensure!(
        ctx.device
            .create_executable_cache()?
            .can_prepare_format(format.name),
        "the cache cannot prepare '{}'",
        format.name
    );
    Ok(())
}
