//! Reading lake files directly for the analyses that skip SQL (daily KPIs, action-only
//! funnels): a column-projected Parquet read, dictionary columns mapped to small codes once per
//! batch, and a work queue over all cores. The unit of work is one row group ([`Unit`]), so a
//! few large day files still keep every core busy.

use crate::error::QueryError;
use datafusion::arrow::array::{Array, AsArray, DictionaryArray, RecordBatch};
use datafusion::arrow::datatypes::Int32Type;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::statistics::Statistics;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

fn err(path: &Path, e: impl std::fmt::Display) -> QueryError {
    QueryError::Internal(format!("reading {}: {e}", path.display()))
}

/// One row group of one file, with the file's parsed footer.
pub struct Unit<T> {
    /// The file.
    pub path: PathBuf,
    meta: ArrowReaderMetadata,
    /// Row group index within the file.
    pub row_group: usize,
    /// Rows in the row group.
    pub rows: usize,
    /// The caller's tag (e.g. the file's shop or partition).
    pub tag: T,
}

impl<T> Unit<T> {
    /// The smallest and largest value of a BIGINT column in this row group, from the footer's
    /// statistics (`None` without them).
    pub fn i64_range(&self, col: &str) -> Option<(i64, i64)> {
        let md = self.meta.metadata();
        let j = md
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == col)?;
        match md.row_group(self.row_group).column(j).statistics()? {
            Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
            _ => None,
        }
    }
}

/// The row groups of `files`, in file order then row group order (footers read on all cores).
pub fn units<T: Clone + Send + Sync>(files: Vec<(PathBuf, T)>) -> Result<Vec<Unit<T>>, QueryError> {
    let work: Vec<(usize, PathBuf, T)> = files
        .into_iter()
        .enumerate()
        .map(|(i, (p, t))| (i, p, t))
        .collect();
    let mut opened = parallel(work, |(i, path, tag)| {
        let file = std::fs::File::open(&path).map_err(|e| err(&path, e))?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| err(&path, e))?;
        Ok((i, path, meta, tag))
    })?;
    opened.sort_by_key(|o| o.0);
    let mut out = Vec::new();
    for (_, path, meta, tag) in opened {
        for (rg, g) in meta.metadata().row_groups().iter().enumerate() {
            out.push(Unit {
                path: path.clone(),
                meta: meta.clone(),
                row_group: rg,
                rows: usize::try_from(g.num_rows()).unwrap_or(0),
                tag: tag.clone(),
            });
        }
    }
    Ok(out)
}

/// Calls `f` on every batch of one row group, reading only `columns`.
pub fn read_unit<T>(
    u: &Unit<T>,
    columns: &[&str],
    mut f: impl FnMut(&RecordBatch) -> Result<(), QueryError>,
) -> Result<(), QueryError> {
    let path = &u.path;
    let file = std::fs::File::open(path).map_err(|e| err(path, e))?;
    let b = ParquetRecordBatchReaderBuilder::new_with_metadata(file, u.meta.clone());
    let idx: Vec<usize> = b
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, fl)| columns.contains(&fl.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(b.parquet_schema(), idx);
    let reader = b
        .with_projection(mask)
        .with_row_groups(vec![u.row_group])
        .with_batch_size(65_536)
        .build()
        .map_err(|e| err(path, e))?;
    for batch in reader {
        f(&batch.map_err(|e| err(path, e))?)?;
    }
    Ok(())
}

/// A dictionary column's rows as codes, mapping each distinct value once per batch; null rows
/// get `missing`.
pub fn dict_codes<T: Copy>(
    b: &RecordBatch,
    col: &str,
    missing: T,
    map: impl Fn(&str) -> T,
) -> Result<Vec<T>, QueryError> {
    let a = b
        .column_by_name(col)
        .ok_or_else(|| QueryError::Internal(format!("no column {col}")))?;
    let d = a
        .as_any()
        .downcast_ref::<DictionaryArray<Int32Type>>()
        .ok_or_else(|| QueryError::Internal(format!("{col} is not dictionary encoded")))?;
    let values = d.values().as_string::<i32>();
    let table: Vec<T> = (0..values.len()).map(|i| map(values.value(i))).collect();
    Ok(d.keys()
        .iter()
        .map(|k| {
            k.and_then(|k| table.get(k as usize).copied())
                .unwrap_or(missing)
        })
        .collect())
}

/// Runs `f` on every work item on all cores (items are taken from the end of `work`); after
/// the first error no thread takes another item, and that error is returned.
pub fn parallel<W: Send, R: Send>(
    work: Vec<W>,
    f: impl Fn(W) -> Result<R, QueryError> + Sync,
) -> Result<Vec<R>, QueryError> {
    let queue = Mutex::new(work);
    let out = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| -> Result<(), QueryError> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(), QueryError> {
                    while !failed.load(Ordering::Relaxed) {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                        let Some(w) = next else { return Ok(()) };
                        match f(w) {
                            Ok(r) => out.lock().unwrap_or_else(|p| p.into_inner()).push(r),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .map_err(|_| QueryError::Internal("a scan thread panicked".into()))
                .and_then(|r| r);
            if first.is_ok() {
                first = r;
            }
        }
        first
    })?;
    Ok(out.into_inner().unwrap_or_else(|p| p.into_inner()))
}
