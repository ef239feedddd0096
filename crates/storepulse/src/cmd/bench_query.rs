//! `storepulse bench query`: warm timings of SQL and analyses on the lake, in-process (the
//! figures the README compares with DuckDB on the same files).

use crate::cli::BenchQueryArgs;
use crate::config::Config;
use anyhow::{Result, anyhow, ensure};
use query::analysis::{Ctx, run_named};
use query::{Engine, Scope};
use serde_json::{Value, json};
use std::time::Instant;

/// One timed item's result.
struct Timing {
    name: String,
    rows: u64,
    best_ms: f64,
    median_ms: f64,
}

pub fn run(cfg: &Config, a: &BenchQueryArgs, as_json: bool) -> Result<()> {
    ensure!(a.runs >= 1, "--runs must be at least 1");
    ensure!(
        !a.sql.is_empty() || !a.analysis.is_empty(),
        "give --sql and/or --analysis to time"
    );
    let engine = Engine::new(&cfg.data_dir, cfg.query.clone())?;
    let zone = cfg.zone()?;
    let mut out = Vec::new();
    for (i, s) in a.sql.iter().enumerate() {
        let (name, sql) = split_name(s, &format!("sql{}", i + 1));
        let t = time(a.runs, || {
            let rows = engine.sql_blocking(&sql, Scope::all())?;
            let batches = engine.block_on(rows.collect())?;
            Ok(batches.iter().map(|b| b.num_rows() as u64).sum())
        })?;
        out.push(Timing { name, ..t });
    }
    for s in &a.analysis {
        let (name, params) = match s.split_once('=') {
            Some((n, p)) => (
                n.to_string(),
                serde_json::from_str::<Value>(p).map_err(|e| anyhow!("--analysis {n}: {e}"))?,
            ),
            None => (s.clone(), json!({})),
        };
        let ctx = Ctx {
            engine: &engine,
            scope: Scope::all(),
            zone,
        };
        let t = time(a.runs, || {
            let r = engine.block_on(run_named(&ctx, &name, params.clone()))?;
            Ok(r.tables.iter().map(|t| t.rows.len() as u64).sum())
        })?;
        out.push(Timing { name, ..t });
    }
    if as_json {
        let v: Vec<Value> = out
            .iter()
            .map(|t| json!({"name": t.name, "rows": t.rows, "best_ms": t.best_ms, "median_ms": t.median_ms}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{:<24} {:>8} {:>10} {:>10}",
            "query", "rows", "best ms", "median ms"
        );
        for t in &out {
            println!(
                "{:<24} {:>8} {:>10.1} {:>10.1}",
                t.name, t.rows, t.best_ms, t.median_ms
            );
        }
    }
    Ok(())
}

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
