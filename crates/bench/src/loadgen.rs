//! `storepulse bench ingest`: an HTTP load generator. Concurrent clients send NDJSON batches of
//! behaviour events (generated, with unique `event_id`s, or read from an NDJSON file) to
//! `POST /v1/events`, optionally at a fixed rate, retry 429s after a pause, and report events/s
//! and latency percentiles from an HDR histogram.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server base URL, e.g. `http://127.0.0.1:8720`.
    pub url: String,
    /// API key with the ingest scope.
    pub key: String,
    /// Events to send in all.
    pub events: u64,
    /// Events per request (1 sends a single JSON object).
    pub batch: usize,
    /// Concurrent requests.
    pub concurrency: usize,
    /// Target rate in events/s (`None` = as fast as possible).
    pub rate: Option<u64>,
    /// Read events from this NDJSON file instead of generating them.
    pub from: Option<PathBuf>,
    /// Prefix of generated event ids (a new run needs a new prefix, or every event is a duplicate).
    pub run_id: String,
    /// Shop of the generated events: a scratch shop by default, so a benchmark never mixes
    /// its events into a real shop's figures.
    pub shop: String,
}

/// What happened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// Events in requests answered 200.
    pub events_sent: u64,
    /// Events the server stored.
    pub accepted: u64,
    /// Events the server answered as duplicates.
    pub duplicates: u64,
    /// Rows the server rejected.
    pub rejected: u64,
    /// Requests answered 200.
    pub requests_ok: u64,
    /// 429 answers (each retried).
    pub throttled: u64,
    /// Other failures by status (0 = connection error).
    pub failures: BTreeMap<u16, u64>,
    /// Wall time, s.
    pub seconds: f64,
    /// Accepted + duplicate events per second.
    pub events_per_sec: f64,
    /// Successful requests per second.
    pub requests_per_sec: f64,
    /// Latency percentiles of successful requests, ms.
    pub latency_ms: BTreeMap<String, f64>,
}

impl LoadReport {
    /// A human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} events in {:.2} s: {:.0} events/s, {:.0} requests/s",
            self.events_sent, self.seconds, self.events_per_sec, self.requests_per_sec
        );
        let _ = writeln!(
            s,
            "accepted {}, duplicates {}, rejected {}, 429s {}, failures {:?}",
            self.accepted, self.duplicates, self.rejected, self.throttled, self.failures
        );
        let l = &self.latency_ms;
        let g = |k: &str| l.get(k).copied().unwrap_or(0.0);
        let _ = writeln!(
            s,
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            g("p50"),
            g("p90"),
            g("p99"),
            g("p99.9"),
            g("max")
        );
        s
    }
}

/// One generated behaviour event of `shop` as an NDJSON line (deterministic in `n`).
pub fn event_line(run_id: &str, shop: &str, n: u64, out: &mut String) {
    // A cheap mix so users and items spread without a RNG per event.
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    let user = h % 200_000;
    let item = (h >> 20) % 50_000;
    let category = item % 997;
    let action = match h % 100 {
        0..=88 => "pv",
        89..=94 => "cart",
        95..=97 => "fav",
        _ => "buy",
    };
    // Event time is the wall clock, as for a shop sending its events as they happen (live
    // jobs then see the small disorder of concurrent requests, not hours of late data).
    let ts = model::time::now_ms();
    let _ = writeln!(
        out,
        r#"{{"type":"behavior","shop":"{shop}","event_id":"{run_id}-{n}","ts":{ts},"user_id":{user},"item_id":{item},"category_id":{category},"action":"{action}"}}"#
    );
}

enum Source {
    /// Run id and shop.
    Generated(String, String),
    File(Mutex<std::io::Lines<std::io::BufReader<std::fs::File>>>),
}

impl Source {
    /// The body of request number `k` (None when the file is exhausted).
    fn body(&self, k: u64, batch: usize, total: u64) -> Option<(String, u64)> {
        let first = k * batch as u64;
        if first >= total {
            return None;
        }
        let n = (batch as u64).min(total - first);
        let mut s = String::with_capacity(n as usize * 150);
        match self {
            Source::Generated(run, shop) => {
                for i in first..first + n {
                    event_line(run, shop, i, &mut s);
                }
                Some((s, n))
            }
            Source::File(lines) => {
                let mut lines = lines.lock().ok()?;
                let mut got = 0;
                while got < n {
                    match lines.next() {
                        Some(Ok(l)) if !l.trim().is_empty() => {
                            s.push_str(&l);
                            s.push('\n');
                            got += 1;
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
                (got > 0).then_some((s, got))
            }
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct Reply {
    #[serde(default)]
    accepted: u64,
    #[serde(default)]
    duplicates: u64,
    #[serde(default)]
    rejected: u64,
}

/// Runs the load and reports.
pub async fn run(cfg: LoadConfig) -> std::io::Result<LoadReport> {
    let source = Arc::new(match &cfg.from {
        Some(p) => Source::File(Mutex::new(
            std::io::BufReader::new(std::fs::File::open(p)?).lines(),
        )),
        None => Source::Generated(cfg.run_id.clone(), cfg.shop.clone()),
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(cfg.concurrency)
        .tcp_nodelay(true)
        .build()
        .map_err(std::io::Error::other)?;
    let url = format!("{}/v1/events", cfg.url.trim_end_matches('/'));
    let next = Arc::new(AtomicU64::new(0));
    let report = Arc::new(Mutex::new(LoadReport::default()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..cfg.concurrency.max(1) {
        let (client, url, next, source, cfg) = (
            client.clone(),
            url.clone(),
            next.clone(),
            source.clone(),
            cfg.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).ok();
            let mut local = LoadReport::default();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, n)) = source.body(k, cfg.batch, cfg.events) else {
                    break;
                };
                if let Some(rate) = cfg.rate.filter(|r| *r > 0) {
                    let due = start
                        + Duration::from_secs_f64((k * cfg.batch as u64) as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let (ctype, body) = if cfg.batch == 1 {
                    ("application/json", body.trim_end().to_string())
                } else {
                    ("application/x-ndjson", body)
                };
                loop {
                    let t = Instant::now();
                    let r = client
                        .post(&url)
                        .header("content-type", ctype)
                        .header("authorization", format!("Bearer {}", cfg.key))
                        .body(body.clone())
                        .send()
                        .await;
                    match r {
                        Ok(resp) if resp.status().as_u16() == 200 => {
                            let us = t.elapsed().as_micros() as u64;
                            let rep: Reply = resp
                                .bytes()
                                .await
                                .ok()
                                .and_then(|b| serde_json::from_slice(&b).ok())
                                .unwrap_or_default();
                            if let Some(h) = hist.as_mut() {
                                let _ = h.record(us.max(1));
                            }
                            local.requests_ok += 1;
                            local.events_sent += n;
                            local.accepted += rep.accepted;
                            local.duplicates += rep.duplicates;
                            local.rejected += rep.rejected;
                            break;
                        }
                        Ok(resp) if resp.status().as_u16() == 429 => {
                            local.throttled += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Ok(resp) => {
                            *local.failures.entry(resp.status().as_u16()).or_default() += 1;
                            break;
                        }
                        Err(_) => {
                            *local.failures.entry(0).or_default() += 1;
                            break;
                        }
                    }
                }
            }
            (local, hist)
        }));
    }
    let mut all = Histogram::<u64>::new(3).map_err(std::io::Error::other)?;
    for t in tasks {
        let (local, hist) = t.await.map_err(std::io::Error::other)?;
        if let Some(h) = hist {
            let _ = all.add(h);
        }
        if let Ok(mut r) = report.lock() {
            r.events_sent += local.events_sent;
            r.accepted += local.accepted;
            r.duplicates += local.duplicates;
            r.rejected += local.rejected;
            r.requests_ok += local.requests_ok;
            r.throttled += local.throttled;
            for (k, v) in local.failures {
                *r.failures.entry(k).or_default() += v;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mut r = report.lock().map(|r| r.clone()).unwrap_or_default();
    r.seconds = secs;
    r.events_per_sec = (r.accepted + r.duplicates) as f64 / secs;
    r.requests_per_sec = r.requests_ok as f64 / secs;
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
        r.latency_ms
            .insert(name.into(), all.value_at_quantile(q) as f64 / 1000.0);
    }
    r.latency_ms.insert("max".into(), all.max() as f64 / 1000.0);
    Ok(r)
}
