//! `storepulse quarantine list|stats|replay`.

use crate::cli::{QuarantineAction, QuarantineArgs, QuarantineFilter};
use crate::config::Config;
use crate::fmt::thousands;
use anyhow::{Result, anyhow};
use collect::QuarantineRecord;
use model::Reason;
use std::collections::BTreeMap;

pub fn run(cfg: &Config, args: &QuarantineArgs, json: bool) -> Result<()> {
    match &args.action {
        QuarantineAction::List { filter, limit } => list(cfg, filter, *limit, json),
        QuarantineAction::Stats => stats(cfg, json),
        QuarantineAction::Replay(f) => replay(cfg, f, json),
    }
}

fn matcher(f: &QuarantineFilter) -> Result<impl Fn(&QuarantineRecord) -> bool + '_> {
    let reason = match &f.reason {
        Some(r) => Some(Reason::from_code(r).ok_or_else(|| {
            let all: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
            anyhow!("unknown reason {r:?}; expected one of {}", all.join(", "))
        })?),
        None => None,
    };
    Ok(move |r: &QuarantineRecord| {
        reason.is_none_or(|x| r.reason == x)
            && f.source
                .as_ref()
                .is_none_or(|s| r.source.contains(s.as_str()))
    })
}

fn list(cfg: &Config, f: &QuarantineFilter, limit: usize, json: bool) -> Result<()> {
    let store = super::open_store_read(cfg)?;
    let m = matcher(f)?;
    let rows: Vec<QuarantineRecord> = store
        .quarantine_rows()?
        .into_iter()
        .filter(|r| m(r))
        .collect();
    let shown = &rows[..rows.len().min(limit)];
    if json {
        println!("{}", serde_json::to_string_pretty(shown)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "No quarantined rows{}.",
            if f.reason.is_some() || f.source.is_some() {
                " match"
            } else {
                ""
            }
        );
        return Ok(());
    }
    for r in shown {
        println!("{}:{} [{}] {}", r.source, r.line, r.format, r.reject());
        println!("    {}", r.raw.chars().take(160).collect::<String>());
    }
    if rows.len() > shown.len() {
        println!(
            "… {} more (use --limit, --reason or --source)",
            thousands((rows.len() - shown.len()) as u64)
        );
    }
    Ok(())
}

fn stats(cfg: &Config, json: bool) -> Result<()> {
    let store = super::open_store_read(cfg)?;
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
    let rows = store.quarantine_rows()?;
    for r in &rows {
        *by_reason.entry(r.reason.code().into()).or_default() += 1;
        *by_source.entry(r.source.clone()).or_default() += 1;
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"total": rows.len(), "by_reason": by_reason, "by_source": by_source})
        );
        return Ok(());
    }
    println!("{} quarantined rows", thousands(rows.len() as u64));
    for (k, n) in &by_reason {
        println!("  reason {k:<16} {:>10}", thousands(*n));
    }
    for (k, n) in &by_source {
        println!("  source {k:<40} {:>10}", thousands(*n));
    }
    Ok(())
}

fn replay(cfg: &Config, f: &QuarantineFilter, json: bool) -> Result<()> {
    let mut store = super::open_store(cfg)?;
    let m = matcher(f)?;
    let base = super::import::parse_options(cfg, collect::Format::Taobao)?;
    let (stored, still) = store.replay_quarantine(&m, &|format| collect::ParseOptions {
        format,
        ..base.clone()
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({"imported": stored, "still_quarantined": still})
        );
    } else {
        println!(
            "replayed: {} rows imported, {} still quarantined",
            thousands(stored),
            thousands(still)
        );
    }
    Ok(())
}
