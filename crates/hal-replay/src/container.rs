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
        match self.record_type {
            RecordType::Operation => format!(
                "record #{} ({} {})",
                self.index,
                self.record_type.name(),
                format::op::name(self.operation)
            ),
            RecordType::Object => format!(
                "record #{} ({} {})",
                self.index,
                self.record_type.name(),
                format::object_type::name(self.object_type)
            ),
            RecordType::Unknown(code) => format!("record #{} (unknown type {code})", self.index),
            other => format!("record #{} ({})", self.index, other.name()),
        }
    }

    /// `status` with this record named in front of its message.
    pub fn error(&self, status: Status) -> Status {
        Status::new(
            status.code(),
            format!("{}: {}", self.describe(), status.message()),
        )
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
        let mut reader = Reader::new(file, 0);
        let magic = reader
            .u32("the file magic")
            .map_err(|_| not_a_capture(file))?;
        if magic != FILE_MAGIC {
            return Err(not_a_capture(file));
        }
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
        if file_length != 0 && file_length != file.len() as u64 {
            return Err(Status::data_loss(format!(
                "the file header says the capture is {file_length} bytes, but the file has {}{}",
                file.len(),
                if file_length > file.len() as u64 {
                    " (truncated)"
                } else {
                    " (bytes after the end)"
                }
            )));
        }
        let mut records = Vec::new();
        let mut offset = header_length;
        while offset < file.len() {
            let record = parse_record_header(file, offset, records.len())?;
            offset += RECORD_HEADER_LENGTH + record.payload.length;
            records.push(record);
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
    let name = |what: &str| format!("record #{index} at file offset {offset}: {what}");
    let mut reader = Reader::new(&file[offset..], offset);
    let header_bytes = reader
        .take(RECORD_HEADER_LENGTH as u64, "the record header")
        .map_err(|status| Status::data_loss(name(status.message())))?;
    let mut header = Reader::new(header_bytes, offset);
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
    let payload = reader
        .take_range(payload_length, "the payload")
        .map_err(|_| {
            Status::data_loss(name(&format!(
                "payload_length {payload_length} runs past the end of the file ({} bytes)",
                file.len()
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
