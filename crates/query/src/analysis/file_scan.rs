//! Reading lake files directly for the analyses that skip SQL (daily KPIs, action-only
//! funnels): a column-projected Parquet read, dictionary columns mapped to small codes once per
//! batch, and a work queue over all cores.

use crate::error::QueryError;
use datafusion::arrow::array::{Array, AsArray, DictionaryArray, RecordBatch};
use datafusion::arrow::datatypes::Int32Type;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;
use std::sync::Mutex;

fn err(path: &Path, e: impl std::fmt::Display) -> QueryError {
    QueryError::Internal(format!("reading {}: {e}", path.display()))
}

/// Calls `f` on every batch of `path`, reading only `columns`.
pub fn read(
    path: &Path,
    columns: &[&str],
    mut f: impl FnMut(&RecordBatch) -> Result<(), QueryError>,
) -> Result<(), QueryError> {
    let file = std::fs::File::open(path).map_err(|e| err(path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(path, e))?;
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

/// Runs `f` on every work item on all cores (items are taken from the end of `work`); stops at
/// the first error.
pub fn parallel<W: Send, R: Send>(
    work: Vec<W>,
    f: impl Fn(W) -> Result<R, QueryError> + Sync,
) -> Result<Vec<R>, QueryError> {
    let queue = Mutex::new(work);
    let out = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| -> Result<(), QueryError> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(), QueryError> {
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                        let Some(w) = next else { return Ok(()) };
                        let r = f(w)?;
                        out.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| QueryError::Internal("a scan thread panicked".into()))??;
        }
        Ok(())
    })?;
    Ok(out.into_inner().unwrap_or_else(|p| p.into_inner()))
}
