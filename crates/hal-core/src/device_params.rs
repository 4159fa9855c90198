//! Device parameters: the `key=value` pairs of a device URI as a driver reads them, checked
//! against the keys the driver accepts, with typed accessors whose errors name the key and value.

use crate::status::{Result, Status};

/// A parameter a driver accepts in device URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParameterInfo {
    /// The key.
    pub name: &'static str,
    /// What it controls and its accepted values.
    pub description: &'static str,
}

impl ParameterInfo {
    /// A parameter named `name`, described by `description` (`const`, for drivers' tables).
    pub const fn new(name: &'static str, description: &'static str) -> ParameterInfo {
        ParameterInfo { name, description }
    }
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

    /// `key` as one of the named `choices`; another value is `INVALID_ARGUMENT` naming the key,
    /// the value and the choices.
    pub fn get_choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> Result<Option<T>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let chosen = choices.iter().find(|(name, _)| *name == value);
        chosen.map(|&(_, choice)| Some(choice)).ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            Status::invalid_argument(format!(
                "parameter '{key}' value '{value}' is not one of {names:?}"
            ))
        })
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
        let choices = [("x", 1), ("y", 2)];
        let err = params.get_choice("b", &choices).unwrap_err();
        assert!(err.message().contains("'b' value 'maybe'"), "{err}");
        assert!(err.message().contains(r#"["x", "y"]"#), "{err}");
        assert_eq!(params.get_choice("missing", &choices).unwrap(), None);
    }
}
