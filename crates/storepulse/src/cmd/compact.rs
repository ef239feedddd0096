//! `storepulse compact`: merge small files, write missing sidecars, apply retention — or, with
//! `--dry-run`, say what retention would drop. Retention that would empty the whole lake is
//! refused unless `--force` (a "keep 365 days" over a 2017 sample is almost never meant).

use crate::cli::CompactArgs;
use crate::config::Config;
use crate::fmt::thousands;
use anyhow::{Result, bail};
use store::retention::{RetentionFrom, RetentionPlan};

pub fn run(cfg: &Config, args: &CompactArgs, json: bool) -> Result<()> {
    let days = args.retention_days.unwrap_or(cfg.lake.retention_days);
    if days == 0 {
        for (given, flag) in [
            (args.retention_from.is_some(), "--retention-from"),
            (args.force, "--force"),
        ] {
            if given {
                return Err(super::usage(format!(
                    "{flag} applies to retention, and none is configured: add --retention-days N \
                     (or set lake.retention_days)"
                )));
            }
        }
    }
    let from: RetentionFrom = args
        .retention_from
        .as_deref()
        .unwrap_or("now")
        .parse()
        .map_err(super::usage)?;
    if args.dry_run {
        let store = super::open_store_read(cfg)?;
        let plan = (days > 0).then(|| store.retention_plan(days, from));
        if json {
            println!(
                "{}",
                serde_json::json!({ "dry_run": true, "retention": plan })
            );
        } else {
            let (files, parts) = small_files(&store, cfg.lake.compact_small_file_mb << 20);
            println!(
                "dry run, nothing is changed: {files} small files in {parts} day partitions would be merged"
            );
            match &plan {
                Some(p) => print_plan(p, true),
                None => {
                    println!("no retention configured (--retention-days or lake.retention_days)")
                }
            }
        }
        return Ok(());
    }
    let mut store = super::open_store(cfg)?;
    let plan = (days > 0).then(|| store.retention_plan(days, from));
    if let Some(p) = &plan
        && p.drops_everything()
        && !args.force
    {
        bail!(
            "retention of {days} days counted from {} (cutoff {}) would drop every row of the lake \
             ({} rows; the newest data is of {}). Nothing was changed. Use --retention-from newest \
             to keep the last {days} days of this data, --dry-run to see the plan, or --force",
            if from == RetentionFrom::Now {
                "today"
            } else {
                "the newest event"
            },
            p.cutoff_dt,
            thousands(p.rows),
            p.newest_dt.as_deref().unwrap_or("?")
        );
    }
    let mut r = store.compact(
        cfg.lake.compact_small_file_mb << 20,
        cfg.lake.compact_target_rows,
    )?;
    // Lakes written by older versions lack newer sidecars (user timelines, user sets).
    r.sidecars_written = store.write_missing_sidecars()?;
    if let Some(p) = &plan {
        let d = store.apply_plan(p)?;
        r.partitions_dropped = d.partitions_dropped;
        r.rows_dropped = d.rows_dropped;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "compacted {} files into {} ({} rows rewritten)",
        r.files_before,
        r.files_after,
        thousands(r.rows)
    );
    if r.sidecars_written > 0 {
        println!(
            "wrote the missing sketches, user sets and timelines of {} files",
            r.sidecars_written
        );
    }
    if let Some(p) = &plan {
        print_plan(p, false);
    }
    Ok(())
}

/// Files below the small-file size in partitions holding at least two of them (what compaction
/// merges), and how many such partitions there are.
fn small_files(store: &store::Store, small_bytes: u64) -> (usize, usize) {
    let mut by: std::collections::BTreeMap<(&str, &str, &str), usize> = Default::default();
    for f in &store.manifest().files {
        if f.bytes < small_bytes {
            *by.entry((&f.table, &f.shop, &f.dt)).or_default() += 1;
        }
    }
    by.values()
        .filter(|n| **n >= 2)
        .fold((0, 0), |(f, p), n| (f + n, p + 1))
}

fn print_plan(p: &RetentionPlan, dry: bool) {
    let verb = if dry { "would drop" } else { "dropped" };
    let origin = match p.from {
        RetentionFrom::Now => "today",
        RetentionFrom::Newest => "the newest event",
    };
    println!(
        "retention {} days from {origin}: days before {} {verb} — {} partitions, {} rows; {} rows kept",
        p.days,
        p.cutoff_dt,
        p.partitions,
        thousands(p.rows),
        thousands(p.rows_kept)
    );
    for r in &p.ranges {
        println!(
            "  {:<10} shop {:<12} {} .. {}  {:>4} days {:>12} rows",
            r.table,
            r.shop,
            r.first_dt,
            r.last_dt,
            r.partitions,
            thousands(r.rows)
        );
    }
    if dry && p.drops_everything() {
        println!(
            "warning: that is every row of the lake (newest data {}); compact would refuse it \
             without --force — --retention-from newest keeps the last {} days of this data",
            p.newest_dt.as_deref().unwrap_or("?"),
            p.days
        );
    }
}
