//! Rows for the lake's results table: every emission of every job, in long form (one row per
//! key and metric), buffered per (shop, day of the window end, UTC) and committed through the
//! store (`store::results`) like any other table, so compaction, retention and erasure cover
//! it. A commit that fails (a full disk) keeps the rows for the next flush, up to a bound.

use crate::StreamError;
use crate::emit::Emission;
use arrow_schema::SchemaRef;
use std::collections::BTreeMap;
use store::Store;
use store::results::{ResultRow, ResultRows, ResultsPart};

/// The schema of the results table (defined in `model` so the query stage reads the same).
pub fn schema() -> SchemaRef {
    model::schema::results_schema()
}

/// Rows kept for a retry after failed commits, at most; beyond, the oldest are dropped (and
/// counted) rather than letting a broken disk take the memory.
const MAX_PENDING_ROWS: usize = 4 << 20;

/// Buffers emissions and commits them to the results table.
pub struct ResultsWriter {
    parts: BTreeMap<(String, String), ResultRows>,
    rows: usize,
    /// The last day number and its `YYYY-MM-DD` (formatting a date per emission is costly).
    day: (i64, String),
    /// Encoded parts whose commit failed, retried first.
    pending: Vec<ResultsPart>,
    /// Rows given up on (the disk refused them for too long).
    dropped: u64,
}

impl Default for ResultsWriter {
    fn default() -> Self {
        ResultsWriter {
            parts: BTreeMap::new(),
            rows: 0,
            // No day yet (a derived 0 would name day 0 with an empty string).
            day: (i64::MIN, String::new()),
            pending: Vec::new(),
            dropped: 0,
        }
    }
}

impl ResultsWriter {
    /// An empty writer.
    pub fn new() -> ResultsWriter {
        ResultsWriter::default()
    }

    /// Rows buffered (not yet committed).
    pub fn buffered(&self) -> usize {
        self.rows + self.pending.iter().map(|p| p.2.num_rows()).sum::<usize>()
    }

    /// Rows given up on after failed commits.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Buffers an emission.
    pub fn push(&mut self, e: &Emission, emitted_at: i64) {
        let end = e.end.clamp(0, 253_402_300_799_000);
        let n = end.div_euclid(86_400_000);
        if self.day.0 != n {
            let day = model::time::format_ms(end);
            self.day = (n, day.get(..10).unwrap_or("1970-01-01").to_string());
        }
        let key = (e.shop.clone(), self.day.1.clone());
        let c = self.parts.entry(key).or_default();
        for row in &e.rows {
            let (kn, kv) = Emission::row_key(row);
            for (metric, value) in &row.values {
                c.push(ResultRow {
                    job: &e.job,
                    kind: e.kind.name(),
                    shop: &e.shop,
                    start: e.start,
                    end: e.end,
                    revision: e.revision as i32,
                    emitted: emitted_at,
                    rank: row.rank.map(|r| r as i32),
                    key_name: &kn,
                    key: &kv,
                    metric,
                    value: *value,
                });
                self.rows += 1;
            }
        }
    }

    /// Commits every buffered row in one manifest commit; returns the rows committed. On
    /// failure the rows stay buffered for the next call.
    pub fn flush(&mut self, store: &mut Store) -> Result<u64, StreamError> {
        for ((shop, dt), cols) in std::mem::take(&mut self.parts) {
            if !cols.is_empty() {
                self.pending.push((
                    shop,
                    dt,
                    cols.finish()
                        .map_err(|e| StreamError::Input(e.to_string()))?,
                ));
            }
        }
        self.rows = 0;
        if self.pending.is_empty() {
            return Ok(0);
        }
        match store.commit_results(self.pending.clone()) {
            Ok(n) => {
                self.pending.clear();
                Ok(n)
            }
            Err(e) => {
                let mut held: usize = self.pending.iter().map(|p| p.2.num_rows()).sum();
                while held > MAX_PENDING_ROWS && !self.pending.is_empty() {
                    let p = self.pending.remove(0);
                    held -= p.2.num_rows();
                    self.dropped += p.2.num_rows() as u64;
                }
                Err(StreamError::Io {
                    context: "committing results to the lake".into(),
                    err: std::io::Error::other(e.to_string()),
                })
            }
        }
    }
}
