//! Writing results where the shop's other systems read them: report tables and live job
//! results, upserted into MySQL/MariaDB or PostgreSQL through `storepulse-sink`.
//!
//! Report tables go to `<prefix><analysis>_<table>` (e.g. `storepulse_kpis_days`) keyed by
//! (report, report_date, scope, section) plus the table's natural key, so rerunning a report
//! updates its rows. Live results go to `<prefix>live_results`, one row per (job, kind, shop, window, slot,
//! metric) where the slot is the rank of a top-N row (a later revision replaces what held that
//! rank) or else the row's key; the latest revision wins.

use query::report::Report;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sink::{Sink, SinkTable};
use std::sync::Arc;
use std::time::Duration;
use stream::Emission;

/// `[sink]` in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SinkConfig {
    /// `postgres://user@host:5432/db` or `mysql://user:pass@host:3306/db` (empty = no sink).
    pub url: String,
    /// Prefix of every table written.
    pub table_prefix: String,
    /// Write the live jobs' results as they fire (`storepulse serve`).
    pub live: bool,
    /// Seconds between writes of buffered live results.
    pub flush_secs: f64,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            url: String::new(),
            table_prefix: "storepulse_".into(),
            live: true,
            flush_secs: 5.0,
        }
    }
}

impl SinkConfig {
    /// Whether a sink is configured.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

/// The natural key of an analysis table (its rows' identity within one report run), from the
/// analysis registry.
fn natural_key(analysis: &str, table: &str) -> &'static [&'static str] {
    query::analysis::find(analysis).map_or(&["rank"], |d| d.key_columns(table))
}

/// The sink tables of a mining result (`mining_<task>_<table>`), keyed as the mining registry
/// declares; a table without key columns (a tree's printed lines) is left out.
pub fn mining_tables(
    def: &mine::registry::TaskDef,
    a: &query::analysis::Analysis,
) -> Vec<SinkTable> {
    a.tables
        .iter()
        .filter_map(|t| {
            let key: Vec<String> = def
                .key_columns(&t.name)
                .iter()
                .map(|k| k.to_string())
                .collect();
            if key.is_empty() || !key.iter().all(|k| t.col(k).is_some()) {
                return None;
            }
            let rows = t
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .map(|(i, x)| match x {
                            Value::Null if key.contains(&t.columns[i]) => json!(""),
                            x => x.clone(),
                        })
                        .collect()
                })
                .collect();
            Some(SinkTable {
                name: format!("mining_{}_{}", def.name.replace('-', "_"), t.name),
                columns: t.columns.clone(),
                key,
                rows,
            })
        })
        .collect()
}

/// The sink tables of a report: each section's tables with the report's context columns.
pub fn report_tables(r: &Report) -> Vec<SinkTable> {
    let mut out = Vec::new();
    for s in &r.sections {
        let Some(a) = &s.result else { continue };
        for t in &a.tables {
            let mut key: Vec<String> = ["report", "report_date", "scope", "section"]
                .map(String::from)
                .to_vec();
            let natural = natural_key(&a.analysis, &t.name);
            if !natural.iter().all(|k| t.col(k).is_some()) {
                continue;
            }
            key.extend(natural.iter().map(|k| k.to_string()));
            let mut columns: Vec<String> = key[..4].to_vec();
            columns.extend(t.columns.iter().cloned());
            let ctx = [
                json!(r.name),
                json!(r.to.to_string()),
                json!(r.shop.clone().unwrap_or_default()),
                json!(s.spec.title),
            ];
            let rows = t
                .rows
                .iter()
                .map(|row| {
                    let mut v: Vec<Value> = ctx.to_vec();
                    // A null in a key column (a breakdown without a value) becomes "".
                    v.extend(row.iter().enumerate().map(|(i, x)| match x {
                        Value::Null if natural.contains(&t.columns[i].as_str()) => json!(""),
                        x => x.clone(),
                    }));
                    v
                })
                .collect();
            out.push(SinkTable {
                name: format!("{}_{}", a.analysis, t.name),
                columns,
                key,
                rows,
            });
        }
    }
    out
}

fn iso(ms: i64) -> String {
    model::time::format_ms(ms)
}

/// Live emissions as one sink table (`live_results`).
pub fn live_table(es: &[Arc<Emission>]) -> SinkTable {
    let columns = [
        "job",
        "kind",
        "shop",
        "window_start",
        "window_end",
        "slot",
        "metric",
        "rank",
        "key_name",
        "key",
        "value",
        "revision",
        "watermark",
    ];
    // The key is the leading columns: a window's slot and metric.
    let key = &columns[..7];
    let mut rows = Vec::new();
    for e in es {
        for row in &e.rows {
            let (kn, kv) = Emission::row_key(row);
            let slot = match row.rank {
                Some(r) => format!("#{r}"),
                None => kv.clone(),
            };
            for (metric, value) in &row.values {
                rows.push(vec![
                    json!(e.job),
                    json!(e.kind.name()),
                    json!(e.shop),
                    json!(iso(e.start)),
                    json!(iso(e.end)),
                    json!(slot),
                    json!(metric),
                    row.rank.map_or(Value::Null, |r| json!(r)),
                    json!(kn),
                    json!(kv),
                    serde_json::Number::from_f64(*value).map_or(Value::Null, Value::Number),
                    json!(e.revision),
                    json!(iso(e.watermark)),
                ]);
            }
        }
    }
    SinkTable {
        name: "live_results".into(),
        columns: columns.map(String::from).to_vec(),
        key: key.iter().map(|k| k.to_string()).collect(),
        rows,
    }
}

/// Writes every live emission to the sink, batched every `flush_secs`. A failed write keeps its
/// rows for the next attempt (up to `MAX_BUFFER` emissions, then the oldest are dropped with a
/// warning) so a database restart loses nothing short of that.
pub fn spawn_live(
    sink: Sink,
    mut rx: tokio::sync::broadcast::Receiver<crate::live_log::Numbered>,
    flush_secs: f64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    const MAX_BUFFER: usize = 200_000;
    tokio::spawn(async move {
        let mut buf: Vec<Arc<Emission>> = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(flush_secs.max(0.1)));
        loop {
            let stopping = tokio::select! {
                m = rx.recv() => match m {
                    Ok((_, e)) => { buf.push(e); continue; }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "the result sink fell behind the live jobs; some results were not written");
                        continue;
                    }
                    Err(_) => true,
                },
                _ = tick.tick() => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            if !buf.is_empty() {
                match sink.write(&live_table(&buf)).await {
                    Ok(_) => buf.clear(),
                    Err(e) => {
                        tracing::warn!(error = %e, buffered = buf.len(), "writing live results to the sink failed; will retry");
                        if buf.len() > MAX_BUFFER {
                            let drop = buf.len() - MAX_BUFFER;
                            tracing::warn!(
                                dropped = drop,
                                "sink buffer full: dropping the oldest results"
                            );
                            buf.drain(..drop);
                        }
                    }
                }
            }
            if stopping {
                break;
            }
        }
    });
}
