//! The write-ahead log for small appends (the ingest server's batches). An append returns only
//! after its record is fsynced; concurrent appends share one fsync (group commit). Records are
//! folded into the Parquet lake in the background; the manifest remembers the folded position in
//! the same atomic commit as the new files, so a crash never loses or repeats a record.
//!
//! Segment files `wal/<seq>.wal` hold records `[len u32][crc32 u32][payload]`; a payload is a
//! list of (table, shop, Arrow IPC stream) followed by the record's extras (quarantined rows and
//! string-id keys, JSON). A torn tail (crash mid-write) fails its CRC and is cut off at open: it
//! was never acknowledged.

use crate::store::{Ctx, StoreError};
use arrow_array::RecordBatch;
use collect::{QuarantineRecord, TableBatch};
use crossbeam_channel::{Receiver, Sender, bounded};
use model::EventType;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// WAL settings.
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// Start a new segment beyond this size.
    pub segment_bytes: u64,
    /// Pending appends beyond this count wait (backpressure).
    pub queue: usize,
    /// Bytes written per fsync at most.
    pub max_group_bytes: usize,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            segment_bytes: 64 << 20,
            queue: 1024,
            max_group_bytes: 16 << 20,
        }
    }
}

/// A position in the WAL: (segment, byte offset).
pub type WalPos = (u64, u64);

/// Called once with the outcome of an append (from the writer thread; keep it short).
pub type Done = Box<dyn FnOnce(io::Result<WalPos>) + Send>;

/// What an append carries: an encoded payload, or parsed tables that the writer thread merges
/// with the other appends of its group into **one** record (so a thousand single-event requests
/// cost one Arrow encoding and one record, not a thousand).
enum Body {
    Encoded(Vec<u8>),
    Tables(Vec<TableBatch>, WalExtras),
}

impl Body {
    fn size(&self) -> usize {
        match self {
            Body::Encoded(p) => p.len(),
            Body::Tables(t, e) => {
                t.iter()
                    .map(|t| t.batch.get_array_memory_size())
                    .sum::<usize>()
                    + e.rejects.iter().map(|r| r.raw.len() + 128).sum::<usize>()
            }
        }
    }
}

struct Request {
    body: Body,
    done: Done,
}

/// What a WAL record carries besides its events: the rows rejected in the same request (they
/// reach the quarantine when the record is folded) and the original text of string ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalExtras {
    /// Rejected rows.
    #[serde(default)]
    pub rejects: Vec<QuarantineRecord>,
    /// (shop, kind `item`|`user`, original id text).
    #[serde(default)]
    pub keys: Vec<(String, String, String)>,
}

impl WalExtras {
    fn is_empty(&self) -> bool {
        self.rejects.is_empty() && self.keys.is_empty()
    }
}

/// Handle to the WAL writer; clone it freely.
#[derive(Clone)]
pub struct Wal {
    tx: Sender<Request>,
    dir: Arc<PathBuf>,
    stats: Arc<FsyncStats>,
}

/// Upper bounds (seconds) of the fsync latency buckets.
const FSYNC_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Fsync latency of the WAL writer, as a histogram kept with atomics.
#[derive(Default)]
pub struct FsyncStats {
    buckets: [AtomicU64; FSYNC_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
    records: AtomicU64,
}

impl FsyncStats {
    fn observe(&self, d: Duration, records: usize) {
        let secs = d.as_secs_f64();
        for (b, le) in self.buckets.iter().zip(FSYNC_BUCKETS) {
            if secs <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
    }

    /// Group fsyncs done.
    pub fn fsyncs(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Records written (appends acknowledged).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Appends a Prometheus histogram named `name` to `out`.
    pub fn render_prometheus(&self, name: &str, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(out, "# HELP {name} Latency of the WAL's group fsync");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (b, le) in self.buckets.iter().zip(FSYNC_BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{le}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {n}");
    }
}

/// Encodes table batches and extras as one WAL payload.
pub fn encode(tables: &[TableBatch], extras: &WalExtras) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    out.extend_from_slice(&(tables.len() as u32).to_le_bytes());
    for t in tables {
        let idx = EventType::ALL
            .iter()
            .position(|x| *x == t.table)
            .unwrap_or(0) as u8;
        out.push(idx);
        out.extend_from_slice(&(t.shop.len() as u16).to_le_bytes());
        out.extend_from_slice(t.shop.as_bytes());
        let mut ipc = Vec::new();
        {
            let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut ipc, &t.batch.schema())
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            w.write(&t.batch)
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            w.finish().map_err(|e| StoreError::Encode(e.to_string()))?;
        }
        out.extend_from_slice(&(ipc.len() as u32).to_le_bytes());
        out.extend_from_slice(&ipc);
    }
    if !extras.is_empty() {
        let json = serde_json::to_vec(extras).map_err(|e| StoreError::Encode(e.to_string()))?;
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
    }
    Ok(out)
}

/// Decodes a WAL payload.
pub fn decode(mut p: &[u8]) -> Result<(Vec<TableBatch>, WalExtras), StoreError> {
    let bad = || StoreError::Encode("corrupt WAL payload".into());
    let take = |p: &mut &[u8], n: usize| -> Result<Vec<u8>, StoreError> {
        if p.len() < n {
            return Err(bad());
        }
        let (a, b) = p.split_at(n);
        *p = b;
        Ok(a.to_vec())
    };
    let n = u32::from_le_bytes(take(&mut p, 4)?.try_into().map_err(|_| bad())?);
    let mut out = Vec::new();
    for _ in 0..n {
        let idx = take(&mut p, 1)?[0] as usize;
        let table = *EventType::ALL.get(idx).ok_or_else(bad)?;
        let sl = u16::from_le_bytes(take(&mut p, 2)?.try_into().map_err(|_| bad())?) as usize;
        let shop = String::from_utf8(take(&mut p, sl)?).map_err(|_| bad())?;
        let il = u32::from_le_bytes(take(&mut p, 4)?.try_into().map_err(|_| bad())?) as usize;
        let ipc = take(&mut p, il)?;
        let reader = arrow_ipc::reader::StreamReader::try_new(&ipc[..], None)
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        for b in reader {
            let batch: RecordBatch = b.map_err(|e| StoreError::Encode(e.to_string()))?;
            out.push(TableBatch {
                table,
                shop: shop.clone(),
                batch,
            });
        }
    }
    let mut extras = WalExtras::default();
    if p.len() >= 4 {
        let jl = u32::from_le_bytes(take(&mut p, 4)?.try_into().map_err(|_| bad())?) as usize;
        extras = serde_json::from_slice(&take(&mut p, jl)?).map_err(|_| bad())?;
    }
    Ok((out, extras))
}

pub(crate) fn seg_path(dir: &Path, seg: u64) -> PathBuf {
    dir.join(format!("{seg:012}.wal"))
}

pub(crate) fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut v: Vec<u64> = fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".wal")?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Valid records of a segment (end offset of each, payload) and the end of the valid prefix.
type Records = (Vec<(u64, Vec<u8>)>, u64);

/// Reads valid records of a segment from `offset`, stopping at the first torn or corrupt one,
/// or once `max_bytes` of payload are read (always at least one record); with `keep` false the
/// payloads are checked but not kept (finding the valid end at open).
pub(crate) fn read_records(
    path: &Path,
    offset: u64,
    max_bytes: u64,
    keep: bool,
) -> io::Result<Records> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut f = io::BufReader::with_capacity(1 << 20, file);
    f.seek(SeekFrom::Start(offset))?;
    let (mut at, mut total, mut out) = (offset, 0u64, Vec::new());
    let mut payload = Vec::new();
    while total < max_bytes || out.is_empty() {
        let mut hdr = [0u8; 8];
        if at + 8 > size || f.read_exact(&mut hdr).is_err() {
            break;
        }
        let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
        let crc = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        // A torn length can be anything: never trust it beyond the file's end.
        if at + 8 + len > size {
            break;
        }
        payload.resize(len as usize, 0);
        if f.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != crc {
            break;
        }
        at += 8 + len;
        total += len;
        if keep {
            out.push((at, std::mem::take(&mut payload)));
        } else if out.is_empty() {
            out.push((at, Vec::new()));
        }
    }
    if !keep {
        out.clear();
    }
    Ok((out, at))
}

impl Wal {
    /// Opens the WAL in `dir`, cutting off any torn tail, and starts the writer thread.
    pub fn open(dir: &Path, cfg: WalConfig) -> Result<Wal, StoreError> {
        fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        let segs = segments(dir).ctx(|| "listing WAL segments".into())?;
        let seg = segs.last().copied().unwrap_or(0);
        let path = seg_path(dir, seg);
        let valid = if path.exists() {
            read_records(&path, 0, u64::MAX, false)
                .ctx(|| "reading the WAL".into())?
                .1
        } else {
            0
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx(|| "opening the WAL".into())?;
        file.set_len(valid)
            .ctx(|| "truncating a torn WAL tail".into())?;
        // New records go after the valid ones (the handle starts at offset 0).
        file.seek(SeekFrom::Start(valid))
            .ctx(|| "positioning the WAL".into())?;
        file.sync_all().ctx(|| "syncing the WAL".into())?;
        crate::fsutil::sync_dir(dir).ctx(|| "syncing wal/".into())?;
        let (tx, rx) = bounded::<Request>(cfg.queue);
        let d = dir.to_path_buf();
        let stats = Arc::new(FsyncStats::default());
        let st = stats.clone();
        std::thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || writer(rx, d, seg, file, valid, cfg, st))
            .ctx(|| "starting the WAL writer".into())?;
        Ok(Wal {
            tx,
            dir: Arc::new(dir.to_path_buf()),
            stats,
        })
    }

    /// Appends tables; returns once they are fsynced (acknowledged). Errors with
    /// `WouldBlock` when the queue is full and `wait` is false (the caller answers 429).
    pub fn append(&self, tables: &[TableBatch], wait: bool) -> Result<WalPos, StoreError> {
        let payload = encode(tables, &WalExtras::default())?;
        self.append_payload(payload, wait)
    }

    fn append_payload(&self, payload: Vec<u8>, wait: bool) -> Result<WalPos, StoreError> {
        let (tx, rx) = bounded(1);
        let done: Done = Box::new(move |r| {
            let _ = tx.send(r);
        });
        let req = Request {
            body: Body::Encoded(payload),
            done,
        };
        let sent = if wait {
            self.tx.send(req).map_err(|_| ())
        } else {
            self.tx.try_send(req).map_err(|_| ())
        };
        if sent.is_err() {
            return Err(queue_full());
        }
        let r = rx.recv().map_err(|_| StoreError::Io {
            context: "appending to the WAL".into(),
            err: io::Error::other("WAL writer stopped"),
        })?;
        r.ctx(|| "appending to the WAL".into())
    }

    /// Queues parsed tables without blocking; the writer thread encodes them together with the
    /// rest of its group as one record, and `done` is called once that record is fsynced (or
    /// failed). Errors with `WouldBlock` at once when the queue is full (the caller answers 429).
    pub fn submit_tables(
        &self,
        tables: Vec<TableBatch>,
        extras: WalExtras,
        done: Done,
    ) -> Result<(), StoreError> {
        self.tx
            .try_send(Request {
                body: Body::Tables(tables, extras),
                done,
            })
            .map_err(|_| queue_full())
    }

    /// Fsync latency so far.
    pub fn fsync_stats(&self) -> &FsyncStats {
        &self.stats
    }

    /// Pending appends waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.len()
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Turns a group into WAL payloads: each pre-encoded request is its own record; all table
/// requests are merged into one record. Returns the payloads and, per request, its record.
fn records_of(group: &mut [Request]) -> Result<(Vec<Vec<u8>>, Vec<usize>), StoreError> {
    let mut payloads = Vec::new();
    let mut owner = vec![usize::MAX; group.len()];
    let mut merged: Vec<(EventType, String, Vec<RecordBatch>)> = Vec::new();
    let mut extras = WalExtras::default();
    let mut merged_users = Vec::new();
    for (i, r) in group.iter_mut().enumerate() {
        match &mut r.body {
            Body::Encoded(p) => {
                owner[i] = payloads.len();
                payloads.push(std::mem::take(p));
            }
            Body::Tables(tables, ex) => {
                for t in tables.drain(..) {
                    match merged.iter_mut().find(|m| m.0 == t.table && m.1 == t.shop) {
                        Some(m) => m.2.push(t.batch),
                        None => merged.push((t.table, t.shop, vec![t.batch])),
                    }
                }
                extras.rejects.append(&mut ex.rejects);
                extras.keys.append(&mut ex.keys);
                merged_users.push(i);
            }
        }
    }
    if !merged_users.is_empty() {
        let mut tables = Vec::with_capacity(merged.len());
        for (table, shop, batches) in merged {
            let batch = match batches.len() {
                1 => batches.into_iter().next().unwrap_or_else(|| unreachable!()),
                _ => arrow_select::concat::concat_batches(
                    &model::schema::event_schema(table),
                    &batches,
                )
                .map_err(|e| StoreError::Encode(e.to_string()))?,
            };
            tables.push(TableBatch { table, shop, batch });
        }
        let at = payloads.len();
        payloads.push(encode(&tables, &extras)?);
        for i in merged_users {
            owner[i] = at;
        }
    }
    Ok((payloads, owner))
}

fn queue_full() -> StoreError {
    StoreError::Io {
        context: "appending to the WAL".into(),
        err: io::Error::new(io::ErrorKind::WouldBlock, "WAL queue is full"),
    }
}

/// Whether an error is the WAL's backpressure (queue full).
pub fn is_queue_full(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { err, .. } if err.kind() == io::ErrorKind::WouldBlock)
}

fn writer(
    rx: Receiver<Request>,
    dir: PathBuf,
    mut seg: u64,
    mut file: File,
    mut len: u64,
    cfg: WalConfig,
    stats: Arc<FsyncStats>,
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut bytes = group[0].body.size();
        while bytes < cfg.max_group_bytes {
            match rx.try_recv() {
                Ok(r) => {
                    bytes += r.body.size();
                    group.push(r);
                }
                Err(_) => break,
            }
        }
        let (payloads, owner) = match records_of(&mut group) {
            Ok(x) => x,
            Err(e) => {
                for r in group {
                    (r.done)(Err(io::Error::other(e.to_string())));
                }
                continue;
            }
        };
        let result = (|| -> io::Result<Vec<WalPos>> {
            if len > cfg.segment_bytes {
                seg += 1;
                file = OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .write(true)
                    .open(seg_path(&dir, seg))?;
                crate::fsutil::sync_dir(&dir)?;
                len = 0;
            }
            let total: usize = payloads.iter().map(|p| p.len() + 8).sum();
            let mut buf = Vec::with_capacity(total);
            let mut record_ends = Vec::with_capacity(payloads.len());
            for p in &payloads {
                buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
                buf.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
                buf.extend_from_slice(p);
                record_ends.push((seg, len + buf.len() as u64));
            }
            let ends = owner.iter().map(|&i| record_ends[i]).collect();
            file.write_all(&buf)?;
            let t = Instant::now();
            file.sync_data()?;
            stats.observe(t.elapsed(), group.len());
            len += buf.len() as u64;
            Ok(ends)
        })();
        match result {
            Ok(ends) => {
                for (r, end) in group.into_iter().zip(ends) {
                    (r.done)(Ok(end));
                }
            }
            Err(e) => {
                for r in group {
                    (r.done)(Err(io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }
}
