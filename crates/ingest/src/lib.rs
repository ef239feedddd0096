//! # storepulse-ingest
//!
//! The one way events and dimension rows enter StorePulse while it runs. The HTTP server calls
//! it, and so will the broker sources (Kafka, NATS): each maps its transport to an [`Origin`]
//! (source name, the shop a credential is bound to) and rows of bytes, and gets back an
//! [`IngestReply`] or an [`IngestError`] it translates into its own protocol.
//!
//! ```text
//! rows ─► parse + validate (model rules, collect's ChunkBuilder) ─► shop check (bound origin)
//!      ─► event ids (given, or generated) ─► exact dedup: reserve ids in store's DedupIndex
//!      ─► WAL submit (rejects ride along to the quarantine) ─► reply after the group fsync
//! ```
//!
//! - [`rows`] — cutting a body or message into rows (JSON object, array, NDJSON), bounded gunzip.
//! - [`Ingestor::events`] — events, with the in-flight rule: a duplicate of an event whose first
//!   request is still being written waits for that request's outcome.
//! - [`Ingestor::upsert_items`], [`Ingestor::upsert_users`] — catalog and profile rows, read by
//!   `model`'s [`ItemRecord`](model::ItemRecord) / [`UserRecord`](model::UserRecord) with the
//!   rules and reason codes of events.
//!
//! File imports share the validation (collect) and the dedup index (store) but commit whole
//! Parquet files through the store's commit protocol instead of the WAL: a bulk load is already
//! durable file by file and would only be slowed by a second copy.
#![deny(missing_docs)]

mod dims;
mod error;
mod events;
mod reply;
pub mod rows;

pub use error::IngestError;
pub use events::{DurableHook, Hooks, Ingestor, MAX_EVENT_BYTES, MAX_EVENT_ID_CHARS, Origin};
pub use reply::{IngestReply, RowError, UpsertReply};
pub use store::dedup::GENERATED_PREFIX;
