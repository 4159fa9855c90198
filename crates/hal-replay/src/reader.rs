//! A bounds-checked little-endian cursor over captured bytes: every read either yields the
//! value or says which field ran past the end, so no length in a capture is ever trusted.

use hal_core::{Result, Status};

/// Reads little-endian fields from a byte slice, front to back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
    /// Where `bytes` starts in the capture file, so errors can name file offsets.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which start at file offset `base`.
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Reader<'a> {
        Reader {
            bytes,
            position: 0,
            base,
        }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// The file offset of the next byte.
    pub(crate) fn file_offset(&self) -> usize {
        self.base + self.position
    }

    /// The next `length` bytes, or an error naming `what`.
    pub(crate) fn take(&mut self, length: u64, what: &str) -> Result<&'a [u8]> {
        let length = usize::try_from(length)
            .ok()
            .filter(|&length| length <= self.remaining())
            .ok_or_else(|| {
                Status::out_of_range(format!(
                    "{what} needs {length} bytes at file offset {}, but only {} remain",
                    self.file_offset(),
                    self.remaining()
                ))
            })?;
        let bytes = &self.bytes[self.position..self.position + length];
        self.position += length;
        Ok(bytes)
    }

    /// The file range of the next `length` bytes (which are skipped), or an error naming `what`.
    pub(crate) fn take_range(&mut self, length: u64, what: &str) -> Result<ByteRange> {
        let start = self.file_offset();
        let bytes = self.take(length, what)?;
        Ok(ByteRange {
            start,
            length: bytes.len(),
        })
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.take(N as u64, what)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    /// A little-endian `u16`.
    pub(crate) fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u32`.
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u64`.
    pub(crate) fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Skips `length` bytes (padding or reserved fields, which are never validated: IREE leaves
    /// some of them uninitialised).
    pub(crate) fn skip(&mut self, length: u64, what: &str) -> Result<()> {
        self.take(length, what).map(|_| ())
    }

    /// A count that must be at most `limit` items of `item_size` bytes in what remains, so a
    /// huge count in a damaged file is refused before anything is allocated for it.
    pub(crate) fn count(&mut self, what: &str, item_size: u64) -> Result<usize> {
        let count = self.u64(what)?;
        self.check_count(count, what, item_size)
    }

    /// Checks a count read elsewhere against the bytes that remain (see [`Reader::count`]).
    pub(crate) fn check_count(&self, count: u64, what: &str, item_size: u64) -> Result<usize> {
        let needed = count.checked_mul(item_size.max(1));
        match needed {
            Some(needed) if needed <= self.remaining() as u64 => Ok(count as usize),
            _ => Err(Status::out_of_range(format!(
                "{what} is {count}, which needs more than the {} bytes left in the payload",
                self.remaining()
            ))),
        }
    }
}

/// A range of bytes in the capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ByteRange {
    /// File offset of the first byte.
    pub start: usize,
    /// Number of bytes.
    pub length: usize,
}

impl ByteRange {
    /// The bytes of this range in `file` (the capture it was read from).
    pub fn of<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        &file[self.start..self.start + self.length]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_fields_and_refuses_to_run_past_the_end() {
        let bytes = [1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9];
        let mut reader = Reader::new(&bytes, 100);
        assert_eq!(reader.u16("a").unwrap(), 1);
        assert_eq!(reader.u32("b").unwrap(), 2);
        assert_eq!(reader.u64("c").unwrap(), 3);
        assert_eq!(reader.file_offset(), 114);
        let error = reader.u16("field d").unwrap_err();
        assert!(error.message().contains("field d"), "{error}");
        assert!(error.message().contains("file offset 114"), "{error}");
        assert_eq!(reader.take(1, "e").unwrap(), &[9]);
        assert!(reader.take(u64::MAX, "huge").is_err());
    }

    #[test]
    fn counts_are_checked_against_what_remains() {
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 16]);
        let mut reader = Reader::new(&bytes, 0);
        let error = reader.count("binding_count", 32).unwrap_err();
        assert!(error.message().contains("binding_count"), "{error}");
        let reader = Reader::new(&[0; 64], 0);
        assert_eq!(reader.check_count(2, "n", 32).unwrap(), 2);
        assert!(reader.check_count(3, "n", 32).is_err());
    }
}
