//! The WAL writer thread: groups concurrent appends into one write and one `fdatasync`, and
//! keeps the log exactly at its durable length whatever fails. A failed write (a full disk) can
//! leave part of a record behind; appending after it would hide every later record behind a CRC
//! failure, so the file is cut back to the last durable length before anything else is written,
//! the group is failed (never acknowledged), and the folder is never shown bytes past the last
//! fsync. While the log cannot be written, an idle writer probes it once a second, so ingest
//! resumes by itself when space returns.

use super::record::{encode, seg_path};
use super::{Body, Request, WalConfig, WalExtras, WalPos, WalState};
use crate::store::StoreError;
use arrow_array::RecordBatch;
use collect::TableBatch;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use model::EventType;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the writer needs of a segment file; tests put a failing one in its place.
pub trait SegmentFile: Send {
    /// Writes all of `buf` at the current position (may write part of it and fail).
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes written data durable.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes and positions the next write there.
    fn truncate_to(&mut self, len: u64) -> io::Result<()>;
}

impl SegmentFile for File {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Write::write_all(self, buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len))?;
        Ok(())
    }
}

/// Opens a new, empty segment file and makes its name durable.
fn open_new_segment(path: &std::path::Path) -> io::Result<Box<dyn SegmentFile>> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    if let Some(dir) = path.parent() {
        crate::fsutil::sync_dir(dir)?;
    }
    Ok(Box::new(f))
}

/// How long an idle writer waits between probes of a log that failed.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Bytes a probe writes (and removes again) to see that the disk takes writes.
const PROBE_BYTES: usize = 64 << 10;

/// The writer's position and file.
pub(super) struct Log {
    pub dir: PathBuf,
    pub seg: u64,
    pub file: Box<dyn SegmentFile>,
    /// Durable length of the current segment.
    pub len: u64,
    /// Bytes past `len` may be on disk (a failed write, or a failed cut).
    pub dirty: bool,
}

impl Log {
    /// Cuts the file back to its durable length if a failure may have left bytes past it.
    fn restore(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.truncate_to(self.len)?;
            self.file.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Writes records and fsyncs them; returns each record's end. On failure the file is cut
    /// back to its durable length (or marked dirty if even that fails).
    fn append(&mut self, payloads: &[Vec<u8>], max_segment: u64) -> io::Result<Vec<WalPos>> {
        self.restore()?;
        if self.len > max_segment {
            let next = self.seg + 1;
            let file = open_new_segment(&seg_path(&self.dir, next))?;
            (self.seg, self.file, self.len) = (next, file, 0);
        }
        let total: usize = payloads.iter().map(|p| p.len() + 8).sum();
        let mut buf = Vec::with_capacity(total);
        let mut ends = Vec::with_capacity(payloads.len());
        for p in payloads {
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
            buf.extend_from_slice(p);
            ends.push((self.seg, self.len + buf.len() as u64));
        }
        self.dirty = true;
        let written = self.file.write_all(&buf).and_then(|()| {
            crate::crashpoint::reach(crate::crashpoint::WAL_BEFORE_FSYNC);
            self.file.sync_data()
        });
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                self.dirty = false;
                Ok(ends)
            }
            Err(e) => {
                // Best effort now; `restore` retries before the next write if this fails.
                let _ = self.restore();
                Err(e)
            }
        }
    }

    /// Whether the log takes writes again: writes filler past the durable end, fsyncs, cuts
    /// it off. The filler is 0xFF, read as a record longer than any file, so even a crash in
    /// the middle of a probe leaves nothing a reader could take for a record.
    fn probe(&mut self) -> io::Result<()> {
        self.restore()?;
        self.dirty = true;
        let r = self
            .file
            .write_all(&[0xFF; PROBE_BYTES])
            .and_then(|()| self.file.sync_data());
        let cut = self.restore();
        r.and(cut)
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

pub(super) fn run(rx: Receiver<Request>, mut log: Log, cfg: WalConfig, state: Arc<WalState>) {
    loop {
        let first = if state.error().is_some() {
            match rx.recv_timeout(PROBE_EVERY) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    if log.probe().is_ok() {
                        tracing::info!("the WAL takes writes again");
                        state.set_error(None);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(r) => r,
                Err(_) => return,
            }
        };
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
        let t = Instant::now();
        match log.append(&payloads, cfg.segment_bytes) {
            Ok(record_ends) => {
                state.observe_fsync(t.elapsed(), group.len());
                state.set_durable((log.seg, log.len));
                if state.error().is_some() {
                    tracing::info!("the WAL takes writes again");
                    state.set_error(None);
                }
                for (r, i) in group.into_iter().zip(owner) {
                    (r.done)(Ok(record_ends[i]));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "writing the WAL failed; the request(s) were not acknowledged");
                state.set_error(Some(e.to_string()));
                for r in group {
                    (r.done)(Err(io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }
}
