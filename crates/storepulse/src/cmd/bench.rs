//! `storepulse bench ingest|freshness`: HTTP load and live-result latency against a running server.

use crate::cli::{BenchAction, BenchArgs};
use anyhow::{Context, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(cfg: &crate::config::Config, args: &BenchArgs, json: bool) -> Result<()> {
    match &args.action {
        BenchAction::Query(a) => super::bench_query::run(cfg, a, json),
        BenchAction::Mining(a) => {
            if cfg!(debug_assertions) {
                eprintln!(
                    "note: a debug build; time a release build (cargo run --release -- bench mining)"
                );
            }
            let lines = bench::mining::run(&a.datasets, a.runs)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&lines)?);
            } else {
                println!(
                    "{:<52} {:>10} {:>12} {:>8}  reference / note",
                    "task", "ours ms", "reference ms", "speedup"
                );
                for l in &lines {
                    println!(
                        "{:<52} {:>10.2} {:>12} {:>8}  {} — {}",
                        l.task,
                        l.ours_ms,
                        l.reference_ms.map_or("-".into(), |r| format!("{r:.2}")),
                        l.speedup.map_or("-".into(), |s| format!("{s:.1}×")),
                        l.reference,
                        l.note
                    );
                }
            }
            Ok(())
        }
        BenchAction::Freshness(a) => {
            anyhow::ensure!(a.rounds >= 1, "--rounds must be at least 1");
            let shop = a
                .shop
                .clone()
                .unwrap_or_else(|| format!("bench-fresh-{:x}", model::time::now_ms()));
            model::check_shop(&shop).map_err(|r| super::usage(format!("--shop: {}", r.rule)))?;
            eprintln!(
                "sending probe events to the scratch shop `{shop}` of the server at {} (--shop to change)",
                a.url
            );
            let cfg = bench::freshness::FreshnessConfig {
                url: a.url.clone(),
                key: a.key.clone(),
                rounds: a.rounds,
                shop,
            };
            let r = runtime()?.block_on(bench::freshness::run(cfg))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "freshness over {} rounds: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, mean {:.1} ms",
                    r.rounds, r.p50_ms, r.p99_ms, r.max_ms, r.mean_ms
                );
            }
            Ok(())
        }
        BenchAction::Ingest(a) => {
            let events = eventgen::GenConfig::parse_count(&a.events)
                .map_err(|e| anyhow::anyhow!("--events: {e}"))?;
            anyhow::ensure!(a.batch >= 1, "--batch must be at least 1");
            model::check_shop(&a.shop).map_err(|r| super::usage(format!("--shop: {}", r.rule)))?;
            let run_id = a
                .run_id
                .clone()
                .unwrap_or_else(|| format!("b{:x}", model::time::now_ms()));
            let cfg = bench::loadgen::LoadConfig {
                url: a.url.clone(),
                key: a.key.clone(),
                events,
                batch: a.batch,
                concurrency: a.concurrency.max(1),
                rate: a.rate,
                from: a.from.clone(),
                run_id,
                shop: a.shop.clone(),
            };
            if a.from.is_none() {
                eprintln!(
                    "sending generated events to shop `{}` of the server at {} (a scratch shop: --shop to change)",
                    a.shop, a.url
                );
            }
            let report = runtime()?.block_on(bench::loadgen::run(cfg))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.summary());
            }
            anyhow::ensure!(
                report.failures.is_empty(),
                "some requests failed: {:?} (status 0 = connection error)",
                report.failures
            );
            Ok(())
        }
    }
}
