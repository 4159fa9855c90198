//! Assertions that explain themselves: expected error codes and messages, and element-wise
//! comparisons that name the first difference.

use std::fmt::Debug;

use anyhow::{bail, Result};
use hal_core::{Status, StatusCode};

/// Checks that `result` failed with `code` and that the error text (message and context) names
/// every one of `needles` (case-insensitively). Returns the status for further checks.
pub(crate) fn expect_err<T>(
    result: hal_core::Result<T>,
    code: StatusCode,
    needles: &[&str],
    what: &str,
) -> Result<Status> {
    let status = match result {
        Ok(_) => bail!("{what}: expected {code}, but the call succeeded"),
        Err(status) => status,
    };
    if status.code() != code {
        bail!("{what}: expected {code}, got {status}");
    }
    let text = status.to_string().to_lowercase();
    for needle in needles {
        if !text.contains(&needle.to_lowercase()) {
            bail!("{what}: the error '{status}' does not name '{needle}'");
        }
    }
    Ok(status)
}

/// Checks that `result` failed with one of `codes`.
pub(crate) fn expect_err_in<T>(
    result: hal_core::Result<T>,
    codes: &[StatusCode],
    what: &str,
) -> Result<Status> {
    match result {
        Ok(_) => bail!("{what}: expected one of {codes:?}, but the call succeeded"),
        Err(status) if codes.contains(&status.code()) => Ok(status),
        Err(status) => bail!("{what}: expected one of {codes:?}, got {status}"),
    }
}

/// Compares two slices element by element and names the first differences.
pub(crate) fn expect_slice<T: PartialEq + Debug>(
    actual: &[T],
    expected: &[T],
    what: &str,
) -> Result<()> {
    if actual.len() != expected.len() {
        bail!(
            "{what}: expected {} elements, got {}",
            expected.len(),
            actual.len()
        );
    }
    let mismatches: Vec<usize> = (0..actual.len())
        .filter(|&i| actual[i] != expected[i])
        .collect();
    if let Some(&first) = mismatches.first() {
        let shown: Vec<String> = mismatches
            .iter()
            .take(4)
            .map(|&i| format!("[{i}] = {:?}, expected {:?}", actual[i], expected[i]))
            .collect();
        bail!(
            "{what}: {} of {} elements differ, first at index {first}: {}",
            mismatches.len(),
            actual.len(),
            shown.join("; ")
        );
    }
    Ok(())
}

/// Compares two float slices with a relative tolerance.
pub(crate) fn expect_close(
    actual: &[f32],
    expected: &[f32],
    tolerance: f32,
    what: &str,
) -> Result<()> {
    if actual.len() != expected.len() {
        bail!(
            "{what}: expected {} elements, got {}",
            expected.len(),
            actual.len()
        );
    }
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        if (a - e).abs() > tolerance * e.abs().max(1.0) {
            bail!("{what}: element {i} is {a}, expected {e} (tolerance {tolerance})");
        }
    }
    Ok(())
}

/// Deterministic bytes for contents: a different sequence per `seed`, never constant.
pub(crate) fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut rng = XorShift::new(u64::from(seed) + 1);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// A small seeded xorshift generator (no dependencies, reproducible runs).
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `[0, bound)`.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// Writes `pattern`'s bytes repeatedly over `target` (the reference model of a fill).
pub(crate) fn model_fill(target: &mut [u8], pattern: hal_core::FillPattern) {
    let (bytes, len): ([u8; 4], usize) = match pattern {
        hal_core::FillPattern::U8(v) => ([v, 0, 0, 0], 1),
        hal_core::FillPattern::U16(v) => {
            let b = v.to_le_bytes();
            ([b[0], b[1], 0, 0], 2)
        }
        hal_core::FillPattern::U32(v) => (v.to_le_bytes(), 4),
    };
    for (i, byte) in target.iter_mut().enumerate() {
        *byte = bytes[i % len];
    }
}

/// Whether a status code is one a malformed-input error may reasonably carry.
pub(crate) const INPUT_ERROR_CODES: &[StatusCode] = &[
    StatusCode::InvalidArgument,
    StatusCode::NotFound,
    StatusCode::OutOfRange,
    StatusCode::Incompatible,
    StatusCode::Unavailable,
    StatusCode::Unimplemented,
    StatusCode::DataLoss,
    StatusCode::FailedPrecondition,
];
