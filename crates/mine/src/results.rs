//! A mining result as rows of the lake's results table (long form: one row per key and
//! metric), so segments, rules and trees sit beside the live jobs' results, are read with SQL
//! (`SELECT * FROM results WHERE job = 'mine:rules'`) and are covered by compaction,
//! retention and erasure. A task's keys come from the registry; every numeric cell of a
//! row becomes one metric row.

use crate::MineError;
use crate::registry::TaskDef;
use query::analysis::{Analysis, cell_text};
use std::collections::BTreeMap;
use store::results::{ResultRow, ResultRows, ResultsPart};

/// The shop partition of results computed over every shop's rows (a generic task's SQL or file
/// input is not one shop's).
pub const ALL_SHOPS: &str = "_all";

/// The results-table rows of `a`, written at `now_ms`: a row of a table with a `shop` column
/// goes to that shop, the others to `shop` (or [`ALL_SHOPS`]).
pub fn parts(
    def: &TaskDef,
    a: &Analysis,
    shop: Option<&str>,
    now_ms: i64,
) -> Result<Vec<ResultsPart>, MineError> {
    let default_shop = shop.unwrap_or(ALL_SHOPS).to_string();
    let mut by_shop: BTreeMap<String, ResultRows> = BTreeMap::new();
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
                cols.push(ResultRow {
                    job: &name,
                    kind: "mining",
                    shop: &row_shop,
                    start: now_ms,
                    end: now_ms,
                    revision: 0,
                    emitted: now_ms,
                    rank: Some(i32::try_from(r + 1).unwrap_or(i32::MAX)),
                    key_name: &kn,
                    key: &k,
                    metric: &t.columns[c],
                    value: v,
                });
            }
        }
    }
    let dt = model::time::format_ms(now_ms)
        .get(..10)
        .unwrap_or("1970-01-01")
        .to_string();
    by_shop
        .into_iter()
        .map(|(shop, cols)| {
            let batch = cols
                .finish()
                .map_err(|e| MineError::Internal(e.to_string()))?;
            Ok((shop, dt.clone(), batch))
        })
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
