//! The library a module reports, read from its wasm32 tables in the instance's data and verified
//! as `hal_local::verify_library` verifies native libraries.

use hal_core::{Result, StatusCode, MAX_BINDING_COUNT, MAX_CONSTANT_COUNT};
use hal_local::abi::{DispatchAttrs, DispatchParameter};

use crate::address_space::Block;
use crate::errors::{invalid, status};

/// One export as read from the library tables.
pub(crate) struct ExportTables {
    /// The slot of its function in the instance's function table.
    pub(crate) table_index: u32,
    /// Its dispatch attributes, checked against the ABI limits.
    pub(crate) attrs: DispatchAttrs,
    /// Its parameter descriptors, when the library has them (see [`read_parameters`]).
    pub(crate) parameters: Option<Vec<DispatchParameter>>,
    /// Its name.
    pub(crate) name: String,
}

/// A library as one instance reports it.
pub(crate) struct Library {
    /// The library's name.
    pub(crate) name: String,
    /// Its exports, by ordinal.
    pub(crate) exports: Vec<ExportTables>,
}

/// Reads the module's data, checked to lie inside its data block. Addresses are computed in
/// `u64` from the module's 32-bit pointers, so no pointer it returns can overflow them.
struct DataView<'a> {
    block: &'a Block,
}

impl DataView<'_> {
    fn bytes(&self, addr: u64, len: usize, what: &str) -> Result<&[u8]> {
        let start = u64::from(self.block.offset());
        let end = start + self.block.len() as u64;
        if addr < start || addr + len as u64 > end {
            return Err(invalid(format!(
                "the library's {what} (wasm address {addr:#x}, {len} bytes) lies outside its data"
            )));
        }
        let at = (addr - start) as usize;
        // SAFETY: the module's code does not run while the view is used (only by `read_library`,
        // between calls into the instance).
        let bytes = unsafe { self.block.bytes() };
        Ok(&bytes[at..at + len])
    }

    /// The u32 at `base + offset`.
    fn u32(&self, base: u32, offset: u64, what: &str) -> Result<u32> {
        let b = self.bytes(u64::from(base) + offset, 4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&self, addr: u32, what: &str) -> Result<String> {
        if addr == 0 {
            return Err(invalid(format!("library {what} is null")));
        }
        let end = u64::from(self.block.offset()) + self.block.len() as u64;
        let len = end.saturating_sub(u64::from(addr)) as usize;
        let bytes = self.bytes(u64::from(addr), len, what)?;
        let len = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| invalid(format!("library {what} is not NUL-terminated")))?;
        std::str::from_utf8(&bytes[..len])
            .map(str::to_owned)
            .map_err(|_| invalid(format!("library {what} is not UTF-8")))
    }
}

/// Reads and verifies the wasm32 library tables at wasm address `library` in the module's
/// `data` block, as `hal_local::verify_library` does natively. No code of the instance runs
/// while they are read.
pub(crate) fn read_library(
    data: &Block,
    library: u32,
    provided_constants: usize,
) -> Result<Library> {
    let data = &DataView { block: data };
    if library == 0 {
        return Err(status(
            StatusCode::Incompatible,
            "the library query returned null for version 6",
        ));
    }
    let header = data.u32(library, 0, "library struct")?;
    let version = data.u32(header, 0, "header")?;
    if version != hal_local::abi::LIBRARY_VERSION {
        return Err(status(
            StatusCode::Incompatible,
            format!(
                "library ABI version {version} is not the supported version {}",
                hal_local::abi::LIBRARY_VERSION
            ),
        ));
    }
    let name = data.string(data.u32(header, 4, "header")?, "name")?;
    let sanitizer = data.u32(header, 12, "header")?;
    if sanitizer != 0 {
        return Err(status(
            StatusCode::Incompatible,
            format!("library '{name}' was built with sanitizer kind {sanitizer}"),
        ));
    }
    let import_count = data.u32(library, 4, "import table")?;
    let symbols = data.u32(library, 8, "import table")?;
    for i in 0..import_count.min(65_536) {
        let symbol = data.string(
            data.u32(symbols, 4 * u64::from(i), "import symbols")?,
            "import name",
        )?;
        if !symbol.starts_with('?') {
            return Err(status(
                StatusCode::Unimplemented,
                format!("library '{name}' needs import '{symbol}'; wasm kernels get no imports"),
            ));
        }
    }
    let constant_count = data.u32(library, 52, "constant table")? as usize;
    if constant_count != provided_constants {
        return Err(invalid(format!(
            "library '{name}' takes {constant_count} executable constants, but {provided_constants} were given"
        )));
    }
    let count = data.u32(library, 12, "export table")?;
    let ptrs = data.u32(library, 16, "export table")?;
    let attrs = data.u32(library, 20, "export table")?;
    let params = data.u32(library, 24, "export table")?;
    let names = data.u32(library, 32, "export table")?;
    if count > hal_local::MAX_EXPORT_COUNT {
        return Err(invalid(format!(
            "library '{name}' declares {count} exports"
        )));
    }
    if count > 0 && (ptrs == 0 || attrs == 0 || names == 0) {
        return Err(invalid(format!(
            "library '{name}' export table lacks its function, attribute or name array"
        )));
    }
    let mut exports = Vec::with_capacity(count as usize);
    for ordinal in 0..count {
        let export_name = data.string(
            data.u32(names, 4 * u64::from(ordinal), "export names")?,
            &format!("export {ordinal} name"),
        )?;
        let table_index = data.u32(ptrs, 4 * u64::from(ordinal), "export functions")?;
        let raw = data.bytes(
            u64::from(attrs) + 64 * u64::from(ordinal),
            64,
            "export attributes",
        )?;
        // SAFETY: 64 readable bytes; DispatchAttrs is plain old data of that size with the same
        // layout in wasm32 (no pointers).
        let attrs: DispatchAttrs = unsafe { raw.as_ptr().cast::<DispatchAttrs>().read_unaligned() };
        if u32::from(attrs.constant_count) > MAX_CONSTANT_COUNT
            || u32::from(attrs.binding_count) > MAX_BINDING_COUNT
        {
            return Err(invalid(format!(
                "library '{name}' export '{export_name}' declares {} constants and {} bindings",
                attrs.constant_count, attrs.binding_count
            )));
        }
        let parameters = read_parameters(data, params, ordinal, &attrs)?;
        exports.push(ExportTables {
            table_index,
            attrs,
            parameters,
            name: export_name,
        });
    }
    Ok(Library { name, exports })
}

/// The parameter descriptors of export `ordinal` from the wasm32 `params` array (one pointer
/// per export to `parameter_count` 8-byte descriptors, laid out as on x86_64): `None` when the
/// array or the export's entry is null. `hal_local::export_info` checks what they say.
fn read_parameters(
    data: &DataView<'_>,
    params: u32,
    ordinal: u32,
    attrs: &DispatchAttrs,
) -> Result<Option<Vec<DispatchParameter>>> {
    if params == 0 {
        return Ok(None);
    }
    let entries = data.u32(params, 4 * u64::from(ordinal), "export parameters")?;
    if entries == 0 {
        return Ok(None);
    }
    let count = usize::from(attrs.parameter_count);
    let raw = data.bytes(u64::from(entries), 8 * count, "parameter descriptors")?;
    Ok(Some(
        raw.chunks_exact(8)
            .map(|b| DispatchParameter {
                kind: b[0],
                size: b[1],
                flags: u16::from_le_bytes([b[2], b[3]]),
                name: u16::from_le_bytes([b[4], b[5]]),
                offset: u16::from_le_bytes([b[6], b[7]]),
            })
            .collect(),
    ))
}
