//! Folding the WAL into the lake. Everything acknowledged beyond the manifest's folded position
//! becomes Parquet files, quarantine rows, catalog keys and remembered event ids in **one**
//! commit that also moves the folded position, so a crash never loses or repeats a record.
//!
//! The expensive part (decoding, sorting, Parquet encoding) needs no lock on the store, so the
//! background [`Folder`] holds the store's lock only to read the position and to commit: the
//! ingest path is never stalled behind a Parquet write.

use crate::dedup::{Day, GENERATED_PREFIX, day_of_ms, id_key, reject_ids};
use crate::store::{Commit, Ctx, Prepared, Store, StoreError};
use crate::wal::{WalExtras, WalPos, WalState, decode, read_records, seg_path, segments};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, RecordBatch};
use collect::TableBatch;
use crossbeam_channel::{Sender, bounded};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The acknowledged WAL records beyond a position.
#[derive(Default)]
pub struct Unfolded {
    /// Events.
    pub tables: Vec<TableBatch>,
    /// Rejected rows and string-id keys.
    pub extras: WalExtras,
    /// Where the read stopped (the new folded position).
    pub end: WalPos,
    /// Whether it stopped at the byte budget (more may be waiting).
    pub more: bool,
}

/// WAL payload bytes folded in one commit at most: bounds the fold's memory whatever the
/// ingest rate (a backlog is folded in several commits).
pub const MAX_FOLD_BYTES: u64 = 32 << 20;

/// Reads the valid records after `from`, up to about `max_bytes` of payload and never past
/// `durable` (the writer's last fsynced end; `None` when no writer runs).
pub fn read_unfolded(
    wal_dir: &Path,
    from: WalPos,
    durable: Option<WalPos>,
    max_bytes: u64,
) -> Result<Unfolded, StoreError> {
    let (mut seg, mut off) = from;
    let mut out = Unfolded {
        end: from,
        ..Unfolded::default()
    };
    let mut budget = max_bytes;
    for s in segments(wal_dir)
        .ctx(|| "listing WAL segments".into())?
        .into_iter()
        .filter(|s| *s >= from.0)
    {
        let end = match durable {
            Some((ds, _)) if s > ds => break,
            Some((ds, de)) if s == ds => de,
            _ => u64::MAX,
        };
        if s > seg {
            seg = s;
            off = 0;
        }
        let (records, valid) = read_records(&seg_path(wal_dir, s), off, end, budget, true)
            .ctx(|| "reading the WAL".into())?;
        for (_, payload) in &records {
            budget = budget.saturating_sub(payload.len() as u64);
            let (tables, extras) = decode(payload)?;
            out.tables.extend(tables);
            out.extras.rejects.extend(extras.rejects);
            out.extras.keys.extend(extras.keys);
        }
        out.end = (s, valid);
        if budget == 0 {
            out.more = true;
            break;
        }
    }
    Ok(out)
}

/// The (key, day) of every event with an `event_id` and of every rejected row.
pub fn unfolded_ids(u: &Unfolded) -> Vec<(u128, Day)> {
    let mut ids = event_ids(&u.tables);
    ids.extend(reject_ids(&u.extras.rejects));
    ids
}

/// The (key, accept day) of every row with an `event_id`.
pub fn event_ids(tables: &[TableBatch]) -> Vec<(u128, Day)> {
    let mut out = Vec::new();
    for t in tables {
        out.extend(batch_ids(&t.shop, &t.batch));
    }
    out
}

fn batch_ids(shop: &str, b: &RecordBatch) -> Vec<(u128, Day)> {
    let (Some(ids), Some(recv)) = (
        b.column_by_name("event_id"),
        b.column_by_name("received_at"),
    ) else {
        return Vec::new();
    };
    let (Some(ids), Some(recv)) = (
        ids.as_string_opt::<i32>(),
        recv.as_primitive_opt::<TimestampMillisecondType>(),
    ) else {
        return Vec::new();
    };
    let now = day_of_ms(collect::now_ms());
    (0..b.num_rows())
        .filter(|&i| ids.is_valid(i) && !ids.value(i).starts_with(GENERATED_PREFIX))
        .map(|i| {
            let day = if recv.is_valid(i) {
                day_of_ms(recv.value(i))
            } else {
                now
            };
            (id_key(shop, ids.value(i)), day)
        })
        .collect()
}

/// Groups WAL keys by shop for the catalog.
fn keys_by_shop(keys: Vec<(String, String, String)>) -> Vec<(String, Vec<(&'static str, String)>)> {
    let mut by: BTreeMap<String, Vec<(&'static str, String)>> = BTreeMap::new();
    for (shop, kind, key) in keys {
        let kind = match kind.as_str() {
            "item" => "item",
            "user" => "user",
            _ => continue,
        };
        by.entry(shop).or_default().push((kind, key));
    }
    by.into_iter().collect()
}

impl Store {
    /// Commits folded WAL records: their prepared files, extras and ids, and the new position;
    /// then deletes fully folded segments.
    /// `ids_in_memory`: whether the ids were reserved in this process's index already (the
    /// live folder), or must be added to it (recovery of a crashed run's WAL).
    pub fn commit_fold(
        &mut self,
        prepared: Prepared,
        extras: WalExtras,
        ids: Vec<(u128, Day)>,
        end: WalPos,
        wal_dir: &Path,
        ids_in_memory: bool,
    ) -> Result<u64, StoreError> {
        let rows = prepared.rows();
        self.commit_parts(Commit {
            prepared,
            rejects: extras.rejects,
            keys: keys_by_shop(extras.keys),
            ids,
            ids_in_memory,
            wal_folded: Some(end),
            ..Commit::default()
        })?;
        for s in segments(wal_dir).unwrap_or_default() {
            if s < end.0 {
                let _ = std::fs::remove_file(seg_path(wal_dir, s));
            }
        }
        Ok(rows)
    }

    /// Folds every acknowledged WAL record not yet in the lake (at startup, or in tests).
    /// Returns the rows folded.
    pub fn fold_wal(&mut self, wal_dir: &Path) -> Result<u64, StoreError> {
        let mut rows = 0;
        loop {
            let u = read_unfolded(wal_dir, self.manifest().wal_folded, None, MAX_FOLD_BYTES)?;
            if u.end == self.manifest().wal_folded {
                return Ok(rows);
            }
            let ids = unfolded_ids(&u);
            let prepared = self.prepare(u.tables)?;
            rows += self.commit_fold(prepared, u.extras, ids, u.end, wal_dir, false)?;
        }
    }
}

/// One fold pass of at most [`MAX_FOLD_BYTES`], with the store locked only around its commit,
/// reading no further than the running writer's durable end (`wal`). Returns the rows folded
/// and whether more was waiting (then call again at once).
pub fn fold_pass(
    store: &Mutex<Store>,
    wal_dir: &Path,
    wal: Option<&WalState>,
) -> Result<(u64, bool), StoreError> {
    let lock = || store.lock().unwrap_or_else(|p| p.into_inner());
    let gate = lock().fold_gate();
    let _folding = gate.lock().unwrap_or_else(|p| p.into_inner());
    let (from, preparer) = {
        let s = lock();
        (s.manifest().wal_folded, s.preparer())
    };
    let u = read_unfolded(wal_dir, from, wal.map(WalState::durable), MAX_FOLD_BYTES)?;
    if u.end == from {
        return Ok((0, false));
    }
    let more = u.more;
    let ids = unfolded_ids(&u);
    let prepared = preparer.prepare(u.tables)?;
    let mut s = lock();
    if s.manifest().wal_folded != from {
        // A direct `fold_wal` ran meanwhile; its commit covers these records.
        s.discard(prepared);
        return Ok((0, false));
    }
    crate::crashpoint::reach(crate::crashpoint::FOLD_BEFORE_COMMIT);
    let rows = s.commit_fold(prepared, u.extras, ids, u.end, wal_dir, true)?;
    Ok((rows, more))
}

/// Folds everything acknowledged before the call (several passes if there is a backlog).
pub fn fold_shared(
    store: &Mutex<Store>,
    wal_dir: &Path,
    wal: Option<&WalState>,
) -> Result<u64, StoreError> {
    let mut rows = 0;
    loop {
        let (n, more) = fold_pass(store, wal_dir, wal)?;
        rows += n;
        if !more {
            return Ok(rows);
        }
    }
}

/// Folding is background work: on a small machine it must yield the CPU to request handling,
/// or every fold shows up as a latency spike for clients. Best effort (Linux thread nice 10).
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Background compaction settings of a [`Folder`].
#[derive(Debug, Clone, Copy)]
pub struct AutoCompact {
    /// Check this often.
    pub every: Duration,
    /// Merge a partition's files smaller than this many bytes...
    pub small_bytes: u64,
    /// ...into files of up to this many rows.
    pub target_rows: u64,
}

/// A background thread folding the WAL into the lake every `every` (each fold adds a file per
/// partition, so it also compacts small files now and then), until stopped.
pub struct Folder {
    stop: Sender<()>,
    handle: Option<std::thread::JoinHandle<()>>,
    error: Arc<Mutex<Option<String>>>,
}

impl Folder {
    /// Starts folding `wal_dir` (written by the writer whose state is `wal`) into the store.
    pub fn spawn(
        store: Arc<Mutex<Store>>,
        wal_dir: PathBuf,
        wal: Arc<WalState>,
        every: Duration,
    ) -> Folder {
        Folder::spawn_with(store, wal_dir, wal, every, None)
    }

    /// Starts folding, and compacting small files as configured.
    pub fn spawn_with(
        store: Arc<Mutex<Store>>,
        wal_dir: PathBuf,
        wal: Arc<WalState>,
        every: Duration,
        compact: Option<AutoCompact>,
    ) -> Folder {
        let (stop, stopped) = bounded::<()>(1);
        let error: Arc<Mutex<Option<String>>> = Arc::default();
        let err = error.clone();
        let set_error = move |e: Option<String>| {
            *err.lock().unwrap_or_else(|p| p.into_inner()) = e;
        };
        let handle = std::thread::Builder::new()
            .name("wal-folder".into())
            .spawn(move || {
                lower_priority();
                let mut last_compact = std::time::Instant::now();
                loop {
                    let quit = !matches!(
                        stopped.recv_timeout(every),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout)
                    );
                    // A backlog is folded in bounded passes, back to back; new records that
                    // arrive meanwhile wait for the next tick (one file per partition per tick).
                    loop {
                        match fold_pass(&store, &wal_dir, Some(&wal)) {
                            Ok((_, more)) => {
                                set_error(None);
                                if !more {
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "folding the WAL failed; will retry");
                                set_error(Some(e.to_string()));
                                break;
                            }
                        }
                    }
                    let ids = store.lock().unwrap_or_else(|p| p.into_inner()).ids();
                    crate::dedup::maintain(&ids, day_of_ms(collect::now_ms()));
                    // One merge per tick while there is work, so that folding (and sealing
                    // the id index) is never held up for more than one merge.
                    if let Some(c) = compact.filter(|c| last_compact.elapsed() >= c.every) {
                        let r = store
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .compact_some(c.small_bytes, c.target_rows, 1);
                        match r {
                            Ok(r) if r.files_after > 0 => {}
                            Ok(_) => last_compact = std::time::Instant::now(),
                            Err(e) => {
                                last_compact = std::time::Instant::now();
                                tracing::error!(error = %e, "compacting the lake failed; will retry");
                            }
                        }
                    }
                    if quit {
                        return;
                    }
                }
            })
            .ok();
        Folder {
            stop,
            handle,
            error,
        }
    }

    /// Why the last fold failed, while folding fails (`None` when healthy).
    pub fn error_handle(&self) -> Arc<Mutex<Option<String>>> {
        self.error.clone()
    }

    /// Stops the thread after one last fold.
    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
