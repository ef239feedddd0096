//! [`Store`]: the durable lake. Writers call [`Store::prepare`] (sort, split by day, encode and
//! fsync staged Parquet files — safe to run on several threads) and then [`Store::commit`] (in
//! order: quarantine, catalog, dedup log, then one atomic manifest write and the renames).

use crate::catalog::Catalog;
use crate::dedup::{self, DedupIndex};
use crate::fsutil::{create_dir_durable, sync_dir};
use crate::manifest::{FileEntry, ImportProgress, Manifest, QuarantineFile};
use crate::segment::{
    count_kinds_all, kind_column, split_days_many, ts_range, write_parquet_all, writer_properties,
};
use crate::sketch::Sidecars;
use collect::{ChunkBuilder, ItemRecord, ParsedChunk, QuarantineRecord, TableBatch};
use model::EventType;
use model::Zone;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// How the store lays data out.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Data directory (holds `wal/`, `lake/`, `quarantine/`, `catalog/`, `state/`).
    pub data_dir: PathBuf,
    /// Zone of the day partitions.
    pub zone: Zone,
    /// zstd level of lake files.
    pub zstd_level: i32,
    /// How long an accepted `event_id` is remembered for exact dedup, in days.
    pub dedup_horizon_days: u32,
    /// Recent ids held in the hash map before they are sealed into a sorted run.
    pub dedup_seal_ids: usize,
}

impl StoreConfig {
    /// Defaults for a data dir.
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            zone: Zone::default(),
            zstd_level: 1,
            dedup_horizon_days: 7,
            dedup_seal_ids: dedup::SEAL_AT,
        }
    }
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Disk I/O failed.
    #[error("{context}: {err}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        err: io::Error,
    },
    /// Another process holds the data directory.
    #[error(
        "{0} is in use by another StorePulse process (lock file {0}/LOCK); stop it or use another --data-dir"
    )]
    Locked(String),
    /// Arrow / Parquet failed.
    #[error("encoding failed: {0}")]
    Encode(String),
}

pub(crate) trait Ctx<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|err| StoreError::Io {
            context: what(),
            err,
        })
    }
}

/// Files written and fsynced under staging, not yet visible.
#[derive(Default)]
pub struct Prepared {
    pub(crate) files: Vec<FileEntry>,
}

impl Prepared {
    /// Rows in the prepared files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

/// Everything one commit makes durable and visible together.
#[derive(Default)]
pub struct Commit {
    /// Staged lake files.
    pub prepared: Prepared,
    /// Rows for the quarantine.
    pub rejects: Vec<QuarantineRecord>,
    /// Item facts by shop.
    pub items: Vec<(String, Vec<ItemRecord>)>,
    /// Original text of string ids by shop: (kind `item`|`user`, text).
    pub keys: Vec<(String, Vec<(&'static str, String)>)>,
    /// Import progress of a source.
    pub progress: Option<(String, ImportProgress)>,
    /// Event ids (key, accept day) to remember, besides those imports inserted.
    pub ids: Vec<(u128, dedup::Day)>,
    /// Whether `ids` are in the in-memory index already (reserved by this process).
    pub ids_in_memory: bool,
    /// The WAL position these files fold up to.
    pub wal_folded: Option<(u64, u64)>,
}

/// What a commit did.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommitSummary {
    /// Rows made visible.
    pub rows: u64,
    /// Rows quarantined.
    pub quarantined: u64,
    /// Files added.
    pub files: usize,
}

/// Writes staged files; cheap to clone and usable from any thread while the store commits.
#[derive(Clone)]
pub struct Preparer {
    root: PathBuf,
    zone: Zone,
    zstd_level: i32,
    next_seq: Arc<AtomicU64>,
}

/// The durable store.
pub struct Store {
    cfg: StoreConfig,
    manifest: Manifest,
    next_seq: Arc<AtomicU64>,
    dedup: Arc<Mutex<DedupIndex>>,
    fold_gate: Arc<Mutex<()>>,
    catalog: Catalog,
    /// The exclusive lock of a writer; `None` for a read-only view.
    _lock: Option<File>,
}

/// Subdirectories of the data dir.
pub const DIRS: [&str; 7] = [
    "wal",
    "lake",
    "lake/_staging",
    "lake/_sketches",
    "quarantine",
    "catalog",
    "state",
];

impl Store {
    /// Opens (creating if needed) a data dir and recovers from any crash.
    pub fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
        let root = cfg.data_dir.clone();
        for d in DIRS {
            create_dir_durable(&root.join(d))
                .ctx(|| format!("creating {}", root.join(d).display()))?;
        }
        let lock = lock_dir(&root)?;
        let mpath = manifest_path(&root);
        let mut manifest = Manifest::load(&mpath).ctx(|| "reading the manifest".into())?;
        recover(&root, &mut manifest)?;
        manifest.save(&mpath).ctx(|| "saving the manifest".into())?;
        let today = dedup::day_of_ms(collect::now_ms());
        let dedup = DedupIndex::open(
            &root.join("state/ids"),
            &manifest.logs,
            cfg.dedup_horizon_days,
            today,
        )
        .ctx(|| "reading the event id index".into())?;
        let mut dedup = dedup;
        dedup.set_seal_at(cfg.dedup_seal_ids);
        let dedup = Arc::new(Mutex::new(dedup));
        let catalog = Catalog::open(&root.join("catalog")).ctx(|| "reading the catalog".into())?;
        let next_seq = Arc::new(AtomicU64::new(manifest.next_seq));
        Ok(Store {
            cfg,
            manifest,
            next_seq,
            dedup,
            fold_gate: Arc::default(),
            catalog,
            _lock: Some(lock),
        })
    }

    /// Opens a read-only view of the committed lake: no lock (so it works while an import or
    /// the server writes), no recovery, no writes. Commits on it fail.
    pub fn open_read_only(cfg: StoreConfig) -> Result<Store, StoreError> {
        let root = cfg.data_dir.clone();
        if !root.join("lake").is_dir() {
            return Err(StoreError::Io {
                context: format!("opening {}", root.display()),
                err: io::Error::new(
                    io::ErrorKind::NotFound,
                    "no StorePulse data here (import something first, or check --data-dir)",
                ),
            });
        }
        let manifest =
            Manifest::load(&manifest_path(&root)).ctx(|| "reading the manifest".into())?;
        let catalog = Catalog::open(&root.join("catalog")).ctx(|| "reading the catalog".into())?;
        let next_seq = Arc::new(AtomicU64::new(manifest.next_seq));
        let dedup = Arc::new(Mutex::new(DedupIndex::detached(
            &root.join("state/ids"),
            cfg.dedup_horizon_days,
        )));
        Ok(Store {
            cfg,
            manifest,
            next_seq,
            dedup,
            fold_gate: Arc::default(),
            catalog,
            _lock: None,
        })
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        match self._lock {
            Some(_) => Ok(()),
            None => Err(StoreError::Io {
                context: "writing".into(),
                err: io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "this store was opened read-only",
                ),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// The committed table of contents.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The catalog, for dimension upserts; call [`Catalog::flush`] to make changes durable.
    pub fn catalog_mut(&mut self) -> &mut Catalog {
        &mut self.catalog
    }

    /// The data dir.
    pub fn root(&self) -> &Path {
        &self.cfg.data_dir
    }

    /// The shared event id index (the ingest server reserves ids in it without the store).
    pub fn ids(&self) -> Arc<Mutex<DedupIndex>> {
        self.dedup.clone()
    }

    /// Held for the whole of a WAL fold, so that folds never interleave.
    pub fn fold_gate(&self) -> Arc<Mutex<()>> {
        self.fold_gate.clone()
    }

    pub(crate) fn lock_ids(&self) -> MutexGuard<'_, DedupIndex> {
        // A panic while holding the lock leaves the map consistent (single inserts), so go on.
        self.dedup.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How far an earlier import of this source got.
    pub fn import_progress(&self, fingerprint: &str) -> Option<&ImportProgress> {
        self.manifest.imports.get(fingerprint)
    }

    /// Drops rows whose `event_id` was already accepted for their shop (or appears earlier in
    /// this chunk) and quarantines them. Call in input order, before [`Store::prepare`].
    pub fn dedup(
        &mut self,
        chunk: ParsedChunk,
        source: &str,
        format: &str,
    ) -> Result<(Vec<TableBatch>, Vec<QuarantineRecord>), StoreError> {
        let ParsedChunk {
            batch,
            mut rejects,
            ids,
            ..
        } = chunk;
        let mut tables = batch
            .finish()
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        if ids.is_empty() {
            return Ok((tables, rejects));
        }
        let mut dropped = Vec::new();
        let today = dedup::day_of_ms(collect::now_ms());
        let mut index = self.lock_ids();
        for id in &ids {
            if !index.insert(&id.shop, &id.event_id, today) {
                dropped.push((id.slot, id.row));
                rejects.push(ChunkBuilder::duplicate_record(source, format, id));
            }
        }
        std::mem::drop(index);
        drop_rows(&mut tables, &dropped)?;
        Ok((tables, rejects))
    }

    /// A handle that writes staged files from other threads.
    pub fn preparer(&self) -> Preparer {
        Preparer {
            root: self.cfg.data_dir.clone(),
            zone: self.cfg.zone,
            zstd_level: self.cfg.zstd_level,
            next_seq: self.next_seq.clone(),
        }
    }

    /// Sorts, splits by day and writes staged Parquet files (see [`Preparer::prepare`]).
    pub fn prepare(&self, tables: Vec<TableBatch>) -> Result<Prepared, StoreError> {
        self.preparer().prepare(tables)
    }

    /// Makes prepared files, quarantined rows, catalog facts and import progress durable and
    /// visible, atomically. After it returns, everything in it survives any crash.
    pub fn commit(
        &mut self,
        prepared: Prepared,
        rejects: Vec<QuarantineRecord>,
        items: Vec<(String, Vec<ItemRecord>)>,
        keys: Vec<(String, Vec<(&'static str, String)>)>,
        progress: Option<(String, ImportProgress)>,
    ) -> Result<CommitSummary, StoreError> {
        self.commit_parts(Commit {
            prepared,
            rejects,
            items,
            keys,
            progress,
            ..Commit::default()
        })
    }

    /// [`Store::commit`] with every part, including ids and a WAL position (folding). If it
    /// fails before the manifest is written, the staged files are removed again: on a full
    /// disk they would otherwise hold space until the next start.
    pub fn commit_parts(&mut self, c: Commit) -> Result<CommitSummary, StoreError> {
        let staged = c.prepared.files.clone();
        let version = self.manifest.version;
        let mut quarantine_tmp = None;
        let r = self.commit_parts_inner(c, &mut quarantine_tmp);
        if r.is_err() && self.manifest.version == version {
            discard_staged(&self.cfg.data_dir, &staged);
            if let Some(q) = quarantine_tmp {
                let _ = fs::remove_file(self.cfg.data_dir.join(q));
            }
        }
        r
    }

    /// Removes the staged files of a prepare that will not be committed.
    pub fn discard(&self, p: Prepared) {
        discard_staged(&self.cfg.data_dir, &p.files);
    }

    fn commit_parts_inner(
        &mut self,
        c: Commit,
        quarantine_tmp: &mut Option<String>,
    ) -> Result<CommitSummary, StoreError> {
        let Commit {
            prepared,
            rejects,
            items,
            keys,
            progress,
            ids,
            ids_in_memory,
            wal_folded,
        } = c;
        self.check_writable()?;
        let root = self.cfg.data_dir.clone();
        let mut m = self.manifest.clone();
        let summary = CommitSummary {
            rows: prepared.rows(),
            quarantined: rejects.len() as u64,
            files: prepared.files.len(),
        };
        if !rejects.is_empty() {
            let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
            let staged = format!("quarantine/q-{seq:012}.ndjson.tmp");
            *quarantine_tmp = Some(staged.clone());
            write_ndjson(&root.join(&staged), &rejects).ctx(|| format!("writing {staged}"))?;
            m.quarantine.push(QuarantineFile {
                seq,
                path: format!("quarantine/q-{seq:012}.ndjson"),
                staged: Some(staged),
                rows: rejects.len() as u64,
            });
        }
        let now = collect::now_ms();
        for (shop, it) in &items {
            self.catalog.upsert_items(shop, it);
        }
        for (shop, k) in &keys {
            self.catalog.note_keys(shop, k, now);
        }
        self.catalog.flush().ctx(|| "writing the catalog".into())?;
        let lens = self.persist_pending_ids(&m.logs)?;
        m.logs.extend(lens);
        // The fsync happens outside the index's lock: ingest requests reserve ids meanwhile.
        let ids_dir = self.lock_ids().dir().to_path_buf();
        m.logs.extend(
            dedup::append_logs(&ids_dir, &ids, &m.logs)
                .ctx(|| "writing the event id index".into())?,
        );
        let obsolete = {
            let mut index = self.lock_ids();
            if !ids_in_memory {
                index.remember(&ids);
            }
            index.prune(dedup::day_of_ms(now), &m.logs)
        };
        for n in &obsolete {
            m.logs.remove(n);
        }
        m.files.extend(prepared.files);
        if let Some((fp, p)) = progress {
            m.imports.insert(fp, p);
        }
        if let Some(pos) = wal_folded {
            m.wal_folded = pos;
        }
        self.finish_commit(m)?;
        self.lock_ids().delete_logs(&obsolete);
        if !ids_in_memory {
            // Imports and recovery seal here; the live folder does it after releasing the store.
            dedup::maintain(&self.dedup, dedup::day_of_ms(now));
        }
        Ok(summary)
    }

    /// Persists the ids imports inserted since the last commit; returns the log lengths.
    fn persist_pending_ids(
        &mut self,
        committed: &std::collections::BTreeMap<String, u64>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut index = self.lock_ids();
        let pending = index.take_pending();
        index
            .persist(&pending, committed)
            .ctx(|| "writing the event id index".into())
    }

    /// Commits a new manifest and completes its staged renames.
    pub(crate) fn finish_commit(&mut self, mut m: Manifest) -> Result<(), StoreError> {
        self.check_writable()?;
        let wal_fold = m.wal_folded != self.manifest.wal_folded;
        let root = self.cfg.data_dir.clone();
        m.version += 1;
        m.next_seq = m.next_seq.max(self.next_seq.load(Ordering::SeqCst));
        // Directories first, so the renames after the commit cannot fail for want of them.
        let dirs: BTreeSet<PathBuf> = m
            .files
            .iter()
            .filter(|f| f.staged.is_some())
            .filter_map(|f| root.join(&f.path).parent().map(Path::to_path_buf))
            .collect();
        for d in &dirs {
            create_dir_durable(d).ctx(|| format!("creating {}", d.display()))?;
        }
        m.save(&manifest_path(&root))
            .ctx(|| "committing the manifest".into())?;
        // Committed from here on, even if a rename fails (recovery finishes them).
        self.manifest = m;
        if wal_fold {
            crate::crashpoint::reach(crate::crashpoint::FOLD_AFTER_COMMIT);
        }
        apply_renames(&root, &mut self.manifest)
    }

    /// Replaces the manifest's file list through `f` (compaction, retention) and commits.
    pub(crate) fn manifest_mut_commit(
        &mut self,
        f: impl FnOnce(&mut Manifest),
    ) -> Result<(), StoreError> {
        let mut m = self.manifest.clone();
        f(&mut m);
        self.finish_commit(m)?;
        delete_unlisted(&self.cfg.data_dir, &self.manifest)
    }

    /// Commits a quarantine replay: new lake files, and the quarantine replaced by `new_q`.
    pub(crate) fn commit_replay(
        &mut self,
        prepared: Vec<Prepared>,
        new_q: Option<QuarantineFile>,
    ) -> Result<(), StoreError> {
        let lens = self.persist_pending_ids(&self.manifest.logs.clone())?;
        self.manifest_mut_commit(|m| {
            m.logs.extend(lens);
            for p in prepared {
                m.files.extend(p.files);
            }
            m.quarantine = new_q.into_iter().collect();
        })
    }

    /// Hands out a file number.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::SeqCst)
    }
}

/// Removes rows, given as (table slot, row) pairs of [`collect::EventBatch`], from the finished
/// tables; tables left empty are dropped. Slots stay valid only until then.
pub fn drop_rows(tables: &mut Vec<TableBatch>, rows: &[(usize, usize)]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut keep: Vec<Vec<bool>> = tables
        .iter()
        .map(|t| vec![true; t.batch.num_rows()])
        .collect();
    for &(slot, row) in rows {
        keep[slot][row] = false;
    }
    for (t, k) in tables.iter_mut().zip(keep) {
        t.batch = arrow_select::filter::filter_record_batch(
            &t.batch,
            &arrow_array::BooleanArray::from(k),
        )
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    }
    tables.retain(|t| t.batch.num_rows() > 0);
    Ok(())
}

/// Removes staged files (and their sidecars) that no manifest lists.
fn discard_staged(root: &Path, files: &[FileEntry]) {
    for f in files {
        if let Some(s) = &f.staged {
            let _ = fs::remove_file(root.join(s));
        }
    }
    let prefixes: Vec<String> = files.iter().map(|f| format!("{:012}.", f.seq)).collect();
    if let Ok(rd) = fs::read_dir(root.join("lake/_sketches")) {
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Path of the manifest.
pub fn manifest_path(root: &Path) -> PathBuf {
    root.join("lake/_manifest.json")
}

fn lock_dir(root: &Path) -> Result<File, StoreError> {
    let f = File::create(root.join("LOCK")).ctx(|| "creating the lock file".into())?;
    // SAFETY: flock on a valid, owned descriptor; no memory is involved.
    let rc = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    };
    if rc != 0 {
        return Err(StoreError::Locked(root.display().to_string()));
    }
    Ok(f)
}

pub(crate) fn write_ndjson(path: &Path, rows: &[QuarantineRecord]) -> io::Result<()> {
    let f = File::create(path)?;
    let mut w = BufWriter::new(f);
    for r in rows {
        serde_json::to_writer(&mut w, r).map_err(io::Error::other)?;
        w.write_all(b"\n")?;
    }
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()
}

/// Renames committed staged files into place and clears their staged marks.
fn apply_renames(root: &Path, m: &mut Manifest) -> Result<(), StoreError> {
    let mut dirs = BTreeSet::new();
    let staged = m
        .files
        .iter_mut()
        .map(|f| (&mut f.staged, &f.path))
        .chain(m.quarantine.iter_mut().map(|q| (&mut q.staged, &q.path)));
    let mut changed = false;
    for (st, path) in staged {
        let Some(s) = st.take() else { continue };
        let (from, to) = (root.join(&s), root.join(path));
        if from.exists() {
            if let Some(d) = to.parent() {
                create_dir_durable(d).ctx(|| format!("creating {}", d.display()))?;
                dirs.insert(d.to_path_buf());
            }
            fs::rename(&from, &to).ctx(|| format!("moving {s} into place"))?;
        } else if !to.exists() {
            return Err(StoreError::Io {
                context: format!("recovering {path}"),
                err: io::Error::new(
                    io::ErrorKind::NotFound,
                    "a committed file is missing from both staging and the lake",
                ),
            });
        }
        changed = true;
    }
    for d in dirs
        .iter()
        .chain([root.join("lake/_staging"), root.join("quarantine")].iter())
    {
        sync_dir(d).ctx(|| format!("syncing {}", d.display()))?;
    }
    if changed {
        // Staged marks are only hints; saving them cleared keeps the next recovery short.
        m.save(&manifest_path(root))
            .ctx(|| "saving the manifest".into())?;
    }
    Ok(())
}

/// Finishes interrupted commits and removes anything the manifest does not list.
fn recover(root: &Path, m: &mut Manifest) -> Result<(), StoreError> {
    apply_renames(root, m)?;
    delete_unlisted(root, m)
}

fn delete_unlisted(root: &Path, m: &Manifest) -> Result<(), StoreError> {
    let listed: BTreeSet<PathBuf> = m
        .files
        .iter()
        .map(|f| root.join(&f.path))
        .chain(m.quarantine.iter().map(|q| root.join(&q.path)))
        .collect();
    let mut stack = vec![root.join("lake"), root.join("quarantine")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let ours =
                name.ends_with(".parquet") || name.ends_with(".tmp") || name.ends_with(".ndjson");
            // Sketches and user sets are named `<seq>.<ext>` and belong to lake file `seq`.
            let sketch_of = p
                .parent()
                .is_some_and(|d| d.ends_with("lake/_sketches"))
                .then(|| {
                    name.split_once('.')
                        .and_then(|(n, _)| n.parse::<u64>().ok())
                })
                .flatten();
            if let Some(seq) = sketch_of {
                // A `.tmp` of a listed file is left from a write that did not finish renaming.
                if name.ends_with(".tmp") || !m.files.iter().any(|f| f.seq == seq) {
                    fs::remove_file(&p).ctx(|| format!("removing orphan {}", p.display()))?;
                }
            } else if ours && !listed.contains(&p) {
                fs::remove_file(&p).ctx(|| format!("removing orphan {}", p.display()))?;
            }
        }
    }
    // Empty partition directories left by compaction or retention.
    for t in EventType::ALL {
        remove_empty_dirs(&root.join("lake").join(t.name()));
    }
    Ok(())
}

fn remove_empty_dirs(dir: &Path) -> bool {
    let Ok(rd) = fs::read_dir(dir) else {
        return false;
    };
    let mut empty = true;
    for e in rd.flatten() {
        let p = e.path();
        if !(p.is_dir() && remove_empty_dirs(&p)) {
            empty = false;
        }
    }
    empty && fs::remove_dir(dir).is_ok()
}

impl Preparer {
    /// Sorts, splits by day and writes staged Parquet files (fsynced). Thread-safe: run several at once to use every core.
    pub fn prepare(&self, tables: Vec<TableBatch>) -> Result<Prepared, StoreError> {
        let mut out = Prepared::default();
        let r = self.prepare_into(tables, &mut out);
        if r.is_err() {
            // A file that failed mid-write removed itself; the finished ones go here.
            discard_staged(&self.root, &out.files);
        }
        r.map(|()| out)
    }

    fn prepare_into(&self, tables: Vec<TableBatch>, out: &mut Prepared) -> Result<(), StoreError> {
        let mut groups: Vec<((EventType, String), Vec<arrow_array::RecordBatch>)> = Vec::new();
        for t in tables {
            match groups
                .iter_mut()
                .find(|(k, _)| k.0 == t.table && k.1 == t.shop)
            {
                Some((_, v)) => v.push(t.batch),
                None => groups.push(((t.table, t.shop), vec![t.batch])),
            }
        }
        for ((table, shop), batches) in groups {
            let days = split_days_many(batches, &self.zone)
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            for (dt, parts) in days {
                let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
                let (staged, path) = crate::segment::file_names(table, &shop, &dt, seq);
                let bytes = write_parquet_all(
                    &self.root.join(&staged),
                    &parts,
                    writer_properties(
                        self.zstd_level,
                        parts.iter().map(|b| b.num_rows() as u64).sum(),
                    ),
                )
                .ctx(|| format!("writing {staged}"))?;
                let min_ts = parts.first().map(|b| ts_range(b).0).unwrap_or(0);
                let max_ts = parts.last().map(|b| ts_range(b).1).unwrap_or(0);
                let kinds = kind_column(table)
                    .map(|c| count_kinds_all(&parts, c))
                    .unwrap_or_default();
                // Listed before its sidecars are written, so a failure removes both.
                out.files.push(FileEntry {
                    seq,
                    table: table.name().into(),
                    shop: shop.clone(),
                    dt,
                    path: path.clone(),
                    staged: Some(staged),
                    rows: parts.iter().map(|b| b.num_rows() as u64).sum(),
                    bytes,
                    min_ts,
                    max_ts,
                    kinds,
                });
                Sidecars::of(table, &parts)
                    .save(&self.root, seq)
                    .ctx(|| format!("writing the sketch and user sets of {path}"))?;
            }
        }
        Ok(())
    }
}
