//! Checks made on a library's bytes before anything is mapped.
//!
//! The system loader trusts what it maps: a truncated file, a file for another machine or a
//! program instead of a library would crash or run foreign code at `dlopen`. So the bytes are read
//! with `object` first, and everything the loader would rely on is confirmed: an ELF64
//! little-endian shared object (`ET_DYN` without `PT_INTERP`: a position-independent executable
//! is `ET_DYN` too, but has an interpreter) for x86_64, whose headers, segments and sections all
//! lie inside the file, with a loadable segment, a dynamic section, and a defined function
//! `iree_hal_executable_library_query` in its dynamic symbol table.
//!
//! The section header table is required (the dynamic symbol table is found through it), so a
//! library whose section headers were stripped (`sstrip`) is refused; compilers and linkers
//! always write them.
//!
//! These checks catch damaged and wrong files; they cannot make foreign code safe. A library
//! that passes them is still native code the process trusts.

use hal_core::{Result, Status};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use object::LittleEndian;

/// The symbol every IREE system or embedded ELF library exports.
pub const QUERY_SYMBOL: &str = "iree_hal_executable_library_query";

/// What the checks learned about a library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibraryFacts {
    /// Names of the shared libraries it needs (`DT_NEEDED`); IREE's libraries need none, a Rust
    /// `cdylib` needs the C library.
    pub needed: Vec<String>,
}

/// Whether `data` starts with the ELF magic; data that does not is not this loader's.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(&elf::ELFMAG)
}

fn bad(message: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("not a loadable kernel library: {message}"))
}

fn truncated(what: &str, start: u64, size: u64, file: usize) -> Status {
    bad(format_args!(
        "truncated: {what} needs bytes [{start}, {}) but the file has {file} bytes",
        start.saturating_add(size)
    ))
}

fn machine_name(machine: u16) -> String {
    match machine {
        elf::EM_386 => "x86 (32-bit)".into(),
        elf::EM_X86_64 => "x86_64".into(),
        elf::EM_AARCH64 => "aarch64".into(),
        elf::EM_ARM => "arm".into(),
        elf::EM_RISCV => "riscv".into(),
        elf::EM_PPC64 => "ppc64".into(),
        other => format!("ELF machine {other}"),
    }
}

/// Checks that `data` is an x86_64 ELF shared object exporting the library query, with every
/// header, segment and section inside the file. Errors say what is wrong.
pub fn check_shared_object(data: &[u8]) -> Result<LibraryFacts> {
    if !is_elf(data) {
        return Err(bad("the data does not start with the ELF magic"));
    }
    if data.len() < 64 {
        return Err(truncated("the ELF64 file header", 0, 64, data.len()));
    }
    match data[4] {
        elf::ELFCLASS64 => {}
        elf::ELFCLASS32 => return Err(bad("a 32-bit ELF file; x86_64 libraries are ELF64")),
        other => return Err(bad(format_args!("unknown ELF class {other}"))),
    }
    if data[5] != elf::ELFDATA2LSB {
        return Err(bad(
            "a big-endian ELF file; x86_64 libraries are little-endian",
        ));
    }
    let header = elf::FileHeader64::<LittleEndian>::parse(data)
        .map_err(|e| bad(format_args!("malformed ELF header: {e}")))?;
    let endian = LittleEndian;
    let machine = header.e_machine(endian);
    if machine != elf::EM_X86_64 {
        return Err(Status::incompatible(format!(
            "the library is built for {}, not x86_64",
            machine_name(machine)
        )));
    }
    match header.e_type(endian) {
        elf::ET_DYN => {}
        elf::ET_EXEC => {
            return Err(bad(
                "an executable program (ET_EXEC), not a shared object (ET_DYN)",
            ))
        }
        elf::ET_REL => {
            return Err(bad(
                "a relocatable object file (ET_REL); link it into the program and use the static format, or link it as a shared object",
            ))
        }
        elf::ET_CORE => return Err(bad("a core dump (ET_CORE), not a shared object")),
        other => return Err(bad(format_args!("ELF file type {other} is not ET_DYN"))),
    }

    // The header tables, then each segment's and section's bytes, must lie inside the file.
    let tables = [
        (
            "the program header table",
            header.e_phoff(endian),
            u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian)),
        ),
        (
            "the section header table",
            header.e_shoff(endian),
            u64::from(header.e_shnum(endian)) * u64::from(header.e_shentsize(endian)),
        ),
    ];
    for (what, offset, size) in tables {
        if offset
            .checked_add(size)
            .is_none_or(|end| end > data.len() as u64)
        {
            return Err(truncated(what, offset, size, data.len()));
        }
    }
    let segments = header
        .program_headers(endian, data)
        .map_err(|e| bad(format_args!("malformed program header table: {e}")))?;
    if segments.is_empty() {
        return Err(bad("no program headers: nothing to map"));
    }
    let (mut loads, mut dynamic) = (0, None);
    for (index, segment) in segments.iter().enumerate() {
        let (offset, size) = (segment.p_offset(endian), segment.p_filesz(endian));
        if offset
            .checked_add(size)
            .is_none_or(|end| end > data.len() as u64)
        {
            return Err(truncated(
                &format!("segment {index}"),
                offset,
                size,
                data.len(),
            ));
        }
        match segment.p_type(endian) {
            elf::PT_INTERP => return Err(bad(
                "a position-independent executable (ET_DYN with PT_INTERP), not a shared object",
            )),
            elf::PT_LOAD => {
                loads += 1;
                if segment.p_memsz(endian) < size {
                    return Err(bad(format_args!(
                        "segment {index} is smaller in memory than in the file"
                    )));
                }
            }
            elf::PT_DYNAMIC => dynamic = Some(segment),
            _ => {}
        }
    }
    if loads == 0 {
        return Err(bad("no loadable (PT_LOAD) segment"));
    }
    if dynamic.is_none() {
        return Err(bad("no dynamic section (PT_DYNAMIC): not a shared object"));
    }

    // Sections: the table and every section with file contents inside the file.
    let sections = header
        .sections(endian, data)
        .map_err(|e| bad(format_args!("malformed section header table: {e}")))?;
    for (index, section) in sections.iter().enumerate() {
        if section.sh_type(endian) == elf::SHT_NOBITS {
            continue;
        }
        let (offset, size) = (section.sh_offset(endian), section.sh_size(endian));
        if offset
            .checked_add(size)
            .is_none_or(|end| end > data.len() as u64)
        {
            return Err(truncated(
                &format!("section {index}"),
                offset,
                size,
                data.len(),
            ));
        }
    }
    let symbols = sections
        .symbols(endian, data, elf::SHT_DYNSYM)
        .map_err(|e| bad(format_args!("malformed dynamic symbol table: {e}")))?;
    if symbols.is_empty() {
        return Err(bad(format_args!(
            "no dynamic symbol table: the library exports nothing, so not {QUERY_SYMBOL}"
        )));
    }
    let query = symbols.iter().find(|symbol| {
        symbol.name(endian, symbols.strings()).ok() == Some(QUERY_SYMBOL.as_bytes())
    });
    match query {
        None => {
            return Err(Status::not_found(format!(
                "not a loadable kernel library: it does not export {QUERY_SYMBOL}"
            )))
        }
        Some(symbol) if symbol.st_shndx(endian) == elf::SHN_UNDEF => {
            return Err(Status::not_found(format!(
                "not a loadable kernel library: {QUERY_SYMBOL} is imported, not defined"
            )))
        }
        Some(symbol) if symbol.st_type() != elf::STT_FUNC => {
            return Err(bad(format_args!("{QUERY_SYMBOL} is not a function")))
        }
        Some(symbol) if symbol.st_bind() == elf::STB_LOCAL => {
            return Err(bad(format_args!("{QUERY_SYMBOL} is a local symbol")))
        }
        Some(_) => {}
    }

    let mut needed = Vec::new();
    if let Some((entries, link)) = sections
        .dynamic(endian, data)
        .map_err(|e| bad(format_args!("malformed dynamic section: {e}")))?
    {
        let strings = sections
            .strings(endian, data, link)
            .map_err(|e| bad(format_args!("malformed dynamic string table: {e}")))?;
        for entry in entries {
            let tag = entry.d_tag.get(endian);
            if tag == elf::DT_NULL {
                break;
            }
            if tag == elf::DT_NEEDED {
                let name = strings
                    .get(entry.d_val.get(endian) as u32)
                    .map_err(|_| bad("a DT_NEEDED name lies outside the string table"))?;
                needed.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Ok(LibraryFacts { needed })
}
