//! `storepulse gen`: generated events to Taobao CSV, NDJSON or straight into the lake.

use crate::cli::GenArgs;
use crate::config::Config;
use crate::fmt::thousands;
use anyhow::{Context, Result, anyhow, bail};
use collect::{ChunkBuilder, CollectError, ParsedChunk};
use eventgen::{GenConfig, Generator};
use std::io::{BufWriter, Write};
use std::sync::mpsc;
use std::time::Instant;
use store::import::{ImportConfig, ImportReport, Progress, StreamMeta};

pub fn run(cfg: &Config, args: &GenArgs) -> Result<()> {
    let gcfg = gen_config(args)?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        args.threads
    };
    let started = Instant::now();
    match args.format.as_str() {
        "taobao" | "csv" => {
            let stats = if args.out == "-" {
                let g = Generator::new(&gcfg).map_err(|e| anyhow!("{}", e.0))?;
                g.write_taobao_csv(
                    BufWriter::with_capacity(1 << 20, std::io::stdout().lock()),
                    threads,
                )?
            } else {
                eventgen::write_taobao_csv_file(&gcfg, &args.out, threads)
                    .with_context(|| format!("writing {}", args.out))?
            };
            report(
                started,
                stats.pv + stats.cart + stats.fav + stats.buy,
                &args.out,
            );
        }
        "ndjson" | "json" => {
            let stats = if args.out == "-" {
                let g = Generator::new(&gcfg).map_err(|e| anyhow!("{}", e.0))?;
                let mut w = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
                let s = g.write_ndjson(&mut w, threads)?;
                w.flush()?;
                s
            } else {
                eventgen::write_ndjson_file(&gcfg, &args.out, threads)
                    .with_context(|| format!("writing {}", args.out))?
            };
            let total = stats.pv
                + stats.cart
                + stats.fav
                + stats.buy
                + stats.order_create
                + stats.order_pay
                + stats.order_cancel
                + stats.payments
                + stats.login_success
                + stats.login_fail
                + stats.ad_clicks
                + stats.page_views;
            report(started, total, &args.out);
        }
        "lake" => {
            if args.out != "-" {
                return Err(super::usage(format!(
                    "--out {} does not apply to --format lake (events go straight into the data dir); use --format taobao or ndjson to write a file",
                    args.out
                )));
            }
            let mut store = super::open_store(cfg)?;
            let r = to_lake(
                &mut store,
                &gcfg,
                threads,
                cfg.import.rows_per_commit,
                cfg.rules()?,
            )?;
            if r.already_imported {
                println!(
                    "these generated events (same settings and seed) are already in the lake; nothing to do"
                );
            } else {
                println!(
                    "generated {} events into the lake in {:.2}s ({} events/s)",
                    thousands(r.imported),
                    r.elapsed.as_secs_f64(),
                    thousands((r.imported as f64 / r.elapsed.as_secs_f64().max(1e-9)) as u64)
                );
            }
        }
        other => bail!("unknown --format {other:?}; expected taobao, ndjson or lake"),
    }
    Ok(())
}

fn report(started: Instant, events: u64, out: &str) {
    let secs = started.elapsed().as_secs_f64();
    if out != "-" {
        eprintln!(
            "wrote {} events to {out} in {secs:.2}s ({} events/s)",
            thousands(events),
            thousands((events as f64 / secs.max(1e-9)) as u64)
        );
    }
}

pub fn gen_config(args: &GenArgs) -> Result<GenConfig> {
    let events = GenConfig::parse_count(&args.events).map_err(|e| anyhow!("--events: {}", e.0))?;
    let mut g = GenConfig::new(events)
        .with_days(args.days)
        .with_seed(args.seed)
        .with_shop(args.shop.clone());
    if let Some(s) = &args.start {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| anyhow!("--start {s:?}: expected YYYY-MM-DD"))?;
        let ms = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(0)
            - g.tz_offset_secs as i64 * 1000;
        g = g.with_start_ms(ms);
    }
    g.validate().map_err(|e| anyhow!("{}", e.0))?;
    Ok(g)
}

/// Generates straight into the lake: chunks are generated in parallel, committed in order.
pub fn to_lake(
    store: &mut store::Store,
    gcfg: &GenConfig,
    threads: usize,
    rows_per_commit: usize,
    rules: model::Rules,
) -> Result<ImportReport> {
    // Smaller chunks bound memory (each worker holds one chunk of events); the output is the
    // same for any chunk size.
    let fingerprint = format!("gen:{gcfg:?}");
    let gcfg = &gcfg
        .clone()
        .with_chunk_events(gcfg.chunk_events.min(200_000));
    let generator = Generator::new(gcfg).map_err(|e| anyhow!("{}", e.0))?;
    let done = store.import_progress(&fingerprint).cloned();
    if done.as_ref().is_some_and(|p| p.complete) {
        return Ok(ImportReport {
            already_imported: true,
            ..Default::default()
        });
    }
    let skip_chunks = done.map_or(0, |p| p.records);
    let n = generator.num_chunks();
    let shop = gcfg
        .shop
        .clone()
        .unwrap_or_else(|| model::DEFAULT_SHOP.into());
    let meta = StreamMeta {
        source: "gen".into(),
        format: "gen".into(),
        shop: shop.clone(),
        fingerprint: Some(fingerprint),
    };
    let icfg = ImportConfig {
        rows_per_commit,
        ..ImportConfig::default()
    };
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(skip_chunks as usize);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<(usize, ParsedChunk)>(threads * 2);
        for _ in 0..threads {
            let (tx, next, generator, shop, rules) = (tx.clone(), &next, &generator, &shop, &rules);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    // One "record" per generator chunk, so progress resumes at a chunk boundary.
                    let mut b = ChunkBuilder::new("gen", "gen", shop, rules, i as u64 + 1);
                    for e in generator.chunk(i) {
                        b.event(i as u64 + 1, None, b"", &e);
                    }
                    let mut c = b.finish();
                    c.records = 1;
                    if tx.send((i, c)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut want = skip_chunks as usize;
        let stream = std::iter::from_fn(move || {
            loop {
                if let Some(c) = pending.remove(&want) {
                    want += 1;
                    return Some(Ok::<_, CollectError>(c));
                }
                let (i, c) = rx.recv().ok()?;
                pending.insert(i, c);
            }
        });
        let report = ImportReport {
            resumed_from: skip_chunks,
            ..Default::default()
        };
        store::import::run_stream(
            store,
            stream,
            meta,
            &icfg,
            &Progress::default(),
            None,
            report,
            started,
        )
        .map_err(anyhow::Error::from)
    })
}
