//! Quarantine records: every rejected input row, as received, with where it came from and why.

use model::{Reason, Reject};
use serde::{Deserialize, Serialize};

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// Where the row came from (file path, `stdin`, `http`).
    pub source: String,
    /// The format it was read as (`taobao`, `ndjson`, ...), so a replay can parse it again.
    pub format: String,
    /// 1-based line (or record) number in the source.
    pub line: u64,
    /// Byte offset of the row in the (decompressed) source, when known.
    pub offset: Option<u64>,
    /// The row as received (invalid UTF-8 replaced by U+FFFD).
    pub raw: String,
    /// The reason code.
    pub reason: Reason,
    /// The field at fault.
    pub field: Option<String>,
    /// The offending value as written.
    pub value: Option<String>,
    /// The rule that was broken.
    pub rule: String,
    /// The shop the import targeted.
    pub shop: String,
    /// When the row was quarantined, UTC ms.
    pub at_ms: i64,
}

impl QuarantineRecord {
    /// Builds a record from a rejection and the row's position.
    pub fn new(pos: &RowPos<'_>, raw: &[u8], reject: Reject) -> QuarantineRecord {
        QuarantineRecord {
            source: pos.source.to_string(),
            format: pos.format.to_string(),
            line: pos.line,
            offset: pos.offset,
            raw: String::from_utf8_lossy(raw).into_owned(),
            reason: reject.reason,
            field: reject.field,
            value: reject.value,
            rule: reject.rule,
            shop: pos.shop.to_string(),
            at_ms: now_ms(),
        }
    }

    /// The rejection this record carries.
    pub fn reject(&self) -> Reject {
        Reject {
            reason: self.reason,
            field: self.field.clone(),
            value: self.value.clone(),
            rule: self.rule.clone(),
        }
    }
}

/// Where a row sits in its source.
#[derive(Debug, Clone, Copy)]
pub struct RowPos<'a> {
    /// Source name.
    pub source: &'a str,
    /// Format name.
    pub format: &'a str,
    /// Target shop.
    pub shop: &'a str,
    /// 1-based line / record number.
    pub line: u64,
    /// Byte offset, when known.
    pub offset: Option<u64>,
}

pub use model::time::now_ms;
