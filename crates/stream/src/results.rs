//! The lake's results table: every emission of every job, in long form (one row per key and
//! metric), as Parquet under `lake/results/job=<job>/dt=<YYYY-MM-DD>/part-*.parquet` (day of the
//! window end, UTC). Files appear atomically (written aside, then renamed), so DuckDB, DataFusion
//! or Spark can read `lake/results/**/*.parquet` at any time.

use crate::StreamError;
use crate::emit::Emission;
use arrow_array::builder::{
    Float64Builder, Int32Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The schema of the results table (defined in `model` so the query stage reads the same).
pub fn schema() -> SchemaRef {
    model::schema::results_schema()
}

#[derive(Default)]
struct Cols {
    job: StringBuilder,
    kind: StringBuilder,
    shop: StringBuilder,
    start: TimestampMillisecondBuilder,
    end: TimestampMillisecondBuilder,
    revision: Int32Builder,
    emitted: TimestampMillisecondBuilder,
    rank: Int32Builder,
    key_name: StringBuilder,
    key: StringBuilder,
    metric: StringBuilder,
    value: Float64Builder,
    rows: usize,
}

impl Cols {
    fn finish(mut self) -> Result<RecordBatch, StreamError> {
        let utc = |b: &mut TimestampMillisecondBuilder| -> ArrayRef {
            Arc::new(b.finish().with_timezone("UTC"))
        };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.job.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.shop.finish()),
            utc(&mut self.start),
            utc(&mut self.end),
            Arc::new(self.revision.finish()),
            utc(&mut self.emitted),
            Arc::new(self.rank.finish()),
            Arc::new(self.key_name.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.metric.finish()),
            Arc::new(self.value.finish()),
        ];
        RecordBatch::try_new(schema(), cols).map_err(|e| StreamError::Input(e.to_string()))
    }
}

/// Buffers emissions and writes them to the results table.
pub struct ResultsWriter {
    dir: PathBuf,
    parts: BTreeMap<(String, String), Cols>,
    rows: usize,
    /// The last day number and its `YYYY-MM-DD` (formatting a date per emission is costly).
    day: (i64, String),
}

static FILE_SEQ: AtomicU64 = AtomicU64::new(0);

impl ResultsWriter {
    /// A writer into `<data_dir>/lake/results`.
    pub fn new(data_dir: &Path) -> ResultsWriter {
        ResultsWriter {
            dir: data_dir.join("lake").join("results"),
            parts: BTreeMap::new(),
            rows: 0,
            day: (i64::MIN, String::new()),
        }
    }

    /// Rows buffered.
    pub fn buffered(&self) -> usize {
        self.rows
    }

    /// Buffers an emission.
    pub fn push(&mut self, e: &Emission, emitted_at: i64) {
        let end = e.end.clamp(0, 253_402_300_799_000);
        let n = end.div_euclid(86_400_000);
        if self.day.0 != n {
            let day = model::time::format_ms(end);
            self.day = (n, day.get(..10).unwrap_or("1970-01-01").to_string());
        }
        let key = (e.job.clone(), self.day.1.clone());
        let c = self.parts.entry(key).or_default();
        for row in &e.rows {
            let (kn, kv) = Emission::row_key(row);
            for (metric, value) in &row.values {
                c.job.append_value(&e.job);
                c.kind.append_value(e.kind.name());
                c.shop.append_value(&e.shop);
                c.start.append_value(e.start);
                c.end.append_value(e.end);
                c.revision.append_value(e.revision as i32);
                c.emitted.append_value(emitted_at);
                c.rank.append_option(row.rank.map(|r| r as i32));
                c.key_name.append_value(&kn);
                c.key.append_value(&kv);
                c.metric.append_value(metric);
                c.value.append_value(*value);
                c.rows += 1;
                self.rows += 1;
            }
        }
    }

    /// Writes every buffered row; returns the files written.
    pub fn flush(&mut self) -> Result<Vec<PathBuf>, StreamError> {
        let mut written = Vec::new();
        let io = |context: String| move |err: std::io::Error| StreamError::Io { context, err };
        for ((job, dt), cols) in std::mem::take(&mut self.parts) {
            if cols.rows == 0 {
                continue;
            }
            let dir = self.dir.join(format!("job={job}")).join(format!("dt={dt}"));
            std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
            let name = format!(
                "part-{}-{}-{}.parquet",
                collect::now_ms(),
                std::process::id(),
                FILE_SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let (tmp, path) = (dir.join(format!(".{name}.tmp")), dir.join(&name));
            let batch = cols.finish()?;
            let file =
                std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .build();
            let enc = |e: parquet::errors::ParquetError| StreamError::Io {
                context: format!("writing {}", tmp.display()),
                err: std::io::Error::other(e),
            };
            let mut w = ArrowWriter::try_new(file, schema(), Some(props)).map_err(enc)?;
            w.write(&batch).map_err(enc)?;
            let f = w.into_inner().map_err(enc)?;
            f.sync_all()
                .map_err(io(format!("syncing {}", tmp.display())))?;
            std::fs::rename(&tmp, &path).map_err(io(format!("renaming {}", tmp.display())))?;
            written.push(path);
        }
        self.rows = 0;
        Ok(written)
    }
}
