//! `storepulse bench query`: warm timings of SQL and analyses on the lake, in-process (the
//! figures the README compares with DuckDB on the same files). Each item runs once to warm up,
//! then `runs` times; best and median are reported.

use anyhow::{Result, anyhow, ensure};
use query::analysis::{Ctx, run_named};
use query::{Engine, Scope};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Instant;

/// One timed item's result.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// `name=` given, or `sqlN`, or the analysis name.
    pub name: String,
    /// Rows of the result.
    pub rows: u64,
    /// Fastest run, ms.
    pub best_ms: f64,
    /// Median run, ms.
    pub median_ms: f64,
}

/// Times each `[name=]SQL` and each `analysis[=JSON params]`.
pub fn run(
    engine: &Engine,
    zone: model::Zone,
    sql: &[String],
    analyses: &[String],
    runs: usize,
) -> Result<Vec<Timing>> {
    ensure!(runs >= 1, "--runs must be at least 1");
    ensure!(
        !sql.is_empty() || !analyses.is_empty(),
        "give --sql and/or --analysis to time"
    );
    let mut out = Vec::new();
    for (i, s) in sql.iter().enumerate() {
        let (name, sql) = split_name(s, &format!("sql{}", i + 1));
        let t = time(runs, || {
            let rows = engine.sql_blocking(&sql, Scope::all())?;
            let batches = engine.block_on(rows.collect())?;
            Ok(batches.iter().map(|b| b.num_rows() as u64).sum())
        })?;
        out.push(Timing { name, ..t });
    }
    for s in analyses {
        let (name, params) = match s.split_once('=') {
            Some((n, p)) => (
                n.to_string(),
                serde_json::from_str::<Value>(p).map_err(|e| anyhow!("--analysis {n}: {e}"))?,
            ),
            None => (s.clone(), json!({})),
        };
        let ctx = Ctx {
            engine,
            scope: Scope::all(),
            zone,
        };
        let t = time(runs, || {
            let r = engine.block_on(run_named(&ctx, &name, params.clone()))?;
            Ok(r.tables.iter().map(|t| t.rows.len() as u64).sum())
        })?;
        out.push(Timing { name, ..t });
    }
    Ok(out)
}

/// `name=SQL` → (name, SQL); anything else is SQL named `default`.
fn split_name(s: &str, default: &str) -> (String, String) {
    match s.split_once('=') {
        Some((n, q)) if !n.contains(' ') && !n.is_empty() => (n.to_string(), q.to_string()),
        _ => (default.to_string(), s.to_string()),
    }
}

fn time(runs: usize, mut f: impl FnMut() -> Result<u64>) -> Result<Timing> {
    let rows = f()?;
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    Ok(Timing {
        name: String::new(),
        rows,
        best_ms: ms[0],
        median_ms: ms[ms.len() / 2],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_split_off_only_when_they_look_like_names() {
        assert_eq!(
            super::split_name("top=select 1", "sql1"),
            ("top".into(), "select 1".into())
        );
        assert_eq!(
            super::split_name("select a = 1 from t", "sql2"),
            ("sql2".into(), "select a = 1 from t".into())
        );
    }
}
