//! The `dylink.0` custom section of a WebAssembly side module: how much linear memory and how many
//! table slots the module needs, and their alignment.

use hal_core::{Result, Status, StatusCode};

/// MEM_INFO of `dylink.0` (all zero when the module has no such section).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// Bytes of data the module places at `__memory_base`.
    pub memory_size: u32,
    /// log2 of the alignment `__memory_base` needs.
    pub memory_align: u32,
    /// Table slots the module places at `__table_base`.
    pub table_size: u32,
    /// log2 of the alignment `__table_base` needs.
    pub table_align: u32,
}

fn invalid(message: impl Into<String>) -> Status {
    Status::new(StatusCode::InvalidArgument, message.into())
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .data
            .get(self.at)
            .ok_or_else(|| invalid("the wasm module is truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn leb_u32(&mut self) -> Result<u32> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| invalid("LEB128 value exceeds u32"));
            }
        }
        Err(invalid("LEB128 value is too long"))
    }

    fn bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| invalid("the wasm module is truncated"))?;
        let slice = &self.data[self.at..end];
        self.at = end;
        Ok(slice)
    }
}

/// Whether `data` starts like a WebAssembly binary module.
pub fn is_wasm(data: &[u8]) -> bool {
    data.len() >= 8 && data[..4] == *b"\0asm" && data[4..8] == [1, 0, 0, 0]
}

/// Reads MEM_INFO from the module's `dylink.0` section (which must come first among sections, as
/// the tool convention says; it is looked for among all custom sections).
pub fn mem_info(data: &[u8]) -> Result<MemInfo> {
    let mut reader = Reader { data, at: 8 };
    while reader.at < data.len() {
        let id = reader.byte()?;
        let size = reader.leb_u32()? as usize;
        let body = reader.bytes(size)?;
        if id != 0 {
            continue;
        }
        let mut section = Reader { data: body, at: 0 };
        let name_len = section.leb_u32()? as usize;
        if section.bytes(name_len)? != b"dylink.0" {
            continue;
        }
        while section.at < body.len() {
            let kind = section.byte()?;
            let len = section.leb_u32()? as usize;
            let payload = section.bytes(len)?;
            if kind == 1 {
                let mut info = Reader {
                    data: payload,
                    at: 0,
                };
                return Ok(MemInfo {
                    memory_size: info.leb_u32()?,
                    memory_align: info.leb_u32()?,
                    table_size: info.leb_u32()?,
                    table_align: info.leb_u32()?,
                });
            }
        }
        return Ok(MemInfo::default());
    }
    Ok(MemInfo::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_info() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        // custom section: name "dylink.0", MEM_INFO {288, 4, 1, 0}
        let payload = [0xa0, 0x02, 4, 1, 0];
        let mut body = vec![8];
        body.extend_from_slice(b"dylink.0");
        body.extend_from_slice(&[1, payload.len() as u8]);
        body.extend_from_slice(&payload);
        module.push(0);
        module.push(body.len() as u8);
        module.extend_from_slice(&body);
        assert!(is_wasm(&module));
        assert_eq!(
            mem_info(&module).unwrap(),
            MemInfo {
                memory_size: 288,
                memory_align: 4,
                table_size: 1,
                table_align: 0
            }
        );
        assert!(mem_info(&module[..module.len() - 2]).is_err());
    }
}
