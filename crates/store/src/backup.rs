//! Online backup and restore of a data dir. The manifest is the unit of consistency: a backup is
//! one manifest version with every file it lists, the append-only id logs cut at the lengths it
//! records, the catalog, the API keys and audit log, and the WAL — which holds events that were
//! acknowledged but not yet folded, so a backup taken a moment after a 200 still has them.
//!
//! It runs beside a live server without its lock: lake files are written once and never
//! changed, so a hard link (or a copy across file systems) of a listed file is that file. A
//! compaction may remove a listed file between reading the manifest and linking it; the backup
//! then reads the newer manifest and links again (what it linked already stays valid). The WAL
//! is copied *before* the manifest is read, so the WAL copy starts at or before the manifest's
//! folded position: every acknowledged event is in the lake files or in the copied WAL.
//! The backup is written under `<dest>.partial` and renamed into place when complete.

use crate::dedup::LOG_PREFIX;
use crate::fsutil::sync_dir;
use crate::manifest::Manifest;
use crate::store::manifest_path;
use serde::Serialize;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What a backup holds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BackupReport {
    /// The manifest version captured.
    pub manifest_version: u64,
    /// Lake and quarantine files.
    pub files: usize,
    /// Of those, hard-linked (the rest copied).
    pub linked: usize,
    /// Bytes of lake and quarantine files.
    pub bytes: u64,
    /// Bytes of WAL copied.
    pub wal_bytes: u64,
    /// Manifests read until one's files were all still there.
    pub attempts: usize,
}

/// Files and directories outside the manifest that a backup keeps, and whether they may be
/// hard-linked: only files replaced whole (written to a temporary name, then renamed) may; a file
/// appended in place would go on growing in the backup through a shared link.
const KEPT: &[(&str, bool)] = &[
    ("catalog", true),
    ("state/keys.json", true),
    ("state/audit.log", false),
    ("state/job-runs.ndjson", false),
];

/// Whether a restored path may share its file with the backup: lake and quarantine files are
/// written once, the catalog is replaced whole; the WAL and the logs are appended to.
fn linkable(rel: &Path) -> bool {
    ["lake", "quarantine", "catalog"]
        .iter()
        .any(|d| rel.starts_with(d))
        || rel == Path::new("state/keys.json")
}

/// Takes a consistent backup of `data_dir` into `dest` (which must not exist).
pub fn backup(data_dir: &Path, dest: &Path) -> io::Result<BackupReport> {
    backup_with(data_dir, dest, &mut |_| {})
}

/// [`backup`], calling `between(attempt)` after each manifest is read and before its files are
/// linked: where a concurrent compaction can strike (the tests make it strike there).
fn backup_with(
    data_dir: &Path,
    dest: &Path,
    between: &mut dyn FnMut(usize),
) -> io::Result<BackupReport> {
    if dest.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists already; back up into a new directory",
                dest.display()
            ),
        ));
    }
    let mpath = manifest_path(data_dir);
    if !mpath.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} holds no lake (no {})",
                data_dir.display(),
                mpath.display()
            ),
        ));
    }
    let tmp = partial(dest);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let mut report = BackupReport {
        wal_bytes: copy_wal(&data_dir.join("wal"), &tmp.join("wal"))?,
        ..BackupReport::default()
    };
    let manifest = loop {
        report.attempts += 1;
        let m = Manifest::load(&mpath)?;
        between(report.attempts);
        match link_listed(data_dir, &tmp, &m, &mut report) {
            Ok(()) => break m,
            // Compacted away meanwhile: a newer manifest lists its replacement.
            Err(e) if e.kind() == io::ErrorKind::NotFound && report.attempts < 20 => continue,
            Err(e) => return Err(e),
        }
    };
    report.manifest_version = manifest.version;
    for (name, len) in &manifest.logs {
        if let Some(rel) = log_path(name) {
            copy_prefix(&data_dir.join(&rel), &tmp.join(&rel), *len)?;
        }
    }
    for &(rel, link) in KEPT {
        let mut n = 0;
        copy_tree(
            &data_dir.join(rel),
            &tmp.join(rel),
            &mut |_| link,
            Path::new(""),
            &mut n,
        )?;
    }
    manifest.save(&manifest_path(&tmp))?;
    std::fs::write(
        tmp.join("BACKUP.json"),
        serde_json::to_vec_pretty(&serde_json::json!({
            "created_ms": model::time::now_ms(),
            "from": data_dir,
            "report": &report,
        }))?,
    )?;
    sync_dir(&tmp)?;
    std::fs::rename(&tmp, dest)?;
    if let Some(parent) = dest.parent() {
        let _ = sync_dir(parent);
    }
    Ok(report)
}

/// Restores the backup `src` into `data_dir`, which must be empty or absent (a restore never
/// mixes with a live lake). Files are hard-linked where possible; open the store afterwards to
/// fold the restored WAL.
pub fn restore(src: &Path, data_dir: &Path) -> io::Result<u64> {
    if !src.join("BACKUP.json").exists() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a complete StorePulse backup (no BACKUP.json)",
                src.display()
            ),
        ));
    }
    if data_dir.exists() && std::fs::read_dir(data_dir)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is not empty; restore into a new --data-dir (or move this one away first)",
                data_dir.display()
            ),
        ));
    }
    let mut files = 0;
    copy_tree(src, data_dir, &mut linkable, Path::new(""), &mut files)?;
    let _ = std::fs::remove_file(data_dir.join("BACKUP.json"));
    Ok(files)
}

fn partial(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// `state/ids/<day>.log` of an id log's manifest name.
fn log_path(name: &str) -> Option<PathBuf> {
    let day = name.strip_prefix(LOG_PREFIX)?;
    Some(PathBuf::from(format!("state/ids/{day}.log")))
}

/// Links every lake and quarantine file of `m` (and the lake files' sidecars, when present).
fn link_listed(root: &Path, dest: &Path, m: &Manifest, r: &mut BackupReport) -> io::Result<()> {
    r.files = 0;
    r.linked = 0;
    r.bytes = 0;
    let listed = m
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.bytes))
        .chain(m.quarantine.iter().map(|q| (q.path.as_str(), 0)));
    for (rel, bytes) in listed {
        let to = dest.join(rel);
        if !to.exists() {
            if link_or_copy(&root.join(rel), &to)? {
                r.linked += 1;
            }
        } else {
            r.linked += 1;
        }
        r.files += 1;
        r.bytes += bytes;
    }
    for f in &m.files {
        for ext in ["json", "timeline", "users"] {
            let rel = format!("lake/_sketches/{:012}.{ext}", f.seq);
            let to = dest.join(&rel);
            // Sidecars are derived (rebuilt when missing): one gone meanwhile is no error.
            if !to.exists() && root.join(&rel).exists() {
                match link_or_copy(&root.join(&rel), &to) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// Hard-links `from` to `to` (true), or copies it when they are on different file systems.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<bool> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => {
            std::fs::copy(from, to)?;
            Ok(false)
        }
    }
}

/// Copies the first `len` bytes of a file (an append-only log may have grown past its commit).
fn copy_prefix(from: &Path, to: &Path, len: u64) -> io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut src = std::fs::File::open(from)?.take(len);
    let mut out = std::fs::File::create(to)?;
    let n = io::copy(&mut src, &mut out)?;
    if n != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{} is shorter than its committed {len} bytes",
                from.display()
            ),
        ));
    }
    out.sync_all()
}

/// Copies the WAL segments as they are now; a torn last record is cut when the restored store
/// opens (it was never acknowledged), a segment reclaimed meanwhile was folded already.
fn copy_wal(from: &Path, to: &Path) -> io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let Ok(dir) = std::fs::read_dir(from) else {
        return Ok(0);
    };
    let mut names: Vec<_> = dir.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    let mut total = 0;
    for n in names {
        match std::fs::File::open(from.join(&n)) {
            Ok(mut f) => {
                let mut out = std::fs::File::create(to.join(&n))?;
                total += io::copy(&mut f, &mut out)?;
                out.flush()?;
                out.sync_all()?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Copies a file or a directory tree, hard-linking the files `link` allows (by path relative to
/// the top); nothing there is no error.
fn copy_tree(
    from: &Path,
    to: &Path,
    link: &mut dyn FnMut(&Path) -> bool,
    rel: &Path,
    n: &mut u64,
) -> io::Result<()> {
    let meta = match std::fs::metadata(from) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            let name = e.file_name();
            copy_tree(&e.path(), &to.join(&name), link, &rel.join(&name), n)?;
        }
    } else if link(rel) {
        link_or_copy(from, to)?;
        *n += 1;
    } else {
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(from, to)?;
        *n += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Distinct, Store, StoreConfig};
    use collect::EventBatch;
    use model::{Behavior, Event, EventBody, Id};

    fn ev(user: i64) -> Event {
        Event {
            event_id: None,
            shop: Some("s".into()),
            ts: 1_511_654_400_000 + user * 1000,
            received_at: None,
            body: EventBody::Behavior(Behavior {
                user_id: Id::Num(user),
                item_id: Id::Num(2),
                category_id: None,
                action: "pv".into(),
                session_id: None,
                price: None,
                qty: None,
                channel: None,
            }),
            props: None,
        }
    }

    #[test]
    fn a_compaction_between_reading_the_manifest_and_linking_makes_the_backup_retry() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut st = Store::open(StoreConfig::new(&data)).unwrap();
        for users in [0..5, 5..9] {
            let mut b = EventBatch::new();
            for u in users {
                b.push(&ev(u));
            }
            let p = st.prepare(b.finish().unwrap()).unwrap();
            st.commit(p, vec![], vec![], vec![], None).unwrap();
        }
        assert_eq!(st.manifest().files.len(), 2);
        let dest = dir.path().join("backup");
        // The first manifest read lists the two small files; a compaction then merges them
        // and deletes both before the backup links them.
        let report = backup_with(&data, &dest, &mut |attempt| {
            if attempt == 1 {
                st.compact(u64::MAX, 1 << 20).unwrap();
                assert_eq!(st.manifest().files.len(), 1);
            }
        })
        .unwrap();
        assert_eq!(report.attempts, 2, "{report:?}");
        assert_eq!(report.files, 1);
        drop(st);
        let restored = dir.path().join("restored");
        restore(&dest, &restored).unwrap();
        let back = Store::open(StoreConfig::new(&restored)).unwrap();
        let stats = crate::stats(&back, Distinct::Exact).unwrap();
        assert_eq!(stats.tables["behavior"].rows, 9);
        assert_eq!(stats.distinct_users, 9);
    }
}
