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
use std::sync::Arc;
use store::results::ResultsPart;

/// The shop partition of results computed over every shop's rows (a generic task's SQL or file
/// input is not one shop's).
pub const ALL_SHOPS: &str = "_all";

/// The results-table rows of `a`, written at `now_ms` for `shop` (or [`ALL_SHOPS`]).
pub fn parts(
    def: &TaskDef,
    a: &Analysis,
    shop: Option<&str>,
    now_ms: i64,
) -> Result<Vec<ResultsPart>, MineError> {
    let shop = shop.unwrap_or(ALL_SHOPS).to_string();
    let (mut job, mut kind, mut shops) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut start, mut end, mut emitted) = (
        TimestampMillisecondBuilder::new(),
        TimestampMillisecondBuilder::new(),
        TimestampMillisecondBuilder::new(),
    );
    let (mut revision, mut rank) = (Int32Builder::new(), Int32Builder::new());
    let (mut key_name, mut key, mut metric) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut value = Float64Builder::new();
    let name = format!("mine:{}", def.name);
    for t in &a.tables {
        let keys = def.key_columns(&t.name);
        let key_idx: Vec<usize> = keys.iter().filter_map(|k| t.col(k)).collect();
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
            for (c, cell) in row.iter().enumerate() {
                let Some(v) = cell.as_f64() else { continue };
                if key_idx.contains(&c) {
                    continue;
                }
                job.append_value(&name);
                kind.append_value("mining");
                shops.append_value(&shop);
                start.append_value(now_ms);
                end.append_value(now_ms);
                emitted.append_value(now_ms);
                revision.append_value(0);
                rank.append_value(i32::try_from(r + 1).unwrap_or(i32::MAX));
                key_name.append_value(&kn);
                key.append_value(&k);
                metric.append_value(&t.columns[c]);
                value.append_value(v);
            }
        }
    }
    let utc = |b: &mut TimestampMillisecondBuilder| -> ArrayRef {
        Arc::new(b.finish().with_timezone("UTC"))
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(job.finish()),
        Arc::new(kind.finish()),
        Arc::new(shops.finish()),
        utc(&mut start),
        utc(&mut end),
        Arc::new(revision.finish()),
        utc(&mut emitted),
        Arc::new(rank.finish()),
        Arc::new(key_name.finish()),
        Arc::new(key.finish()),
        Arc::new(metric.finish()),
        Arc::new(value.finish()),
    ];
    let batch = RecordBatch::try_new(model::schema::results_schema(), cols)
        .map_err(|e| MineError::Internal(e.to_string()))?;
    let dt = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string();
    Ok(vec![(shop, dt, batch)])
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
