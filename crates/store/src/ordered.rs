//! Reading a table in event-time order: what a replay needs. Files of one (shop, day) partition
//! may overlap in time (an import of unsorted input, several server folds); overlapping files
//! are merged row by row with one batch per file in memory, and non-overlapping files are read
//! straight through. Shops are independent streams, so their batches may interleave.

use crate::manifest::FileEntry;
use crate::reader::{Scan, ScanBatch, ScanIter};
use crate::store::{Store, StoreError};
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::{Path, PathBuf};

/// Batches of a table in event-time order per shop.
pub struct OrderedScan {
    root: PathBuf,
    scan: Scan,
    groups: VecDeque<Vec<FileEntry>>,
    current: Option<Current>,
}

enum Current {
    Straight(Box<ScanIter>),
    Merge(Merger),
}

struct Cursor {
    it: ScanIter,
    batch: usize,
    row: usize,
    rows: usize,
}

struct Merger {
    cursors: Vec<Cursor>,
    arena: Vec<RecordBatch>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    shop: String,
    dt: String,
}

fn ts_of(b: &RecordBatch, row: usize) -> i64 {
    b.column_by_name("ts")
        .map(|c| c.as_primitive::<TimestampMillisecondType>().value(row))
        .unwrap_or(i64::MIN)
}

/// Splits files (sorted by shop, day, min_ts) into runs whose time ranges overlap.
fn overlap_groups(mut files: Vec<FileEntry>) -> VecDeque<Vec<FileEntry>> {
    files.sort_by(|a, b| (&a.dt, &a.shop, a.min_ts, a.seq).cmp(&(&b.dt, &b.shop, b.min_ts, b.seq)));
    let mut out: VecDeque<Vec<FileEntry>> = VecDeque::new();
    let mut reach = i64::MIN;
    for f in files {
        match out.back_mut() {
            Some(g) if g[0].shop == f.shop && g[0].dt == f.dt && f.min_ts <= reach => {
                reach = reach.max(f.max_ts);
                g.push(f);
            }
            _ => {
                reach = f.max_ts;
                out.push_back(vec![f]);
            }
        }
    }
    out
}

impl Store {
    /// Starts a scan that yields each shop's rows in event-time order.
    /// The projection always includes `ts` (the order needs it).
    pub fn scan_ordered(&self, mut scan: Scan) -> OrderedScan {
        if let Some(cols) = &mut scan.columns
            && !cols.iter().any(|c| c == "ts")
        {
            cols.insert(0, "ts".into());
        }
        let files: Vec<FileEntry> = self
            .manifest()
            .files
            .iter()
            .filter(|f| scan.wants(f))
            .cloned()
            .collect();
        OrderedScan {
            root: self.root().to_path_buf(),
            scan,
            groups: overlap_groups(files),
            current: None,
        }
    }
}

impl Merger {
    fn start(root: &Path, scan: &Scan, files: Vec<FileEntry>) -> Result<Merger, StoreError> {
        let (shop, dt) = (files[0].shop.clone(), files[0].dt.clone());
        let mut m = Merger {
            cursors: Vec::new(),
            arena: Vec::new(),
            heap: BinaryHeap::new(),
            shop,
            dt,
        };
        for f in files {
            let it = ScanIter::over(root, scan.clone(), vec![f]);
            let c = m.cursors.len();
            m.cursors.push(Cursor {
                it,
                batch: 0,
                row: 0,
                rows: 0,
            });
            m.load(c)?;
        }
        Ok(m)
    }

    /// Loads cursor `c`'s next non-empty batch and queues its head.
    fn load(&mut self, c: usize) -> Result<(), StoreError> {
        loop {
            match self.cursors[c].it.next() {
                Some(Ok(b)) if b.batch.num_rows() == 0 => continue,
                Some(Ok(b)) => {
                    let cur = &mut self.cursors[c];
                    cur.batch = self.arena.len();
                    cur.row = 0;
                    cur.rows = b.batch.num_rows();
                    self.heap.push(Reverse((ts_of(&b.batch, 0), c)));
                    self.arena.push(b.batch);
                    return Ok(());
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    }

    fn next_batch(&mut self, rows: usize) -> Option<Result<ScanBatch, StoreError>> {
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(rows);
        while picks.len() < rows {
            let Some(Reverse((_, c))) = self.heap.pop() else {
                break;
            };
            let (batch, row) = (self.cursors[c].batch, self.cursors[c].row);
            picks.push((batch, row));
            let cur = &mut self.cursors[c];
            cur.row += 1;
            if cur.row < cur.rows {
                let ts = ts_of(&self.arena[batch], cur.row);
                self.heap.push(Reverse((ts, c)));
            } else if let Err(e) = self.load(c) {
                return Some(Err(e));
            }
        }
        if picks.is_empty() {
            return None;
        }
        let refs: Vec<&RecordBatch> = self.arena.iter().collect();
        let out = arrow_select::interleave::interleave_record_batch(&refs, &picks)
            .map_err(|e| StoreError::Encode(e.to_string()));
        // Keep only the batches cursors still read from.
        let live: Vec<usize> = self.cursors.iter().map(|c| c.batch).collect();
        let mut remap = vec![usize::MAX; self.arena.len()];
        let mut kept = Vec::new();
        for (i, b) in std::mem::take(&mut self.arena).into_iter().enumerate() {
            if live.contains(&i) {
                remap[i] = kept.len();
                kept.push(b);
            }
        }
        self.arena = kept;
        for c in &mut self.cursors {
            c.batch = remap[c.batch];
        }
        Some(out.map(|batch| ScanBatch {
            shop: self.shop.clone(),
            dt: self.dt.clone(),
            batch,
        }))
    }
}

impl Iterator for OrderedScan {
    type Item = Result<ScanBatch, StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match &mut self.current {
                Some(Current::Straight(it)) => match it.next() {
                    Some(r) => return Some(r),
                    None => self.current = None,
                },
                Some(Current::Merge(m)) => match m.next_batch(self.scan.batch_rows) {
                    Some(r) => return Some(r),
                    None => self.current = None,
                },
                None => {
                    let group = self.groups.pop_front()?;
                    self.current = Some(if group.len() == 1 {
                        Current::Straight(Box::new(ScanIter::over(
                            &self.root,
                            self.scan.clone(),
                            group,
                        )))
                    } else {
                        match Merger::start(&self.root, &self.scan, group) {
                            Ok(m) => Current::Merge(m),
                            Err(e) => return Some(Err(e)),
                        }
                    });
                }
            }
        }
    }
}
