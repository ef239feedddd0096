//! Query errors, sorted by what the user should do about them.

use datafusion::error::DataFusionError;
use std::time::Duration;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement is not allowed here (writes, DDL, settings, an oversized text).
    #[error("{0}")]
    Rejected(String),
    /// The SQL or the parameters are wrong (syntax, unknown table or column, bad type).
    #[error("{0}")]
    Invalid(String),
    /// The query hit its time limit and was cancelled.
    #[error(
        "the query ran past its time limit of {}s and was cancelled; narrow it (a shop, a date range, fewer columns) or raise query.timeout_secs",
        .0.as_secs_f64()
    )]
    Timeout(Duration),
    /// The query needed more memory than its limit allows.
    #[error(
        "the query needed more than its memory limit of {limit_mib} MiB and was cancelled; aggregate or filter more, add a LIMIT, or raise query.memory_mib ({detail})"
    )]
    Memory {
        /// The limit.
        limit_mib: usize,
        /// DataFusion's account of who used the memory.
        detail: String,
    },
    /// The engine could not do its work (I/O, a corrupt file, a bug).
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// A stable code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::Rejected(_) => "query_not_allowed",
            QueryError::Invalid(_) => "invalid_query",
            QueryError::Timeout(_) => "query_timeout",
            QueryError::Memory { .. } => "query_memory_limit",
            QueryError::Internal(_) => "internal",
        }
    }

    /// Sorts a DataFusion error; `limit_mib` names the memory limit in the message.
    pub fn from_datafusion(e: DataFusionError, limit_mib: usize) -> QueryError {
        let root = e.find_root();
        match root {
            DataFusionError::ResourcesExhausted(detail) => QueryError::Memory {
                limit_mib,
                detail: detail.clone(),
            },
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_) => {
                let msg = root.to_string();
                if let Some(what) = not_allowed(&msg) {
                    QueryError::Rejected(format!(
                        "{what} statements are not allowed: StorePulse SQL is read-only (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW)"
                    ))
                } else {
                    QueryError::Invalid(msg)
                }
            }
            _ => {
                let msg = root.to_string();
                match not_allowed(&msg) {
                    Some(what) => QueryError::Rejected(format!(
                        "{what} statements are not allowed: StorePulse SQL is read-only (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW)"
                    )),
                    None if msg.contains("Resources exhausted") => QueryError::Memory {
                        limit_mib,
                        detail: msg,
                    },
                    None => QueryError::Internal(msg),
                }
            }
        }
    }
}

/// DataFusion's `SQLOptions` refusals: "DDL not supported: CreateExternalTable" and the like.
fn not_allowed(msg: &str) -> Option<&'static str> {
    if msg.contains("DDL not supported") {
        Some("DDL (CREATE, DROP, ALTER)")
    } else if msg.contains("DML not supported") {
        Some("Write (INSERT, UPDATE, DELETE, COPY)")
    } else if msg.contains("Statement not supported") {
        Some("Session (SET, PREPARE, transaction)")
    } else {
        None
    }
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> Self {
        QueryError::from_datafusion(e, 0)
    }
}
