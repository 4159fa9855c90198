//! Fill patterns: the one, two or four bytes a fill writes over and over, and the alignment a
//! fill's range must have for them.

use crate::memory::DeviceSize;
use crate::status::{Result, Status};

/// The value a fill command writes repeatedly: one, two or four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FillPattern {
    /// A one-byte pattern.
    U8(u8),
    /// A two-byte pattern (little-endian in memory).
    U16(u16),
    /// A four-byte pattern (little-endian in memory).
    U32(u32),
}

impl FillPattern {
    /// The pattern's width in bytes: 1, 2 or 4. Fill offsets and lengths must be multiples of it.
    pub fn width(self) -> u64 {
        match self {
            FillPattern::U8(_) => 1,
            FillPattern::U16(_) => 2,
            FillPattern::U32(_) => 4,
        }
    }

    /// The pattern's bytes in memory order, padded to 4 bytes by repetition.
    pub fn repeated_word(self) -> [u8; 4] {
        match self {
            FillPattern::U8(v) => [v; 4],
            FillPattern::U16(v) => {
                let b = v.to_le_bytes();
                [b[0], b[1], b[0], b[1]]
            }
            FillPattern::U32(v) => v.to_le_bytes(),
        }
    }

    /// Builds a pattern from 1, 2 or 4 bytes in memory order.
    pub fn from_bytes(bytes: &[u8]) -> Result<FillPattern> {
        match *bytes {
            [a] => Ok(FillPattern::U8(a)),
            [a, b] => Ok(FillPattern::U16(u16::from_le_bytes([a, b]))),
            [a, b, c, d] => Ok(FillPattern::U32(u32::from_le_bytes([a, b, c, d]))),
            _ => Err(Status::invalid_argument(format!(
                "fill pattern length {} is not 1, 2 or 4 bytes",
                bytes.len()
            ))),
        }
    }
}

/// Writes `pattern` over all of `target`, whose length and placement the caller has checked to
/// be a multiple of the pattern length.
pub fn fill_bytes(target: &mut [u8], pattern: FillPattern) {
    let word = pattern.repeated_word();
    match pattern {
        FillPattern::U8(v) => target.fill(v),
        _ => {
            let step = pattern.width() as usize;
            for chunk in target.chunks_exact_mut(step) {
                chunk.copy_from_slice(&word[..step]);
            }
        }
    }
}

/// Checks that a fill of `length` bytes at `offset` is aligned to the pattern length.
pub fn check_fill_alignment(
    offset: DeviceSize,
    length: DeviceSize,
    pattern: FillPattern,
) -> Result<()> {
    let size = pattern.width();
    if !offset.is_multiple_of(size) || !length.is_multiple_of(size) {
        return Err(Status::invalid_argument(format!(
            "fill offset {offset} and length {length} must be multiples of the {size}-byte pattern"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_patterns_repeat_in_memory_order() {
        let mut buf = [0u8; 8];
        fill_bytes(&mut buf, FillPattern::U16(0x0201));
        assert_eq!(buf, [1, 2, 1, 2, 1, 2, 1, 2]);
        fill_bytes(&mut buf, FillPattern::U32(0x04030201));
        assert_eq!(buf, [1, 2, 3, 4, 1, 2, 3, 4]);
        assert!(FillPattern::from_bytes(&[1, 2, 3]).is_err());
    }
}
