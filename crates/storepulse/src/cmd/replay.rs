//! `storepulse replay`: a live job over the lake or a file.

use crate::cli::ReplayArgs;
use crate::config::Config;
use crate::fmt::thousands;
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufWriter, Write};
use stream::emit::{CSV_HEADER, write_csv};
use stream::replay::{LakeRange, ReplayReport, replay_file, replay_lake};
use stream::results::ResultsWriter;
use stream::{Emission, Kind};

enum Out {
    Human,
    Json,
    Csv,
    None,
}

fn kind_of(s: &str) -> Result<Kind> {
    Ok(match s {
        "result" => Kind::Result,
        "update" => Kind::Update,
        "late" => Kind::Late,
        "blacklist" => Kind::Blacklist,
        "session" => Kind::Session,
        _ => bail!("--kind {s:?}: expected result, update, late, blacklist or session"),
    })
}

fn human(e: &Emission) -> String {
    let t = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| ms.to_string())
    };
    let rows: Vec<String> = e
        .rows
        .iter()
        .map(|r| {
            let mut parts = Vec::new();
            if let Some(rank) = r.rank {
                parts.push(format!("#{rank}"));
            }
            parts.extend(r.keys.iter().map(|(k, v)| format!("{k}={v}")));
            parts.extend(r.values.iter().map(|(k, v)| {
                if v.fract() == 0.0 {
                    format!("{k}={v:.0}")
                } else {
                    format!("{k}={v:.4}")
                }
            }));
            parts.join(" ")
        })
        .collect();
    let rev = if e.revision > 0 {
        format!(" rev {}", e.revision)
    } else {
        String::new()
    };
    format!(
        "{:<9} {} [{} .. {}){rev}  {}",
        e.kind.name(),
        e.shop,
        t(e.start),
        t(e.end),
        rows.join(" | ")
    )
}

pub fn run(cfg: &Config, args: &ReplayArgs, json: bool) -> Result<()> {
    if args.list {
        for j in stream::JOBS {
            let takes: Vec<&str> = j
                .settings
                .iter()
                .chain(stream::job_registry::COMMON)
                .copied()
                .collect();
            println!(
                "{:<15} {}\n{:<15} settings: {}",
                j.name,
                j.help,
                "",
                takes.join(", ")
            );
        }
        return Ok(());
    }
    let name = args.job.as_deref().unwrap_or_default();
    let def = stream::job_registry::find(name)
        .map_err(|e| super::usage(format!("{e} (storepulse replay --list)")))?;
    let flags = stream::JobConfig {
        window: args.window.clone(),
        slide: args.slide.clone(),
        lateness: args.lateness.clone(),
        out_of_orderness: args.out_of_orderness.clone(),
        gap: args.gap.clone(),
        windows: args.windows.clone(),
        top: args.top,
        threshold: args.threshold,
        exact: args.exact,
        ..stream::JobConfig::default()
    };
    let wrong: Vec<String> = flags
        .set_fields()
        .into_iter()
        .filter(|f| !def.takes(f))
        .map(|f| format!("--{}", f.replace('_', "-")))
        .collect();
    if !wrong.is_empty() {
        return Err(super::usage(format!(
            "{} {} not apply to {name}; it takes {}",
            wrong.join(", "),
            if wrong.len() == 1 { "does" } else { "do" },
            def.settings
                .iter()
                .chain(stream::job_registry::COMMON)
                .map(|f| format!("--{}", f.replace('_', "-")))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut jc = cfg.job(name);
    let set = |dst: &mut Option<String>, src: &Option<String>| {
        if src.is_some() {
            *dst = src.clone();
        }
    };
    set(&mut jc.window, &flags.window);
    set(&mut jc.slide, &flags.slide);
    set(&mut jc.lateness, &flags.lateness);
    set(&mut jc.out_of_orderness, &flags.out_of_orderness);
    set(&mut jc.gap, &flags.gap);
    if flags.windows.is_some() {
        jc.windows = flags.windows.clone();
    }
    jc.top = flags.top.or(jc.top);
    jc.threshold = flags.threshold.or(jc.threshold);
    jc.exact = flags.exact.or(jc.exact);
    let zone = cfg.zone()?;
    let mut job = stream::build(name, &jc, zone).map_err(|e| anyhow!("{e}"))?;
    let only = args.kind.as_deref().map(kind_of).transpose()?;

    let out_kind = match (&args.out, args.quiet, json) {
        (Some(p), _, _) => match p.extension().and_then(|e| e.to_str()) {
            Some("csv") => Out::Csv,
            Some("json" | "ndjson" | "jsonl") => Out::Json,
            _ => bail!(
                "--out {}: the file name must end in .csv, .json or .ndjson",
                p.display()
            ),
        },
        (None, true, _) => Out::None,
        (None, false, true) => Out::Json,
        (None, false, false) => Out::Human,
    };
    let mut w: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    if matches!(out_kind, Out::Csv) {
        w.write_all(CSV_HEADER.as_bytes())?;
    }
    // `--save` commits to the results table, so it needs the store's writer lock.
    let mut saver = match args.save {
        true => Some((
            ResultsWriter::new(),
            super::open_store(cfg).map_err(|e| {
                anyhow!("--save commits to the lake's results table and needs the data dir to itself: {e} (a running server's live jobs already save their results; or replay without --save)")
            })?,
        )),
        false => None,
    };
    let mut write_err: Option<std::io::Error> = None;
    let mut csv = String::new();
    let now = collect::now_ms();
    let mut sink = |es: &[Emission]| -> Result<(), stream::StreamError> {
        for e in es {
            if only.is_some_and(|k| k != e.kind) {
                continue;
            }
            if let Some((s, _)) = &mut saver {
                s.push(e, now);
            }
            let r = match out_kind {
                Out::Human => writeln!(w, "{}", human(e)),
                Out::Json => writeln!(w, "{}", e.to_json_line()),
                Out::Csv => {
                    csv.clear();
                    write_csv(e, &mut csv);
                    w.write_all(csv.as_bytes())
                }
                Out::None => Ok(()),
            };
            if let Err(err) = r {
                write_err.get_or_insert(err);
            }
        }
        if let Some((s, st)) = &mut saver
            && s.buffered() >= 1 << 20
        {
            s.flush(st)?;
        }
        Ok(())
    };

    let bar = if args.quiet || json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        )
    };
    let progress = |rows: u64| {
        if rows % (1 << 20) < 70_000 {
            bar.set_position(rows);
            bar.set_message(format!("{} rows", thousands(rows)));
        }
    };
    let report: ReplayReport = if args.from == "lake" {
        let store = super::open_store_read(cfg)?;
        // A bar with an ETA: the manifest knows how many rows the job's tables hold.
        let total: u64 = store
            .manifest()
            .files
            .iter()
            .filter(|f| job.inputs().iter().any(|t| t.name() == f.table))
            .filter(|f| args.shop.as_ref().is_none_or(|s| *s == f.shop))
            .map(|f| f.rows)
            .sum();
        if total > 0 && !bar.is_hidden() {
            bar.set_length(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {percent:>3}% {msg} ({per_sec}, eta {eta}) [{elapsed_precise}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        let parse_t = |s: &Option<String>, flag: &str| -> Result<Option<i64>> {
            s.as_deref()
                .map(|v| model::time::parse_ts(v).map_err(|e| anyhow!("--{flag} {v:?}: {}", e.0)))
                .transpose()
        };
        let range = LakeRange {
            shops: args.shop.clone().map(|s| vec![s]),
            from_ms: parse_t(&args.since, "since")?,
            to_ms: parse_t(&args.until, "until")?,
        };
        replay_lake(&store, job.as_mut(), &range, &mut sink, &progress)?
    } else {
        let format: collect::Format = args
            .format
            .as_deref()
            .ok_or_else(|| {
                super::usage(format!(
                    "--from {} needs --format (e.g. --format taobao)",
                    args.from
                ))
            })?
            .parse()
            .map_err(super::usage)?;
        let mut opts = super::import::parse_options(cfg, format)?;
        if let Some(s) = &args.shop {
            opts.line.shop = Some(s.clone());
        }
        let input = collect::Input::from_arg(&args.from);
        replay_file(&input, opts, job.as_mut(), &mut sink, &progress)?
    };
    bar.finish_and_clear();
    if let Some((s, st)) = &mut saver {
        s.flush(st)?;
    }
    w.flush()?;
    if let Some(e) = write_err {
        return Err(anyhow!("writing results: {e}"));
    }
    let c = report.counters;
    let rate = report.rows as f64 / report.secs.max(1e-9);
    if json && args.quiet {
        println!(
            "{}",
            serde_json::json!({
                "job": name, "rows": report.rows, "rejected": report.rejected, "secs": report.secs,
                "rows_per_sec": rate, "emissions": report.emissions, "counters": c,
            })
        );
    } else {
        eprintln!(
            "{name}: {} rows in {:.2} s ({:.2}M rows/s); {} events counted, {} emissions, {} late, {} filtered{}",
            thousands(report.rows),
            report.secs,
            rate / 1e6,
            thousands(c.events),
            thousands(report.emissions),
            thousands(c.late),
            thousands(c.filtered),
            if report.rejected > 0 {
                format!(
                    "; {} input rows rejected (import the file to keep them in the quarantine)",
                    thousands(report.rejected)
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
