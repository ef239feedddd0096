//! A mining result as rows of the lake's results table (long form: one row per key and
//! metric), so segments, rules and trees sit beside the live jobs' results, are read with SQL
//! (`SELECT * FROM results WHERE job = 'mine:rules'`) and are covered by compaction,
//! retention and erasure. A task's keys come from the registry; every numeric cell of a
//! row becomes one metric row.

use crate::MineError;
use crate::registry::TaskDef;
use arrow_array::builder::{
    Float64Builder, Int32Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use query::analysis::{Analysis, cell_text};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::results::ResultsPart;

/// The shop partition of results computed over every shop's rows (a generic task's SQL or file
/// input is not one shop's).
pub const ALL_SHOPS: &str = "_all";

#[derive(Default)]
struct Cols {
    job: StringBuilder,
    kind: StringBuilder,
    shop: StringBuilder,
    start: TimestampMillisecondBuilder,
    end: TimestampMillisecondBuilder,
    emitted: TimestampMillisecondBuilder,
    revision: Int32Builder,
    rank: Int32Builder,
    key_name: StringBuilder,
    key: StringBuilder,
    metric: StringBuilder,
    value: Float64Builder,
}

impl Cols {
    fn finish(mut self) -> Result<RecordBatch, MineError> {
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
            .map_err(|e| MineError::Internal(e.to_string()))
    }
}

/// The results-table rows of `a`, written at `now_ms`: a row of a table with a `shop` column
/// goes to that shop, the others to `shop` (or [`ALL_SHOPS`]).
pub fn parts(
    def: &TaskDef,
    a: &Analysis,
    shop: Option<&str>,
    now_ms: i64,
) -> Result<Vec<ResultsPart>, MineError> {
    let default_shop = shop.unwrap_or(ALL_SHOPS).to_string();
    let mut by_shop: BTreeMap<String, Cols> = BTreeMap::new();
    let name = format!("mine:{}", def.name);
    for t in &a.tables {
        let keys = def.key_columns(&t.name);
        let key_idx: Vec<usize> = keys.iter().filter_map(|k| t.col(k)).collect();
        let shop_idx = t.col("shop");
        let kn = if keys.is_empty() {
            format!("{}:row", t.name)
        } else {
            format!("{}:{}", t.name, keys.join("|"))
        };
        for (r, row) in t.rows.iter().enumerate() {
            let k = if key_idx.is_empty() {
                (r + 1).to_string()
            } else {
                key_idx
                    .iter()
                    .map(|&i| cell_text(&row[i]))
                    .collect::<Vec<_>>()
                    .join("|")
            };
            // A user's SQL may name its own `shop` column: only a valid shop name partitions.
            let row_shop = shop_idx
                .and_then(|i| row[i].as_str())
                .filter(|s| model::check_shop(s).is_ok())
                .unwrap_or(&default_shop)
                .to_string();
            let cols = by_shop.entry(row_shop.clone()).or_default();
            for (c, cell) in row.iter().enumerate() {
                let Some(v) = cell.as_f64() else { continue };
                if key_idx.contains(&c) {
                    continue;
                }
                cols.job.append_value(&name);
                cols.kind.append_value("mining");
                cols.shop.append_value(&row_shop);
                cols.start.append_value(now_ms);
                cols.end.append_value(now_ms);
                cols.emitted.append_value(now_ms);
                cols.revision.append_value(0);
                cols.rank
                    .append_value(i32::try_from(r + 1).unwrap_or(i32::MAX));
                cols.key_name.append_value(&kn);
                cols.key.append_value(&k);
                cols.metric.append_value(&t.columns[c]);
                cols.value.append_value(v);
            }
        }
    }
    let dt = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string();
    by_shop
        .into_iter()
        .map(|(shop, cols)| Ok((shop, dt.clone(), cols.finish()?)))
        .collect()
}

/// Writes `a` to the results table; returns the rows written.
pub fn save(
    store: &mut store::Store,
    def: &TaskDef,
    a: &Analysis,
    shop: Option<&str>,
    now_ms: i64,
) -> Result<u64, MineError> {
    Ok(store.commit_results(parts(def, a, shop, now_ms)?)?)
}
