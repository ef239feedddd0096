//! What a caller is told about its rows.

use model::Reject;
use serde::Serialize;

/// One rejected row.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowError {
    /// 0-based index of the row (array element or NDJSON line).
    pub index: usize,
    /// Reason code (`bad_number`, `missing_field`, ...), as in the quarantine.
    pub reason: String,
    /// The field at fault.
    pub field: Option<String>,
    /// The offending value as written.
    pub value: Option<String>,
    /// The rule broken.
    pub message: String,
}

impl RowError {
    /// The error of row `index` rejected for `r`.
    pub fn of(index: usize, r: Reject) -> RowError {
        RowError {
            index,
            reason: r.reason.code().to_string(),
            field: r.field,
            value: r.value,
            message: r.rule,
        }
    }
}

/// The answer to an event batch.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestReply {
    /// Events stored durably by this request.
    pub accepted: usize,
    /// Events whose `event_id` was already accepted (not stored again).
    pub duplicates: usize,
    /// Rows rejected (kept in the quarantine with their reason).
    pub rejected: usize,
    /// Each rejected row.
    pub errors: Vec<RowError>,
    /// Indices of the duplicate rows.
    pub duplicate_indices: Vec<usize>,
}

/// The answer to a batch of item or user rows.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpsertReply {
    /// Rows stored.
    pub upserted: usize,
    /// Rows refused.
    pub rejected: usize,
    /// Each refused row.
    pub errors: Vec<RowError>,
}
