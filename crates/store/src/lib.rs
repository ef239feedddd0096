//! # storepulse-store
//!
//! The durable store: everything accepted is kept here, in an open Parquet lake.
//!
//! ```text
//! data dir/
//!   wal/        write-ahead log for small appends (group-commit fsync), folded into the lake
//!   lake/       <table>/shop=<shop>/dt=<YYYY-MM-DD>/part-<seq>.parquet + _manifest.json
//!   quarantine/ rejected rows (NDJSON), listed in the manifest
//!   catalog/    item.parquet, user.parquet (dimensions and string-id keys)
//!   state/      event id index for exact dedup (one log per accept day, within a horizon)
//! ```
//!
//! - [`Store`] — open/recover, [`Store::prepare`] + [`Store::commit`] (atomic, crash-safe).
//! - [`import`] — drives a `collect` chunk stream into the store with resumable progress.
//! - [`Wal`] — appends acknowledged after fsync; [`fold`] folds them into the lake in the background.
//! - [`reader`] — Arrow record batch streams filtered by table, shop and time range.
//! - [`maintenance`] — compaction of small files; [`retention`] — dropping old days, planned first.
//!
//! Parsing lives in `storepulse-collect`; queries over the lake in later stages.
#![deny(missing_docs)]

pub mod backup;
mod catalog;
pub mod crashpoint;
pub mod dedup;
mod erase;
mod events;
pub mod fold;
mod fsutil;
pub mod import;
pub mod maintenance;
mod manifest;
mod merge;
mod ordered;
mod quarantine;
pub mod reader;
pub mod results;
pub mod retention;
mod segment;
mod sketch;
mod stats;
mod store;
mod timelines;
mod usersets;
mod wal;

pub use catalog::{Catalog, ItemRow, UserRow};
pub use erase::EraseReport;
pub use events::to_events;
pub use fold::Folder;
pub use fsutil::{free_bytes, write_atomic};
pub use manifest::{FileEntry, ImportProgress, Manifest, QuarantineFile};
pub use model::Zone;
pub use ordered::OrderedScan;
pub use quarantine::{read_quarantine_file, replayable};
pub use sketch::{Hll, mix};
pub use stats::{Distinct, LakeStats, TableStats, stats, stats_of};
pub use store::{
    Commit, CommitSummary, Prepared, Preparer, Store, StoreConfig, StoreError, drop_rows,
    manifest_path,
};
pub use timelines::{Block, Cursor, TimelineBuilder, Timelines, timeline_path};
pub use usersets::{KindUsers, NULL_KIND, UserSets, from_key, to_key, user_sets_path};
pub use wal::{
    Done, FsyncStats, SegmentFile, Wal, WalConfig, WalExtras, WalPos, WalState, WrapSegment,
    is_queue_full,
};
