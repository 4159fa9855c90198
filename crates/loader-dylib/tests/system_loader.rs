//! The checks of what the system loader reads, writes and calls while loading: one targeted edit
//! of a valid library per check, each refused before anything is mapped with a message naming
//! what is wrong. (Random edits, loaded in child processes, are measured by
//! `examples/damage_survey.rs`.)

mod common;

use hal_core::StatusCode;
use loader_dylib::{check_shared_object, QUERY_SYMBOL};
use object::elf;
use object::read::elf::{FileHeader as _, SectionHeader as _};
use object::LittleEndian as LE;

/// A library being edited, with its tables located the way the system loader locates them.
struct Library {
    data: Vec<u8>,
}

impl Library {
    fn embedded() -> Library {
        Library {
            data: common::library("cts_kernels", "embedded"),
        }
    }

    fn system() -> Library {
        Library {
            data: common::library("cts_kernels", "system"),
        }
    }

    fn cdylib() -> Library {
        Library {
            data: std::fs::read(common::built_cdylib()).unwrap(),
        }
    }

    fn header(&self) -> &elf::FileHeader64<LE> {
        elf::FileHeader64::<LE>::parse(&*self.data).unwrap()
    }

    /// The file offset of program header `index`.
    fn phdr_offset(&self, index: usize) -> usize {
        self.header().e_phoff(LE) as usize + index * 56
    }

    /// The program headers.
    fn phdrs(&self) -> Vec<elf::ProgramHeader64<LE>> {
        let header = self.header();
        header.program_headers(LE, &*self.data).unwrap().to_vec()
    }

    /// The index of the first program header of `p_type` (the `nth` if several).
    fn phdr(&self, p_type: u32, nth: usize) -> usize {
        self.phdrs()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.p_type.get(LE) == p_type)
            .nth(nth)
            .unwrap_or_else(|| panic!("no segment of type {p_type:#x}"))
            .0
    }

    fn set_phdr(&mut self, index: usize, edit: impl FnOnce(&mut elf::ProgramHeader64<LE>)) {
        let at = self.phdr_offset(index);
        let (phdr, _) =
            object::pod::from_bytes_mut::<elf::ProgramHeader64<LE>>(&mut self.data[at..]).unwrap();
        edit(phdr);
    }

    /// The file offset the loaded segments map at `address`.
    fn offset_of(&self, address: u64) -> usize {
        let load = self
            .phdrs()
            .into_iter()
            .find(|p| {
                p.p_type.get(LE) == elf::PT_LOAD
                    && (p.p_vaddr.get(LE)..p.p_vaddr.get(LE) + p.p_filesz.get(LE))
                        .contains(&address)
            })
            .unwrap_or_else(|| panic!("{address:#x} is not in the file"));
        (load.p_offset.get(LE) + address - load.p_vaddr.get(LE)) as usize
    }

    /// The file offset of the dynamic entry with `tag`.
    fn dynamic_entry(&self, tag: i64) -> usize {
        let dynamic = self.phdrs()[self.phdr(elf::PT_DYNAMIC, 0)];
        let start = dynamic.p_offset.get(LE) as usize;
        (start..start + dynamic.p_filesz.get(LE) as usize)
            .step_by(16)
            .find(|&at| i64::from_le_bytes(self.data[at..at + 8].try_into().unwrap()) == tag)
            .unwrap_or_else(|| panic!("no dynamic entry {tag:#x}"))
    }

    fn dynamic_value(&self, tag: i64) -> u64 {
        self.word(self.dynamic_entry(tag) + 8)
    }

    fn set_dynamic(&mut self, tag: i64, value: u64) {
        let at = self.dynamic_entry(tag) + 8;
        self.set_word(at, value);
    }

    fn word(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.data[at..at + 8].try_into().unwrap())
    }

    fn set_word(&mut self, at: usize, value: u64) {
        self.data[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    fn set_u32(&mut self, at: usize, value: u32) {
        self.data[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// The file offset of relocation `index` of `DT_RELA`.
    fn rela(&self, index: usize) -> usize {
        self.offset_of(self.dynamic_value(elf::DT_RELA)) + index * 24
    }

    /// The index of the first `DT_RELA` relocation satisfying `pick` (given offset, type and
    /// addend).
    fn find_rela(&self, pick: impl Fn(u64, u32, i64) -> bool) -> usize {
        let count = self.dynamic_value(elf::DT_RELASZ) as usize / 24;
        (0..count)
            .find(|&i| {
                let at = self.rela(i);
                let info = self.word(at + 8);
                pick(self.word(at), info as u32, self.word(at + 16) as i64)
            })
            .expect("a matching relocation")
    }

    /// The file offset of the dynamic symbol named `name`.
    fn symbol(&self, name: &str) -> usize {
        let header = self.header();
        let sections = header.sections(LE, &*self.data).unwrap();
        let dynsym = sections
            .iter()
            .find(|s| s.sh_type(LE) == elf::SHT_DYNSYM)
            .unwrap();
        let strings = self.offset_of(self.dynamic_value(elf::DT_STRTAB));
        let start = self.offset_of(self.dynamic_value(elf::DT_SYMTAB));
        (start..start + dynsym.sh_size(LE) as usize)
            .step_by(24)
            .find(|&at| {
                let name_at = strings
                    + u32::from_le_bytes(self.data[at..at + 4].try_into().unwrap()) as usize;
                self.data[name_at..].starts_with(name.as_bytes())
                    && self.data[name_at + name.len()] == 0
            })
            .unwrap_or_else(|| panic!("no symbol {name}"))
    }

    /// The address of a loaded segment with (and without) the given flags.
    fn segment_address(&self, with: u32, without: u32) -> u64 {
        self.phdrs()
            .into_iter()
            .find(|p| {
                p.p_type.get(LE) == elf::PT_LOAD
                    && p.p_flags.get(LE) & with == with
                    && p.p_flags.get(LE) & without == 0
            })
            .expect("such a segment")
            .p_vaddr
            .get(LE)
    }

    /// Asserts that the checks refuse the library with INVALID_ARGUMENT and a message
    /// containing `needle`.
    fn refused(&self, needle: &str) {
        let error = check_shared_object(&self.data).expect_err("the checks should refuse it");
        println!("{error}");
        assert_eq!(error.code(), StatusCode::InvalidArgument, "{error}");
        assert!(
            error.message().contains(needle),
            "expected '{needle}' in: {error}"
        );
    }
}

#[test]
fn the_libraries_edited_here_pass_unedited() {
    for library in [Library::embedded(), Library::system(), Library::cdylib()] {
        check_shared_object(&library.data).unwrap();
    }
}

// The file header.

#[test]
fn identification_the_system_loader_refuses() {
    let mut library = Library::embedded();
    library.data[7] = 9; // EI_OSABI: FreeBSD
    library.refused("OS ABI 9");
    let mut library = Library::embedded();
    library.data[12] = 1; // EI_PAD
    library.refused("identification padding");
}

// The segments.

#[test]
fn a_loaded_segment_with_an_alignment_that_is_not_whole_pages() {
    let mut library = Library::embedded();
    let load = library.phdr(elf::PT_LOAD, 1);
    library.set_phdr(load, |p| p.p_align.set(LE, 0x1800));
    library.refused(&format!("segment {load} has alignment 0x1800"));
}

#[test]
fn a_loaded_segment_whose_offset_and_address_differ_modulo_its_alignment() {
    let mut library = Library::embedded();
    let load = library.phdr(elf::PT_LOAD, 1);
    library.set_phdr(load, |p| {
        let vaddr = p.p_vaddr.get(LE);
        p.p_vaddr.set(LE, vaddr + 0x800)
    });
    library.refused("which differ modulo its alignment");
}

#[test]
fn loaded_segments_out_of_order() {
    let mut library = Library::embedded();
    let load = library.phdr(elf::PT_LOAD, 2);
    // Congruent with its file offset, but over the first segment.
    library.set_phdr(load, |p| {
        let vaddr = p.p_vaddr.get(LE);
        p.p_vaddr.set(LE, vaddr % 0x1000)
    });
    library.refused(&format!("loaded segment {load} at"));
    library.refused("overlaps or precedes loaded segment");
}

#[test]
fn a_loaded_segment_larger_than_the_address_space() {
    let mut library = Library::embedded();
    let load = library.phdr(elf::PT_LOAD, 2);
    library.set_phdr(load, |p| p.p_memsz.set(LE, 1 << 48));
    library.refused("does not fit in the x86_64 user address space");
}

#[test]
fn a_loaded_segment_moved_away_from_its_sections() {
    let mut library = Library::embedded();
    let code = library.phdr(elf::PT_LOAD, 1);
    // A page further on: still aligned and in order, but the code linked for 0x1c30 is not
    // there any more.
    library.set_phdr(code, |p| {
        let vaddr = p.p_vaddr.get(LE);
        p.p_vaddr.set(LE, vaddr + 0x1000)
    });
    library.refused(
        "at address 0x1c30 (file offset 0xc30) is not where the loaded segments map those bytes",
    );
}

#[test]
fn a_dynamic_section_outside_the_loaded_segments() {
    let mut library = Library::embedded();
    let dynamic = library.phdr(elf::PT_DYNAMIC, 0);
    library.set_phdr(dynamic, |p| p.p_vaddr.set(LE, 0x10_0000));
    library.refused(&format!(
        "the dynamic section (segment {dynamic}) at [0x100000, 0x1000c0) is not inside the loaded segments' file contents"
    ));
}

#[test]
fn a_program_header_segment_that_maps_other_bytes() {
    let mut library = Library::embedded();
    let phdr = library.phdr(elf::PT_PHDR, 0);
    library.set_phdr(phdr, |p| p.p_vaddr.set(LE, 0x80));
    library.refused(
        "the program header table is at file offset 0x40, but its segment 0 maps file offset 0x80",
    );
}

#[test]
fn an_executable_stack() {
    let mut library = Library::embedded();
    let stack = library.phdr(elf::PT_GNU_STACK, 0);
    library.set_phdr(stack, |p| {
        p.p_flags.set(LE, elf::PF_R | elf::PF_W | elf::PF_X)
    });
    library.refused("asks for an executable stack");
}

#[test]
fn a_relro_region_outside_the_loaded_segments() {
    let mut library = Library::embedded();
    let relro = library.phdr(elf::PT_GNU_RELRO, 0);
    library.set_phdr(relro, |p| p.p_vaddr.set(LE, 0x40_0000));
    library.refused("read-only-after-relocation region");
}

// The dynamic section.

#[test]
fn a_dynamic_section_without_its_terminator() {
    let mut library = Library::embedded();
    let end = library.dynamic_entry(elf::DT_NULL);
    library.set_word(end, elf::DT_DEBUG as u64);
    library.refused("has no DT_NULL entry to end it");
}

#[test]
fn a_dynamic_tag_twice() {
    let mut library = Library::embedded();
    let flags = library.dynamic_entry(elf::DT_FLAGS);
    let symtab = library.dynamic_value(elf::DT_SYMTAB);
    library.set_word(flags, elf::DT_SYMTAB as u64);
    library.set_word(flags + 8, symtab);
    library.refused("the dynamic section has DT_SYMTAB twice");
}

#[test]
fn a_string_table_outside_the_file() {
    let mut library = Library::embedded();
    library.set_dynamic(elf::DT_STRTAB, 0x10_0000);
    library
        .refused("DT_STRTAB [0x100000, 0x100023) is not inside the loaded segments' file contents");
}

#[test]
fn relocations_of_the_wrong_size() {
    let mut library = Library::embedded();
    library.set_dynamic(elf::DT_RELAENT, 16);
    library.refused("DT_RELAENT is 16; x86_64 entries are 24 bytes");
    let mut library = Library::embedded();
    let size = library.dynamic_value(elf::DT_RELASZ);
    library.set_dynamic(elf::DT_RELASZ, size - 4);
    library.refused("DT_RELASZ is 1364, not a multiple of the 24-byte entry");
}

#[test]
fn a_relocation_table_longer_than_its_segment() {
    let mut library = Library::embedded();
    library.set_dynamic(elf::DT_RELASZ, 24 * 1000);
    library.refused("DT_RELA [0x238, 0x5ff8) is not inside");
}

#[test]
fn a_needed_library_name_past_the_string_table() {
    let mut library = Library::cdylib();
    let size = library.dynamic_value(elf::DT_STRSZ);
    library.set_dynamic(elf::DT_NEEDED, size + 10);
    library.refused("the DT_NEEDED string at offset");
}

#[test]
fn an_init_function_outside_the_code() {
    let mut library = Library::cdylib();
    let data = library.segment_address(elf::PF_W, 0);
    library.set_dynamic(elf::DT_INIT, data);
    library.refused(&format!(
        "DT_INIT {data:#x} is not inside an executable loaded segment"
    ));
}

// Hash and symbol tables.

#[test]
fn a_sysv_hash_table_without_buckets() {
    let mut library = Library::embedded();
    let hash = library.offset_of(library.dynamic_value(elf::DT_HASH));
    library.set_u32(hash, 0);
    library.refused("the DT_HASH table has no buckets");
}

#[test]
fn a_sysv_hash_chain_that_loops() {
    let mut library = Library::embedded();
    let hash = library.offset_of(library.dynamic_value(elf::DT_HASH));
    let buckets = u32::from_le_bytes(library.data[hash..hash + 4].try_into().unwrap()) as usize;
    // Symbol 1's chain link points back at a symbol a bucket already starts with.
    let first = (0..buckets)
        .map(|b| u32::from_le_bytes(library.data[hash + 8 + 4 * b..][..4].try_into().unwrap()))
        .find(|&s| s != 0)
        .unwrap();
    let chain_of_first = hash + 8 + 4 * buckets + 4 * first as usize;
    library.set_u32(chain_of_first, first);
    library.refused(&format!(
        "DT_HASH links to symbol {first} twice, so its chains loop"
    ));
}

#[test]
fn a_sysv_hash_link_past_the_symbols() {
    let mut library = Library::embedded();
    let hash = library.offset_of(library.dynamic_value(elf::DT_HASH));
    library.set_u32(hash + 8, 1000);
    library.refused("DT_HASH entry 0 links to symbol 1000, but the table has");
}

#[test]
fn a_gnu_hash_bloom_filter_that_is_not_a_power_of_two() {
    let mut library = Library::system();
    let hash = library.offset_of(library.dynamic_value(elf::DT_GNU_HASH));
    library.set_u32(hash + 8, 3);
    library.refused("the DT_GNU_HASH Bloom filter has 3 words, not a power of two");
    library.set_u32(hash + 8, 0);
    library.refused("the DT_GNU_HASH Bloom filter has 0 words");
}

#[test]
fn a_gnu_hash_bucket_before_the_hashed_symbols() {
    let mut library = Library::cdylib();
    let hash = library.offset_of(library.dynamic_value(elf::DT_GNU_HASH));
    let bloom = u32::from_le_bytes(library.data[hash + 8..hash + 12].try_into().unwrap());
    let base = u32::from_le_bytes(library.data[hash + 4..hash + 8].try_into().unwrap());
    assert!(base > 1, "the fixture hashes from symbol {base}");
    library.set_u32(hash + 16 + 8 * bloom as usize, base - 1);
    library.refused("DT_GNU_HASH bucket 0 starts at symbol");
}

#[test]
fn the_query_pointing_into_data() {
    let mut library = Library::embedded();
    let data = library.segment_address(elf::PF_W, 0);
    let query = library.symbol(QUERY_SYMBOL);
    library.set_word(query + 8, data);
    library.refused(&format!(
        "({QUERY_SYMBOL}) is a function at {data:#x}, not inside an executable loaded segment"
    ));
}

#[test]
fn a_symbol_name_past_the_string_table() {
    let mut library = Library::cdylib();
    let size = library.dynamic_value(elf::DT_STRSZ);
    // Symbol 1, an import: the section headers' view of the query stays intact.
    let symbol = library.offset_of(library.dynamic_value(elf::DT_SYMTAB)) + 24;
    library.set_u32(symbol, size as u32 + 100);
    library.refused(&format!(
        "dynamic symbol 1's name (offset {}) does not end inside the {size}-byte dynamic string table",
        size + 100
    ));
}

// Relocations.

#[test]
fn a_relocation_writing_into_read_only_memory() {
    let mut library = Library::embedded();
    let rela = library.rela(3);
    let code = library.segment_address(elf::PF_X, 0);
    library.set_word(rela, code);
    library.refused(&format!(
        "DT_RELA relocation 3 (R_X86_64_RELATIVE) writes [{code:#x}, {:#x}), outside a writable loaded segment",
        code + 8
    ));
}

#[test]
fn a_relocation_of_a_type_the_system_loader_does_not_apply() {
    let mut library = Library::embedded();
    // Past DT_RELACOUNT's relative relocations, so only the type is wrong.
    library.set_dynamic(elf::DT_RELACOUNT, 0);
    let rela = library.rela(0);
    library.set_u32(rela + 8, elf::R_X86_64_COPY);
    library.refused(
        "DT_RELA relocation 0 (R_X86_64_COPY) is not one the x86_64 system loader applies",
    );
}

#[test]
fn a_counted_relative_relocation_of_another_type() {
    let mut library = Library::embedded();
    let rela = library.rela(5);
    library.set_u32(rela + 8, elf::R_X86_64_64);
    library.refused("DT_RELA relocation 5 (R_X86_64_64) is among the first 57 (DT_RELACOUNT)");
}

#[test]
fn a_relative_pointer_outside_the_library() {
    let mut library = Library::embedded();
    let rela = library.rela(7);
    library.set_word(rela + 16, 0x7fff_0000);
    library.refused("DT_RELA relocation 7 (R_X86_64_RELATIVE) points to 0x7fff0000, outside the library's image");
}

#[test]
fn a_relocation_naming_a_symbol_past_the_table() {
    let mut library = Library::embedded();
    library.set_dynamic(elf::DT_RELACOUNT, 0);
    let rela = library.rela(0);
    library.set_word(rela + 8, (500 << 32) | u64::from(elf::R_X86_64_64));
    library.refused("DT_RELA relocation 0 (R_X86_64_64) names symbol 500");
}

#[test]
fn an_init_array_entry_pointing_into_data() {
    let mut library = Library::cdylib();
    let array = library.dynamic_value(elf::DT_INIT_ARRAY);
    let data = library.segment_address(elf::PF_W, 0);
    let entry =
        library.find_rela(|offset, kind, _| offset == array && kind == elf::R_X86_64_RELATIVE);
    let rela = library.rela(entry);
    library.set_word(rela + 16, data);
    library.refused(&format!(
        "DT_INIT_ARRAY entry 0 (at {array:#x}) calls {data:#x}, not inside an executable loaded segment"
    ));
}

#[test]
fn an_init_array_entry_nothing_relocates() {
    let mut library = Library::cdylib();
    let array = library.dynamic_value(elf::DT_INIT_ARRAY);
    let entry =
        library.find_rela(|offset, kind, _| offset == array && kind == elf::R_X86_64_RELATIVE);
    let rela = library.rela(entry);
    // The relocation now fills in the fini array's entry instead (written twice, harmlessly).
    let fini = library.dynamic_value(elf::DT_FINI_ARRAY);
    library.set_word(rela, fini);
    library.refused(&format!(
        "DT_INIT_ARRAY entry 0 (at {array:#x}) is not relocated"
    ));
}

// Symbol versions.

#[test]
fn a_symbol_version_past_the_defined_and_needed_ones() {
    let mut library = Library::cdylib();
    let versym = library.offset_of(library.dynamic_value(elf::DT_VERSYM));
    library.data[versym + 2..versym + 4].copy_from_slice(&0x7000u16.to_le_bytes());
    library
        .refused("dynamic symbol 1 has version index 28672, but the highest defined or needed is");
}

#[test]
fn a_version_need_naming_a_library_that_is_not_needed() {
    let mut library = Library::cdylib();
    let verneed = library.offset_of(library.dynamic_value(elf::DT_VERNEED));
    // vn_file: the name of the first dynamic symbol instead of a library.
    let query = library.symbol(QUERY_SYMBOL);
    let name = u32::from_le_bytes(library.data[query..query + 4].try_into().unwrap());
    library.set_u32(verneed + 4, name);
    library.refused(&format!(
        "a DT_VERNEED record names {QUERY_SYMBOL}, which is not among the DT_NEEDED libraries"
    ));
}
