//! Relocations, and the init and fini arrays they fill in, as the system loader applies them.
//!
//! glibc writes every relocation at the library's base plus `r_offset` without checking where
//! that is, applies the first `DT_RELACOUNT` relocations as relative ones without looking at
//! their type (asserting it, which stops the process), calls the resolver of every
//! `R_X86_64_IRELATIVE` relocation, and calls every entry of the init array when the library is
//! opened (the fini array when it is closed). So each relocation must be of a type the x86_64
//! system loader applies, write inside a writable loaded segment (any loaded segment if the
//! library declares text relocations), and name a symbol the table holds; a relative pointer
//! must point into the library's own image; and every init or fini entry must be filled in by a
//! relocation with a target in an executable segment (an entry left as it is in the file would be
//! called at that absolute address).

use hal_core::Result;
use object::elf;
use object::read::elf::{Rela as _, RelrIterator, Sym as _};
use object::LittleEndian;

use crate::dynamic::{Dynamic, ADDRESS_SIZE, RELA_SIZE};
use crate::image::{Access, Image, Range};
use crate::malformed::bad;
use crate::symbols::Symbols;

type Rela = elf::Rela64<LittleEndian>;

fn type_name(kind: u32) -> String {
    let name = match kind {
        elf::R_X86_64_NONE => "R_X86_64_NONE",
        elf::R_X86_64_64 => "R_X86_64_64",
        elf::R_X86_64_PC32 => "R_X86_64_PC32",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
        elf::R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
        elf::R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
        elf::R_X86_64_32 => "R_X86_64_32",
        elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        elf::R_X86_64_SIZE32 => "R_X86_64_SIZE32",
        elf::R_X86_64_SIZE64 => "R_X86_64_SIZE64",
        elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        other => return format!("relocation type {other}"),
    };
    name.to_string()
}

/// How many bytes a relocation of `kind` writes, for the types glibc's x86_64 loader applies
/// in a shared object; `None` for any other type.
fn width(kind: u32) -> Option<u64> {
    match kind {
        elf::R_X86_64_NONE => Some(0),
        elf::R_X86_64_PC32 | elf::R_X86_64_32 | elf::R_X86_64_SIZE32 => Some(4),
        elf::R_X86_64_64
        | elf::R_X86_64_GLOB_DAT
        | elf::R_X86_64_JUMP_SLOT
        | elf::R_X86_64_RELATIVE
        | elf::R_X86_64_DTPMOD64
        | elf::R_X86_64_DTPOFF64
        | elf::R_X86_64_TPOFF64
        | elf::R_X86_64_SIZE64
        | elf::R_X86_64_IRELATIVE => Some(8),
        // A descriptor: a function pointer and an argument.
        elf::R_X86_64_TLSDESC => Some(16),
        _ => None,
    }
}

/// What an init or fini array entry will hold once relocated.
#[derive(Clone, Copy)]
enum Entry {
    /// Nothing writes it: it keeps its file contents, an absolute address.
    Unrelocated,
    /// An address in this library.
    Local(u64),
    /// Whatever another library's symbol resolves to (the system loader refuses the library if
    /// nothing defines it), or what a checked IRELATIVE resolver returns.
    Resolved,
}

/// The init and fini arrays, one entry per slot.
struct Arrays {
    arrays: Vec<(&'static str, u64, Vec<Entry>)>,
}

impl Arrays {
    fn set(&mut self, offset: u64, entry: Entry) {
        for (_, address, entries) in &mut self.arrays {
            if let Some(slot) = offset
                .checked_sub(*address)
                .filter(|within| within % ADDRESS_SIZE == 0)
                .and_then(|within| entries.get_mut((within / ADDRESS_SIZE) as usize))
            {
                *slot = entry;
            }
        }
    }
}

/// Checks every relocation of `DT_RELA`, `DT_JMPREL` and `DT_RELR`, and the init and fini
/// arrays they fill in.
pub(crate) fn check(image: &Image<'_>, dynamic: &Dynamic<'_>, symbols: &Symbols<'_>) -> Result<()> {
    let endian = LittleEndian;
    let writable = if dynamic.textrel {
        Access::Mapped
    } else {
        Access::Write
    };
    let mut arrays = Arrays {
        arrays: dynamic
            .arrays
            .iter()
            .map(|&(name, address, size)| {
                (
                    name,
                    address,
                    vec![Entry::Unrelocated; (size / ADDRESS_SIZE) as usize],
                )
            })
            .collect(),
    };
    for (table_name, bytes) in [("DT_RELA", dynamic.rela), ("DT_JMPREL", dynamic.jmprel)] {
        let count = bytes.len() / RELA_SIZE as usize;
        let (relocations, _) = object::pod::slice_from_bytes::<Rela>(bytes, count)
            .map_err(|()| bad(format_args!("the {table_name} table cannot be read")))?;
        let relative_count = if table_name == "DT_RELA" {
            dynamic.relacount.unwrap_or(0)
        } else {
            0
        };
        for (index, relocation) in relocations.iter().enumerate() {
            let kind = relocation.r_type(endian, false);
            let (offset, addend) = (relocation.r_offset(endian), relocation.r_addend(endian));
            let what = || format!("{table_name} relocation {index} ({})", type_name(kind));
            if (index as u64) < relative_count && kind != elf::R_X86_64_RELATIVE {
                return Err(bad(format_args!(
                    "{} is among the first {relative_count} (DT_RELACOUNT), which must be R_X86_64_RELATIVE",
                    what()
                )));
            }
            let Some(size) = width(kind) else {
                return Err(bad(format_args!(
                    "{} is not one the x86_64 system loader applies in a shared object",
                    what()
                )));
            };
            if size == 0 {
                continue;
            }
            if !image.contains(offset, size, writable) {
                return Err(bad(format_args!(
                    "{} writes {}, outside {}",
                    what(),
                    Range(offset, size),
                    writable.segments()
                )));
            }
            let index_of_symbol = relocation.r_sym(endian, false);
            let symbol = match index_of_symbol {
                0 => None,
                n => Some(symbols.table.get(n as usize).ok_or_else(|| {
                    bad(format_args!(
                        "{} names symbol {n}, but the dynamic symbol table has {}",
                        what(),
                        symbols.table.len()
                    ))
                })?),
            };
            let defined = symbol.filter(|s| s.st_shndx(endian) != elf::SHN_UNDEF);
            match kind {
                elf::R_X86_64_RELATIVE => {
                    // A pointer into the library; one past its end is still a pointer to it.
                    let target = addend as u64;
                    if addend < 0 || target > image.end() {
                        return Err(bad(format_args!(
                            "{} points to {target:#x}, outside the library's image {}",
                            what(),
                            Range(0, image.end())
                        )));
                    }
                    arrays.set(offset, Entry::Local(target));
                }
                elf::R_X86_64_IRELATIVE => {
                    // The system loader calls the resolver while loading.
                    let resolver = addend as u64;
                    if !image.contains(resolver, 1, Access::Execute) {
                        return Err(bad(format_args!(
                            "{}'s resolver {resolver:#x} is not inside {}",
                            what(),
                            Access::Execute.segments()
                        )));
                    }
                    arrays.set(offset, Entry::Resolved);
                }
                elf::R_X86_64_64 | elf::R_X86_64_GLOB_DAT | elf::R_X86_64_JUMP_SLOT => {
                    let entry = match defined {
                        Some(s) if s.st_shndx(endian) != elf::SHN_ABS => {
                            let value = s.st_value(endian);
                            let addend = if kind == elf::R_X86_64_64 { addend } else { 0 };
                            Entry::Local(value.wrapping_add(addend as u64))
                        }
                        Some(_) => Entry::Unrelocated,
                        None if index_of_symbol == 0 => Entry::Unrelocated,
                        None => Entry::Resolved,
                    };
                    arrays.set(offset, entry);
                }
                // Thread-local data of this library needs its TLS segment.
                elf::R_X86_64_DTPMOD64
                | elf::R_X86_64_DTPOFF64
                | elf::R_X86_64_TPOFF64
                | elf::R_X86_64_TLSDESC
                    if (index_of_symbol == 0 || defined.is_some()) && !image.has_tls =>
                {
                    return Err(bad(format_args!(
                        "{} refers to the library's thread-local data, but it has no TLS segment",
                        what()
                    )));
                }
                _ => {}
            }
        }
    }

    // Packed relative relocations: each adds the base to the address stored in place.
    let count = dynamic.relr.len() / ADDRESS_SIZE as usize;
    let (relr, _) = object::pod::slice_from_bytes::<elf::Relr64<LittleEndian>>(dynamic.relr, count)
        .map_err(|()| bad("the DT_RELR table cannot be read"))?;
    // Each address entry must lie in the image before the bitmaps after it are expanded (a
    // bitmap entry advances from the last address by 504 bytes, so nothing can overflow).
    for entry in relr {
        let address = entry.0.get(endian);
        if address & 1 == 0 && !image.contains(address, ADDRESS_SIZE, writable) {
            return Err(bad(format_args!(
                "a DT_RELR relocation writes {}, outside {}",
                Range(address, ADDRESS_SIZE),
                writable.segments()
            )));
        }
    }
    for offset in RelrIterator::<elf::FileHeader64<LittleEndian>>::new(endian, relr) {
        if !image.contains(offset, ADDRESS_SIZE, writable) {
            return Err(bad(format_args!(
                "a DT_RELR relocation writes {}, outside {}",
                Range(offset, ADDRESS_SIZE),
                writable.segments()
            )));
        }
        // The pointer is the address stored in place (zero in the zero-filled tail).
        let stored = image.file_bytes(offset, ADDRESS_SIZE).map_or(0, |bytes| {
            u64::from_le_bytes(bytes.try_into().unwrap_or_default())
        });
        if stored > image.end() {
            return Err(bad(format_args!(
                "a DT_RELR relocation at {offset:#x} points to {stored:#x}, outside the library's image {}",
                Range(0, image.end())
            )));
        }
        arrays.set(offset, Entry::Local(stored));
    }

    for (name, address, entries) in &arrays.arrays {
        for (index, entry) in entries.iter().enumerate() {
            let at = address + index as u64 * ADDRESS_SIZE;
            match *entry {
                Entry::Unrelocated => {
                    return Err(bad(format_args!(
                        "{name} entry {index} (at {at:#x}) is not relocated, so the system loader would call the absolute address stored there"
                    )))
                }
                Entry::Local(target) if !image.contains(target, 1, Access::Execute) => {
                    return Err(bad(format_args!(
                        "{name} entry {index} (at {at:#x}) calls {target:#x}, not inside {}",
                        Access::Execute.segments()
                    )))
                }
                _ => {}
            }
        }
    }
    Ok(())
}
