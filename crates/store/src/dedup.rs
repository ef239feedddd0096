//! Exact dedup by `event_id`: a set of 128-bit hashes of `shop \0 event_id`, persisted as an
//! append-only log whose committed length lives in the manifest (a crash truncates the tail).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The log's name in [`crate::Manifest::logs`].
pub const LOG: &str = "event_ids";

/// Seen event ids.
pub struct DedupIndex {
    path: PathBuf,
    seen: HashSet<u128>,
    pending: Vec<u128>,
}

/// The key of an event id within its shop.
pub fn id_key(shop: &str, event_id: &str) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(shop.as_bytes());
    h.update(&[0]);
    h.update(event_id.as_bytes());
    h.digest128()
}

impl DedupIndex {
    /// Loads the committed prefix of the log (`committed` bytes), dropping any uncommitted tail.
    pub fn open(path: &Path, committed: u64) -> io::Result<DedupIndex> {
        let mut seen = HashSet::new();
        if let Ok(mut f) = File::open(path) {
            let len = f.metadata()?.len();
            let keep = committed.min(len) / 16 * 16;
            let mut buf = vec![0u8; keep as usize];
            f.read_exact(&mut buf)?;
            for c in buf.chunks_exact(16) {
                let mut b = [0u8; 16];
                b.copy_from_slice(c);
                seen.insert(u128::from_le_bytes(b));
            }
            if len != keep {
                OpenOptions::new().write(true).open(path)?.set_len(keep)?;
            }
        }
        Ok(DedupIndex {
            path: path.to_path_buf(),
            seen,
            pending: Vec::new(),
        })
    }

    /// An empty index that never touches `path` unless flushed (read-only views).
    pub fn detached(path: &Path) -> DedupIndex {
        DedupIndex {
            path: path.to_path_buf(),
            seen: HashSet::new(),
            pending: Vec::new(),
        }
    }

    /// Whether the id is new; a new id counts as seen from now on (pending until committed).
    pub fn insert(&mut self, shop: &str, event_id: &str) -> bool {
        let k = id_key(shop, event_id);
        let fresh = self.seen.insert(k);
        if fresh {
            self.pending.push(k);
        }
        fresh
    }

    /// Appends pending ids to the log and fsyncs; returns the new committed length.
    pub fn flush(&mut self) -> io::Result<u64> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        if !self.pending.is_empty() {
            let mut buf = Vec::with_capacity(self.pending.len() * 16);
            for k in self.pending.drain(..) {
                buf.extend_from_slice(&k.to_le_bytes());
            }
            f.write_all(&buf)?;
            f.sync_data()?;
        }
        Ok(f.metadata()?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_reopen_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ids.log");
        let mut d = DedupIndex::open(&p, 0).unwrap();
        assert!(d.insert("s", "a"));
        assert!(!d.insert("s", "a"));
        assert!(d.insert("t", "a"), "shops are separate");
        let committed = d.flush().unwrap();
        assert!(d.insert("s", "b"));
        d.flush().unwrap(); // written but never committed in a manifest
        let mut d = DedupIndex::open(&p, committed).unwrap();
        assert!(!d.insert("s", "a"));
        assert!(d.insert("s", "b"), "uncommitted tail must be forgotten");
    }
}
