//! The dynamic section, read as the system loader reads it: through the loaded segments.
//!
//! Every table the dynamic entries name (strings, symbols, hash tables, relocations, init and
//! fini arrays) must lie in the loaded segments' file contents with a size the entries state and
//! the entry sizes x86_64 uses; every string they name must end inside the string table; and the
//! initialisation and finalisation functions must lie in an executable segment. glibc's `ld.so`
//! dereferences all of these unchecked (or stops the process on a failed internal assertion).

use std::collections::BTreeMap;

use hal_core::Result;
use object::elf;
use object::read::elf::Dyn as _;
use object::read::StringTable;
use object::LittleEndian;

use crate::image::{Access, Image, Range};
use crate::malformed::bad;

/// Size of an x86_64 `Elf64_Rela`.
pub(crate) const RELA_SIZE: u64 = 24;
/// Size of an x86_64 `Elf64_Sym`.
pub(crate) const SYM_SIZE: u64 = 24;
/// Size of an address (`Elf64_Addr`): an init/fini array entry, a `DT_RELR` entry.
pub(crate) const ADDRESS_SIZE: u64 = 8;

/// The dynamic entries the checks interpret, checked against the image.
pub(crate) struct Dynamic<'data> {
    /// The dynamic string table (`DT_STRTAB`, `DT_STRSZ`).
    pub strings: StringTable<'data>,
    /// The string table's size.
    pub strings_size: u64,
    /// The dynamic symbol table's address (`DT_SYMTAB`); its length comes from the hash tables.
    pub symtab: u64,
    /// The SysV hash table's address (`DT_HASH`).
    pub hash: Option<u64>,
    /// The GNU hash table's address (`DT_GNU_HASH`).
    pub gnu_hash: Option<u64>,
    /// The relocation table (`DT_RELA`, `DT_RELASZ`).
    pub rela: &'data [u8],
    /// How many leading `DT_RELA` entries are relative relocations (`DT_RELACOUNT`).
    pub relacount: Option<u64>,
    /// The PLT relocation table (`DT_JMPREL`, `DT_PLTRELSZ`).
    pub jmprel: &'data [u8],
    /// The packed relative relocations (`DT_RELR`, `DT_RELRSZ`).
    pub relr: &'data [u8],
    /// The init and fini arrays (`DT_INIT_ARRAY`/`SZ`, `DT_FINI_ARRAY`/`SZ`): name, address, size.
    pub arrays: Vec<(&'static str, u64, u64)>,
    /// Relocations may write to read-only segments (`DT_TEXTREL`, `DF_TEXTREL`).
    pub textrel: bool,
    /// The symbol version table (`DT_VERSYM`).
    pub versym: Option<u64>,
    /// The version needs (`DT_VERNEED`).
    pub verneed: Option<u64>,
    /// The version definitions (`DT_VERDEF`).
    pub verdef: Option<u64>,
    /// The names of the `DT_NEEDED` libraries.
    pub needed: Vec<String>,
}

fn tag_name(tag: i64) -> String {
    let name = match tag {
        elf::DT_NEEDED => "DT_NEEDED",
        elf::DT_PLTRELSZ => "DT_PLTRELSZ",
        elf::DT_HASH => "DT_HASH",
        elf::DT_STRTAB => "DT_STRTAB",
        elf::DT_SYMTAB => "DT_SYMTAB",
        elf::DT_RELA => "DT_RELA",
        elf::DT_RELASZ => "DT_RELASZ",
        elf::DT_RELAENT => "DT_RELAENT",
        elf::DT_STRSZ => "DT_STRSZ",
        elf::DT_SYMENT => "DT_SYMENT",
        elf::DT_INIT => "DT_INIT",
        elf::DT_FINI => "DT_FINI",
        elf::DT_SONAME => "DT_SONAME",
        elf::DT_RPATH => "DT_RPATH",
        elf::DT_PLTREL => "DT_PLTREL",
        elf::DT_TEXTREL => "DT_TEXTREL",
        elf::DT_JMPREL => "DT_JMPREL",
        elf::DT_INIT_ARRAY => "DT_INIT_ARRAY",
        elf::DT_FINI_ARRAY => "DT_FINI_ARRAY",
        elf::DT_INIT_ARRAYSZ => "DT_INIT_ARRAYSZ",
        elf::DT_FINI_ARRAYSZ => "DT_FINI_ARRAYSZ",
        elf::DT_RUNPATH => "DT_RUNPATH",
        elf::DT_FLAGS => "DT_FLAGS",
        elf::DT_RELRSZ => "DT_RELRSZ",
        elf::DT_RELR => "DT_RELR",
        elf::DT_RELRENT => "DT_RELRENT",
        elf::DT_GNU_HASH => "DT_GNU_HASH",
        elf::DT_VERSYM => "DT_VERSYM",
        elf::DT_RELACOUNT => "DT_RELACOUNT",
        elf::DT_VERDEF => "DT_VERDEF",
        elf::DT_VERNEED => "DT_VERNEED",
        elf::DT_AUXILIARY => "DT_AUXILIARY",
        elf::DT_FILTER => "DT_FILTER",
        other => return format!("dynamic tag {other:#x}"),
    };
    name.to_string()
}

/// Tags whose value names a string in the dynamic string table.
const STRING_TAGS: [i64; 6] = [
    elf::DT_NEEDED,
    elf::DT_SONAME,
    elf::DT_RPATH,
    elf::DT_RUNPATH,
    elf::DT_AUXILIARY,
    elf::DT_FILTER,
];

/// Tags the checks interpret, which must each appear at most once (the system loader would
/// silently use the last).
const SINGLE_TAGS: [i64; 29] = [
    elf::DT_PLTRELSZ,
    elf::DT_HASH,
    elf::DT_STRTAB,
    elf::DT_SYMTAB,
    elf::DT_RELA,
    elf::DT_RELASZ,
    elf::DT_RELAENT,
    elf::DT_STRSZ,
    elf::DT_SYMENT,
    elf::DT_INIT,
    elf::DT_FINI,
    elf::DT_SONAME,
    elf::DT_RPATH,
    elf::DT_PLTREL,
    elf::DT_JMPREL,
    elf::DT_INIT_ARRAY,
    elf::DT_FINI_ARRAY,
    elf::DT_INIT_ARRAYSZ,
    elf::DT_FINI_ARRAYSZ,
    elf::DT_RUNPATH,
    elf::DT_FLAGS,
    elf::DT_RELRSZ,
    elf::DT_RELR,
    elf::DT_RELRENT,
    elf::DT_GNU_HASH,
    elf::DT_VERSYM,
    elf::DT_RELACOUNT,
    elf::DT_VERDEF,
    elf::DT_VERNEED,
];

impl<'data> Dynamic<'data> {
    /// Reads and checks the dynamic entries of `image`.
    pub(crate) fn read(image: &Image<'data>) -> Result<Dynamic<'data>> {
        let endian = LittleEndian;
        let (address, size) = image.dynamic;
        // The image check confirmed the section lies in the file contents.
        let bytes = image.file_bytes(address, size).unwrap_or_default();
        let count = bytes.len() / std::mem::size_of::<elf::Dyn64<LittleEndian>>();
        let (entries, _) = object::pod::slice_from_bytes::<elf::Dyn64<LittleEndian>>(bytes, count)
            .map_err(|()| bad("the dynamic section cannot be read"))?;
        let mut values = BTreeMap::new();
        let mut strings_named = Vec::new();
        let mut terminated = false;
        for entry in entries {
            let (tag, value) = (entry.tag(endian), entry.val(endian));
            if tag == elf::DT_NULL {
                terminated = true;
                break;
            }
            if STRING_TAGS.contains(&tag) {
                strings_named.push((tag, value));
            }
            if SINGLE_TAGS.contains(&tag) && values.insert(tag, value).is_some() {
                return Err(bad(format_args!(
                    "the dynamic section has {} twice",
                    tag_name(tag)
                )));
            }
        }
        // The system loader reads entries until DT_NULL, past the section if need be.
        if !terminated {
            return Err(bad(format_args!(
                "the dynamic section at {} has no DT_NULL entry to end it",
                Range(address, size)
            )));
        }
        let get = |tag: i64| values.get(&tag).copied();
        let required = |tag: i64| {
            get(tag)
                .ok_or_else(|| bad(format_args!("the dynamic section has no {}", tag_name(tag))))
        };
        // A table of `size` bytes at the address in `tag`: inside the file contents.
        let table = |tag: i64, size: u64| -> Result<&'data [u8]> {
            let address = required(tag)?;
            image.file_bytes(address, size).ok_or_else(|| {
                bad(format_args!(
                    "{} {} is not inside the loaded segments' file contents",
                    tag_name(tag),
                    Range(address, size)
                ))
            })
        };
        let entry_size = |tag: i64, expected: u64| -> Result<()> {
            match get(tag) {
                Some(size) if size != expected => Err(bad(format_args!(
                    "{} is {size}; x86_64 entries are {expected} bytes",
                    tag_name(tag)
                ))),
                _ => Ok(()),
            }
        };
        // A table of whole entries: its address and size tags both present, or neither.
        let sized_table = |tag: i64, size_tag: i64, entry: u64| -> Result<&'data [u8]> {
            match (get(tag), get(size_tag)) {
                (None, None) => Ok(&[]),
                (Some(_), None) | (None, Some(_)) => Err(bad(format_args!(
                    "the dynamic section has {} without {}",
                    tag_name(if get(tag).is_some() { tag } else { size_tag }),
                    tag_name(if get(tag).is_some() { size_tag } else { tag }),
                ))),
                (Some(_), Some(size)) if size % entry != 0 => Err(bad(format_args!(
                    "{} is {size}, not a multiple of the {entry}-byte entry",
                    tag_name(size_tag)
                ))),
                (Some(_), Some(size)) => table(tag, size),
            }
        };

        let strings_size = required(elf::DT_STRSZ)?;
        let strings = StringTable::new(table(elf::DT_STRTAB, strings_size)?, 0, strings_size);
        let mut needed = Vec::new();
        for (tag, offset) in strings_named {
            let name = u32::try_from(offset)
                .ok()
                .and_then(|offset| strings.get(offset).ok())
                .ok_or_else(|| {
                    bad(format_args!(
                        "the {} string at offset {offset} does not end inside the {strings_size}-byte dynamic string table",
                        tag_name(tag)
                    ))
                })?;
            if tag == elf::DT_NEEDED {
                needed.push(String::from_utf8_lossy(name).into_owned());
            }
        }

        let symtab = required(elf::DT_SYMTAB)?;
        entry_size(elf::DT_SYMENT, SYM_SIZE)?;
        entry_size(elf::DT_RELAENT, RELA_SIZE)?;
        if get(elf::DT_RELA).is_some() && get(elf::DT_RELAENT).is_none() {
            return Err(bad("the dynamic section has DT_RELA without DT_RELAENT"));
        }
        let rela = sized_table(elf::DT_RELA, elf::DT_RELASZ, RELA_SIZE)?;
        let relacount = get(elf::DT_RELACOUNT);
        if let Some(count) = relacount {
            if count > rela.len() as u64 / RELA_SIZE {
                return Err(bad(format_args!(
                    "DT_RELACOUNT is {count}, but DT_RELA holds {} relocations",
                    rela.len() as u64 / RELA_SIZE
                )));
            }
        }
        // x86_64 uses RELA relocations only; PLT relocations the system loader would not
        // recognise as RELA are not applied at all.
        match get(elf::DT_PLTREL) {
            Some(kind) if kind != elf::DT_RELA as u64 => {
                return Err(bad(format_args!(
                    "DT_PLTREL is {kind}; x86_64 PLT relocations are DT_RELA ({})",
                    elf::DT_RELA
                )))
            }
            None if get(elf::DT_JMPREL).is_some() => {
                return Err(bad("the dynamic section has DT_JMPREL without DT_PLTREL"))
            }
            _ => {}
        }
        let jmprel = sized_table(elf::DT_JMPREL, elf::DT_PLTRELSZ, RELA_SIZE)?;
        entry_size(elf::DT_RELRENT, ADDRESS_SIZE)?;
        let relr = sized_table(elf::DT_RELR, elf::DT_RELRSZ, ADDRESS_SIZE)?;

        // Functions the system loader calls.
        for tag in [elf::DT_INIT, elf::DT_FINI] {
            if let Some(address) = get(tag) {
                if !image.contains(address, 1, Access::Execute) {
                    return Err(bad(format_args!(
                        "{} {address:#x} is not inside {}",
                        tag_name(tag),
                        Access::Execute.segments()
                    )));
                }
            }
        }
        let mut arrays = Vec::new();
        for (tag, size_tag, name) in [
            (elf::DT_INIT_ARRAY, elf::DT_INIT_ARRAYSZ, "DT_INIT_ARRAY"),
            (elf::DT_FINI_ARRAY, elf::DT_FINI_ARRAYSZ, "DT_FINI_ARRAY"),
        ] {
            // Checked to lie in the file; relocations fill the entries in.
            if !sized_table(tag, size_tag, ADDRESS_SIZE)?.is_empty() {
                arrays.push((name, required(tag)?, required(size_tag)?));
            }
        }

        let flags = get(elf::DT_FLAGS).unwrap_or(0);
        let textrel = get(elf::DT_TEXTREL).is_some() || flags & u64::from(elf::DF_TEXTREL) != 0;
        let versym = get(elf::DT_VERSYM);
        // The system loader walks version records by their `next` links, not their counts.
        let verneed = get(elf::DT_VERNEED);
        let verdef = get(elf::DT_VERDEF);
        Ok(Dynamic {
            strings,
            strings_size,
            symtab,
            hash: get(elf::DT_HASH),
            gnu_hash: get(elf::DT_GNU_HASH),
            rela,
            relacount,
            jmprel,
            relr,
            arrays,
            textrel,
            versym,
            verneed,
            verdef,
            needed,
        })
    }
}
