//! `storepulse bench query`: prints the timings of `storepulse-bench`'s query runner.

use crate::cli::BenchQueryArgs;
use crate::config::Config;
use anyhow::Result;
use query::Engine;

pub fn run(cfg: &Config, a: &BenchQueryArgs, as_json: bool) -> Result<()> {
    let engine = Engine::new(&cfg.data_dir, cfg.query.clone())?;
    let out = bench::query::run(&engine, cfg.zone()?, &a.sql, &a.analysis, a.runs)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&out)?);
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
