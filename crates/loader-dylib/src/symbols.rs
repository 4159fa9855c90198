//! The dynamic symbol table and its hash tables, as the system loader reads them.
//!
//! The symbol table's length is not stated anywhere the system loader looks: it follows from
//! the hash tables (`DT_HASH`'s chain count, or the end of `DT_GNU_HASH`'s last chain). glibc
//! walks the hash chains unchecked to find every symbol it resolves (the query among them), and
//! divides by the bucket count, so a damaged hash table reads outside the library, loops for
//! ever or divides by zero. The checks confirm that both tables are well formed and lie in the
//! file, then that every symbol's name ends inside the string table and every function the
//! library defines lies in an executable segment.

use hal_core::Result;
use object::elf;
use object::endian::U32;
use object::read::elf::Sym as _;
use object::LittleEndian;

use crate::dynamic::{Dynamic, SYM_SIZE};
use crate::image::{Access, Image, Range};
use crate::malformed::bad;

type Sym = elf::Sym64<LittleEndian>;

/// The dynamic symbol table.
pub(crate) struct Symbols<'data> {
    /// Every symbol, index 0 (the null symbol) included.
    pub table: &'data [Sym],
}

/// Reads `count` 32-bit words at `address` from the image.
fn words<'data>(
    image: &Image<'data>,
    what: &str,
    address: u64,
    count: u64,
) -> Result<&'data [U32<LittleEndian>]> {
    let size = count.checked_mul(4);
    size.and_then(|size| image.file_bytes(address, size))
        .and_then(|bytes| {
            object::pod::slice_from_bytes(bytes, count as usize)
                .ok()
                .map(|(words, _)| words)
        })
        .ok_or_else(|| {
            bad(format_args!(
                "{what} {} is not inside the loaded segments' file contents",
                Range(address, size.unwrap_or(u64::MAX))
            ))
        })
}

/// Checks the SysV hash table at `address`; returns the number of symbols (`nchain`).
fn sysv_hash(image: &Image<'_>, address: u64) -> Result<u64> {
    let endian = LittleEndian;
    let header = words(image, "the DT_HASH header", address, 2)?;
    let (buckets, chains) = (
        u64::from(header[0].get(endian)),
        u64::from(header[1].get(endian)),
    );
    if buckets == 0 {
        return Err(bad(
            "the DT_HASH table has no buckets (the system loader divides by their count)",
        ));
    }
    let table = words(
        image,
        "the DT_HASH table",
        address.saturating_add(8),
        buckets.saturating_add(chains),
    )?;
    // Every link names a symbol, and no symbol is reached twice: a chain that joined another,
    // or itself, would make every lookup through it loop for ever.
    let mut reached = vec![false; chains as usize];
    for (position, link) in table.iter().enumerate() {
        let symbol = link.get(endian);
        if symbol == 0 {
            continue;
        }
        let Some(seen) = reached.get_mut(symbol as usize) else {
            return Err(bad(format_args!(
                "DT_HASH entry {position} links to symbol {symbol}, but the table has {chains} symbols"
            )));
        };
        if std::mem::replace(seen, true) {
            return Err(bad(format_args!(
                "DT_HASH links to symbol {symbol} twice, so its chains loop"
            )));
        }
    }
    Ok(chains)
}

/// Checks the GNU hash table at `address`; returns the number of symbols (one past the end of
/// the last chain, or the first hashed symbol if no chain has any).
fn gnu_hash(image: &Image<'_>, address: u64) -> Result<u64> {
    let endian = LittleEndian;
    let header = words(image, "the DT_GNU_HASH header", address, 4)?;
    let (buckets, base, bloom, shift) = (
        u64::from(header[0].get(endian)),
        u64::from(header[1].get(endian)),
        u64::from(header[2].get(endian)),
        header[3].get(endian),
    );
    if buckets == 0 {
        return Err(bad(
            "the DT_GNU_HASH table has no buckets (the system loader divides by their count)",
        ));
    }
    // The system loader masks hashes with `bloom - 1` to index the Bloom filter.
    if !bloom.is_power_of_two() {
        return Err(bad(format_args!(
            "the DT_GNU_HASH Bloom filter has {bloom} words, not a power of two"
        )));
    }
    if shift >= 64 {
        return Err(bad(format_args!(
            "the DT_GNU_HASH Bloom shift is {shift}, not below 64"
        )));
    }
    let buckets_at = address.saturating_add(16 + bloom * 8);
    words(
        image,
        "the DT_GNU_HASH Bloom filter",
        address.saturating_add(16),
        bloom * 2,
    )?;
    let mut last = 0;
    for (index, bucket) in words(image, "the DT_GNU_HASH buckets", buckets_at, buckets)?
        .iter()
        .enumerate()
    {
        let symbol = u64::from(bucket.get(endian));
        if symbol != 0 && symbol < base {
            return Err(bad(format_args!(
                "DT_GNU_HASH bucket {index} starts at symbol {symbol}, before the first hashed symbol {base}"
            )));
        }
        last = last.max(symbol);
    }
    if last == 0 {
        return Ok(base);
    }
    // Chains are runs of hash values, one per symbol from `base` on, each ending with a value
    // whose low bit is set; the run from the last bucket ends the table. Every other run ends
    // before it.
    let chains_at = buckets_at.saturating_add(buckets * 4);
    let values = image.file_bytes_from(chains_at).unwrap_or_default();
    let (values, _) = object::pod::slice_from_bytes::<U32<LittleEndian>>(values, values.len() / 4)
        .map_err(|()| bad("the DT_GNU_HASH chains cannot be read"))?;
    let start = last - base;
    let end = values
        .get(start as usize..)
        .and_then(|run| run.iter().position(|value| value.get(endian) & 1 != 0))
        .ok_or_else(|| {
            bad(format_args!(
                "the DT_GNU_HASH chain of symbol {last} does not end inside its loaded segment"
            ))
        })?;
    Ok(last + end as u64 + 1)
}

impl<'data> Symbols<'data> {
    /// Checks the hash tables and reads the symbol table they describe; checks every symbol's
    /// name and every defined function's address.
    pub(crate) fn read(image: &Image<'data>, dynamic: &Dynamic<'data>) -> Result<Symbols<'data>> {
        let endian = LittleEndian;
        // glibc looks symbols up through the GNU table when there is one, the SysV table
        // otherwise; both must be sound, and the symbol table must hold every symbol either
        // reaches.
        let gnu = dynamic.gnu_hash.map(|a| gnu_hash(image, a)).transpose()?;
        let sysv = dynamic.hash.map(|a| sysv_hash(image, a)).transpose()?;
        let count = match (gnu, sysv) {
            (None, None) => {
                return Err(bad(
                    "the dynamic section has no symbol hash table (DT_HASH or DT_GNU_HASH), so no symbol can be looked up",
                ))
            }
            (gnu, sysv) => gnu.unwrap_or(0).max(sysv.unwrap_or(0)),
        };
        let size = count.saturating_mul(SYM_SIZE);
        let table = image
            .file_bytes(dynamic.symtab, size)
            .and_then(|bytes| object::pod::slice_from_bytes::<Sym>(bytes, count as usize).ok())
            .map(|(table, _)| table)
            .ok_or_else(|| {
                bad(format_args!(
                    "the dynamic symbol table (DT_SYMTAB) of {count} symbols {} is not inside the loaded segments' file contents",
                    Range(dynamic.symtab, size)
                ))
            })?;
        for (index, symbol) in table.iter().enumerate().skip(1) {
            let name = dynamic.strings.get(symbol.st_name(endian)).map_err(|()| {
                bad(format_args!(
                    "dynamic symbol {index}'s name (offset {}) does not end inside the {}-byte dynamic string table",
                    symbol.st_name(endian),
                    dynamic.strings_size
                ))
            })?;
            let shndx = symbol.st_shndx(endian);
            let function = matches!(symbol.st_type(), elf::STT_FUNC | elf::STT_GNU_IFUNC);
            if function && shndx != elf::SHN_UNDEF && shndx != elf::SHN_ABS {
                let value = symbol.st_value(endian);
                if !image.contains(value, 1, Access::Execute) {
                    return Err(bad(format_args!(
                        "dynamic symbol {index} ({}) is a function at {value:#x}, not inside {}",
                        String::from_utf8_lossy(name),
                        Access::Execute.segments()
                    )));
                }
            }
        }
        Ok(Symbols { table })
    }

    /// The symbol named `name`, if the table has one.
    pub(crate) fn find(&self, dynamic: &Dynamic<'data>, name: &[u8]) -> Option<&'data Sym> {
        self.table
            .iter()
            .skip(1)
            .find(|symbol| dynamic.strings.get(symbol.st_name(LittleEndian)) == Ok(name))
    }
}
