//! The WAL's on-disk format: segment files `wal/<seq>.wal` of records
//! `[len u32][crc32 u32][payload]`, a payload being a list of (table, shop, Arrow IPC stream)
//! followed by the record's extras (JSON); and reading the valid records of a segment.

use super::WalExtras;
use crate::store::StoreError;
use arrow_array::RecordBatch;
use collect::TableBatch;
use model::EventType;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

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
/// at byte `end` (the durable end, for a segment still being written), or once `max_bytes` of
/// payload are read (always at least one record); with `keep` false the payloads are checked
/// but not kept (finding the valid end at open).
pub(crate) fn read_records(
    path: &Path,
    offset: u64,
    end: u64,
    max_bytes: u64,
    keep: bool,
) -> io::Result<Records> {
    let file = File::open(path)?;
    let size = file.metadata()?.len().min(end);
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
        // A torn length can be anything: never trust it beyond the file's end. No payload is
        // empty, so a zero length is a hole (zeros a crash left), not a record.
        if len == 0 || at + 8 + len > size {
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
