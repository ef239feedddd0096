//! `storepulse import`.

use crate::cli::ImportArgs;
use crate::config::Config;
use crate::fmt::thousands;
use anyhow::{Context, Result, anyhow};
use collect::{Format, Input, ParseOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use store::import::{ImportConfig, ImportReport, Progress};

pub fn run(cfg: &Config, args: &ImportArgs, json: bool) -> Result<()> {
    let format: Format = args.format.parse().map_err(super::usage)?;
    let mut opts = parse_options(cfg, format)?;
    if let Some(s) = &args.shop {
        model::check_shop(s).map_err(|e| anyhow!("--shop: {e}"))?;
        opts.line.shop = Some(s.clone());
    }
    // Settings a format does not read would be silently ignored: refuse them.
    if args.event_type.is_some()
        && !matches!(format, Format::Csv | Format::Parquet | Format::Ndjson)
    {
        return Err(super::usage(format!(
            "--type does not apply to --format {}: its rows have a fixed type (it is for csv, parquet and ndjson)",
            args.format
        )));
    }
    if !args.mapping.is_empty() && !matches!(format, Format::Csv | Format::Parquet) {
        return Err(super::usage(format!(
            "--map does not apply to --format {}: its columns are fixed (it is for csv and parquet)",
            args.format
        )));
    }
    if let Some(t) = &args.event_type {
        opts.records.default_type = Some(
            t.parse()
                .map_err(|e: String| super::usage(format!("--type: {e}")))?,
        );
    }
    for m in &args.mapping {
        let (field, column) = m
            .split_once('=')
            .ok_or_else(|| anyhow!("--map {m:?}: expected FIELD=COLUMN, e.g. --map user_id=uid"))?;
        opts.records
            .mapping
            .push((field.trim().to_string(), column.trim().to_string()));
    }
    let mut icfg = ImportConfig {
        force: args.force,
        ..ImportConfig::default()
    };
    icfg.rows_per_commit = args
        .rows_per_commit
        .unwrap_or(cfg.import.rows_per_commit)
        .max(1);
    icfg.encoders = cfg.import.encoders;
    let mut store = super::open_store(cfg)?;
    let mut reports = Vec::new();
    let mut refused = Vec::new();
    for f in &args.files {
        let input = Input::from_arg(f);
        let report = import_one(
            &mut store,
            &input,
            opts.clone(),
            &icfg,
            args.quiet || json,
            args.print_acks,
        )
        .with_context(|| format!("importing {f}"))?;
        if !json {
            print_report(&report);
        }
        if let Some(why) = every_row_rejected(&report) {
            refused.push(why);
        }
        reports.push(report);
    }
    if json {
        let v: Vec<_> = reports.iter().map(report_json).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    // The rejected rows stay quarantined; the exit status says nothing arrived.
    if !refused.is_empty() {
        return Err(anyhow!(refused.join("\n")));
    }
    Ok(())
}

/// Why an import that stored nothing but rejected rows is a failure; `None` otherwise. Rows
/// already stored (`duplicate`) alone are no failure: a re-import of stored data.
fn every_row_rejected(r: &ImportReport) -> Option<String> {
    let dups = r
        .quarantined
        .get(&model::Reason::Duplicate)
        .copied()
        .unwrap_or(0);
    if r.imported > 0 || r.quarantined_total() == dups {
        return None;
    }
    let mut top: Vec<_> = r.quarantined.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let reasons: Vec<String> = top
        .iter()
        .take(3)
        .map(|(reason, n)| format!("{reason} {}", thousands(**n)))
        .collect();
    let more = if top.len() > 3 { ", ..." } else { "" };
    let first = top.first()?.0;
    let arg = if r.source.contains(char::is_whitespace) {
        format!("{:?}", r.source)
    } else {
        r.source.clone()
    };
    Some(format!(
        "every row of {src} was rejected: {n} quarantined, none imported (top reasons: {}{more}). \
         See the rows and why with `storepulse quarantine list --source {arg}` (add --reason {} \
         for one reason); once the data or the validation rules are fixed, \
         `storepulse quarantine replay` imports them",
        reasons.join(", "),
        first,
        src = r.source,
        n = thousands(r.quarantined_total()),
    ))
}

/// Parse options from the config for a format.
pub fn parse_options(cfg: &Config, format: Format) -> Result<ParseOptions> {
    let mut opts = ParseOptions::new(format);
    opts.line.rules = cfg.rules()?;
    opts.threads = cfg.import.threads;
    let naive: store::Zone = cfg
        .import
        .naive_timezone
        .parse()
        .map_err(|e: String| anyhow!("import.naive_timezone: {e}"))?;
    opts.records.naive_offset_secs = match naive {
        store::Zone::Fixed(o) => o.local_minus_utc(),
        store::Zone::Named(_) => {
            return Err(anyhow!(
                "import.naive_timezone must be UTC or a fixed offset like +08:00"
            ));
        }
    };
    Ok(opts)
}

/// Imports one input with a progress bar.
pub fn import_one(
    store: &mut store::Store,
    input: &Input,
    opts: ParseOptions,
    icfg: &ImportConfig,
    quiet: bool,
    print_acks: bool,
) -> Result<ImportReport> {
    let mut progress = Progress::default();
    if print_acks {
        progress.on_commit = Some(Box::new(|records, rows| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ack records={records} rows={rows}");
            let _ = out.flush();
        }));
    }
    let progress = Arc::new(progress);
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(input.name());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = {
        let (bar, progress, stop) = (bar.clone(), progress.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                bar.set_length(progress.total.load(Ordering::Relaxed));
                bar.set_position(progress.bytes.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let r = store::import::run(store, input, opts, icfg, &progress);
    stop.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    bar.finish_and_clear();
    Ok(r?)
}

fn rate(r: &ImportReport) -> f64 {
    r.records as f64 / r.elapsed.as_secs_f64().max(1e-9)
}

pub fn print_report(r: &ImportReport) {
    if r.already_imported {
        println!(
            "{}: already imported (same content); nothing to do. Use --force to import it again.",
            r.source
        );
        return;
    }
    let resumed = if r.resumed_from > 0 {
        format!(" (resumed after record {})", thousands(r.resumed_from))
    } else {
        String::new()
    };
    println!(
        "{}: {} rows read, {} imported, {} quarantined in {:.2}s ({} rows/s){resumed}",
        r.source,
        thousands(r.records),
        thousands(r.imported),
        thousands(r.quarantined_total()),
        r.elapsed.as_secs_f64(),
        thousands(rate(r) as u64),
    );
    for (reason, n) in &r.quarantined {
        println!("  quarantined {reason}: {}", thousands(*n));
    }
}

fn report_json(r: &ImportReport) -> serde_json::Value {
    let q: serde_json::Map<String, serde_json::Value> = r
        .quarantined
        .iter()
        .map(|(k, v)| (k.code().to_string(), (*v).into()))
        .collect();
    serde_json::json!({
        "source": r.source, "records": r.records, "imported": r.imported, "quarantined": q,
        "commits": r.commits, "resumed_from": r.resumed_from, "already_imported": r.already_imported,
        "seconds": r.elapsed.as_secs_f64(), "rows_per_sec": rate(r),
    })
}
