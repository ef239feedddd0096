//! # storepulse-mine
//!
//! Mining over the lake, between the pure algorithms of `mining` and the CLI and API: input
//! tables from SQL over the lake, CSV/Parquet files or basket files ([`input`], typed by
//! [`typing`], turned into features by [`features`] or baskets by [`baskets`]), the mining
//! tasks declared once in [`registry`] (read by the CLI help, the API list and the docs), and
//! their results as rows of the lake's results table.

pub mod baskets;
pub mod features;
pub mod input;
pub mod registry;
pub mod results;
pub mod source;
pub mod tasks;
pub mod typing;

/// What can go wrong: the user's mistake (say what to change) or ours.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    /// Bad input or parameters, said so that the user knows what to change.
    #[error("{0}")]
    Usage(String),
    /// The query stage failed.
    #[error(transparent)]
    Query(#[from] query::QueryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<mining::MiningError> for MineError {
    fn from(e: mining::MiningError) -> MineError {
        MineError::Usage(e.to_string())
    }
}
