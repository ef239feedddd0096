//! Why a whole batch was refused; each transport maps these to its own answer (HTTP status,
//! broker nack). Nothing of a refused batch was acknowledged.

use std::fmt;

/// A refused batch.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestError {
    /// Rows name a shop the origin is not bound to; nothing was stored.
    ForeignShop {
        /// The origin's own shop.
        own: String,
        /// Indices of the rows naming another shop.
        indices: Vec<usize>,
    },
    /// The batch is not JSON / NDJSON / gzip as it claims.
    BadBody(String),
    /// Decompressed, the batch is larger than the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The WAL queue is full; retry later.
    Overloaded,
    /// The WAL could not be written (e.g. a full disk); retry later.
    Storage(String),
    /// An earlier batch carrying some of these event ids failed to be stored; retry.
    OriginalFailed,
    /// Something that is no fault of the input.
    Internal(String),
}

impl IngestError {
    /// Whether sending the same batch again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            IngestError::Overloaded | IngestError::Storage(_) | IngestError::OriginalFailed
        )
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IngestError::ForeignShop { own, indices } => write!(
                f,
                "this key is bound to shop `{own}`; {} row(s) name another shop and nothing was stored",
                indices.len()
            ),
            IngestError::BadBody(m) => f.write_str(m),
            IngestError::TooLarge { limit } => write!(
                f,
                "the decompressed body exceeds the limit ({limit} bytes); send smaller batches"
            ),
            IngestError::Overloaded => f.write_str(
                "the write-ahead log is saturated; nothing from this request was stored, retry later",
            ),
            IngestError::Storage(e) => write!(
                f,
                "the write-ahead log could not be written ({e}); nothing from this request was acknowledged, retry later"
            ),
            IngestError::OriginalFailed => f.write_str(
                "an earlier request carrying some of these event_ids failed to be stored; they are not acknowledged — send this request again (the events stored by it are recognised as duplicates)",
            ),
            IngestError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for IngestError {}
