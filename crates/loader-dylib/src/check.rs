//! Checks made on a library's bytes before anything is mapped.
//!
//! The system loader (glibc's `ld.so`) trusts what it maps: a truncated file, a file for another
//! machine or a program instead of a library would crash or run foreign code at `dlopen`, and so
//! would a library whose tables point somewhere else than they should, because `ld.so` reads,
//! writes and calls through the addresses a library states without checking them. So the bytes
//! are read with `object` first, and everything the system loader relies on while loading is
//! confirmed, in time linear in the file; [`check_shared_object`] lists what. The checks of
//! what the system loader reads are in `image` (program headers), `dynamic` (the dynamic
//! section), `symbols` (hash and symbol tables), `versions` and `relocations`.

use hal_core::{Result, Status};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader, SectionTable, Sym};
use object::LittleEndian;

use crate::dynamic::Dynamic;
use crate::image::Image;
use crate::malformed::{bad, truncated};
use crate::symbols::Symbols;
use crate::{relocations, versions};

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

/// Checks the file header of an x86_64 ELF64 shared object, and that its header tables lie in
/// the file.
fn file_header(data: &[u8]) -> Result<&elf::FileHeader64<LittleEndian>> {
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
    // `object` refuses other identification versions without saying so.
    let version = data[std::mem::offset_of!(elf::Ident, version)];
    if version != elf::EV_CURRENT {
        return Err(bad(format_args!(
            "ELF identification version {version} is not {}",
            elf::EV_CURRENT
        )));
    }
    let header = elf::FileHeader64::<LittleEndian>::parse(data)
        .map_err(|e| bad(format_args!("malformed ELF header: {e}")))?;
    let endian = LittleEndian;
    // The rest of the identification, as the system loader insists on it (it would refuse
    // these too, less clearly).
    let ident = header.e_ident();
    if ident.os_abi != elf::ELFOSABI_SYSV && ident.os_abi != elf::ELFOSABI_GNU {
        return Err(bad(format_args!(
            "OS ABI {} is neither System V ({}) nor GNU ({})",
            ident.os_abi,
            elf::ELFOSABI_SYSV,
            elf::ELFOSABI_GNU
        )));
    }
    if ident.os_abi == elf::ELFOSABI_SYSV && ident.abi_version != 0 {
        return Err(bad(format_args!(
            "ABI version {} for the System V OS ABI, which has only version 0",
            ident.abi_version
        )));
    }
    if ident.padding != [0; 7] {
        return Err(bad(format_args!(
            "the identification padding is {:?}, not zeros",
            ident.padding
        )));
    }
    if header.e_version(endian) != u32::from(elf::EV_CURRENT) {
        return Err(bad(format_args!(
            "ELF version {} is not {}",
            header.e_version(endian),
            elf::EV_CURRENT
        )));
    }
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
    Ok(header)
}

/// The loaded segments, checked.
fn image<'data>(
    data: &'data [u8],
    header: &'data elf::FileHeader64<LittleEndian>,
) -> Result<Image<'data>> {
    let segments = header
        .program_headers(LittleEndian, data)
        .map_err(|e| bad(format_args!("malformed program header table: {e}")))?;
    Image::new(data, header.e_phoff(LittleEndian), segments)
}

/// The section header table: every section with file contents inside the file, and every
/// allocated one where the loaded segments map it.
fn sections<'data>(
    data: &'data [u8],
    header: &'data elf::FileHeader64<LittleEndian>,
    image: &Image<'data>,
) -> Result<SectionTable<'data, elf::FileHeader64<LittleEndian>>> {
    let endian = LittleEndian;
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
        // A linker places every allocated section in a loaded segment, at the address that
        // segment maps its file bytes to. A segment moved by damage no longer agrees with the
        // sections it holds (whose addresses the code and tables were linked against).
        let address = section.sh_addr(endian);
        if section.sh_flags(endian) & u64::from(elf::SHF_ALLOC) != 0
            && size > 0
            && image.file_bytes(address, size).map(|bytes| bytes.as_ptr())
                != data.get(offset as usize..).map(|bytes| bytes.as_ptr())
        {
            return Err(bad(format_args!(
                "section {index} at address {address:#x} (file offset {offset:#x}) is not where the loaded segments map those bytes"
            )));
        }
    }
    Ok(sections)
}

/// Checks that `data` is an x86_64 ELF shared object exporting the library query, with every
/// header, segment and section inside the file, and everything the system loader reads, writes
/// or calls while loading it inside the segments it maps. Errors say what is wrong.
///
/// What is confirmed, in time linear in the file:
///
/// - **The file**: an ELF64 little-endian shared object (`ET_DYN` without `PT_INTERP`: a
///   position-independent executable is `ET_DYN` too, but has an interpreter) for x86_64, with the
///   identification the system loader accepts (version 1, System V or GNU OS ABI, zero padding),
///   whose headers, segments and sections all lie inside the file, every allocated section where
///   the loaded segments map its bytes (a moved segment no longer matches the code and tables
///   linked for it).
/// - **The segments**: `PT_LOAD` segments page-aligned with congruent offsets and addresses, no
///   larger in the file than in memory, in address order without overlap, inside the user address
///   space; the dynamic section, program header table, TLS image, notes and unwind table inside the
///   loaded segments' file contents, the RELRO region inside their pages; no executable stack.
/// - **The dynamic section**: ended by `DT_NULL`, no interpreted tag twice; string, symbol, hash,
///   relocation, version and init/fini tables inside the loaded segments' file contents, with whole
///   x86_64-sized entries (`DT_RELAENT`, `DT_SYMENT`, `DT_RELRENT`, `DT_PLTREL` = `DT_RELA`); every
///   named string (`DT_NEEDED`, `DT_SONAME`, run paths) ending inside the string table; `DT_INIT`
///   and `DT_FINI` in an executable segment.
/// - **Symbols**: a SysV or GNU hash table whose buckets and chains stay inside the symbol table
///   and cannot loop (the symbol table's length follows from them); every symbol name inside the
///   string table; every function the library defines in an executable segment; version records
///   inside the file, naming `DT_NEEDED` libraries, and no symbol version past the highest they
///   define.
/// - **Relocations**: only types the x86_64 system loader applies in a shared object (no copy
///   relocations), each writing inside a writable segment (any loaded segment with `DT_TEXTREL`)
///   and naming a symbol the table holds; the first `DT_RELACOUNT` relative; relative pointers
///   inside the library's image; IRELATIVE resolvers in an executable segment; TLS relocations only
///   with a TLS segment; every init and fini array entry filled in by a relocation that points into
///   an executable segment.
/// - **The query**: a defined, global function `iree_hal_executable_library_query` in both the
///   section headers' `.dynsym` and the symbol table the system loader reads.
///
/// The section header table is required (the dynamic symbol table is found through it), so a
/// library whose section headers were stripped (`sstrip`) is refused; compilers and linkers
/// always write them.
///
/// These checks catch damaged and wrong files; they cannot make foreign code safe. Machine code,
/// read-only data and the data the library's query returns are not checked (the runtime
/// verifies the returned tables' shape when it queries the library, see `hal_local`), so a
/// library that passes them is still native code the process trusts: damage there can still
/// crash the process, or worse.
pub fn check_shared_object(data: &[u8]) -> Result<LibraryFacts> {
    let header = file_header(data)?;
    let endian = LittleEndian;
    let image = image(data, header)?;

    let sections = sections(data, header, &image)?;
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

    let (dynamic, symbols) = system_loader_view(data, &image)?;
    // The query the section headers name must be the one the system loader finds.
    match symbols.find(&dynamic, QUERY_SYMBOL.as_bytes()) {
        Some(symbol)
            if symbol.st_shndx(endian) != elf::SHN_UNDEF && symbol.st_type() == elf::STT_FUNC => {}
        _ => {
            return Err(Status::not_found(format!(
                "not a loadable kernel library: the dynamic symbol table the system loader reads (DT_SYMTAB) does not define {QUERY_SYMBOL}"
            )))
        }
    }
    let needed = dynamic.needed;
    Ok(LibraryFacts { needed })
}

/// Checks what the system loader reads through the loaded segments: the dynamic section, the
/// symbol, hash and version tables, the relocations and the init and fini arrays.
fn system_loader_view<'data>(
    data: &'data [u8],
    image: &Image<'data>,
) -> Result<(Dynamic<'data>, Symbols<'data>)> {
    let dynamic = Dynamic::read(image)?;
    let symbols = Symbols::read(image, &dynamic)?;
    // A file of n bytes holds fewer than n / 8 version records.
    versions::check(image, &dynamic, symbols.table.len() as u64, data.len() / 8)?;
    relocations::check(image, &dynamic, &symbols)?;
    Ok((dynamic, symbols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::read::elf::ProgramHeader as _;

    /// The checks of what the system loader reads must accept every library the system loader
    /// itself loads: everything installed in the system's library directories (built by other
    /// linkers and compilers than the fixtures) passes them, query aside.
    #[test]
    fn every_installed_shared_library_passes_the_system_loader_checks() {
        let mut checked = 0;
        let mut failures = Vec::new();
        for dir in [
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib64",
        ] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                if !name.contains(".so") || !path.is_file() {
                    continue;
                }
                let Ok(data) = std::fs::read(&path) else {
                    continue;
                };
                // Linker scripts, other machines and programs (ld.so itself has no dynamic
                // symbols to speak of) are not shared objects of interest.
                let Ok(header) = file_header(&data) else {
                    continue;
                };
                // Libraries that can also run as programs (libc.so.6) have an interpreter,
                // which the checks refuse on purpose.
                let interpreter = header
                    .program_headers(LittleEndian, &*data)
                    .is_ok_and(|p| p.iter().any(|p| p.p_type(LittleEndian) == elf::PT_INTERP));
                if interpreter {
                    continue;
                }
                let result = image(&data, header).and_then(|image| {
                    sections(&data, header, &image)?;
                    system_loader_view(&data, &image).map(|_| ())
                });
                checked += 1;
                if let Err(status) = result {
                    failures.push(format!("{}: {status}", path.display()));
                }
            }
        }
        println!("{checked} installed shared libraries checked");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
