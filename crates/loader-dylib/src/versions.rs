//! Symbol versions, as the system loader reads them.
//!
//! glibc walks the version needs (`DT_VERNEED`) and definitions (`DT_VERDEF`) by their `next`
//! links, reading names from the string table and asserting that every needed file is one of
//! the `DT_NEEDED` libraries; it sizes its version array by the highest version index they
//! give, and then indexes that array with every entry of `DT_VERSYM`, unchecked. The checks
//! walk the same links through the image, with a budget of records so that a damaged chain
//! cannot make them slow.

use hal_core::Result;
use object::elf;
use object::LittleEndian;

use crate::dynamic::Dynamic;
use crate::image::{Image, Range};
use crate::malformed::bad;

/// Reads one `T` at `address` from the image's file contents.
fn record<'data, T: object::Pod>(
    image: &Image<'data>,
    what: &str,
    address: u64,
) -> Result<&'data T> {
    let size = std::mem::size_of::<T>() as u64;
    image
        .file_bytes(address, size)
        .and_then(|bytes| object::pod::from_bytes::<T>(bytes).ok())
        .map(|(value, _)| value)
        .ok_or_else(|| {
            bad(format_args!(
                "{what} {} is not inside the loaded segments' file contents",
                Range(address, size)
            ))
        })
}

/// Checks the version needs, definitions and symbol versions of a library with `symbols`
/// dynamic symbols. `budget` bounds the records walked (a file of `n` bytes holds fewer than
/// `n / 8` of them).
pub(crate) fn check(
    image: &Image<'_>,
    dynamic: &Dynamic<'_>,
    symbols: u64,
    mut budget: usize,
) -> Result<()> {
    let endian = LittleEndian;
    let mut spend = |what: &str| {
        budget = budget
            .checked_sub(1)
            .ok_or_else(|| bad(format_args!("the {what} records form a loop")))?;
        Ok::<(), hal_core::Status>(())
    };
    let string = |what: &str, offset: u32| {
        dynamic.strings.get(offset).map_err(|()| {
            bad(format_args!(
                "{what} (offset {offset}) does not end inside the {}-byte dynamic string table",
                dynamic.strings_size
            ))
        })
    };
    // The highest version index, which sizes the system loader's version array.
    let mut highest = 0u16;
    if let Some(mut address) = dynamic.verneed {
        loop {
            spend("DT_VERNEED")?;
            let need: &elf::Verneed<LittleEndian> = record(image, "a DT_VERNEED record", address)?;
            if need.vn_version.get(endian) != elf::VER_NEED_CURRENT {
                return Err(bad(format_args!(
                    "a DT_VERNEED record has version {}, not {}",
                    need.vn_version.get(endian),
                    elf::VER_NEED_CURRENT
                )));
            }
            let file = string("a DT_VERNEED file name", need.vn_file.get(endian))?;
            // glibc asserts that the file is one the library needs.
            if !dynamic.needed.iter().any(|n| n.as_bytes() == file) {
                return Err(bad(format_args!(
                    "a DT_VERNEED record names {}, which is not among the DT_NEEDED libraries {:?}",
                    String::from_utf8_lossy(file),
                    dynamic.needed
                )));
            }
            let mut aux = address.saturating_add(u64::from(need.vn_aux.get(endian)));
            loop {
                spend("DT_VERNEED")?;
                let version: &elf::Vernaux<LittleEndian> =
                    record(image, "a DT_VERNEED version record", aux)?;
                string("a DT_VERNEED version name", version.vna_name.get(endian))?;
                highest = highest.max(version.vna_other.get(endian) & 0x7fff);
                match version.vna_next.get(endian) {
                    0 => break,
                    next => aux = aux.saturating_add(u64::from(next)),
                }
            }
            match need.vn_next.get(endian) {
                0 => break,
                next => address = address.saturating_add(u64::from(next)),
            }
        }
    }
    if let Some(mut address) = dynamic.verdef {
        loop {
            spend("DT_VERDEF")?;
            let def: &elf::Verdef<LittleEndian> = record(image, "a DT_VERDEF record", address)?;
            let aux = address.saturating_add(u64::from(def.vd_aux.get(endian)));
            let name: &elf::Verdaux<LittleEndian> = record(image, "a DT_VERDEF name record", aux)?;
            string("a DT_VERDEF version name", name.vda_name.get(endian))?;
            highest = highest.max(def.vd_ndx.get(endian) & 0x7fff);
            match def.vd_next.get(endian) {
                0 => break,
                next => address = address.saturating_add(u64::from(next)),
            }
        }
    }
    if let Some(address) = dynamic.versym {
        if highest == 0 {
            return Err(bad(
                "the dynamic section has symbol versions (DT_VERSYM) but no version needs or definitions",
            ));
        }
        let size = symbols.saturating_mul(2);
        let table = image
            .file_bytes(address, size)
            .and_then(|bytes| {
                object::pod::slice_from_bytes::<object::U16<LittleEndian>>(bytes, symbols as usize)
                    .ok()
            })
            .map(|(table, _)| table)
            .ok_or_else(|| {
                bad(format_args!(
                    "the symbol versions (DT_VERSYM) of {symbols} symbols {} are not inside the loaded segments' file contents",
                    Range(address, size)
                ))
            })?;
        for (index, version) in table.iter().enumerate() {
            let version = version.get(endian) & 0x7fff;
            if version > highest {
                return Err(bad(format_args!(
                    "dynamic symbol {index} has version index {version}, but the highest defined or needed is {highest}"
                )));
            }
        }
    }
    Ok(())
}
