//! # storepulse-query
//!
//! The offline stage: SQL and built-in analyses over all of the lake's history.
//!
//! - [`Engine`] — sandboxed SQL on DataFusion: read-only, one manifest snapshot per query,
//!   time and memory limits, shop-scoped views for shop-bound keys.
//! - [`tables`] — which tables exist ([`FilesTable`] reads exactly the manifest's files, with
//!   `shop`/`dt` partition pruning).
//! - [`output`] — table, CSV, JSON, NDJSON, Arrow IPC and Parquet writers.
//!
//! DataFusion is confined to this crate so the lower stages build and test fast.
#![deny(missing_docs)]

pub mod analysis;
mod engine;
mod error;
pub mod lake;
mod limits;
pub mod local_files;
pub mod output;
mod quarantine;
pub mod report;
pub mod tables;

pub use engine::{Engine, Limits, Rows};
pub use error::QueryError;
pub use lake::FilesTable;
pub use tables::{Scope, Snapshot};
