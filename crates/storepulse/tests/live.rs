//! Live jobs inside the real server, fed over real HTTP: every window a job fires live equals the
//! same window of `storepulse replay` over the same events; alerts arrive as server-sent
//! events; results reach the lake's results table; keys see only their shop.

mod common;

use common::*;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const JOBS: [&str; 8] = [
    "kpis",
    "hot-items",
    "hot-categories",
    "hot-pages",
    "uv",
    "channel-stats",
    "ad-clicks",
    "sessions",
];

fn datasets() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

/// Behaviour (Taobao), page views (access log) and ad clicks (course log) as NDJSON lines.
fn events(ds: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let tb = std::fs::read_to_string(ds.join("taobao_userbehavior/UserBehavior.csv")).unwrap();
    for (i, l) in tb.lines().take(40_000).enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        let channel = ["app", "web", "ad"][i % 3];
        out.push(
            json!({"type": "behavior", "event_id": format!("tb{i}"), "user_id": f[0].parse::<i64>().unwrap(),
                "item_id": f[1].parse::<i64>().unwrap(), "category_id": f[2].parse::<i64>().unwrap(),
                "action": f[3], "ts": f[4].parse::<i64>().unwrap(), "channel": channel})
            .to_string(),
        );
    }
    let log = std::fs::read_to_string(ds.join("course_logs/apache.log")).unwrap();
    for (i, l) in log.lines().enumerate() {
        let f: Vec<&str> = l.split(' ').collect();
        let ts = chrono::NaiveDateTime::parse_from_str(f[3], "%d/%m/%Y:%H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis();
        out.push(
            json!({"type": "page_view", "event_id": format!("pv{i}"), "ip": f[0], "method": f[5],
                "url": f[6], "ts": ts})
            .to_string(),
        );
    }
    let ads = std::fs::read_to_string(ds.join("course_logs/AdClickLog.csv")).unwrap();
    for (i, l) in ads.lines().enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        out.push(
            json!({"type": "ad_click", "event_id": format!("ad{i}"), "user_id": f[0].parse::<i64>().unwrap(),
                "ad_id": f[1], "province": f[2], "city": f[3], "ts": f[4].trim().parse::<i64>().unwrap()})
            .to_string(),
        );
    }
    out
}

type Key = (String, i64, i64, String);

/// Last revision of each window (or session / alert), keyed by shop, span and row identity.
fn finals(emissions: &[Value]) -> BTreeMap<Key, Value> {
    let mut m = BTreeMap::new();
    for e in emissions {
        let kind = e["kind"].as_str().unwrap();
        if kind == "late" {
            continue;
        }
        let first = &e["rows"][0];
        let ident = if first.get("rank").is_some() {
            String::new()
        } else {
            let mut o = first.as_object().cloned().unwrap_or_default();
            o.retain(|k, _| matches!(k.as_str(), "window" | "user_id" | "ad_id"));
            format!("{kind}:{}", Value::Object(o))
        };
        let key = (
            e["shop"].as_str().unwrap().to_string(),
            e["start_ms"].as_i64().unwrap(),
            e["end_ms"].as_i64().unwrap(),
            ident,
        );
        m.insert(key, e["rows"].clone());
    }
    m
}

/// Runs `storepulse replay <job>` over an NDJSON file: its JSON summary and emissions.
fn replay(data: &Path, conf: &str, job: &str, file: &Path, dir: &Path) -> (Value, Vec<Value>) {
    let out = dir.join(format!("{job}.ndjson"));
    let o = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            conf,
            "--json",
        ])
        .args([
            "replay",
            job,
            "--from",
            file.to_str().unwrap(),
            "--format",
            "ndjson",
        ])
        .args(["--quiet", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let emissions = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (summary, emissions)
}

fn get(c: &Client, url: &str, key: &str) -> (u16, Value) {
    let r = c.get(url).bearer_auth(key).send().unwrap();
    let st = r.status().as_u16();
    (st, r.json().unwrap_or(Value::Null))
}

#[test]
fn live_results_equal_replay_results_and_reach_sse_api_and_lake() {
    let Some(ds) = datasets() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conf = dir.path().join("storepulse.toml");
    // Long idle timeouts: the wall clock must not close windows while the test is posting.
    let mut toml = String::from("[live]\nhistory = 200000\nflush_secs = 1\n");
    for j in JOBS {
        toml.push_str(&format!("[jobs.{j}]\nidle_timeout = \"1h\"\n"));
        if j == "uv" {
            // 40,000 Taobao rows span 50 minutes: short windows fire live too.
            toml.push_str("windows = [\"10min\", \"1d\"]\n");
        }
    }
    std::fs::write(&conf, &toml).unwrap();
    let conf_s = conf.to_str().unwrap();
    let key = create_key(&data, "k", &["ingest", "read"], None);
    let other = create_key(&data, "o", &["read"], Some("other"));
    let mut s = Server::start(&data, free_port(), &[("STOREPULSE_CONFIG", conf_s)]);
    let c = Client::new();

    // Subscribe to blacklist alerts before anything is sent.
    let sse_url = format!("{}/v1/live/stream?job=ad-clicks&kind=blacklist", s.url);
    let sse_key = key.clone();
    let alerts = std::thread::spawn(move || {
        let r = Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
            .get(sse_url)
            .bearer_auth(sse_key)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let mut lines = BufReader::new(r).lines();
        loop {
            let l = lines.next().expect("stream open").unwrap();
            if let Some(data) = l.strip_prefix("data: ") {
                return serde_json::from_str::<Value>(data).unwrap();
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));

    let lines = events(&ds);
    let file = dir.path().join("events.ndjson");
    std::fs::File::create(&file)
        .unwrap()
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    for chunk in lines.chunks(1000) {
        let r = c
            .post(format!("{}/v1/events", s.url))
            .bearer_auth(&key)
            .header("content-type", "application/x-ndjson")
            .body(chunk.join("\n"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().unwrap();
        assert_eq!(v["accepted"].as_u64().unwrap(), chunk.len() as u64, "{v}");
    }
    // Wait until the engine has processed everything.
    let t = Instant::now();
    loop {
        let (_, v) = get(&c, &format!("{}/v1/live", s.url), &key);
        let seen: u64 = v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["job"] == "hot-pages")
            .map(|j| j["counters"]["events"].as_u64().unwrap())
            .sum();
        if v["queued_events"] == 0 && seen > 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "engine did not catch up: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let alert = alerts.join().unwrap();
    assert_eq!(alert["kind"], "blacklist");
    assert_eq!(alert["rows"][0]["user_id"], 937166);
    assert_eq!(alert["rows"][0]["ad_id"], "1715");

    let mut live_rows = 0usize;
    for job in JOBS {
        let (st, h) = get(
            &c,
            &format!("{}/v1/live/{job}/history?limit=200000", s.url),
            &key,
        );
        assert_eq!(st, 200, "{h}");
        let live_em = h["emissions"].as_array().unwrap().clone();
        let live = finals(&live_em);
        assert!(!live.is_empty(), "{job} fired nothing live");
        let (_, late_h) = get(
            &c,
            &format!("{}/v1/live/{job}/history?kind=late&limit=200000", s.url),
            &key,
        );
        let late_em = late_h["emissions"].as_array().unwrap().clone();
        let live_late = late_em.len();
        live_rows += live_em
            .iter()
            .chain(late_em.iter())
            .map(metric_values)
            .sum::<usize>();

        let (summary, replay_em) = replay(&data, conf_s, job, &file, dir.path());
        let replay = finals(&replay_em);
        for (k, rows) in &live {
            assert_eq!(replay.get(k), Some(rows), "{job}: window {k:?} differs");
        }
        assert_eq!(
            summary["counters"]["late"].as_u64().unwrap() as usize,
            live_late,
            "{job}: late events"
        );
        eprintln!(
            "{job}: {} live windows equal replay ({} in replay, late {live_late})",
            live.len(),
            replay.len()
        );
    }

    // Latest, filters and shop scoping.
    let (st, v) = get(&c, &format!("{}/v1/live/hot-items", s.url), &key);
    assert_eq!(st, 200);
    let latest = v["results"].as_array().unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0]["rows"].as_array().unwrap().len(), 5);
    let (_, v) = get(&c, &format!("{}/v1/live/hot-items", s.url), &other);
    assert_eq!(
        v["results"],
        json!([]),
        "a key of shop `other` sees nothing of `default`"
    );
    assert_eq!(v["status"]["counters"]["events"], 0, "{v}");
    assert_eq!(v["status"]["shops"], json!({}), "{v}");
    let (_, all) = get(&c, &format!("{}/v1/live", s.url), &other);
    for j in all["jobs"].as_array().unwrap() {
        assert_eq!(
            j["counters"]["events"], 0,
            "shop `other` sees no totals of `default`: {j}"
        );
        assert_eq!(j["watermarks"], json!({}), "{j}");
    }
    let (_, mine) = get(&c, &format!("{}/v1/live/hot-items", s.url), &key);
    let wm = mine["status"]["shops"]["default"]["watermark"]
        .as_i64()
        .unwrap();
    assert!(wm > 1_500_000_000_000 && wm < 1_600_000_000_000, "{mine}");
    let (st, _) = get(
        &c,
        &format!("{}/v1/live/hot-items?shop=default", s.url),
        &other,
    );
    assert_eq!(st, 403);
    let (st, v) = get(&c, &format!("{}/v1/live/no-such-job", s.url), &key);
    assert_eq!(st, 404);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hot-items")
    );
    let (st, _) = get(
        &c,
        &format!("{}/v1/live/uv/history?kind=weird", s.url),
        &key,
    );
    assert_eq!(st, 400);

    // Results reach the lake (flushed at least every second, and at shutdown).
    assert!(s.stop(), "clean shutdown with an open event stream");
    let n = results_rows(&data.join("lake/results"));
    assert_eq!(n, live_rows, "every live emission row is in lake/results");

    // Results are a table of the store: a compaction and a restart (both open the store for
    // writing and sweep files the manifest does not list) keep every row, and SQL counts them.
    sp(&data, &["compact"]);
    assert_eq!(results_rows(&data.join("lake/results")), n, "after compact");
    let mut s = Server::start(&data, free_port(), &[("STOREPULSE_CONFIG", conf_s)]);
    assert!(s.stop());
    sp(&data, &["compact"]);
    assert_eq!(
        results_rows(&data.join("lake/results")),
        n,
        "after a restart"
    );
    let q = sp(
        &data,
        &[
            "query",
            "select count(*) as n from results",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&q.stdout).unwrap();
    assert_eq!(v[0]["n"].as_u64(), Some(n as u64), "{v}");
}

/// (row, metric) pairs of an emission: what the long-form results table stores.
fn metric_values(e: &Value) -> usize {
    e["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| {
                    v.is_number()
                        && !matches!(k.as_str(), "rank" | "item_id" | "category_id" | "user_id")
                })
                .count()
        })
        .sum()
}

/// Rows in every Parquet file under `dir`.
fn results_rows(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let f = std::fs::File::open(&p).unwrap();
                let r = parquet::file::reader::SerializedFileReader::new(f).unwrap();
                n += parquet::file::reader::FileReader::metadata(&r)
                    .file_metadata()
                    .num_rows() as usize;
            }
        }
    }
    n
}

#[test]
fn open_windows_survive_a_restart() {
    let Some(ds) = datasets() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conf = dir.path().join("storepulse.toml");
    let jobs = ["hot-items", "kpis", "uv", "sessions"];
    let mut toml = format!("[live]\njobs = {jobs:?}\nhistory = 100000\n");
    for j in jobs {
        toml.push_str(&format!("[jobs.{j}]\nidle_timeout = \"1h\"\n"));
        if j == "uv" {
            toml.push_str("windows = [\"10min\", \"1h\"]\n");
        }
    }
    std::fs::write(&conf, &toml).unwrap();
    let conf_s = conf.to_str().unwrap();
    let key = create_key(&data, "k", &["ingest", "read"], None);
    let lines: Vec<String> = events(&ds)
        .into_iter()
        .filter(|l| l.contains(r#""type":"behavior""#))
        .collect();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let c = Client::new();
    let post_all = |url: &str, part: &[String]| {
        for chunk in part.chunks(1000) {
            let r = c
                .post(format!("{url}/v1/events"))
                .bearer_auth(&key)
                .header("content-type", "application/x-ndjson")
                .body(chunk.join("\n"))
                .send()
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    let (first, second) = lines.split_at(lines.len() / 2);
    let port = free_port();
    let mut s = Server::start(&data, port, &[("STOREPULSE_CONFIG", conf_s)]);
    post_all(&s.url, first);
    assert!(s.stop());
    // Restarted: the open windows are rebuilt from the lake before the first request.
    let s = Server::start(&data, port, &[("STOREPULSE_CONFIG", conf_s)]);
    post_all(&s.url, second);
    let t = Instant::now();
    while get(&c, &format!("{}/v1/live", s.url), &key).1["queued_events"] != 0 {
        assert!(t.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    for job in jobs {
        let (_, h) = get(
            &c,
            &format!("{}/v1/live/{job}/history?limit=100000", s.url),
            &key,
        );
        let live = finals(h["emissions"].as_array().unwrap());
        assert!(!live.is_empty(), "{job}: nothing fired after the restart");
        let (_, replay_em) = replay(&data, conf_s, job, &file, dir.path());
        let replay = finals(&replay_em);
        for (k, rows) in &live {
            assert_eq!(
                replay.get(k),
                Some(rows),
                "{job}: window {k:?} after the restart"
            );
        }
    }
}

/// Reads server-sent events until `n` have arrived: (event name, id, data).
fn read_sse(
    url: &str,
    key: &str,
    last_id: Option<&str>,
    n: usize,
) -> Vec<(String, Option<String>, Value)> {
    let mut req = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(url)
        .bearer_auth(key);
    if let Some(id) = last_id {
        req = req.header("Last-Event-ID", id);
    }
    let r = req.send().unwrap();
    assert_eq!(r.status(), 200);
    let mut out = Vec::new();
    let (mut name, mut id) = (String::new(), None);
    for l in BufReader::new(r).lines() {
        let l = l.unwrap();
        if let Some(v) = l.strip_prefix("event: ") {
            name = v.to_string();
        } else if let Some(v) = l.strip_prefix("id: ") {
            id = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("data: ") {
            out.push((name.clone(), id.take(), serde_json::from_str(v).unwrap()));
            if out.len() == n {
                break;
            }
        }
    }
    out
}

#[test]
fn an_event_stream_resumes_after_last_event_id_without_loss_or_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conf = dir.path().join("sp.toml");
    std::fs::write(
        &conf,
        "[live]\njobs = [\"kpis\"]\n[jobs.kpis]\nwindows = [\"1min\"]\nidle_timeout = \"1h\"\nout_of_orderness = \"0\"\n",
    )
    .unwrap();
    let key = create_key(&data, "k", &["ingest", "read"], None);
    let s = Server::start(
        &data,
        free_port(),
        &[("STOREPULSE_CONFIG", conf.to_str().unwrap())],
    );
    let c = Client::new();
    let post = |from_min: u64, to_min: u64| {
        let body: Vec<String> = (from_min..to_min)
            .map(|m| {
                format!(
                    r#"{{"type":"behavior","event_id":"e{m}","ts":{},"user_id":{m},"item_id":1,"action":"pv"}}"#,
                    1_764_000_000_000u64 + m * 60_000
                )
            })
            .collect();
        let r = c
            .post(format!("{}/v1/events", s.url))
            .bearer_auth(&key)
            .header("content-type", "application/x-ndjson")
            .body(body.join("\n"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    let stream = format!("{}/v1/live/stream?job=kpis", s.url);
    // A first client sees the first two windows, then goes away.
    let (u, k) = (stream.clone(), key.clone());
    let first = std::thread::spawn(move || read_sse(&u, &k, None, 2));
    std::thread::sleep(Duration::from_millis(300));
    post(0, 4);
    let first = first.join().unwrap();
    let last_id = first[1].1.clone().expect("events carry ids");
    // While it is away, more windows fire.
    post(4, 9);
    let t = Instant::now();
    let history = loop {
        let (_, v) = get(
            &c,
            &format!("{}/v1/live/kpis/history?limit=100", s.url),
            &key,
        );
        let h = v["emissions"].as_array().unwrap().clone();
        if h.len() >= 8 {
            break h;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "windows did not fire: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Reconnecting with the last id it saw replays exactly the rest, in order.
    let again = read_sse(&stream, &key, Some(&last_id), 6);
    let mut seen: Vec<Value> = first.iter().map(|e| e.2.clone()).collect();
    seen.extend(again.iter().map(|e| e.2.clone()));
    let mut hist = history.clone();
    hist.sort_by_key(|e| e["start_ms"].as_i64());
    assert_eq!(seen, hist[..8].to_vec(), "every window once, in order");
    assert!(again.iter().all(|e| e.0 == "emission" && e.1.is_some()));
    // An id from another run is answered with a gap, not a silent hole.
    let gap = read_sse(&stream, &key, Some("0badc0de-3"), 1);
    assert_eq!(gap[0].0, "gap");
    assert_eq!(gap[0].2["reason"], "restarted");
}
