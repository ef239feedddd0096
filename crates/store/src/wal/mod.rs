//! The write-ahead log for small appends (the ingest server's batches). An append returns only
//! after its record is fsynced; concurrent appends share one fsync (group commit). Records are
//! folded into the Parquet lake in the background; the manifest remembers the folded position in
//! the same atomic commit as the new files, so a crash never loses or repeats a record.
//!
//! Segment files `wal/<seq>.wal` hold records `[len u32][crc32 u32][payload]`; a payload is a
//! list of (table, shop, Arrow IPC stream) followed by the record's extras (quarantined rows and
//! string-id keys, JSON). A torn tail (crash mid-write) fails its CRC and is cut off at open: it
//! was never acknowledged.

mod record;
mod writer;

pub use record::{decode, encode};
pub(crate) use record::{read_records, seg_path, segments};
pub use writer::SegmentFile;

use crate::store::{Ctx, StoreError};
use collect::{QuarantineRecord, TableBatch};
use crossbeam_channel::{Sender, bounded};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Stands another [`SegmentFile`] in for the opened segment (fault-injection tests).
pub type WrapSegment = Box<dyn FnOnce(File) -> Box<dyn SegmentFile> + Send>;

/// Handle to the WAL writer; clone it freely.
#[derive(Clone)]
pub struct Wal {
    tx: Sender<Request>,
    dir: Arc<PathBuf>,
    state: Arc<WalState>,
}

/// What the writer thread publishes: fsync latency, how far the log is durable, and whether
/// its last write failed.
#[derive(Default)]
pub struct WalState {
    stats: FsyncStats,
    durable: Mutex<WalPos>,
    error: Mutex<Option<String>>,
}

impl WalState {
    fn observe_fsync(&self, d: Duration, records: usize) {
        self.stats.observe(d, records);
    }

    fn set_durable(&self, pos: WalPos) {
        *self.durable.lock().unwrap_or_else(|p| p.into_inner()) = pos;
    }

    /// The end of the last fsynced record: readers (the folder) must not read past it, since
    /// bytes beyond may be a write that fails and is cut off again.
    pub fn durable(&self) -> WalPos {
        *self.durable.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_error(&self, e: Option<String>) {
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }

    /// Why the last write failed, while the log does not take writes (`None` when healthy).
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
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

impl Wal {
    /// Opens the WAL in `dir`, cutting off any torn tail, and starts the writer thread.
    pub fn open(dir: &Path, cfg: WalConfig) -> Result<Wal, StoreError> {
        Wal::open_with(dir, cfg, None)
    }

    /// [`Wal::open`] with the current segment wrapped by `wrap`, if given (fault-injection tests
    /// stand a failing file in for the disk).
    pub fn open_with(
        dir: &Path,
        cfg: WalConfig,
        wrap: Option<WrapSegment>,
    ) -> Result<Wal, StoreError> {
        fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        let segs = segments(dir).ctx(|| "listing WAL segments".into())?;
        let seg = segs.last().copied().unwrap_or(0);
        let path = seg_path(dir, seg);
        let valid = if path.exists() {
            read_records(&path, 0, u64::MAX, u64::MAX, false)
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
        let file: Box<dyn SegmentFile> = match wrap {
            Some(w) => w(file),
            None => Box::new(file),
        };
        let (tx, rx) = bounded::<Request>(cfg.queue);
        let state = Arc::new(WalState::default());
        state.set_durable((seg, valid));
        let log = writer::Log {
            dir: dir.to_path_buf(),
            seg,
            file,
            len: valid,
            dirty: false,
        };
        let st = state.clone();
        std::thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || writer::run(rx, log, cfg, st))
            .ctx(|| "starting the WAL writer".into())?;
        Ok(Wal {
            tx,
            dir: Arc::new(dir.to_path_buf()),
            state,
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
        &self.state.stats
    }

    /// The writer's published state (durable end, last error).
    pub fn state(&self) -> Arc<WalState> {
        self.state.clone()
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
