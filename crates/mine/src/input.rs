//! Input tables as users have them: Arrow batches (the result of SQL over the lake, a Parquet
//! file) or a CSV file with a header, read into a [`RawTable`] of numbers and texts with row
//! numbers kept, so a later error can name the column and row. A row cap keeps a query or a
//! file from taking the machine's memory.

use crate::MineError;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use std::path::Path;

/// Rows a mining input may have unless the caller raises it (`--max-rows`).
pub const DEFAULT_MAX_ROWS: usize = 5_000_000;

/// One column as read: numbers (from numeric Arrow types) or text (everything else, and all of
/// CSV before inference); `None` is a missing value (null or an empty CSV field).
#[derive(Debug, Clone, PartialEq)]
pub enum RawValues {
    /// Numbers.
    Num(Vec<Option<f64>>),
    /// Texts.
    Text(Vec<Option<String>>),
}

impl RawValues {
    /// Row `i` as text (numbers as labels: `3`, not `3.0`); `None` when missing.
    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            RawValues::Num(v) => v[i].map(crate::typing::label),
            RawValues::Text(v) => v[i].clone(),
        }
    }

    fn len(&self) -> usize {
        match self {
            RawValues::Num(v) => v.len(),
            RawValues::Text(v) => v.len(),
        }
    }
}

/// Named columns of equal length; row `i` is the user's row `i + 1` (after a CSV header).
#[derive(Debug, Clone, PartialEq)]
pub struct RawTable {
    /// Column names, in order.
    pub names: Vec<String>,
    /// Columns, as `names`.
    pub columns: Vec<RawValues>,
    /// Where it came from, for messages (`groceries.csv`, `SQL`).
    pub source: String,
}

impl RawTable {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, RawValues::len)
    }

    /// A column's index, or an error naming the columns there are (with a "did you mean").
    pub fn index_of(&self, name: &str) -> Result<usize, MineError> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            MineError::Usage(format!(
                "{}: no column {name:?}{}; columns: {}",
                self.source,
                model::suggest::hint(name, self.names.iter().map(String::as_str)),
                self.names.join(", ")
            ))
        })
    }

    /// The table from Arrow batches (all with one schema).
    pub fn from_batches(
        batches: &[RecordBatch],
        source: &str,
        max_rows: usize,
    ) -> Result<RawTable, MineError> {
        let Some(first) = batches.first() else {
            return Err(MineError::Usage(format!("{source}: no rows")));
        };
        let schema = first.schema();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        check_rows(rows, source, max_rows)?;
        let mut columns = Vec::with_capacity(schema.fields().len());
        for (c, field) in schema.fields().iter().enumerate() {
            // 64-bit ids beyond 2^53 do not survive f64: such a column is read as exact text.
            let numeric = field.data_type().is_numeric() && !big_integers(batches, c);
            let mut col = if numeric {
                RawValues::Num(Vec::with_capacity(rows))
            } else {
                RawValues::Text(Vec::with_capacity(rows))
            };
            for b in batches {
                let a = b.column(c);
                let target = if numeric {
                    DataType::Float64
                } else {
                    DataType::Utf8
                };
                let cast = arrow_cast::cast(a, &target).map_err(|e| {
                    MineError::Usage(format!(
                        "{source}: column {:?} of type {} cannot be read: {e}",
                        field.name(),
                        field.data_type()
                    ))
                })?;
                match &mut col {
                    RawValues::Num(v) => {
                        let f = cast
                            .as_any()
                            .downcast_ref::<arrow_array::Float64Array>()
                            .ok_or_else(|| MineError::Internal("cast to Float64".into()))?;
                        v.extend(f.iter());
                    }
                    RawValues::Text(v) => {
                        let s = cast
                            .as_any()
                            .downcast_ref::<arrow_array::StringArray>()
                            .ok_or_else(|| MineError::Internal("cast to Utf8".into()))?;
                        v.extend(s.iter().map(|x| x.map(str::to_string)));
                    }
                }
            }
            columns.push(col);
        }
        Ok(RawTable {
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            columns,
            source: source.to_string(),
        })
    }

    /// The rows of SQL over the lake in `scope`; `None` when it returns none.
    pub async fn query(
        engine: &query::Engine,
        sql: &str,
        scope: &query::Scope,
        max_rows: usize,
    ) -> Result<Option<RawTable>, MineError> {
        let batches = engine.sql(sql, scope.clone()).await?.collect().await?;
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(None);
        }
        RawTable::from_batches(&batches, "SQL", max_rows).map(Some)
    }

    /// A CSV file with a header row (`,` or the given delimiter; `.gz` is not read here).
    pub fn from_csv(path: &Path, delimiter: u8, max_rows: usize) -> Result<RawTable, MineError> {
        let source = path.display().to_string();
        let mut rd = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(false)
            .from_path(path)
            .map_err(|e| MineError::Usage(format!("{source}: {e}")))?;
        let names: Vec<String> = rd
            .headers()
            .map_err(|e| MineError::Usage(format!("{source}: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if names.is_empty() || names.iter().all(String::is_empty) {
            return Err(MineError::Usage(format!(
                "{source}: no header row (the first line names the columns)"
            )));
        }
        let mut cols: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.map_err(|e| MineError::Usage(format!("{source}: row {}: {e}", i + 1)))?;
            check_rows(i + 1, &source, max_rows)?;
            for (c, col) in cols.iter_mut().enumerate() {
                let v = rec.get(c).unwrap_or("").trim();
                col.push((!v.is_empty()).then(|| v.to_string()));
            }
        }
        if cols[0].is_empty() {
            return Err(MineError::Usage(format!("{source}: a header and no rows")));
        }
        Ok(RawTable {
            names,
            columns: cols.into_iter().map(RawValues::Text).collect(),
            source,
        })
    }

    /// A Parquet file.
    pub fn from_parquet(path: &Path, max_rows: usize) -> Result<RawTable, MineError> {
        let source = path.display().to_string();
        let file =
            std::fs::File::open(path).map_err(|e| MineError::Usage(format!("{source}: {e}")))?;
        let rd = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| MineError::Usage(format!("{source}: not a Parquet file: {e}")))?;
        let rows = rd.metadata().file_metadata().num_rows().max(0) as usize;
        check_rows(rows, &source, max_rows)?;
        let batches = rd
            .build()
            .map_err(|e| MineError::Usage(format!("{source}: {e}")))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| MineError::Usage(format!("{source}: {e}")))?;
        RawTable::from_batches(&batches, &source, max_rows)
    }

    /// A CSV or Parquet file, by extension (`.parquet`/`.pq`, else CSV; `.tsv` is tab-separated).
    pub fn from_file(path: &Path, max_rows: usize) -> Result<RawTable, MineError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => RawTable::from_parquet(path, max_rows),
            "tsv" => RawTable::from_csv(path, b'\t', max_rows),
            _ => RawTable::from_csv(path, b',', max_rows),
        }
    }
}

/// Whether column `c` holds 64-bit integers that f64 cannot represent exactly.
fn big_integers(batches: &[RecordBatch], c: usize) -> bool {
    const EXACT: u64 = 1 << 53;
    batches.iter().any(|b| {
        let a = b.column(c);
        if let Some(v) = a.as_any().downcast_ref::<arrow_array::Int64Array>() {
            v.iter().flatten().any(|x| x.unsigned_abs() > EXACT)
        } else if let Some(v) = a.as_any().downcast_ref::<arrow_array::UInt64Array>() {
            v.iter().flatten().any(|x| x > EXACT)
        } else {
            false
        }
    })
}

fn check_rows(rows: usize, source: &str, max_rows: usize) -> Result<(), MineError> {
    if rows > max_rows {
        return Err(MineError::Usage(format!(
            "{source}: more than {max_rows} rows; sample it (SQL: ORDER BY random() LIMIT n, or \
             filter by shop and days) or raise --max-rows"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn csv_keeps_row_numbers_and_missing_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a,b\n1,x\n,y\n3,\n").unwrap();
        let t = RawTable::from_file(&p, 10).unwrap();
        assert_eq!(t.names, ["a", "b"]);
        assert_eq!(
            t.columns[0],
            RawValues::Text(vec![Some("1".into()), None, Some("3".into())])
        );
        assert_eq!(t.rows(), 3);
        let e = RawTable::from_file(&p, 2).unwrap_err().to_string();
        assert!(e.contains("more than 2 rows"), "{e}");
    }

    #[test]
    fn arrow_numbers_stay_numbers_and_the_rest_becomes_text() {
        let b = RecordBatch::try_from_iter([
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), None])) as arrow_array::ArrayRef,
            ),
            ("s", Arc::new(StringArray::from(vec!["a", "b"])) as _),
        ])
        .unwrap();
        let t = RawTable::from_batches(&[b], "SQL", 10).unwrap();
        assert_eq!(t.columns[0], RawValues::Num(vec![Some(1.0), None]));
        assert_eq!(
            t.columns[1],
            RawValues::Text(vec![Some("a".into()), Some("b".into())])
        );
        let e = t.index_of("nn").unwrap_err().to_string();
        assert!(e.contains("did you mean n?"), "{e}");
    }

    #[test]
    fn ids_beyond_f64_precision_stay_exact_text() {
        let big = 4_618_696_156_213_655_123i64;
        let b = RecordBatch::try_from_iter([(
            "item_id",
            Arc::new(Int64Array::from(vec![big, 7])) as arrow_array::ArrayRef,
        )])
        .unwrap();
        let t = RawTable::from_batches(&[b], "SQL", 10).unwrap();
        assert_eq!(
            t.columns[0],
            RawValues::Text(vec![Some(big.to_string()), Some("7".into())])
        );
    }
}
