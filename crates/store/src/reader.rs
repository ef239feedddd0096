//! Reading the lake back: Arrow record batches of one table, filtered by shop and time range,
//! from the files the manifest lists (never a half-written or uncommitted file).

use crate::manifest::FileEntry;
use crate::store::{Store, StoreError};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{BooleanArray, RecordBatch};
use model::EventType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::PathBuf;

/// What to read.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The table.
    pub table: EventType,
    /// Only these shops (`None` = all).
    pub shops: Option<Vec<String>>,
    /// Event time from (inclusive), UTC ms.
    pub from_ms: Option<i64>,
    /// Event time to (exclusive), UTC ms.
    pub to_ms: Option<i64>,
    /// Only these columns (`None` = all), in schema order.
    pub columns: Option<Vec<String>>,
    /// Rows per batch.
    pub batch_rows: usize,
}

impl Scan {
    /// Everything in a table.
    pub fn table(table: EventType) -> Scan {
        Scan {
            table,
            shops: None,
            from_ms: None,
            to_ms: None,
            columns: None,
            batch_rows: 65_536,
        }
    }

    pub(crate) fn wants(&self, f: &FileEntry) -> bool {
        f.table == self.table.name()
            && self.shops.as_ref().is_none_or(|s| s.contains(&f.shop))
            && self.from_ms.is_none_or(|from| f.max_ts >= from)
            && self.to_ms.is_none_or(|to| f.min_ts < to)
    }
}

/// A batch with the partition it came from.
#[derive(Debug, Clone)]
pub struct ScanBatch {
    /// Shop partition.
    pub shop: String,
    /// Day partition.
    pub dt: String,
    /// The rows.
    pub batch: RecordBatch,
}

/// Iterator over a scan's batches, in (day, file) order.
pub struct ScanIter {
    root: PathBuf,
    scan: Scan,
    files: std::vec::IntoIter<FileEntry>,
    current: Option<(
        FileEntry,
        parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    )>,
}

impl Store {
    /// Starts a scan over the committed files.
    pub fn scan(&self, scan: Scan) -> ScanIter {
        let mut files: Vec<FileEntry> = self
            .manifest()
            .files
            .iter()
            .filter(|f| scan.wants(f))
            .cloned()
            .collect();
        files.sort_by(|a, b| (&a.dt, a.min_ts, a.seq).cmp(&(&b.dt, b.min_ts, b.seq)));
        ScanIter::over(self.root(), scan, files)
    }
}

impl Store {
    /// A scan over exactly these files.
    pub(crate) fn scan_files(&self, scan: Scan, files: Vec<FileEntry>) -> ScanIter {
        ScanIter::over(self.root(), scan, files)
    }
}

impl ScanIter {
    /// A scan over exactly these files, in the order given.
    pub(crate) fn over(root: &std::path::Path, scan: Scan, files: Vec<FileEntry>) -> ScanIter {
        ScanIter {
            root: root.to_path_buf(),
            scan,
            files: files.into_iter(),
            current: None,
        }
    }

    fn open(
        &self,
        f: &FileEntry,
    ) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, StoreError> {
        let err = |e: String| StoreError::Io {
            context: format!("reading {}", f.path),
            err: std::io::Error::other(e),
        };
        // A concurrent writer may not have renamed a just-committed file into place yet.
        let mut path = self.root.join(&f.path);
        if let (false, Some(staged)) = (path.exists(), &f.staged) {
            path = self.root.join(staged);
        }
        let file = File::open(&path).map_err(|e| err(e.to_string()))?;
        let mut b =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(e.to_string()))?;
        if let Some(cols) = &self.scan.columns {
            let mut want: Vec<&str> = cols.iter().map(String::as_str).collect();
            if (self.scan.from_ms.is_some() || self.scan.to_ms.is_some()) && !want.contains(&"ts") {
                want.push("ts");
            }
            let idx: Vec<usize> = b
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, fl)| want.contains(&fl.name().as_str()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(b.parquet_schema(), idx);
            b = b.with_projection(mask);
        }
        b.with_batch_size(self.scan.batch_rows)
            .build()
            .map_err(|e| err(e.to_string()))
    }

    fn keep_rows(&self, f: &FileEntry, batch: RecordBatch) -> Result<RecordBatch, StoreError> {
        let (from, to) = (
            self.scan.from_ms.unwrap_or(i64::MIN),
            self.scan.to_ms.unwrap_or(i64::MAX),
        );
        if f.min_ts >= from && f.max_ts < to {
            return self.project(batch);
        }
        let Some(ts) = batch.column_by_name("ts") else {
            return Ok(batch);
        };
        let ts = ts.as_primitive::<TimestampMillisecondType>();
        let keep = BooleanArray::from_iter(ts.values().iter().map(|&t| Some(t >= from && t < to)));
        let b = arrow_select::filter::filter_record_batch(&batch, &keep)
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        self.project(b)
    }

    fn project(&self, b: RecordBatch) -> Result<RecordBatch, StoreError> {
        match &self.scan.columns {
            Some(cols) if !cols.iter().any(|c| c == "ts") && b.column_by_name("ts").is_some() => {
                let idx: Vec<usize> = (0..b.num_columns())
                    .filter(|&i| b.schema().field(i).name() != "ts")
                    .collect();
                b.project(&idx)
                    .map_err(|e| StoreError::Encode(e.to_string()))
            }
            _ => Ok(b),
        }
    }
}

impl Iterator for ScanIter {
    type Item = Result<ScanBatch, StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((f, reader)) = &mut self.current {
                match reader.next() {
                    Some(Ok(b)) => {
                        let f = f.clone();
                        let out = self.keep_rows(&f, b);
                        return Some(out.map(|batch| ScanBatch {
                            shop: f.shop,
                            dt: f.dt,
                            batch,
                        }));
                    }
                    Some(Err(e)) => return Some(Err(StoreError::Encode(e.to_string()))),
                    None => self.current = None,
                }
            }
            let f = self.files.next()?;
            match self.open(&f) {
                Ok(r) => self.current = Some((f, r)),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
