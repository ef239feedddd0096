//! The import driver: parsed chunks (in input order) → dedup → parallel Parquet encoding →
//! in-order commits. Each commit records how many source records are durably handled, so a
//! re-run after a crash resumes exactly there: nothing acknowledged is lost or duplicated.
//!
//! Progress is keyed by the fingerprint of the decompressed content, so a file and its `.gz`
//! are one input. An input that breaks off (a truncated or corrupt `.gz`) has every row before
//! the break committed, then fails; a broken `.gz` also records its decoded content's hash, so
//! the repaired file (which starts with that content) resumes after the last stored record.

use crate::manifest::ImportProgress;
use crate::store::{Prepared, Store, StoreError};
use collect::{
    CollectError, Input, ItemRecord, ParseOptions, QuarantineRecord, TableBatch, source,
};
use crossbeam_channel::{bounded, unbounded};
use model::{DEFAULT_SHOP, Reason};
use source::Identity;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How an import commits.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// Rows per commit (one acknowledged batch); bigger means fewer, larger files.
    pub rows_per_commit: usize,
    /// Parquet encoder threads (0 = number of CPUs).
    pub encoders: usize,
    /// Import again even if this exact content was fully imported before.
    pub force: bool,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            rows_per_commit: 1 << 20,
            encoders: 0,
            force: false,
        }
    }
}

/// The outcome of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Source name.
    pub source: String,
    /// Rows read in this run (a CSV header is none; a blank line is one).
    pub records: u64,
    /// Events stored.
    pub imported: u64,
    /// Rows quarantined, by reason.
    pub quarantined: BTreeMap<Reason, u64>,
    /// Commits (acknowledged batches).
    pub commits: u64,
    /// Records skipped because an earlier run had already handled them.
    pub resumed_from: u64,
    /// The whole source had already been imported; nothing was done.
    pub already_imported: bool,
    /// Wall time.
    pub elapsed: Duration,
}

impl ImportReport {
    /// Total rows quarantined.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }
}

/// Live counters for a progress bar, and a hook called after every acknowledged commit.
#[derive(Default)]
pub struct Progress {
    /// Raw bytes read from the source.
    pub bytes: Arc<AtomicU64>,
    /// Source size, when known.
    pub total: AtomicU64,
    /// Records committed.
    pub records: AtomicU64,
    /// Called with (records durably handled, rows stored) after each commit.
    pub on_commit: Option<Box<dyn Fn(u64, u64) + Send + Sync>>,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading or parsing the input failed as a whole.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input could not be opened.
    #[error("{0}")]
    Open(std::io::Error),
    /// The input broke off; every row before the break was committed.
    #[error("{0}")]
    Broken(Box<Broken>),
}

/// An import that stopped where its input broke off (a truncated or corrupt `.gz`, a read
/// error), after committing every row before the break.
#[derive(Debug)]
pub struct Broken {
    /// What this run did.
    pub report: ImportReport,
    /// Records durably handled in all runs: the resume point.
    pub records: u64,
    /// Why reading stopped.
    pub cause: CollectError,
    /// Whether progress was recorded (not for stdin), so a re-run resumes.
    pub resumable: bool,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.report;
        write!(
            f,
            "{} broke off after record {}: {}. Every row before the break is stored: {} imported and {} quarantined in this run",
            r.source,
            self.records,
            self.cause,
            r.imported,
            r.quarantined_total()
        )?;
        if r.resumed_from > 0 {
            write!(f, " (records 1 to {} in earlier runs)", r.resumed_from)?;
        }
        if self.resumable {
            write!(
                f,
                ". Repair or re-download the file and import it again: the import recognises it and resumes after record {}, so no row is stored twice",
                self.records
            )
        } else {
            write!(
                f,
                ". stdin keeps no resume point: importing the repaired data again would store these rows twice, so import only what follows record {}",
                self.records
            )
        }
    }
}

struct Job {
    seq: u64,
    tables: Vec<TableBatch>,
    rejects: Vec<QuarantineRecord>,
    items: Vec<ItemRecord>,
    keys: Vec<(String, &'static str, String)>,
    records_end: u64,
}

/// Imports one input into the store.
pub fn run(
    store: &mut Store,
    input: &Input,
    mut opts: ParseOptions,
    cfg: &ImportConfig,
    progress: &Progress,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let ident = match input {
        Input::Path(p) => Some(source::identify(p).map_err(ImportError::Open)?),
        Input::Stdin => None,
    };
    let opened = source::open(input).map_err(ImportError::Open)?;
    let mut report = ImportReport {
        source: opened.name.clone(),
        ..Default::default()
    };
    let fingerprint = ident.as_ref().map(|i| i.fingerprint.clone());
    if let (Some(id), Input::Path(path), false) = (&ident, input, cfg.force)
        && let Some(p) = known_progress(store, id, path)?
    {
        if p.complete {
            report.already_imported = true;
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        opts.skip_records = p.records;
        report.resumed_from = p.records;
    }
    if opts.records.path.is_none()
        && let Input::Path(p) = input
    {
        opts.records.path = Some(p.clone());
    }
    progress
        .total
        .store(opened.size.unwrap_or(0), Ordering::Relaxed);
    let bytes = opened.consumed.clone();
    let shop = opts
        .line
        .shop
        .clone()
        .unwrap_or_else(|| DEFAULT_SHOP.into());
    let meta = StreamMeta {
        source: opened.name.clone(),
        format: opts.format.name().to_string(),
        shop,
        fingerprint,
    };
    let (source_name, format) = (meta.source.clone(), meta.format.clone());
    let stream = collect::parse(opened, opts.clone());
    let r = run_stream(
        store,
        stream,
        meta,
        cfg,
        progress,
        Some(bytes),
        report,
        started,
    );
    if let (
        Err(ImportError::Broken(b)),
        Some(Identity {
            size,
            hash: Some(hash),
            ..
        }),
    ) = (&r, &ident)
    {
        let p = ImportProgress {
            source: source_name,
            format,
            records: b.records,
            complete: false,
        };
        let entry = Some((prefix_key(*size, *hash), p));
        store.commit(
            Prepared::default(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            entry,
        )?;
    }
    r
}

/// The key of a broken input's progress, found again by a file that starts with its content.
fn prefix_key(len: u64, hash: u128) -> String {
    format!("prefix-{len}-{hash:032x}")
}

/// What an earlier run recorded for this content: under its fingerprint, under the raw-bytes
/// fingerprint of earlier versions, or (for a repaired file) under the decoded content of a
/// broken input it starts with.
fn known_progress(
    store: &Store,
    id: &Identity,
    path: &std::path::Path,
) -> Result<Option<ImportProgress>, ImportError> {
    let imports = &store.manifest().imports;
    if let Some(p) = imports
        .get(&id.fingerprint)
        .or_else(|| imports.get(&id.legacy))
    {
        return Ok(Some(p.clone()));
    }
    let prefixes: Vec<(u64, u128, &ImportProgress)> = imports
        .iter()
        .filter_map(|(k, p)| {
            let (len, hash) = k.strip_prefix("prefix-")?.split_once('-')?;
            let len: u64 = len.parse().ok()?;
            let hash = u128::from_str_radix(hash, 16).ok()?;
            (len <= id.size).then_some((len, hash, p))
        })
        .collect();
    if prefixes.is_empty() {
        return Ok(None);
    }
    let lens: Vec<u64> = prefixes.iter().map(|x| x.0).collect();
    let hashes = source::prefix_hashes(path, &lens).map_err(ImportError::Open)?;
    Ok(prefixes
        .iter()
        .zip(hashes)
        .filter(|(x, h)| *h == Some(x.1))
        .map(|(x, _)| x.2)
        .max_by_key(|p| p.records)
        .cloned())
}

/// Describes a chunk stream for [`run_stream`].
#[derive(Debug, Clone)]
pub struct StreamMeta {
    /// Source name (for quarantine records and progress).
    pub source: String,
    /// Format name.
    pub format: String,
    /// Default shop.
    pub shop: String,
    /// Content fingerprint; with one, progress is recorded and a re-run resumes.
    pub fingerprint: Option<String>,
}

/// Commits an in-order stream of parsed chunks (from `collect::parse` or a generator).
#[allow(clippy::too_many_arguments)]
pub fn run_stream(
    store: &mut Store,
    stream: impl Iterator<Item = Result<collect::ParsedChunk, CollectError>>,
    meta: StreamMeta,
    cfg: &ImportConfig,
    progress: &Progress,
    bytes: Option<Arc<AtomicU64>>,
    mut report: ImportReport,
    started: Instant,
) -> Result<ImportReport, ImportError> {
    if report.source.is_empty() {
        report.source = meta.source.clone();
    }
    let StreamMeta {
        source: source_name,
        format,
        shop,
        fingerprint,
    } = meta;
    let encoders = if cfg.encoders == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        cfg.encoders
    };
    let (job_tx, job_rx) = bounded::<Job>(encoders);
    let (done_tx, done_rx) = unbounded::<(Job, Result<Prepared, StoreError>)>();
    let preparer = store.preparer();
    let mut handles = Vec::new();
    for _ in 0..encoders {
        let (job_rx, done_tx, preparer) = (job_rx.clone(), done_tx.clone(), preparer.clone());
        handles.push(std::thread::spawn(move || {
            for mut job in job_rx {
                let tables = std::mem::take(&mut job.tables);
                let r = preparer.prepare(tables);
                if done_tx.send((job, r)).is_err() {
                    return;
                }
            }
        }));
    }
    drop(done_tx);

    let mut committer = Committer {
        next: 0,
        waiting: BTreeMap::new(),
        fingerprint,
        source: source_name.clone(),
        format: format.clone(),
        shop: shop.clone(),
    };
    let mut pending = Pending::default();
    let mut seq = 0u64;
    let mut records_end = report.resumed_from;
    let mut result: Result<(), ImportError> = Ok(());
    let mut broken = None;
    for chunk in stream {
        let mut chunk = match chunk {
            Ok(c) => c,
            // The input broke off: what came before is committed below, then the import fails.
            Err(e @ CollectError::Io { .. }) => {
                broken = Some(e);
                break;
            }
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        if let Some(b) = &bytes {
            progress
                .bytes
                .store(b.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        records_end = chunk.first_record - 1 + chunk.records;
        report.records += chunk.rows_read();
        pending.items.append(&mut chunk.items);
        pending.keys.append(&mut chunk.batch.keys);
        let (tables, rejects) = match store.dedup(chunk, &source_name, &format) {
            Ok(x) => x,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        pending.add(tables, rejects);
        if pending.rows >= cfg.rows_per_commit {
            let job = pending.take(seq, records_end)?;
            seq += 1;
            if job_tx.send(job).is_err() {
                break;
            }
        }
        if let Err(e) = committer.drain(store, &done_rx, false, &mut report, progress) {
            result = Err(e);
            break;
        }
    }
    if result.is_ok()
        && (pending.rows > 0
            || !pending.rejects.is_empty()
            || seq == 0
            || records_end > report.resumed_from)
    {
        let job = pending.take(seq, records_end)?;
        let _ = job_tx.send(job);
    }
    drop(job_tx);
    if result.is_ok() {
        result = committer.drain(store, &done_rx, true, &mut report, progress);
    }
    for h in handles {
        let _ = h.join();
    }
    result?;
    if let Some(cause) = broken {
        report.elapsed = started.elapsed();
        let resumable = committer.fingerprint.is_some();
        return Err(ImportError::Broken(Box::new(Broken {
            report,
            records: records_end,
            cause,
            resumable,
        })));
    }
    // Mark the source complete only after its last batch is durable.
    if let Some(fp) = &committer.fingerprint {
        let p = ImportProgress {
            source: source_name,
            format,
            records: records_end,
            complete: true,
        };
        store.commit(
            Prepared::default(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Some((fp.clone(), p)),
        )?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[derive(Default)]
struct Pending {
    tables: HashMap<(model::EventType, String), Vec<arrow_array::RecordBatch>>,
    rejects: Vec<QuarantineRecord>,
    items: Vec<ItemRecord>,
    keys: Vec<(String, &'static str, String)>,
    rows: usize,
}

impl Pending {
    fn add(&mut self, tables: Vec<TableBatch>, mut rejects: Vec<QuarantineRecord>) {
        for t in tables {
            self.rows += t.batch.num_rows();
            self.tables
                .entry((t.table, t.shop))
                .or_default()
                .push(t.batch);
        }
        self.rejects.append(&mut rejects);
    }

    fn take(&mut self, seq: u64, records_end: u64) -> Result<Job, ImportError> {
        let mut tables = Vec::new();
        let mut groups: Vec<_> = std::mem::take(&mut self.tables).into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        for ((table, shop), batches) in groups {
            // No concatenation: the preparer writes the batches one after another when they
            // are already in time order, and sorts only when they are not.
            tables.extend(batches.into_iter().map(|batch| TableBatch {
                table,
                shop: shop.clone(),
                batch,
            }));
        }
        self.rows = 0;
        Ok(Job {
            seq,
            tables,
            rejects: std::mem::take(&mut self.rejects),
            items: std::mem::take(&mut self.items),
            keys: std::mem::take(&mut self.keys),
            records_end,
        })
    }
}

struct Committer {
    next: u64,
    waiting: BTreeMap<u64, (Job, Result<Prepared, StoreError>)>,
    fingerprint: Option<String>,
    source: String,
    format: String,
    shop: String,
}

impl Committer {
    fn drain(
        &mut self,
        store: &mut Store,
        rx: &crossbeam_channel::Receiver<(Job, Result<Prepared, StoreError>)>,
        to_end: bool,
        report: &mut ImportReport,
        progress: &Progress,
    ) -> Result<(), ImportError> {
        loop {
            let got = if to_end {
                rx.recv().ok()
            } else {
                rx.try_recv().ok()
            };
            let Some((job, prepared)) = got else {
                return Ok(());
            };
            self.waiting.insert(job.seq, (job, prepared));
            while let Some((job, prepared)) = self.waiting.remove(&self.next) {
                self.next += 1;
                let prepared = prepared?;
                for r in &job.rejects {
                    *report.quarantined.entry(r.reason).or_insert(0) += 1;
                }
                let progress_entry = self.fingerprint.clone().map(|fp| {
                    (
                        fp,
                        ImportProgress {
                            source: self.source.clone(),
                            format: self.format.clone(),
                            records: job.records_end,
                            complete: false,
                        },
                    )
                });
                let items = if job.items.is_empty() {
                    Vec::new()
                } else {
                    vec![(self.shop.clone(), job.items)]
                };
                let mut by_shop: BTreeMap<String, Vec<(&'static str, String)>> = BTreeMap::new();
                for (shop, kind, key) in job.keys {
                    by_shop.entry(shop).or_default().push((kind, key));
                }
                let keys: Vec<_> = by_shop.into_iter().collect();
                let s = store.commit(prepared, job.rejects, items, keys, progress_entry)?;
                report.imported += s.rows;
                report.commits += 1;
                progress.records.store(job.records_end, Ordering::Relaxed);
                if let Some(f) = &progress.on_commit {
                    f(job.records_end, s.rows);
                }
            }
        }
    }
}
