//! `storepulse bench ingest`: HTTP load against a running server.

use crate::cli::{BenchAction, BenchArgs};
use anyhow::{Context, Result};

pub fn run(args: &BenchArgs, json: bool) -> Result<()> {
    match &args.action {
        BenchAction::Ingest(a) => {
            let events = eventgen::GenConfig::parse_count(&a.events)
                .map_err(|e| anyhow::anyhow!("--events: {e}"))?;
            anyhow::ensure!(a.batch >= 1, "--batch must be at least 1");
            let run_id = a
                .run_id
                .clone()
                .unwrap_or_else(|| format!("b{:x}", collect::now_ms()));
            let cfg = server::loadgen::LoadConfig {
                url: a.url.clone(),
                key: a.key.clone(),
                events,
                batch: a.batch,
                concurrency: a.concurrency.max(1),
                rate: a.rate,
                from: a.from.clone(),
                run_id,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let report = rt.block_on(server::loadgen::run(cfg))?;
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
