//! Streaming k-way merge of lake files. Every lake file is sorted by `ts`, so merging files of
//! one partition needs only one batch per input in memory, not all their rows: compaction of
//! any size stays within a few megabytes (it used to concatenate and sort whole runs, which
//! took gigabytes for a 16M-row target).

use crate::manifest::FileEntry;
use crate::reader::Scan;
use crate::segment::{count_kinds, kind_column, writer_properties};
use crate::sketch::Sidecars;
use crate::store::{Store, StoreError};
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use model::EventType;
use parquet::arrow::ArrowWriter;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::BufWriter;

/// Rows per input batch and per output chunk.
const CHUNK: usize = 16_384;

/// One input file's read position.
struct Cursor {
    it: crate::reader::ScanIter,
    /// Index of the current batch in the arena.
    src: usize,
    row: usize,
    rows: usize,
}

fn ts_at(b: &RecordBatch, row: usize) -> i64 {
    b.column(0)
        .as_primitive::<TimestampMillisecondType>()
        .value(row)
}

fn enc(e: impl std::fmt::Display) -> StoreError {
    StoreError::Encode(e.to_string())
}

impl Store {
    /// Merges the files of one partition (each sorted by `ts`) into one staged file, sorted by
    /// `ts` with ties in input order; returns its uncommitted entry.
    pub(crate) fn merge_files(
        &self,
        t: EventType,
        shop: &str,
        dt: &str,
        run: &[FileEntry],
    ) -> Result<FileEntry, StoreError> {
        let mut arena: Vec<RecordBatch> = Vec::new();
        let mut cursors: Vec<Option<Cursor>> = Vec::with_capacity(run.len());
        let mut heap = BinaryHeap::new();
        for f in run {
            let mut scan = Scan::table(t);
            scan.shops = Some(vec![shop.to_string()]);
            scan.batch_rows = CHUNK;
            let mut it = self.scan_files(scan, vec![f.clone()]);
            let c = next_batch(&mut it, &mut arena)?.map(|(src, rows)| Cursor {
                it,
                src,
                row: 0,
                rows,
            });
            if let Some(c) = &c {
                heap.push(Reverse((ts_at(&arena[c.src], 0), cursors.len())));
            }
            cursors.push(c);
        }
        let seq = self.next_seq();
        let (staged, path) = crate::segment::file_names(t, shop, dt, seq);
        let io = |err| StoreError::Io {
            context: format!("writing {staged}"),
            err,
        };
        let file = File::create(self.root().join(&staged)).map_err(io)?;
        let mut w = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            model::schema::event_schema(t),
            Some(writer_properties(
                self.config().zstd_level.max(3),
                run.iter().map(|f| f.rows).sum(),
            )),
        )
        .map_err(enc)?;
        let mut out = Merged::default();
        let mut pending: Vec<(usize, usize)> = Vec::with_capacity(CHUNK);
        while let Some(Reverse((_, ci))) = heap.pop() {
            let Some(c) = cursors[ci].as_mut() else {
                continue;
            };
            pending.push((c.src, c.row));
            c.row += 1;
            if c.row == c.rows {
                match next_batch(&mut c.it, &mut arena)? {
                    Some((src, rows)) => (c.src, c.row, c.rows) = (src, 0, rows),
                    None => cursors[ci] = None,
                }
            }
            if let Some(c) = &cursors[ci] {
                heap.push(Reverse((ts_at(&arena[c.src], c.row), ci)));
            }
            if pending.len() == CHUNK {
                out.flush(t, &mut w, &arena, &mut pending)?;
                compact_arena(&mut arena, &mut cursors);
            }
        }
        out.flush(t, &mut w, &arena, &mut pending)?;
        let file = w
            .into_inner()
            .map_err(enc)?
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        if let Some(s) = &out.sidecars {
            s.save(self.root(), seq).map_err(|err| StoreError::Io {
                context: format!("writing the sketch and user sets of {path}"),
                err,
            })?;
        }
        Ok(FileEntry {
            seq,
            table: t.name().into(),
            shop: shop.into(),
            dt: dt.into(),
            path,
            staged: Some(staged),
            rows: out.rows,
            bytes,
            min_ts: out.min_ts.unwrap_or(0),
            max_ts: out.max_ts,
            kinds: out.kinds,
        })
    }
}

/// What the merged output holds so far.
#[derive(Default)]
struct Merged {
    rows: u64,
    min_ts: Option<i64>,
    max_ts: i64,
    kinds: BTreeMap<String, u64>,
    sidecars: Option<Sidecars>,
}

impl Merged {
    fn flush(
        &mut self,
        t: EventType,
        w: &mut ArrowWriter<BufWriter<File>>,
        arena: &[RecordBatch],
        pending: &mut Vec<(usize, usize)>,
    ) -> Result<(), StoreError> {
        if pending.is_empty() {
            return Ok(());
        }
        let refs: Vec<&RecordBatch> = arena.iter().collect();
        let b = arrow_select::interleave::interleave_record_batch(&refs, pending).map_err(enc)?;
        pending.clear();
        w.write(&b).map_err(enc)?;
        self.rows += b.num_rows() as u64;
        self.min_ts.get_or_insert(ts_at(&b, 0));
        self.max_ts = ts_at(&b, b.num_rows() - 1);
        if let Some(col) = kind_column(t) {
            for (k, n) in count_kinds(&b, col) {
                *self.kinds.entry(k).or_default() += n;
            }
        }
        let s = Sidecars::of(t, std::slice::from_ref(&b));
        match &mut self.sidecars {
            Some(acc) => acc.merge(s),
            None => self.sidecars = Some(s),
        }
        Ok(())
    }
}

/// Reads a cursor's next non-empty batch into the arena: (arena index, rows).
fn next_batch(
    it: &mut crate::reader::ScanIter,
    arena: &mut Vec<RecordBatch>,
) -> Result<Option<(usize, usize)>, StoreError> {
    for b in it.by_ref() {
        let b = b?.batch;
        if b.num_rows() > 0 {
            arena.push(b);
            return Ok(Some((arena.len() - 1, arena[arena.len() - 1].num_rows())));
        }
    }
    Ok(None)
}

/// After a flush only the cursors' current batches are still referenced: drop the rest.
fn compact_arena(arena: &mut Vec<RecordBatch>, cursors: &mut [Option<Cursor>]) {
    let mut kept = Vec::with_capacity(cursors.len());
    for c in cursors.iter_mut().flatten() {
        kept.push(arena[c.src].clone());
        c.src = kept.len() - 1;
    }
    *arena = kept;
}
