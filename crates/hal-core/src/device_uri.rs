//! Device URIs: `driver`, `driver://`, `driver://path`, `driver://@ordinal`, each optionally
//! followed by `?key=value&key=value`.

use crate::{Result, Status};

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

/// A parameter a driver accepts in device URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParameterInfo {
    /// The key.
    pub name: &'static str,
    /// What it controls and its accepted values.
    pub description: &'static str,
}

/// Device creation parameters with typed accessors whose errors name the key and the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceParams {
    entries: Vec<(String, String)>,
}

impl DeviceParams {
    /// Parameters from key/value pairs.
    pub fn new(entries: Vec<(String, String)>) -> DeviceParams {
        DeviceParams { entries }
    }

    /// Parameters from `(&str, &str)` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> DeviceParams {
        DeviceParams::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The pairs, in order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Rejects keys that are not in `accepted`, naming the first unknown one.
    pub fn check_known(&self, driver: &str, accepted: &[ParameterInfo]) -> Result<()> {
        for (key, _) in &self.entries {
            if !accepted.iter().any(|p| p.name == key) {
                let names: Vec<&str> = accepted.iter().map(|p| p.name).collect();
                return Err(Status::invalid_argument(format!(
                    "unknown parameter '{key}' for driver {driver}; accepted parameters: {names:?}"
                )));
            }
        }
        Ok(())
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` as an unsigned integer in `[min, max]`.
    pub fn get_u64(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let parsed: u64 = value.parse().map_err(|_| {
            Status::invalid_argument(format!(
                "parameter '{key}' value '{value}' is not an unsigned integer"
            ))
        })?;
        if parsed < min || parsed > max {
            return Err(Status::out_of_range(format!(
                "parameter '{key}' value {parsed} is outside [{min}, {max}]"
            )));
        }
        Ok(Some(parsed))
    }

    /// `key` as a boolean (`true`/`false`/`1`/`0`).
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(value) => Err(Status::invalid_argument(format!(
                "parameter '{key}' value '{value}' is not a boolean (true, false, 1 or 0)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(err.code(), crate::StatusCode::InvalidArgument, "{uri}");
            assert!(err.message().contains(&format!("'{uri}'")), "{err}");
        }
    }

    #[test]
    fn typed_values_name_key_and_value() {
        let params = DeviceParams::from_pairs(&[("n", "abc"), ("b", "maybe"), ("big", "99")]);
        let err = params.get_u64("n", 0, 10).unwrap_err();
        assert!(
            err.message().contains("'n'") && err.message().contains("'abc'"),
            "{err}"
        );
        assert!(params
            .get_bool("b")
            .unwrap_err()
            .message()
            .contains("'maybe'"));
        assert!(params
            .get_u64("big", 0, 10)
            .unwrap_err()
            .message()
            .contains("99"));
        assert_eq!(params.get_u64("missing", 0, 1).unwrap(), None);
    }
}
