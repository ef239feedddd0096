//! The manifest: the one file that says which lake files exist. A reader trusts only files the
//! manifest lists, and a commit becomes visible atomically when the new manifest is renamed in.
//!
//! Commit protocol (redo log of one entry): new files are written and fsynced under
//! `lake/_staging/`, then the manifest naming both their staged and final paths is committed,
//! then they are renamed into the Hive tree. Recovery finishes any rename a crash interrupted and
//! deletes every file the manifest does not list, so nothing half-written or uncommitted is seen.

use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// One Parquet file of the lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Unique, increasing file number.
    pub seq: u64,
    /// Event table (`behavior`, `order`, ...).
    pub table: String,
    /// Shop partition.
    pub shop: String,
    /// Day partition, `YYYY-MM-DD` in the configured time zone.
    pub dt: String,
    /// Path relative to the data dir.
    pub path: String,
    /// Staged path relative to the data dir, until the rename is known to be done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<String>,
    /// Rows in the file.
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Smallest event time, UTC ms.
    pub min_ts: i64,
    /// Largest event time, UTC ms.
    pub max_ts: i64,
    /// Rows per value of the table's kind column (action / status / result), for fast stats.
    #[serde(default)]
    pub kinds: BTreeMap<String, u64>,
}

/// A file of quarantined rows (NDJSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineFile {
    /// Unique file number.
    pub seq: u64,
    /// Path relative to the data dir.
    pub path: String,
    /// Staged path, until renamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<String>,
    /// Rows in the file.
    pub rows: u64,
}

/// How far an import of one source got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportProgress {
    /// The source's name when last imported.
    pub source: String,
    /// The format it was read as.
    pub format: String,
    /// Records (lines) durably handled: imported or quarantined.
    pub records: u64,
    /// Whether the whole source was read.
    pub complete: bool,
}

/// The lake's table of contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Increases with every commit.
    pub version: u64,
    /// Next file number to hand out.
    pub next_seq: u64,
    /// Live lake files.
    pub files: Vec<FileEntry>,
    /// Live quarantine files.
    pub quarantine: Vec<QuarantineFile>,
    /// Import progress by source fingerprint.
    pub imports: BTreeMap<String, ImportProgress>,
    /// Committed length of each append-only log (event ids, catalog), by name.
    pub logs: BTreeMap<String, u64>,
    /// WAL position folded into the lake: (segment, byte offset).
    pub wal_folded: (u64, u64),
}

impl Manifest {
    /// Loads the manifest, or an empty one if the lake is new.
    pub fn load(path: &Path) -> io::Result<Manifest> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is corrupt: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(e),
        }
    }

    /// Atomically replaces the manifest on disk.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_atomic(path, &bytes)
    }
}
