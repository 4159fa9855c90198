//! Binding values as IREE's tools write them: `SHAPExTYPE` (zeros: an output),
//! `SHAPExTYPE=V` (every element V), `SHAPExTYPE=V1,V2,…` or `SHAPExTYPE=[V1 V2][V3 V4]`
//! (every element, in C order), or `@file.npy`.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use hal_replay::NpyArray;

/// A binding's element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementType {
    /// A float of 4 or 8 bytes.
    Float(usize),
    /// A signed integer of 1, 2, 4 or 8 bytes.
    Int(usize),
    /// An unsigned integer of 1, 2, 4 or 8 bytes.
    Uint(usize),
}

impl ElementType {
    fn parse(text: &str) -> Option<ElementType> {
        Some(match text {
            "f32" => ElementType::Float(4),
            "f64" => ElementType::Float(8),
            "i8" | "si8" => ElementType::Int(1),
            "i16" | "si16" => ElementType::Int(2),
            "i32" | "si32" => ElementType::Int(4),
            "i64" | "si64" => ElementType::Int(8),
            "ui8" | "u8" => ElementType::Uint(1),
            "ui16" | "u16" => ElementType::Uint(2),
            "ui32" | "u32" => ElementType::Uint(4),
            "ui64" | "u64" => ElementType::Uint(8),
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ElementType::Float(n) | ElementType::Int(n) | ElementType::Uint(n) => n,
        }
    }

    /// IREE's name for the type.
    pub fn name(self) -> String {
        match self {
            ElementType::Float(n) => format!("f{}", n * 8),
            ElementType::Int(n) => format!("i{}", n * 8),
            ElementType::Uint(n) => format!("ui{}", n * 8),
        }
    }

    /// NumPy's type string.
    pub fn numpy(self) -> String {
        let kind = match self {
            ElementType::Float(_) => 'f',
            ElementType::Int(_) => 'i',
            ElementType::Uint(_) => 'u',
        };
        let order = if self.size() == 1 { '|' } else { '<' };
        format!("{order}{kind}{}", self.size())
    }

    fn from_numpy(text: &str) -> Option<ElementType> {
        let body = text.trim_start_matches(['<', '|', '=']);
        let (kind, size) = body.split_at(1);
        let size: usize = size.parse().ok()?;
        let element = match kind {
            "f" if size == 4 || size == 8 => ElementType::Float(size),
            "i" if matches!(size, 1 | 2 | 4 | 8) => ElementType::Int(size),
            "u" if matches!(size, 1 | 2 | 4 | 8) => ElementType::Uint(size),
            _ => return None,
        };
        Some(element)
    }

    /// One element's little-endian bytes from its text.
    fn encode(self, text: &str, out: &mut Vec<u8>) -> Result<()> {
        let bad = || format!("'{text}' is not a {} value", self.name());
        match self {
            ElementType::Float(4) => {
                out.extend(text.parse::<f32>().with_context(bad)?.to_le_bytes())
            }
            ElementType::Float(_) => {
                out.extend(text.parse::<f64>().with_context(bad)?.to_le_bytes())
            }
            ElementType::Int(size) => {
                let value: i64 = text.parse().with_context(bad)?;
                let bits = size * 8;
                ensure!(
                    bits == 64 || (value >= -(1 << (bits - 1)) && value < (1 << (bits - 1))),
                    "{} is out of range for {}",
                    value,
                    self.name()
                );
                out.extend(&value.to_le_bytes()[..size]);
            }
            ElementType::Uint(size) => {
                let value: u64 = text.parse().with_context(bad)?;
                ensure!(
                    size == 8 || value < (1 << (size * 8)),
                    "{} is out of range for {}",
                    value,
                    self.name()
                );
                out.extend(&value.to_le_bytes()[..size]);
            }
        }
        Ok(())
    }

    /// One element's text from its little-endian bytes.
    pub fn format(self, bytes: &[u8]) -> String {
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        match self {
            ElementType::Float(4) => {
                format!("{}", f32::from_le_bytes(word[..4].try_into().unwrap()))
            }
            ElementType::Float(_) => format!("{}", f64::from_le_bytes(word)),
            ElementType::Int(size) => {
                let shift = 64 - size * 8;
                format!("{}", (i64::from_le_bytes(word) << shift) >> shift)
            }
            ElementType::Uint(_) => format!("{}", u64::from_le_bytes(word)),
        }
    }
}

/// A parsed binding: its shape, element type and initial bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingValue {
    /// The shape, outermost first.
    pub shape: Vec<u64>,
    /// The element type.
    pub element: ElementType,
    /// The initial contents (zeros for an output).
    pub bytes: Vec<u8>,
    /// Whether the spec gave values (an input) or only a shape (an output).
    pub has_values: bool,
}

impl BindingValue {
    /// Parses a `--binding` value.
    pub fn parse(spec: &str) -> Result<BindingValue> {
        if let Some(path) = spec.strip_prefix('@') {
            return BindingValue::from_npy(Path::new(path));
        }
        let (type_text, values) = match spec.split_once('=') {
            Some((shape, values)) => (shape, Some(values)),
            None => (spec, None),
        };
        let mut parts: Vec<&str> = type_text.split('x').collect();
        let element_text = parts.pop().unwrap_or_default();
        let element = ElementType::parse(element_text).with_context(|| {
            format!(
                "binding '{spec}': '{element_text}' is not an element type (f32, f64, i8..i64, ui8..ui64)"
            )
        })?;
        let shape = parts
            .iter()
            .map(|dim| {
                dim.parse::<u64>()
                    .with_context(|| format!("binding '{spec}': '{dim}' is not a dimension"))
            })
            .collect::<Result<Vec<u64>>>()?;
        let count = shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n.checked_mul(element.size()).is_some_and(|b| b <= 1 << 36))
            .with_context(|| format!("binding '{spec}': the shape is too large"))?;
        let Some(values) = values else {
            return Ok(BindingValue {
                shape,
                element,
                bytes: vec![0; count * element.size()],
                has_values: false,
            });
        };
        let texts: Vec<&str> = values
            .split(|c: char| c == ',' || c == '[' || c == ']' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .collect();
        let mut bytes = Vec::with_capacity(count * element.size());
        match texts.len() {
            1 => {
                let mut one = Vec::new();
                element
                    .encode(texts[0], &mut one)
                    .with_context(|| format!("binding '{spec}'"))?;
                for _ in 0..count {
                    bytes.extend_from_slice(&one);
                }
            }
            n if n == count => {
                for text in texts {
                    element
                        .encode(text, &mut bytes)
                        .with_context(|| format!("binding '{spec}'"))?;
                }
            }
            n => bail!("binding '{spec}': {n} values for {count} elements (give 1 or {count})"),
        }
        Ok(BindingValue {
            shape,
            element,
            bytes,
            has_values: true,
        })
    }

    fn from_npy(path: &Path) -> Result<BindingValue> {
        let array = NpyArray::read(path)?;
        let element = ElementType::from_numpy(&array.dtype).with_context(|| {
            format!(
                "{}: element type {} is not supported",
                path.display(),
                array.dtype
            )
        })?;
        Ok(BindingValue {
            shape: array.shape,
            element,
            bytes: array.data,
            has_values: true,
        })
    }

    /// The value as an array for a `.npy` file.
    pub fn to_npy(&self, bytes: Vec<u8>) -> NpyArray {
        NpyArray {
            dtype: self.element.numpy(),
            shape: self.shape.clone(),
            data: bytes,
        }
    }

    /// `bytes` (this binding's contents) as IREE prints a result: `2x2xf32=[1 2][3 4]`, with at
    /// most `limit` elements shown.
    pub fn describe(&self, bytes: &[u8], limit: usize) -> String {
        let shape: Vec<String> = self.shape.iter().map(u64::to_string).collect();
        let mut text = format!("{}x{}=", shape.join("x"), self.element.name());
        let size = self.element.size();
        let count = bytes.len() / size;
        let row = self.shape.last().copied().unwrap_or(1).max(1) as usize;
        let shown = count.min(limit);
        for index in 0..shown {
            if index % row == 0 {
                text.push('[');
            } else {
                text.push(' ');
            }
            text.push_str(
                &self
                    .element
                    .format(&bytes[index * size..(index + 1) * size]),
            );
            if index % row == row - 1 || index + 1 == count {
                text.push(']');
            }
        }
        if shown < count {
            text.push_str(&format!("... ({count} elements)"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splats_lists_nested_lists_and_outputs() {
        let splat = BindingValue::parse("4xf32=1").unwrap();
        assert_eq!(
            splat.bytes,
            [1f32; 4]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        );
        let list = BindingValue::parse("2x2xi32=[1 2][3 -4]").unwrap();
        assert_eq!(list.shape, [2, 2]);
        assert_eq!(list.describe(&list.bytes, 16), "2x2xi32=[1 2][3 -4]");
        let commas = BindingValue::parse("3xui8=1,2,255").unwrap();
        assert_eq!(commas.bytes, [1, 2, 255]);
        let output = BindingValue::parse("8xf64").unwrap();
        assert!(!output.has_values);
        assert_eq!(output.bytes.len(), 64);
    }

    #[test]
    fn bad_specs_name_what_is_wrong() {
        for (spec, needle) in [
            ("4xq7=1", "'q7' is not an element type"),
            ("4xzxf32=1", "'z' is not a dimension"),
            ("3xf32=1,2", "2 values for 3 elements"),
            ("2xi8=1,300", "300 is out of range for i8"),
            ("2xf32=1,x", "'x' is not a f32 value"),
            ("99999999999x99999999999xf32", "too large"),
        ] {
            let error = format!("{:#}", BindingValue::parse(spec).unwrap_err());
            assert!(error.contains(needle), "{spec}: {error}");
        }
    }

    #[test]
    fn long_results_are_cut_short() {
        let value = BindingValue::parse("100xi32=7").unwrap();
        let text = value.describe(&value.bytes, 4);
        assert!(text.starts_with("100xi32=[7 7 7 7"), "{text}");
        assert!(text.ends_with("(100 elements)"), "{text}");
    }
}
