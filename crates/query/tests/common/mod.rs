//! Helpers: lakes built through the real import path from NDJSON lines.

#![allow(dead_code)]

use collect::{Format, Input, ParseOptions};
use query::analysis::{Analysis, Ctx, run_named};
use query::{Engine, Limits, Scope};
use serde_json::Value;
use std::path::Path;
use store::import::{self, ImportConfig, Progress};
use store::{Store, StoreConfig, Zone};
use storepulse_query as query;

/// 2024-01-01T00:00:00Z in seconds.
pub const D0: i64 = 1_704_067_200;
pub const DAY: i64 = 86_400;

/// A behaviour event as an NDJSON line (`ts` in unix seconds).
pub fn bev(shop: &str, ts: i64, user: i64, item: i64, action: &str) -> String {
    format!(
        r#"{{"type":"behavior","shop":"{shop}","ts":{ts},"user_id":{user},"item_id":{item},"category_id":{},"action":"{action}"}}"#,
        item % 10
    )
}

/// A behaviour event with a channel.
pub fn bev_ch(shop: &str, ts: i64, user: i64, action: &str, channel: &str) -> String {
    format!(
        r#"{{"type":"behavior","shop":"{shop}","ts":{ts},"user_id":{user},"item_id":1,"action":"{action}","channel":"{channel}"}}"#
    )
}

/// An order event.
pub fn order(shop: &str, ts: i64, id: &str, user: i64, status: &str, amount: f64) -> String {
    format!(
        r#"{{"type":"order","shop":"{shop}","ts":{ts},"order_id":"{id}","user_id":{user},"status":"{status}","amount":{amount}}}"#
    )
}

/// Imports NDJSON lines into a fresh data dir under `dir`; returns the data dir.
pub fn lake(dir: &Path, zone: &str, lines: &[String]) -> std::path::PathBuf {
    let data = dir.join("data");
    let file = dir.join("events.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();
    import_file(&data, zone, &file, Format::Ndjson);
    data
}

/// Imports a file in a format.
pub fn import_file(data: &Path, zone: &str, file: &Path, format: Format) {
    let mut c = StoreConfig::new(data);
    c.zone = zone.parse::<Zone>().unwrap();
    let mut store = Store::open(c).unwrap();
    import::run(
        &mut store,
        &Input::Path(file.to_path_buf()),
        ParseOptions::new(format),
        &ImportConfig::default(),
        &Progress::default(),
    )
    .unwrap();
}

pub fn engine(data: &Path) -> Engine {
    Engine::new(data, Limits::default()).unwrap()
}

/// Runs an analysis with JSON parameters.
pub fn analyze(engine: &Engine, zone: &str, scope: Scope, name: &str, params: Value) -> Analysis {
    try_analyze(engine, zone, scope, name, params).unwrap()
}

pub fn try_analyze(
    engine: &Engine,
    zone: &str,
    scope: Scope,
    name: &str,
    params: Value,
) -> Result<Analysis, query::QueryError> {
    let ctx = Ctx {
        engine,
        scope,
        zone: zone.parse().unwrap(),
    };
    engine.block_on(run_named(&ctx, name, params))
}

/// Runs SQL and returns the rows as JSON arrays.
pub fn sql(engine: &Engine, scope: Scope, q: &str) -> Result<Vec<Vec<Value>>, query::QueryError> {
    let rows = engine.sql_blocking(q, scope)?;
    let schema = rows.schema.clone();
    let batches = engine.block_on(rows.collect())?;
    Ok(query::analysis::Table::from_batches("t", &schema, &batches)?.rows)
}

/// A column of a result table as JSON values, by row.
pub fn col(a: &Analysis, table: &str, column: &str) -> Vec<Value> {
    let t = a.table(table).unwrap_or_else(|| panic!("no table {table}"));
    t.column(column).into_iter().cloned().collect()
}
