//! `storepulse bench freshness`: how long after the watermark passes a window's end its result
//! reaches a subscriber. Each round posts an event into a hot-items window, then posts the event
//! that moves the watermark past that window's end, and times from sending the second request
//! to receiving the window's result on `GET /v1/live/stream` — HTTP, WAL fsync, the engine and
//! the event stream included.

use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What to measure.
#[derive(Debug, Clone)]
pub struct FreshnessConfig {
    /// Server base URL.
    pub url: String,
    /// Key with the ingest and read scopes, not bound to another shop.
    pub key: String,
    /// Rounds.
    pub rounds: usize,
    /// Shop used for the probe events (fresh per run, so no earlier state interferes).
    pub shop: String,
}

/// Freshness figures, ms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FreshnessReport {
    /// Rounds measured.
    pub rounds: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile (the maximum below 100 rounds).
    pub p99_ms: f64,
    /// Worst round.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

fn err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

const WINDOW_SLIDE: i64 = 300_000;

/// Runs the probe.
pub async fn run(cfg: FreshnessConfig) -> std::io::Result<FreshnessReport> {
    let client = reqwest::Client::new();
    let mut sse = client
        .get(format!(
            "{}/v1/live/stream?job=hot-items&kind=result&shop={}",
            cfg.url, cfg.shop
        ))
        .bearer_auth(&cfg.key)
        .send()
        .await
        .map_err(err)?;
    if !sse.status().is_success() {
        let st = sse.status();
        let body = sse.text().await.unwrap_or_default();
        return Err(err(format!("subscribing failed: {st} {body}")));
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(i64, Instant)>();
    tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = sse.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(nl) = buf.find('\n') {
                let line: String = buf.drain(..=nl).collect();
                if let Some(data) = line.trim_end().strip_prefix("data: ")
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(data)
                    && let Some(end) = v["end_ms"].as_i64()
                {
                    let _ = tx.send((end, Instant::now()));
                }
            }
        }
    });
    // 2020-01-01T00:00Z: far from real traffic; each round is two hours apart.
    let base = 1_577_836_800_000i64;
    let mut samples = Vec::with_capacity(cfg.rounds);
    for r in 0..cfg.rounds as i64 {
        let a_ts = base + r * 7_200_000 + 60_000;
        let end = a_ts - a_ts.rem_euclid(WINDOW_SLIDE) + WINDOW_SLIDE;
        let post = |ts: i64, n: i64| {
            let body = format!(
                r#"{{"type":"behavior","shop":"{}","user_id":1,"item_id":{n},"action":"pv","ts":{ts}}}"#,
                cfg.shop
            );
            client
                .post(format!("{}/v1/events", cfg.url))
                .bearer_auth(&cfg.key)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let a = post(a_ts, r + 1).await.map_err(err)?;
        if !a.status().is_success() {
            return Err(err(format!("posting failed: {}", a.status())));
        }
        let t0 = Instant::now();
        // One hour later: past the window end for any out-of-orderness under 55 minutes.
        let b = post(a_ts + 3_600_000, r + 1).await.map_err(err)?;
        if !b.status().is_success() {
            return Err(err(format!("posting failed: {}", b.status())));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((e, at))) if e == end => {
                    samples.push(at.duration_since(t0).as_secs_f64() * 1000.0);
                    break;
                }
                Ok(Some(_)) => continue,
                Ok(None) => return Err(err("the event stream closed")),
                Err(_) => {
                    return Err(err(format!(
                        "no result for the window ending at {end} within 10 s (is hot-items a live job?)"
                    )));
                }
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    Ok(FreshnessReport {
        rounds: samples.len(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: *samples.last().unwrap_or(&0.0),
        mean_ms: samples.iter().sum::<f64>() / samples.len().max(1) as f64,
    })
}
