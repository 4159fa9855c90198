//! The memory image the system loader will map, read from the program headers.
//!
//! The system loader (glibc's `ld.so`) maps each `PT_LOAD` segment at the library's base address
//! plus `p_vaddr`, then reads everything else — the dynamic section, symbol and hash tables,
//! relocations, the TLS image — through those addresses, without checking that they lie in what
//! it mapped. So the checks read the library the same way: every table the system loader will
//! read is located by address in the loaded segments' file contents ([`Image::file_bytes`]),
//! never by section header, and every address it will write to or call is confirmed to lie in a
//! segment with that permission ([`Image::contains`]).

use hal_core::Result;
use object::elf;
use object::read::elf::ProgramHeader;
use object::LittleEndian;

use crate::malformed::{bad, truncated};

type Phdr = elf::ProgramHeader64<LittleEndian>;

/// x86_64 pages: `PT_LOAD` segments are mapped in whole 4 KiB pages.
const PAGE: u64 = 4096;
/// x86_64 user space ends below 2^47 (four-level paging); no mapping lies above.
const USER_SPACE_END: u64 = 1 << 47;

/// One `PT_LOAD` segment.
#[derive(Clone, Copy, Debug)]
struct Load<'data> {
    index: usize,
    header: &'data Phdr,
    vaddr: u64,
    memsz: u64,
    flags: u32,
}

/// A byte range of the image (for messages).
pub(crate) struct Range(pub u64, pub u64);

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.0, self.0.saturating_add(self.1))
    }
}

/// What the image must allow at an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Mapped at all.
    Mapped,
    /// Mapped writable (`PF_W`): the system loader writes relocations there.
    Write,
    /// Mapped executable (`PF_X`): the system loader or the runtime calls code there.
    Execute,
}

impl Access {
    fn flag(self) -> u32 {
        match self {
            Access::Mapped => 0,
            Access::Write => elf::PF_W,
            Access::Execute => elf::PF_X,
        }
    }

    /// How a message names segments with this access.
    pub(crate) fn segments(self) -> &'static str {
        match self {
            Access::Mapped => "the loaded segments",
            Access::Write => "a writable loaded segment",
            Access::Execute => "an executable loaded segment",
        }
    }
}

/// The loaded segments of a library and where its dynamic section and TLS image lie.
pub(crate) struct Image<'data> {
    data: &'data [u8],
    loads: Vec<Load<'data>>,
    /// The dynamic section's address and size in memory.
    pub dynamic: (u64, u64),
    /// Whether the library has a TLS segment (`PT_TLS`).
    pub has_tls: bool,
}

impl<'data> Image<'data> {
    /// Checks the program headers: every segment's file contents inside the file, `PT_LOAD`
    /// segments page-aligned, in address order and not overlapping, and every other segment the
    /// system loader reads (dynamic section, program headers, TLS image, RELRO region, notes,
    /// unwind table) inside a loaded segment. Refuses programs (`PT_INTERP`) and libraries that
    /// ask for an executable stack.
    pub(crate) fn new(
        data: &'data [u8],
        phoff: u64,
        segments: &'data [Phdr],
    ) -> Result<Image<'data>> {
        let endian = LittleEndian;
        if segments.is_empty() {
            return Err(bad("no program headers: nothing to map"));
        }
        let mut loads: Vec<Load<'data>> = Vec::new();
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
            if segment.p_type(endian) == elf::PT_INTERP {
                return Err(bad(
                    "a position-independent executable (ET_DYN with PT_INTERP), not a shared object",
                ));
            }
            if segment.p_type(endian) != elf::PT_LOAD {
                continue;
            }
            let (vaddr, memsz, align) = (
                segment.p_vaddr(endian),
                segment.p_memsz(endian),
                segment.p_align(endian),
            );
            if memsz < size {
                return Err(bad(format_args!(
                    "segment {index} is smaller in memory than in the file"
                )));
            }
            if vaddr
                .checked_add(memsz)
                .is_none_or(|end| end > USER_SPACE_END)
            {
                return Err(bad(format_args!(
                    "segment {index} at {} does not fit in the x86_64 user address space",
                    Range(vaddr, memsz)
                )));
            }
            // The system loader maps whole pages, so the file offset and the address must be
            // congruent modulo an alignment that is a power-of-two number of pages.
            if !align.is_power_of_two() || align % PAGE != 0 {
                return Err(bad(format_args!(
                    "segment {index} has alignment {align:#x}; loaded segments are aligned to a power-of-two number of 4 KiB pages"
                )));
            }
            if (vaddr.wrapping_sub(offset)) % align != 0 {
                return Err(bad(format_args!(
                    "segment {index} has address {vaddr:#x} and file offset {offset:#x}, which differ modulo its alignment {align:#x}"
                )));
            }
            // The system loader reserves the span from the first segment to the end of the
            // last and maps each segment at a fixed place in it: out-of-order or overlapping
            // segments would be mapped over each other, or over memory outside the reservation.
            if let Some(previous) = loads.last() {
                if vaddr < previous.vaddr + previous.memsz {
                    return Err(bad(format_args!(
                        "loaded segment {index} at {} overlaps or precedes loaded segment {} at {}",
                        Range(vaddr, memsz),
                        previous.index,
                        Range(previous.vaddr, previous.memsz)
                    )));
                }
            }
            loads.push(Load {
                index,
                header: segment,
                vaddr,
                memsz,
                flags: segment.p_flags(endian),
            });
        }
        if loads.is_empty() {
            return Err(bad("no loadable (PT_LOAD) segment"));
        }
        let mut image = Image {
            data,
            loads,
            dynamic: (0, 0),
            has_tls: false,
        };
        let (mut dynamic, mut has_tls) = (None, false);
        for (index, segment) in segments.iter().enumerate() {
            let inside = |what: &str, access: Access, from_file: bool| {
                image.segment_inside(index, segment, what, access, from_file)
            };
            match segment.p_type(endian) {
                elf::PT_DYNAMIC => {
                    if dynamic.is_some() {
                        return Err(bad(format_args!(
                            "a second dynamic section (segment {index})"
                        )));
                    }
                    inside("the dynamic section", Access::Mapped, true)?;
                    dynamic = Some((segment.p_vaddr(endian), segment.p_filesz(endian)));
                }
                elf::PT_PHDR => {
                    inside("the program header table", Access::Mapped, true)?;
                    // Read back through the image, the table must be the one in the file.
                    let mapped = image.file_offset(segment.p_vaddr(endian));
                    if mapped != Some(phoff) {
                        return Err(bad(format_args!(
                            "the program header table is at file offset {phoff:#x}, but its segment {index} maps file offset {}",
                            mapped.map_or("none".to_string(), |o| format!("{o:#x}"))
                        )));
                    }
                }
                elf::PT_TLS => {
                    let align = segment.p_align(endian);
                    if align > 1 && !align.is_power_of_two() {
                        return Err(bad(format_args!(
                            "the TLS segment {index} has alignment {align:#x}, not a power of two"
                        )));
                    }
                    // Only the initialised part has an address in the image; the zeroed
                    // part lies in each thread's TLS block.
                    if segment.p_filesz(endian) > 0 {
                        inside("the TLS initialisation image", Access::Mapped, true)?;
                    }
                    has_tls = true;
                }
                elf::PT_GNU_RELRO => {
                    // Made read-only after relocation, in whole pages (the end rounded down, as
                    // GNU ld rounds it up past the segment): outside the image, the system
                    // loader would change the protection of someone else's memory.
                    let (vaddr, memsz) = (segment.p_vaddr(endian), segment.p_memsz(endian));
                    if !image.contains_pages(vaddr, memsz) {
                        return Err(bad(format_args!(
                            "the read-only-after-relocation region (segment {index}) at {} is not inside the loaded segments' pages",
                            Range(vaddr, memsz)
                        )));
                    }
                }
                elf::PT_NOTE | elf::PT_GNU_PROPERTY | elf::PT_GNU_EH_FRAME => {
                    inside("a note or unwind table", Access::Mapped, true)?
                }
                elf::PT_GNU_STACK if segment.p_flags(endian) & elf::PF_X != 0 => {
                    return Err(bad(format_args!(
                        "segment {index} (PT_GNU_STACK) asks for an executable stack, which loading would give the whole process"
                    )))
                }
                _ => {}
            }
        }
        image.has_tls = has_tls;
        image.dynamic =
            dynamic.ok_or_else(|| bad("no dynamic section (PT_DYNAMIC): not a shared object"))?;
        Ok(image)
    }

    /// Checks that a segment other than `PT_LOAD` lies inside a loaded segment allowing
    /// `access`: its file contents in a loaded segment's file contents (`from_file`), or its
    /// memory in a loaded segment's memory.
    fn segment_inside(
        &self,
        index: usize,
        segment: &Phdr,
        what: &str,
        access: Access,
        from_file: bool,
    ) -> Result<()> {
        let endian = LittleEndian;
        let (vaddr, filesz, memsz) = (
            segment.p_vaddr(endian),
            segment.p_filesz(endian),
            segment.p_memsz(endian),
        );
        let (size, ok) = if from_file {
            let ok = filesz <= memsz
                && self.file_bytes(vaddr, filesz).is_some()
                && self.contains(vaddr, filesz, access);
            (filesz, ok)
        } else {
            (memsz, self.contains(vaddr, memsz, access))
        };
        if ok {
            return Ok(());
        }
        Err(bad(format_args!(
            "{what} (segment {index}) at {} is not inside {}{}",
            Range(vaddr, size),
            access.segments(),
            if from_file { "' file contents" } else { "" }
        )))
    }

    fn load_at(&self, address: u64, size: u64) -> Option<&Load<'data>> {
        let index = self.loads.partition_point(|load| load.vaddr <= address);
        let load = self.loads.get(index.checked_sub(1)?)?;
        let end = address.checked_add(size)?;
        (end <= load.vaddr + load.memsz).then_some(load)
    }

    /// Whether `[address, address + size)` lies in one loaded segment allowing `access`.
    pub(crate) fn contains(&self, address: u64, size: u64, access: Access) -> bool {
        self.load_at(address, size)
            .is_some_and(|load| load.flags & access.flag() == access.flag())
    }

    /// Whether the whole pages of `[address, address + size)` (the end rounded down) lie in the
    /// pages of the loaded segment holding `address`.
    fn contains_pages(&self, address: u64, size: u64) -> bool {
        let Some(end) = address.checked_add(size) else {
            return false;
        };
        self.load_at(address, 0).is_some_and(|load| {
            let load_end = (load.vaddr + load.memsz).div_ceil(PAGE) * PAGE;
            end / PAGE * PAGE <= load_end
        })
    }

    /// The file bytes mapped at `[address, address + size)`, if that range lies in one loaded
    /// segment's file contents (not its zero-filled tail).
    pub(crate) fn file_bytes(&self, address: u64, size: u64) -> Option<&'data [u8]> {
        let load = self.load_at(address, size)?;
        load.header
            .data_range(LittleEndian, self.data, address, size)
            .ok()
            .flatten()
    }

    /// The file bytes mapped from `address` to the end of its segment's file contents.
    pub(crate) fn file_bytes_from(&self, address: u64) -> Option<&'data [u8]> {
        let load = self.load_at(address, 0)?;
        let size = (load.vaddr + load.header.p_filesz(LittleEndian)).checked_sub(address)?;
        self.file_bytes(address, size)
    }

    /// The file offset mapped at `address`, if it lies in a segment's file contents.
    fn file_offset(&self, address: u64) -> Option<u64> {
        let load = self.load_at(address, 0)?;
        let within = address - load.vaddr;
        (within <= load.header.p_filesz(LittleEndian))
            .then(|| load.header.p_offset(LittleEndian) + within)
    }

    /// One past the highest address of the image.
    pub(crate) fn end(&self) -> u64 {
        self.loads.last().map_or(0, |load| load.vaddr + load.memsz)
    }
}
