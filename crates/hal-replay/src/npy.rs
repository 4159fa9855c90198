//! `.npy` files for a replay's results: the outputs it writes and the expected results it is
//! compared with. A capture holds no shapes or element types, so an output takes both from
//! its expected file when there is one, and is a flat byte array otherwise.

use std::io::{Read as _, Write as _};
use std::path::Path;

use hal_core::{Result, Status};
use npyz::{DType, TypeChar, TypeStr, WriteOptions, WriterBuilder};

/// An array as stored in a `.npy` file: element type, shape and the raw little-endian bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyArray {
    /// NumPy's type string, for example `<f4`.
    pub dtype: String,
    /// The shape, outermost dimension first.
    pub shape: Vec<u64>,
    /// The elements' bytes in C order.
    pub data: Vec<u8>,
}

impl NpyArray {
    /// A flat array of bytes (`|u1`), for results whose type is not known.
    pub fn bytes(data: Vec<u8>) -> NpyArray {
        NpyArray {
            dtype: "|u1".to_string(),
            shape: vec![data.len() as u64],
            data,
        }
    }

    /// `data` with this array's type and shape, if the sizes agree.
    pub fn with_data(&self, data: Vec<u8>) -> Option<NpyArray> {
        (data.len() == self.data.len()).then(|| NpyArray {
            dtype: self.dtype.clone(),
            shape: self.shape.clone(),
            data,
        })
    }

    /// Reads a C-order, little-endian (or byte-sized) `.npy` file.
    pub fn read(path: &Path) -> Result<NpyArray> {
        let bad = |what: String| Status::invalid_argument(format!("{}: {what}", path.display()));
        let file = std::fs::File::open(path)
            .map_err(|error| Status::not_found(format!("{}: {error}", path.display())))?;
        let npy = npyz::NpyFile::new(std::io::BufReader::new(file))
            .map_err(|error| bad(format!("not a .npy file: {error}")))?;
        let dtype = match npy.dtype() {
            DType::Plain(type_str) => type_str,
            other => {
                return Err(bad(format!(
                    "element type {} is not a plain number",
                    other.descr()
                )))
            }
        };
        let size = dtype
            .num_bytes()
            .ok_or_else(|| bad(format!("element type {dtype} has no fixed size")))?;
        if size > 1 && dtype.endianness() == npyz::Endianness::Big {
            return Err(bad(format!("element type {dtype} is big-endian")));
        }
        if npy.order() != npyz::Order::C {
            return Err(bad("the array is in Fortran order".into()));
        }
        let shape = npy.shape().to_vec();
        let expected = npy
            .len()
            .checked_mul(size as u64)
            .ok_or_else(|| bad(format!("shape {shape:?} is too large")))?;
        let mut data = Vec::new();
        npy.into_inner()
            .read_to_end(&mut data)
            .map_err(|error| bad(error.to_string()))?;
        if data.len() as u64 != expected {
            return Err(bad(format!(
                "shape {shape:?} of {dtype} needs {expected} bytes, the file holds {}",
                data.len()
            )));
        }
        Ok(NpyArray {
            dtype: dtype.to_string(),
            shape,
            data,
        })
    }

    /// Writes the array to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let failed = |error: std::io::Error| {
            Status::unavailable(format!("writing {}: {error}", path.display()))
        };
        let dtype: TypeStr = self.dtype.parse().map_err(|_| {
            Status::invalid_argument(format!("'{}' is not a NumPy type", self.dtype))
        })?;
        let file = std::fs::File::create(path).map_err(failed)?;
        let mut writer = WriteOptions::new_header_only()
            .dtype(DType::Plain(dtype))
            .shape(&self.shape)
            .writer(std::io::BufWriter::new(file))
            .write_header_only()
            .map_err(failed)?;
        writer.write_all(&self.data).map_err(failed)?;
        writer.flush().map_err(failed)
    }

    /// The elements as `f32` when the array holds little-endian 32-bit floats.
    pub fn as_f32(&self) -> Option<Vec<f32>> {
        let dtype: TypeStr = self.dtype.parse().ok()?;
        (dtype.type_char() == TypeChar::Float && dtype.num_bytes() == Some(4)).then(|| {
            self.data
                .chunks_exact(4)
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect()
        })
    }
}

/// How close a result must be to its expected value: `|got - want| <= atol + rtol * |want|`
/// elementwise (NumPy's `allclose`), for 32-bit float arrays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub atol: f32,
    /// Relative tolerance.
    pub rtol: f32,
}

/// How a result compares with its expected value.
#[derive(Clone, Debug, PartialEq)]
pub enum Comparison {
    /// Every byte is the same.
    BitExact,
    /// Not bit for bit, but every element is within the tolerance; the largest difference.
    WithinTolerance {
        /// The largest absolute difference.
        max_abs_diff: f32,
    },
    /// Different: the number of differing elements, the first one's index and values.
    Differs {
        /// Elements outside the tolerance (or differing bytes without one).
        count: usize,
        /// The first differing element's index.
        first: usize,
        /// What the replay produced there.
        got: String,
        /// What was expected there.
        want: String,
    },
    /// The sizes differ.
    SizeDiffers {
        /// Bytes produced.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
}

impl Comparison {
    /// Whether the result is acceptable.
    pub fn matches(&self) -> bool {
        matches!(
            self,
            Comparison::BitExact | Comparison::WithinTolerance { .. }
        )
    }

    /// Compares `got` with `want`: bit for bit, or, with a tolerance and float elements, within
    /// it.
    pub fn of(got: &[u8], want: &NpyArray, tolerance: Option<Tolerance>) -> Comparison {
        if got.len() != want.data.len() {
            return Comparison::SizeDiffers {
                got: got.len(),
                want: want.data.len(),
            };
        }
        if got == want.data.as_slice() {
            return Comparison::BitExact;
        }
        match (tolerance, want.as_f32()) {
            (Some(tolerance), Some(want)) => {
                let got = want_like(got);
                let mut max_abs_diff = 0f32;
                let mut outside = Vec::new();
                for (index, (&g, &w)) in got.iter().zip(&want).enumerate() {
                    let diff = (g - w).abs();
                    if diff.is_nan() && !(g.is_nan() && w.is_nan())
                        || diff > tolerance.atol + tolerance.rtol * w.abs()
                    {
                        outside.push(index);
                    } else if diff.is_finite() {
                        max_abs_diff = max_abs_diff.max(diff);
                    }
                }
                match outside.first() {
                    None => Comparison::WithinTolerance { max_abs_diff },
                    Some(&first) => Comparison::Differs {
                        count: outside.len(),
                        first,
                        got: got[first].to_string(),
                        want: want[first].to_string(),
                    },
                }
            }
            _ => {
                let differing: Vec<usize> = got
                    .iter()
                    .zip(&want.data)
                    .enumerate()
                    .filter(|(_, (g, w))| g != w)
                    .map(|(i, _)| i)
                    .collect();
                Comparison::Differs {
                    count: differing.len(),
                    first: differing[0],
                    got: format!("byte {:#04x}", got[differing[0]]),
                    want: format!("byte {:#04x}", want.data[differing[0]]),
                }
            }
        }
    }
}

fn want_like(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Comparison::BitExact => write!(f, "bit-exact"),
            Comparison::WithinTolerance { max_abs_diff } => {
                write!(f, "within tolerance (max |diff| {max_abs_diff:e})")
            }
            Comparison::Differs {
                count,
                first,
                got,
                want,
            } => write!(
                f,
                "{count} element(s) differ; the first at {first}: got {got}, want {want}"
            ),
            Comparison::SizeDiffers { got, want } => {
                write!(f, "{got} bytes produced, {want} expected")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(values: &[f32]) -> NpyArray {
        NpyArray {
            dtype: "<f4".into(),
            shape: vec![values.len() as u64],
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn arrays_round_trip_through_files() {
        let dir = std::env::temp_dir().join(format!("hal-replay-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let array = NpyArray {
            dtype: "<f4".into(),
            shape: vec![2, 3],
            data: (0..24).collect(),
        };
        let path = dir.join("a.npy");
        array.write(&path).unwrap();
        assert_eq!(NpyArray::read(&path).unwrap(), array);
        let bytes = NpyArray::bytes(vec![1, 2, 3]);
        bytes.write(&path).unwrap();
        assert_eq!(NpyArray::read(&path).unwrap(), bytes);
        std::fs::write(&path, b"not numpy").unwrap();
        let error = NpyArray::read(&path).unwrap_err();
        assert!(error.message().contains("a.npy"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn comparisons_are_bit_exact_within_tolerance_or_name_the_first_difference() {
        let want = floats(&[1.0, 2.0, 3.0]);
        assert_eq!(
            Comparison::of(&want.data, &want, None),
            Comparison::BitExact
        );
        let close = floats(&[1.0, 2.000001, 3.0]);
        let tolerance = Some(Tolerance {
            atol: 1e-5,
            rtol: 0.0,
        });
        assert!(Comparison::of(&close.data, &want, tolerance).matches());
        assert!(!Comparison::of(&close.data, &want, None).matches());
        let far = floats(&[1.0, 2.0, 4.0]);
        match Comparison::of(&far.data, &want, tolerance) {
            Comparison::Differs {
                count: 1, first: 2, ..
            } => {}
            other => panic!("{other:?}"),
        }
        let nan = floats(&[1.0, f32::NAN, 3.0]);
        assert!(!Comparison::of(&nan.data, &want, tolerance).matches());
        assert_eq!(
            Comparison::of(&[0; 4], &want, None),
            Comparison::SizeDiffers { got: 4, want: 12 }
        );
    }
}
