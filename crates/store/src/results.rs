//! The results table: every emission of the live jobs (and of `replay --save`), in long form
//! (`model::schema::results_schema`), as a table of the store like the event tables — files
//! `lake/results/shop=<shop>/dt=<YYYY-MM-DD>/part-<seq>.parquet` (day of the window end, UTC),
//! committed through the manifest, merged by compaction, dropped by retention and rewritten by
//! privacy erasure (results keyed by `user_id` name users). Nothing under `lake/` lives outside
//! the manifest, so recovery's sweep of unlisted files never touches them.

use crate::manifest::FileEntry;
use crate::segment::{write_parquet, writer_properties};
use crate::store::{Commit, Ctx, Prepared, Store, StoreError};
use arrow_array::builder::{
    Float64Builder, Int32Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use std::fs::File;
use std::sync::Arc;

/// The name of the results table in the manifest.
pub const RESULTS_TABLE: &str = "results";

/// One file's worth of results: (shop, day `YYYY-MM-DD`, rows in `results_schema`).
pub type ResultsPart = (String, String, RecordBatch);

/// One row of the results table (long form: one key and metric).
#[derive(Debug, Clone, Copy)]
pub struct ResultRow<'a> {
    /// The job (`hot-items`, `mine:rules`).
    pub job: &'a str,
    /// `result`, `update`, `late`, …, `mining`.
    pub kind: &'a str,
    /// The shop.
    pub shop: &'a str,
    /// Window start, UTC ms.
    pub start: i64,
    /// Window end, UTC ms.
    pub end: i64,
    /// 0, then 1, 2, … per update.
    pub revision: i32,
    /// When it was written, UTC ms.
    pub emitted: i64,
    /// Rank of a top-N row.
    pub rank: Option<i32>,
    /// The key's column names, joined.
    pub key_name: &'a str,
    /// The key's values, joined.
    pub key: &'a str,
    /// The metric's name.
    pub metric: &'a str,
    /// Its value.
    pub value: f64,
}

/// Rows of the results table being built into one batch (`model::schema::results_schema`).
#[derive(Default)]
pub struct ResultRows {
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

impl ResultRows {
    /// Adds a row.
    pub fn push(&mut self, r: ResultRow<'_>) {
        self.job.append_value(r.job);
        self.kind.append_value(r.kind);
        self.shop.append_value(r.shop);
        self.start.append_value(r.start);
        self.end.append_value(r.end);
        self.revision.append_value(r.revision);
        self.emitted.append_value(r.emitted);
        self.rank.append_option(r.rank);
        self.key_name.append_value(r.key_name);
        self.key.append_value(r.key);
        self.metric.append_value(r.metric);
        self.value.append_value(r.value);
        self.rows += 1;
    }

    /// Rows added.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No rows added.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows as a batch of the results schema.
    pub fn finish(mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
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
        RecordBatch::try_new(model::schema::results_schema(), cols)
    }
}

fn paths(shop: &str, dt: &str, seq: u64) -> (String, String) {
    (
        format!("lake/_staging/{seq:012}.parquet.tmp"),
        format!("lake/{RESULTS_TABLE}/shop={shop}/dt={dt}/part-{seq:012}.parquet"),
    )
}

/// Earliest and latest window end of a batch.
fn end_range(b: &RecordBatch) -> (i64, i64) {
    let Some(c) = b.column_by_name("window_end") else {
        return (0, 0);
    };
    let Some(a) = c.as_primitive_opt::<TimestampMillisecondType>() else {
        return (0, 0);
    };
    let v = a.values();
    let min = v.iter().copied().min().unwrap_or(0);
    let max = v.iter().copied().max().unwrap_or(0);
    (min, max)
}

impl Store {
    /// Writes result rows as staged files and commits them in one manifest commit; returns the
    /// rows committed. Shops and days must be valid partition names (the jobs emit the shops
    /// of validated events and UTC days).
    pub fn commit_results(&mut self, parts: Vec<ResultsPart>) -> Result<u64, StoreError> {
        let mut prepared = Prepared::default();
        for (shop, dt, batch) in parts.iter().filter(|p| p.2.num_rows() > 0) {
            match self.stage_results(shop, dt, batch) {
                Ok(e) => prepared.files.push(e),
                Err(e) => {
                    self.discard(prepared);
                    return Err(e);
                }
            }
        }
        if prepared.files.is_empty() {
            return Ok(0);
        }
        // `commit_parts` removes the staged files again if the commit fails.
        let summary = self.commit_parts(Commit {
            prepared,
            ..Commit::default()
        })?;
        Ok(summary.rows)
    }

    fn stage_results(
        &self,
        shop: &str,
        dt: &str,
        batch: &RecordBatch,
    ) -> Result<FileEntry, StoreError> {
        let seq = self.next_seq();
        let (staged, path) = paths(shop, dt, seq);
        let bytes = write_parquet(
            &self.root().join(&staged),
            batch,
            writer_properties(self.config().zstd_level, batch.num_rows() as u64),
        )
        .ctx(|| format!("writing {staged}"))?;
        let (min_ts, max_ts) = end_range(batch);
        Ok(FileEntry {
            seq,
            table: RESULTS_TABLE.into(),
            shop: shop.into(),
            dt: dt.into(),
            path,
            staged: Some(staged),
            rows: batch.num_rows() as u64,
            bytes,
            min_ts,
            max_ts,
            kinds: Default::default(),
        })
    }

    /// Every row of committed results files, in file order.
    pub(crate) fn read_results(&self, files: &[FileEntry]) -> Result<Vec<RecordBatch>, StoreError> {
        let mut out = Vec::new();
        for f in files {
            let path = self.root().join(f.staged.as_deref().unwrap_or(&f.path));
            let file = File::open(&path).ctx(|| format!("opening {}", f.path))?;
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.with_batch_size(1 << 16).build())
                    .map_err(|e| StoreError::Encode(format!("{}: {e}", f.path)))?;
            for b in reader {
                out.push(b.map_err(|e| StoreError::Encode(format!("{}: {e}", f.path)))?);
            }
        }
        Ok(out)
    }

    /// Merges results files of one (shop, day) into one staged file (uncommitted), ordered by
    /// window end and emission time.
    pub(crate) fn merge_results(
        &self,
        shop: &str,
        dt: &str,
        run: &[FileEntry],
    ) -> Result<FileEntry, StoreError> {
        let batches = self.read_results(run)?;
        let schema = model::schema::results_schema();
        let all = arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        let sorted = sort_by_end(&all)?;
        self.stage_results(shop, dt, &sorted)
    }

    /// Rewrites the shop's results files holding rows keyed by this user; returns the files
    /// to drop, the files to add (staged) and the rows removed.
    pub(crate) fn erase_results(
        &self,
        shop: &str,
        user_key: &str,
    ) -> Result<(Vec<u64>, Vec<FileEntry>, u64), StoreError> {
        let (mut gone, mut added, mut rows) = (Vec::new(), Vec::new(), 0u64);
        let files: Vec<FileEntry> = self
            .manifest()
            .files
            .iter()
            .filter(|f| f.table == RESULTS_TABLE && f.shop == shop)
            .cloned()
            .collect();
        for f in files {
            let mut kept = Vec::new();
            let mut removed = 0u64;
            for b in self.read_results(std::slice::from_ref(&f))? {
                let keep = rows_not_of_user(&b, user_key);
                removed += keep.false_count() as u64;
                kept.push(
                    arrow_select::filter::filter_record_batch(&b, &keep)
                        .map_err(|e| StoreError::Encode(e.to_string()))?,
                );
            }
            if removed == 0 {
                continue;
            }
            rows += removed;
            gone.push(f.seq);
            let all = arrow_select::concat::concat_batches(&model::schema::results_schema(), &kept)
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            if all.num_rows() > 0 {
                added.push(self.stage_results(&f.shop, &f.dt, &all)?);
            }
        }
        Ok((gone, added, rows))
    }
}

/// Keeps rows whose key does not name the user: `key_name` lists key fields (`user_id` or
/// `user_id,ad_id`) and `key` their values in the same order.
fn rows_not_of_user(b: &RecordBatch, user_key: &str) -> BooleanArray {
    let (Some(names), Some(keys)) = (b.column_by_name("key_name"), b.column_by_name("key")) else {
        return BooleanArray::from(vec![true; b.num_rows()]);
    };
    let (Some(names), Some(keys)) = (names.as_string_opt::<i32>(), keys.as_string_opt::<i32>())
    else {
        return BooleanArray::from(vec![true; b.num_rows()]);
    };
    (0..b.num_rows())
        .map(|i| {
            if names.is_null(i) || keys.is_null(i) {
                return Some(true);
            }
            let at = names.value(i).split(',').position(|n| n == "user_id");
            let hit = at.is_some_and(|at| {
                // Only `user_id` values are ids: they hold no comma, so split from the left.
                keys.value(i).splitn(at + 2, ',').nth(at) == Some(user_key)
            });
            Some(!hit)
        })
        .collect()
}

fn sort_by_end(b: &RecordBatch) -> Result<RecordBatch, StoreError> {
    let enc = |e: arrow_schema::ArrowError| StoreError::Encode(e.to_string());
    let cols = ["window_end", "emitted_at"]
        .iter()
        .map(|c| {
            b.column_by_name(c)
                .cloned()
                .ok_or_else(|| StoreError::Encode(format!("a results file lacks {c}")))
                .map(|values| arrow_ord::sort::SortColumn {
                    values,
                    options: None,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let idx = arrow_ord::sort::lexsort_to_indices(&cols, None).map_err(enc)?;
    let cols = b
        .columns()
        .iter()
        .map(|c| arrow_select::take::take(c, &idx, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(enc)?;
    RecordBatch::try_new(b.schema(), cols).map_err(enc)
}
