//! The capture container: the file header and the sequence of records, each checked against
//! the file's length before anything reads its payload.

use hal_core::{Result, Status};

use crate::format::{
    self, RecordType, FILE_HEADER_LENGTH, FILE_MAGIC, RECORD_FLAG_OPTIONAL, RECORD_HEADER_LENGTH,
    VERSION_MAJOR, VERSION_MINOR,
};
use crate::reader::{ByteRange, Reader};

/// One record's header, as captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// The record's position in the file (0 for the first record), which errors name.
    pub index: usize,
    /// File offset of the record's first byte.
    pub file_offset: usize,
    /// What the record is.
    pub record_type: RecordType,
    /// Whether a reader may skip the record when it does not understand it.
    pub optional: bool,
    /// The device the record belongs to (0 for session-level records).
    pub device_id: u64,
    /// The object the record is about (an operation's receiver, an object record's object).
    pub object_id: u64,
    /// A second object: for creating operations, the object created.
    pub related_object_id: u64,
    /// The payload's schema (see [`format::payload_type`]).
    pub payload_type: u32,
    /// The kind of `object_id` (see [`format::object_type`]).
    pub object_type: u32,
    /// For operations, which one (see [`format::op`]).
    pub operation: u32,
    /// The status the captured call returned: 0 for success. Failed calls had no effect and
    /// are not replayed.
    pub status_code: u32,
    /// Where the payload lies in the file.
    pub payload: ByteRange,
}

impl RecordHeader {
    /// How errors name this record: its index, kind and (for operations) the operation.
    pub fn describe(&self) -> String {
        describe(
            self.index,
            self.record_type,
            self.object_type,
            self.operation,
        )
    }

    /// `status` with this record named in front of its message.
    pub fn error(&self, status: Status) -> Status {
        Status::new(
            status.code(),
            format!("{}: {}", self.describe(), status.message()),
        )
    }
}

/// How errors name record `index` of kind `record_type`: `record #N (kind)`.
fn describe(index: usize, record_type: RecordType, object_type: u32, operation: u32) -> String {
    match record_type {
        RecordType::Operation => format!(
            "record #{index} ({} {})",
            record_type.name(),
            format::op::name(operation)
        ),
        RecordType::Object => format!(
            "record #{index} ({} {})",
            record_type.name(),
            format::object_type::name(object_type)
        ),
        RecordType::Unknown(code) => format!("record #{index} (unknown type {code})"),
        other => format!("record #{index} ({})", other.name()),
    }
}

/// A capture's file header and record headers; payloads are decoded later.
#[derive(Clone, Debug)]
pub struct Container {
    /// The file's minor format version.
    pub version_minor: u16,
    /// Every record, in file order.
    pub records: Vec<RecordHeader>,
}

impl Container {
    /// Reads the file header and walks the records of `file`, checking every length.
    pub fn parse(file: &[u8]) -> Result<Container> {
        let magic = FILE_MAGIC.to_le_bytes();
        if !file.starts_with(&magic[..file.len().min(4)]) {
            return Err(not_a_capture(file));
        }
        if file.len() < FILE_HEADER_LENGTH {
            return Err(Status::data_loss(format!(
                "the file is {} bytes, shorter than the {FILE_HEADER_LENGTH}-byte file header \
                 (truncated)",
                file.len()
            )));
        }
        let mut reader = Reader::new(&file[magic.len()..], magic.len());
        let version_major = reader.u16("version_major")?;
        let version_minor = reader.u16("version_minor")?;
        if version_major != VERSION_MAJOR {
            return Err(Status::incompatible(format!(
                "the capture is format version {version_major}.{version_minor}, but this replayer \
                 reads version {VERSION_MAJOR}.x (written by IREE 3.13, up to {VERSION_MAJOR}.{VERSION_MINOR})"
            )));
        }
        let header_length = reader.u32("header_length")? as usize;
        if header_length < FILE_HEADER_LENGTH || header_length > file.len() {
            return Err(Status::invalid_argument(format!(
                "the file header says it is {header_length} bytes; it must be at least \
                 {FILE_HEADER_LENGTH} and within the file's {} bytes",
                file.len()
            )));
        }
        let _flags = reader.u32("flags")?;
        let file_length = reader.u64("file_length")?;
        // Zero means the capture was never closed (the program died); its complete records can
        // still be read, and an incomplete last one is an error below.
        if file_length != 0 && file_length < file.len() as u64 {
            return Err(Status::data_loss(format!(
                "the file header says the capture is {file_length} bytes, but the file has {} \
                 (bytes after the end)",
                file.len()
            )));
        }
        // A file shorter than its header says is cut off: the records say where.
        let truncated = || {
            format!(
                "the file is truncated: its header says {file_length} bytes, but it has {}",
                file.len()
            )
        };
        let mut records = Vec::new();
        let mut offset = header_length;
        while offset < file.len() {
            let record = parse_record_header(file, offset, records.len()).map_err(|status| {
                if file_length > file.len() as u64 {
                    // Whatever the walk found, the file is cut short.
                    Status::data_loss(format!("{}; {}", truncated(), status.message()))
                } else {
                    status
                }
            })?;
            offset += RECORD_HEADER_LENGTH + record.payload.length;
            records.push(record);
        }
        if file_length > file.len() as u64 {
            return Err(Status::data_loss(format!(
                "{}; the file ends after {}, at a record boundary",
                truncated(),
                records
                    .last()
                    .map_or_else(|| "the file header".to_string(), RecordHeader::describe)
            )));
        }
        Ok(Container {
            version_minor,
            records,
        })
    }
}

fn not_a_capture(file: &[u8]) -> Status {
    let start = &file[..file.len().min(4)];
    Status::invalid_argument(format!(
        "not an IREE HAL capture: it starts with {start:02x?}, not the magic \"IRRP\""
    ))
}

fn parse_record_header(file: &[u8], offset: usize, index: usize) -> Result<RecordHeader> {
    let available = file.len() - offset;
    if available < RECORD_HEADER_LENGTH {
        // Name the record's kind too when the cut leaves the fields that say it: record_type
        // (u16 at byte 60), object_type (u32 at 68) and operation_code (u32 at 72).
        let field = |at: usize, width: usize| {
            let mut bytes = [0u8; 4];
            bytes[..width].copy_from_slice(&file[offset + at..offset + at + width]);
            u32::from_le_bytes(bytes)
        };
        let name = if available >= 76 {
            describe(
                index,
                RecordType::from_code(field(60, 2) as u16),
                field(68, 4),
                field(72, 4),
            )
        } else {
            format!("record #{index}")
        };
        return Err(Status::data_loss(format!(
            "{name} at file offset {offset}: the file ends {available} bytes into its \
             {RECORD_HEADER_LENGTH}-byte header"
        )));
    }
    let mut header = Reader::new(&file[offset..offset + RECORD_HEADER_LENGTH], offset);
    let record_length = header.u64("record_length")?;
    let payload_length = header.u64("payload_length")?;
    let sequence = header.u64("sequence_ordinal")?;
    let _thread_id = header.u64("thread_id")?;
    let device_id = header.u64("device_id")?;
    let object_id = header.u64("object_id")?;
    let related_object_id = header.u64("related_object_id")?;
    let header_length = header.u32("header_length")?;
    let record_type = RecordType::from_code(header.u16("record_type")?);
    let flags = header.u16("record_flags")?;
    let payload_type = header.u32("payload_type")?;
    let object_type = header.u32("object_type")?;
    let operation = header.u32("operation_code")?;
    let status_code = header.u32("status_code")?;
    let name = |what: &str| {
        format!(
            "{} at file offset {offset}: {what}",
            describe(index, record_type, object_type, operation)
        )
    };
    if header_length as usize != RECORD_HEADER_LENGTH {
        return Err(Status::invalid_argument(name(&format!(
            "header_length is {header_length}, not {RECORD_HEADER_LENGTH}"
        ))));
    }
    if record_length.checked_sub(RECORD_HEADER_LENGTH as u64) != Some(payload_length) {
        return Err(Status::invalid_argument(name(&format!(
            "record_length {record_length} is not the header's {RECORD_HEADER_LENGTH} bytes plus \
             payload_length {payload_length}"
        ))));
    }
    if sequence != index as u64 {
        return Err(Status::invalid_argument(name(&format!(
            "sequence_ordinal is {sequence}; records must be numbered 0, 1, 2, … in file order"
        ))));
    }
    let payload_start = offset + RECORD_HEADER_LENGTH;
    let remaining = file.len() - payload_start;
    let payload = Reader::new(&file[payload_start..], payload_start)
        .take_range(payload_length, "the payload")
        .map_err(|_| {
            Status::data_loss(name(&format!(
                "payload_length is {payload_length}, but the file ends {remaining} bytes into the \
                 payload"
            )))
        })?;
    Ok(RecordHeader {
        index,
        file_offset: offset,
        record_type,
        optional: flags & RECORD_FLAG_OPTIONAL != 0,
        device_id,
        object_id,
        related_object_id,
        payload_type,
        object_type,
        operation,
        status_code,
        payload,
    })
}
