//! What every stage of collection shares: the parse options (line and record formats), the
//! import error, and the limits. Below `pipeline` and `formats`, which both read it, so neither
//! imports the other for its settings.

use crate::format::Format;
use model::{EventType, Rules};
use std::path::PathBuf;

/// Lines longer than this are quarantined (truncated) instead of growing memory without bound.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xef\xbb\xbf";

/// Settings every line parser shares.
#[derive(Debug, Clone, Default)]
pub struct LineOptions {
    /// Target shop (`None` = default, or the event's own `shop` for JSON).
    pub shop: Option<String>,
    /// Validation rules.
    pub rules: Rules,
}

/// Settings for record formats.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// CSV / Parquet column → event field mapping (`event field`, `column`); unmapped columns
    /// whose name is an event field are used as-is, the rest go to `props`.
    pub mapping: Vec<(String, String)>,
    /// Event type for rows that carry no `type` column.
    pub default_type: Option<EventType>,
    /// Offset (seconds east of UTC) for naive local times such as Online Retail's InvoiceDate.
    pub naive_offset_secs: i32,
    /// The file path, for formats that need random access (Parquet). When it is `None` (stdin)
    /// or the file is not plain Parquet (e.g. gzip-compressed), the Parquet reader spools the
    /// decompressed input to an anonymous temporary file first.
    pub path: Option<PathBuf>,
    /// Source records per emitted chunk.
    pub chunk_rows: usize,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            mapping: Vec::new(),
            default_type: None,
            naive_offset_secs: 0,
            path: None,
            chunk_rows: 65_536,
        }
    }
}

/// How an import parses its input.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The input format.
    pub format: Format,
    /// Shop and validation rules.
    pub line: LineOptions,
    /// Parser threads (0 = number of CPUs).
    pub threads: usize,
    /// Bytes per parallel block.
    pub chunk_bytes: usize,
    /// Records already imported (resume point): they are read past, not parsed.
    pub skip_records: u64,
    /// Settings of the record formats (CSV mapping, naive-time offset).
    pub records: RecordOptions,
}

impl ParseOptions {
    /// Defaults for a format.
    pub fn new(format: Format) -> ParseOptions {
        ParseOptions {
            format,
            line: LineOptions::default(),
            threads: 0,
            chunk_bytes: 4 << 20,
            skip_records: 0,
            records: Default::default(),
        }
    }
}

/// Why an import could not go on (as opposed to a bad row, which is quarantined).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Reading the input failed.
    #[error("reading {source_name}: {err}")]
    Io {
        /// The input.
        source_name: String,
        /// The error.
        err: std::io::Error,
    },
    /// A parser thread died: a bug. The import stops rather than silently losing rows.
    #[error(
        "a parser thread of {source_name} stopped unexpectedly (this is a bug in StorePulse); rows after the last committed batch were not imported"
    )]
    Internal {
        /// The input.
        source_name: String,
    },
    /// The input as a whole is not in the expected format.
    #[error("{source_name} is not valid {format}: {message}")]
    Format {
        /// The input.
        source_name: String,
        /// The format.
        format: String,
        /// What is wrong.
        message: String,
    },
}
