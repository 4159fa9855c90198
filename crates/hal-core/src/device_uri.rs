//! Device URIs: `driver`, `driver://`, `driver://path`, `driver://@ordinal`, each optionally
//! followed by `?key=value&key=value`.

use crate::status::{Result, Status};

/// Which device of a driver a URI selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSelector {
    /// The driver's default device (empty path).
    Default,
    /// The device with this path.
    Path(String),
    /// The device at this position in the driver's enumeration (`@N`).
    Ordinal(usize),
}

/// A parsed device URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceUri {
    /// The driver name.
    pub driver: String,
    /// Which device.
    pub selector: DeviceSelector,
    /// `key=value` parameters, in order.
    pub params: Vec<(String, String)>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl DeviceUri {
    /// Parses a URI; malformed ones are `INVALID_ARGUMENT` errors that quote the URI.
    pub fn parse(uri: &str) -> Result<DeviceUri> {
        let bad =
            |why: &str| Status::invalid_argument(format!("malformed device URI '{uri}': {why}"));
        let (driver, rest) = match uri.split_once("://") {
            Some((driver, rest)) => (driver, Some(rest)),
            None => (uri, None),
        };
        if !valid_name(driver) {
            return Err(bad(
                "the driver name must be non-empty letters, digits, '-', '_' or '.'",
            ));
        }
        let Some(rest) = rest else {
            return Ok(DeviceUri {
                driver: driver.to_string(),
                selector: DeviceSelector::Default,
                params: Vec::new(),
            });
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let selector = if path.is_empty() {
            DeviceSelector::Default
        } else if let Some(ordinal) = path.strip_prefix('@') {
            DeviceSelector::Ordinal(
                ordinal
                    .parse()
                    .map_err(|_| bad(&format!("'@{ordinal}' is not a device ordinal")))?,
            )
        } else if path.contains(['/', '?', '&', '=', '#']) {
            return Err(bad(&format!(
                "device path '{path}' contains a reserved character"
            )));
        } else {
            DeviceSelector::Path(path.to_string())
        };
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(query) = query {
            for pair in query.split('&') {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| bad(&format!("parameter '{pair}' is not key=value")))?;
                if !valid_name(key) {
                    return Err(bad(&format!(
                        "parameter name '{key}' is empty or has bad characters"
                    )));
                }
                if params.iter().any(|(existing, _)| existing == key) {
                    return Err(bad(&format!("parameter '{key}' is given twice")));
                }
                params.push((key.to_string(), value.to_string()));
            }
        }
        Ok(DeviceUri {
            driver: driver.to_string(),
            selector,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusCode;

    #[test]
    fn parses_every_form() {
        let plain = DeviceUri::parse("local-sync").unwrap();
        assert_eq!(plain.selector, DeviceSelector::Default);
        assert_eq!(DeviceUri::parse("local-sync://").unwrap(), plain);
        let full = DeviceUri::parse("local-sync://@0?a=1&b=x").unwrap();
        assert_eq!(full.selector, DeviceSelector::Ordinal(0));
        assert_eq!(
            full.params,
            vec![("a".into(), "1".into()), ("b".into(), "x".into())]
        );
        assert_eq!(
            DeviceUri::parse("x://cpu0").unwrap().selector,
            DeviceSelector::Path("cpu0".into())
        );
    }

    #[test]
    fn rejects_malformed() {
        for uri in [
            "",
            "://",
            "bad name",
            "x://?novalue",
            "x://?=1",
            "x://?a=1&a=2",
            "x://@z",
            "x://a/b",
        ] {
            let err = DeviceUri::parse(uri).unwrap_err();
            assert_eq!(err.code(), StatusCode::InvalidArgument, "{uri}");
            assert!(err.message().contains(&format!("'{uri}'")), "{err}");
        }
    }
}
