//! `storepulse report`: build a report and write its HTML, CSV and JSON files.

use crate::cli::ReportArgs;
use crate::config::Config;
use anyhow::{Result, anyhow, bail};
use chrono::NaiveDate;
use query::analysis::Ctx;
use query::report::{self, ReportSpec};
use query::{Engine, Scope, Snapshot};
use std::path::PathBuf;

/// The spec of a named report: built-in or from the config.
pub fn spec(cfg: &Config, name: &str) -> Result<ReportSpec> {
    Ok(report::spec_named(name, &cfg.reports)?)
}

/// The lake's last day partition (the default report day).
pub fn last_day(cfg: &Config) -> Result<NaiveDate> {
    let snap = Snapshot::load(&cfg.data_dir)?;
    snap.manifest()
        .files
        .iter()
        .filter_map(|f| f.dt.parse::<NaiveDate>().ok())
        .max()
        .ok_or_else(|| anyhow!("the lake is empty: import events first, or pass --date"))
}

/// Builds and writes one report; returns its directory and whether every section worked.
pub fn build_and_write(
    cfg: &Config,
    engine: &Engine,
    name: &str,
    date: NaiveDate,
    shop: Option<&str>,
    out: Option<PathBuf>,
) -> Result<(PathBuf, report::Report, Vec<PathBuf>)> {
    let spec = spec(cfg, name)?;
    let ctx = Ctx {
        engine,
        scope: Scope::all(),
        zone: cfg.zone()?,
    };
    let r = engine.block_on(report::build(&ctx, name, &spec, date, shop))?;
    let dir = out.unwrap_or_else(|| report::default_dir(&cfg.data_dir, name, date, shop));
    let files = report::write(&r, &dir)?;
    Ok((dir, r, files))
}

pub fn run(cfg: &Config, a: &ReportArgs, as_json: bool) -> Result<()> {
    if a.list {
        println!(
            "daily      the day's KPIs (with the 7 days before), hours, funnel, top items, repeat purchases"
        );
        println!(
            "weekly     the ISO week's KPIs, weekdays, retention, funnel, top items, RFM segments"
        );
        for (n, s) in &cfg.reports {
            println!(
                "{n:<10} {} ({} days, {} sections)",
                s.title,
                s.days,
                s.sections.len()
            );
        }
        return Ok(());
    }
    let name = a.name.as_deref().unwrap_or_default();
    spec(cfg, name)?;
    let date = match &a.date {
        Some(d) => d
            .parse::<NaiveDate>()
            .map_err(|e| anyhow!("--date {d:?}: {e} (use YYYY-MM-DD)"))?,
        None => last_day(cfg)?,
    };
    let engine = Engine::new(&cfg.data_dir, cfg.query.clone())?;
    if a.sink && !cfg.sink.enabled() {
        bail!("--sink needs a database: set [sink] url (postgres://… or mysql://…) in the config");
    }
    let (dir, r, files) =
        build_and_write(cfg, &engine, name, date, a.shop.as_deref(), a.out.clone())?;
    if a.sink {
        super::write_sink(cfg, &engine, &server::sinks::report_tables(&r))?;
    }
    if as_json {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        println!(
            "{}",
            serde_json::json!({"report": name, "from": r.from, "to": r.to, "dir": dir, "files": names,
            "failed_sections": r.failures().iter().map(|s| &s.spec.title).collect::<Vec<_>>()})
        );
    } else {
        println!(
            "{} {} → {} ({} files)",
            r.title,
            if r.from == r.to {
                r.from.to_string()
            } else {
                format!("{}..{}", r.from, r.to)
            },
            dir.join("report.html").display(),
            files.len()
        );
    }
    let failed = r.failures();
    if !failed.is_empty() {
        for s in &failed {
            eprintln!(
                "section {:?} failed: {}",
                s.spec.title,
                s.error.as_deref().unwrap_or("")
            );
        }
        bail!(
            "{} of {} sections failed (the report shows which)",
            failed.len(),
            r.sections.len()
        );
    }
    Ok(())
}
