//! Decoding of the payload structs that follow record headers: fixed little-endian fields,
//! then the variable parts their counts and lengths announce, every one bounds-checked.
//! Reserved and padding fields are skipped unread: IREE leaves some of them uninitialised.

use hal_core::{FillPattern, Result, Status};

use crate::reader::{ByteRange, Reader};

/// A captured object id (session-local; 0 means none).
pub type ObjectId = u64;

/// A captured reference to a buffer range: a buffer by id, or (id 0) a binding-table slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapturedRef {
    /// The buffer, or 0 for binding-table slot `slot`.
    pub buffer: ObjectId,
    /// Byte offset into the buffer or slot.
    pub offset: u64,
    /// Byte length (`u64::MAX` for the rest of the buffer).
    pub length: u64,
    /// The binding-table slot when `buffer` is 0.
    pub slot: u32,
}

/// A captured semaphore timepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapturedTimepoint {
    /// The semaphore's id.
    pub semaphore: ObjectId,
    /// The payload value.
    pub value: u64,
}

/// A captured buffer allocation request (IREE's bit values, which this runtime shares).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferRequest {
    /// Bytes requested.
    pub size: u64,
    /// Requested minimum alignment (0: the allocator's default).
    pub min_alignment: u64,
    /// Usage bits.
    pub usage: u32,
    /// Memory type bits.
    pub memory_type: u32,
    /// Access bits.
    pub access: u16,
}

/// What the capture says about one function (export) of a prepared executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedFunction {
    /// The export's name.
    pub name: String,
    /// The export's flags.
    pub flags: u64,
    /// Its static workgroup size.
    pub workgroup_size: [u32; 3],
    /// Its push-constant count.
    pub constant_count: u16,
    /// Its binding count.
    pub binding_count: u16,
    /// Its reflected parameter count.
    pub parameter_count: u16,
}

/// A captured dispatch, recorded into a command buffer or queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedDispatch {
    /// The executable.
    pub executable: ObjectId,
    /// The export's ordinal.
    pub ordinal: u32,
    /// Dispatch flags.
    pub flags: u32,
    /// Static workgroup counts.
    pub workgroup_count: [u32; 3],
    /// Where indirect workgroup counts are read from, when the dispatch is indirect.
    pub indirect_count: Option<CapturedRef>,
    /// Bytes of workgroup local memory requested on top of the export's own.
    pub dynamic_local_memory: u32,
    /// Push constants.
    pub constants: Vec<u32>,
    /// Bindings.
    pub bindings: Vec<CapturedRef>,
}

/// IREE's dispatch flags that say the workgroup counts are read from a buffer.
const DISPATCH_FLAGS_INDIRECT: u32 = 0b11;

pub(crate) fn buffer_ref(reader: &mut Reader<'_>, what: &str) -> Result<CapturedRef> {
    let buffer = reader.u64(what)?;
    let offset = reader.u64(what)?;
    let length = reader.u64(what)?;
    let slot = reader.u32(what)?;
    reader.skip(4, what)?;
    Ok(CapturedRef {
        buffer,
        offset,
        length,
        slot,
    })
}

pub(crate) fn timepoints(
    reader: &mut Reader<'_>,
    count: usize,
    what: &str,
) -> Result<Vec<CapturedTimepoint>> {
    (0..count)
        .map(|_| {
            Ok(CapturedTimepoint {
                semaphore: reader.u64(what)?,
                value: reader.u64(what)?,
            })
        })
        .collect()
}

pub(crate) fn buffer_refs(
    reader: &mut Reader<'_>,
    count: usize,
    what: &str,
) -> Result<Vec<CapturedRef>> {
    (0..count).map(|_| buffer_ref(reader, what)).collect()
}

pub(crate) fn allocation_request(reader: &mut Reader<'_>) -> Result<BufferRequest> {
    let size = reader.u64("allocation_size")?;
    let _queue_affinity = reader.u64("queue_affinity")?;
    let min_alignment = reader.u64("min_alignment")?;
    let usage = reader.u32("usage")?;
    let memory_type = reader.u32("type")?;
    let access = reader.u16("access")?;
    reader.skip(6, "reserved")?;
    Ok(BufferRequest {
        size,
        min_alignment,
        usage,
        memory_type,
        access,
    })
}

/// Wait and signal counts then lists, in the order every queue payload stores them.
pub(crate) struct QueueLists {
    pub waits: Vec<CapturedTimepoint>,
    pub signals: Vec<CapturedTimepoint>,
}

pub(crate) fn queue_lists(
    reader: &mut Reader<'_>,
    wait_count: u64,
    signal_count: u64,
) -> Result<QueueLists> {
    let wait_count = reader.check_count(wait_count, "wait_count", 16)?;
    let waits = timepoints(reader, wait_count, "wait timepoints")?;
    let signal_count = reader.check_count(signal_count, "signal_count", 16)?;
    let signals = timepoints(reader, signal_count, "signal timepoints")?;
    Ok(QueueLists { waits, signals })
}

/// A fill pattern of 1, 2 or 4 bytes.
pub(crate) fn fill_pattern(reader: &mut Reader<'_>, length: u64) -> Result<FillPattern> {
    let bytes = reader.take(length, "the fill pattern")?;
    FillPattern::from_bytes(bytes).map_err(|_| {
        Status::invalid_argument(format!(
            "pattern_length is {length}; a fill pattern is 1, 2 or 4 bytes"
        ))
    })
}

/// Constants as 32-bit words.
pub(crate) fn constant_words(bytes: &[u8], what: &str) -> Result<Vec<u32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Status::invalid_argument(format!(
            "{what} is {} bytes, not a whole number of 32-bit words",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|word| u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
        .collect())
}

/// A dispatch payload (120 fixed bytes, then waits, signals, constants, bindings).
pub(crate) fn dispatch(reader: &mut Reader<'_>) -> Result<(CapturedDispatch, QueueLists)> {
    let executable = reader.u64("executable_id")?;
    let _queue_affinity = reader.u64("queue_affinity")?;
    let ordinal = reader.u32("function_ordinal")?;
    let flags = reader.u32("flags")?;
    for _ in 0..3 {
        reader.u32("workgroup_size")?;
    }
    let mut workgroup_count = [0u32; 3];
    for count in &mut workgroup_count {
        *count = reader.u32("workgroup_count")?;
    }
    let count_ref = buffer_ref(reader, "workgroup_count_ref")?;
    let dynamic_local_memory = reader.u32("dynamic_workgroup_local_memory")?;
    reader.skip(4, "reserved")?;
    let wait_count = reader.u64("wait_count")?;
    let signal_count = reader.u64("signal_count")?;
    let constants_length = reader.u64("constants_length")?;
    let binding_count = reader.u64("binding_count")?;
    let lists = queue_lists(reader, wait_count, signal_count)?;
    let constants = constant_words(reader.take(constants_length, "constants")?, "constants")?;
    let binding_count = reader.check_count(binding_count, "binding_count", 32)?;
    let bindings = buffer_refs(reader, binding_count, "bindings")?;
    let indirect_count = (flags & DISPATCH_FLAGS_INDIRECT != 0).then_some(count_ref);
    Ok((
        CapturedDispatch {
            executable,
            ordinal,
            flags,
            workgroup_count,
            indirect_count,
            dynamic_local_memory,
            constants,
            bindings,
        },
        lists,
    ))
}

/// What a prepare-executable payload holds.
pub(crate) struct PreparePayload {
    pub format: String,
    pub data: ByteRange,
    pub constants: Vec<u32>,
    pub functions: Vec<CapturedFunction>,
}

/// An executable preparation (format 2: 40 fixed bytes, format string, executable bytes,
/// constants, then function metadata).
pub(crate) fn prepare(reader: &mut Reader<'_>) -> Result<PreparePayload> {
    let _queue_affinity = reader.u64("queue_affinity")?;
    let data_length = reader.u64("executable_data_length")?;
    let constant_count = reader.u64("constant_count")?;
    let _caching_mode = reader.u32("caching_mode")?;
    let format_length = reader.u32("executable_format_length")?;
    let metadata_length = reader.u32("metadata_length")?;
    reader.skip(4, "reserved")?;
    let format = reader.take(u64::from(format_length), "the executable format")?;
    let format = std::str::from_utf8(format)
        .map_err(|_| Status::invalid_argument("the executable format is not UTF-8"))?
        .to_string();
    let data = reader.take_range(data_length, "the executable data")?;
    let constant_count = reader.check_count(constant_count, "constant_count", 4)?;
    let constants = constant_words(
        reader.take(constant_count as u64 * 4, "executable constants")?,
        "executable constants",
    )?;
    let metadata = reader.take(u64::from(metadata_length), "the executable metadata")?;
    let functions = if metadata.is_empty() {
        Vec::new()
    } else {
        function_metadata(&mut Reader::new(metadata, 0))?
    };
    Ok(PreparePayload {
        format,
        data,
        constants,
        functions,
    })
}

fn function_metadata(reader: &mut Reader<'_>) -> Result<Vec<CapturedFunction>> {
    let function_count = reader.u64("metadata function_count")?;
    let parameter_count = reader.u64("metadata parameter_count")?;
    let name_storage_length = reader.u64("metadata name_storage_length")?;
    reader.skip(8, "reserved")?;
    let function_count = reader.check_count(function_count, "metadata function_count", 32)?;
    let mut functions = Vec::with_capacity(function_count);
    let mut name_lengths = Vec::with_capacity(function_count);
    for _ in 0..function_count {
        let flags = reader.u64("function flags")?;
        let mut workgroup_size = [0u32; 3];
        for size in &mut workgroup_size {
            *size = reader.u32("function workgroup_size")?;
        }
        let constant_count = reader.u16("function constant_count")?;
        let binding_count = reader.u16("function binding_count")?;
        let parameter_count = reader.u16("function parameter_count")?;
        name_lengths.push(reader.u16("function name_length")?);
        reader.skip(4, "padding")?;
        functions.push(CapturedFunction {
            name: String::new(),
            flags,
            workgroup_size,
            constant_count,
            binding_count,
            parameter_count,
        });
    }
    let parameter_count = reader.check_count(parameter_count, "metadata parameter_count", 8)?;
    reader.skip(parameter_count as u64 * 8, "parameter records")?;
    let names = reader.take(name_storage_length, "function names")?;
    let mut names = Reader::new(names, 0);
    for (function, length) in functions.iter_mut().zip(name_lengths) {
        let name = names.take(u64::from(length), "a function name")?;
        function.name = String::from_utf8(name.to_vec())
            .map_err(|_| Status::invalid_argument("a function name is not UTF-8"))?;
    }
    Ok(functions)
}

/// A file object payload (112 fixed bytes, then the reference); the file's contents when the
/// reference is inline bytes.
pub(crate) struct FilePayload {
    pub length: u64,
    pub reference_type: u32,
    pub reference: ByteRange,
}

pub(crate) fn file(reader: &mut Reader<'_>) -> Result<FilePayload> {
    let _queue_affinity = reader.u64("queue_affinity")?;
    let length = reader.u64("file_length")?;
    reader.skip(24, "file identity")?;
    let reference_length = reader.u64("reference_length")?;
    let _access = reader.u32("access")?;
    let _flags = reader.u32("flags")?;
    let _handle_type = reader.u32("handle_type")?;
    let reference_type = reader.u32("reference_type")?;
    let _validation_type = reader.u32("validation_type")?;
    reader.skip(2 + 2 + 4 + 32 + 4, "digest and padding")?;
    let reference = reader.take_range(reference_length, "the file reference")?;
    Ok(FilePayload {
        length,
        reference_type,
        reference,
    })
}

/// A scope marker's name (24 fixed bytes, then the name).
pub(crate) fn scope_name(reader: &mut Reader<'_>) -> Result<String> {
    let length = reader.u64("name_length")?;
    reader.skip(16, "reserved")?;
    let name = reader.take(length, "the scope name")?;
    String::from_utf8(name.to_vec())
        .map_err(|_| Status::invalid_argument("the scope name is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(values: &[u64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn a_dispatch_with_more_bindings_than_bytes_is_refused_before_allocating() {
        let mut bytes = words(&[4, 0]);
        bytes.extend_from_slice(&[0; 4 + 4 + 12 + 12 + 32 + 8]);
        bytes.extend(words(&[0, 0, 0, u64::MAX / 2]));
        let error = dispatch(&mut Reader::new(&bytes, 0))
            .err()
            .expect("refused");
        assert!(error.message().contains("binding_count"), "{error}");
    }

    #[test]
    fn constants_must_be_whole_words() {
        assert_eq!(constant_words(&[1, 0, 0, 0], "c").unwrap(), vec![1]);
        assert!(constant_words(&[1, 0, 0], "c").is_err());
    }
}
