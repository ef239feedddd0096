//! The audit log of admin actions (`state/audit.log`, one JSON object a line, fsynced): who
//! (key name, never the key), what, on which shop, with what result.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    /// When, UTC ms.
    pub at_ms: i64,
    /// The key's name.
    pub actor: String,
    /// What was done (`erase_user`, `replay_quarantine`, `create_key`, ...).
    pub action: String,
    /// The shop concerned, if any.
    pub shop: Option<String>,
    /// Parameters and outcome.
    pub details: serde_json::Value,
}

/// Appends entries to the audit log.
pub struct Audit {
    path: PathBuf,
    lock: Mutex<()>,
}

/// Path of the audit log in a data dir.
pub fn audit_path(data_dir: &Path) -> PathBuf {
    data_dir.join("state/audit.log")
}

impl Audit {
    /// The audit log of a data dir.
    pub fn new(data_dir: &Path) -> Audit {
        Audit {
            path: audit_path(data_dir),
            lock: Mutex::new(()),
        }
    }

    /// Appends one entry durably.
    pub fn record(&self, e: &AuditEntry) -> std::io::Result<()> {
        append(&self.path, e, &self.lock)
    }

    /// Every entry, oldest first (unreadable lines are skipped).
    pub fn entries(&self) -> std::io::Result<Vec<AuditEntry>> {
        read(&self.path)
    }

    /// One page of the entries `keep` accepts, oldest first, and how many it accepts in all.
    /// The log is streamed: memory holds one page whatever the log's length.
    pub fn page(
        &self,
        offset: usize,
        limit: usize,
        keep: impl Fn(&AuditEntry) -> bool,
    ) -> std::io::Result<(Vec<AuditEntry>, usize)> {
        use std::io::BufRead;
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let (mut page, mut total) = (Vec::new(), 0usize);
        for line in std::io::BufReader::new(f).lines() {
            let Ok(e) = serde_json::from_str::<AuditEntry>(&line?) else {
                continue;
            };
            if !keep(&e) {
                continue;
            }
            if total >= offset && page.len() < limit {
                page.push(e);
            }
            total += 1;
        }
        Ok((page, total))
    }
}

/// Appends one entry to the log at `path` (used by the CLI too).
pub fn append(path: &Path, e: &AuditEntry, lock: &Mutex<()>) -> std::io::Result<()> {
    let _g = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut line = serde_json::to_vec(e)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(&line)?;
    f.sync_data()
}

/// Reads the log at `path`.
pub fn read(path: &Path) -> std::io::Result<Vec<AuditEntry>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
