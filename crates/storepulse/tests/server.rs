//! The ingest server through real HTTP against the real binary: per-row answers, exact dedup
//! across restarts, malformed bodies, the auth matrix, privacy erasure and SIGKILL crash rounds.

mod common;

use common::*;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

fn post(c: &Client, url: &str, key: &str, ctype: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
    let r = c
        .post(format!("{url}/v1/events"))
        .bearer_auth(key)
        .header("content-type", ctype)
        .body(body.into())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

#[test]
fn each_row_gets_its_answer_and_duplicates_are_stored_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest", "read"], None);
    let port = free_port();
    let mut s = Server::start(&data, port, &[]);
    let c = Client::new();
    let body = [
        behavior("a1", 1, 10, "pv"),
        r#"{"type":"behavior","event_id":"a2","ts":"yesterday","user_id":1,"item_id":2,"action":"pv"}"#.into(),
        behavior("a1", 1, 10, "pv"),
        String::new(),
        behavior("a3", 2, 11, "cart"),
        r#"{"type":"behavior","event_id":"a4","ts":1764000000,"user_id":1,"item_id":2,"action":"teleport"}"#.into(),
        r#"{"type":"behavior","event_id":"a5","ts":1764000"#.into(),
        behavior("a6", 3, 12, "buy"),
    ]
    .join("\n");
    let (st, r) = post(&c, &s.url, &key, "application/x-ndjson", body.clone());
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["accepted"], 3);
    assert_eq!(r["duplicates"], 1);
    assert_eq!(r["duplicate_indices"], json!([2]));
    assert_eq!(r["rejected"], 3);
    let errs: Vec<(u64, String)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errs,
        vec![
            (1, "bad_timestamp".to_string()),
            (5, "unknown_action".to_string()),
            (6, "malformed".to_string())
        ]
    );
    // A retry of the whole batch stores nothing new.
    let (_, r) = post(&c, &s.url, &key, "application/x-ndjson", body.clone());
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(4))
    );
    // SIGTERM: flush, fold and exit 0.
    assert!(s.stop(), "graceful shutdown must exit 0");
    let mut ids = lake_event_ids(&data);
    ids.sort();
    assert_eq!(ids, vec!["a1", "a3", "a6"]);
    // After a restart the ids are still known.
    let s2 = Server::start(&data, port, &[]);
    let (_, r) = post(
        &c,
        &s2.url,
        &key,
        "application/json",
        format!(
            "[{},{}]",
            behavior("a1", 1, 10, "pv"),
            behavior("a7", 4, 13, "fav")
        ),
    );
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    // The rejected rows are in the quarantine with their reasons (once: the second request
    // was a retry of the same batch).
    let q: Value = c
        .get(format!("{}/v1/quarantine?reason=bad_timestamp", s2.url))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(q["total"], 1, "{q}");
    assert_eq!(q["rows"][0]["source"], "http");
    assert_eq!(q["rows"][0]["line"], 2);
    let stats: Value = c
        .get(format!("{}/v1/stats", s2.url))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stats["quarantined"], 3);
    // Prometheus metrics name what the issue asks for, with the values of this process's traffic.
    let bad = r#"{"type":"behavior","ts":"soon","user_id":1,"item_id":2,"action":"pv"}"#;
    assert_eq!(
        post(&c, &s2.url, &key, "application/json", bad).1["rejected"],
        1
    );
    let m = c
        .get(format!("{}/metrics", s2.url))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let value = |name: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in:\n{m}"))
    };
    assert_eq!(value("storepulse_events_accepted_total"), 1.0);
    assert_eq!(value("storepulse_events_duplicate_total"), 1.0);
    assert_eq!(
        value("storepulse_events_rejected_total{reason=\"bad_timestamp\"}"),
        1.0
    );
    assert!(value("storepulse_wal_fsync_seconds_count") >= 1.0);
    assert!(value("storepulse_lake_files") >= 1.0 && value("storepulse_lake_bytes") > 0.0);
    for name in [
        "storepulse_http_request_duration_seconds_bucket",
        "storepulse_wal_queue_depth",
        "storepulse_wal_append_seconds_bucket",
        "storepulse_dedup_ids",
    ] {
        assert!(m.contains(name), "{name} missing");
    }
}

#[test]
fn malformed_bodies_get_a_clean_4xx_and_lose_nothing_good() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let s = Server::start(
        &data,
        free_port(),
        &[("STOREPULSE_SERVER__MAX_BODY_BYTES", "4000000")],
    );
    let c = Client::new();
    let u = &s.url;
    let nd = "application/x-ndjson";
    let js = "application/json";
    // Whole-request problems.
    assert_eq!(
        post(&c, u, &key, js, r#"[{"type":"behavior""#).0,
        400,
        "truncated JSON"
    );
    assert_eq!(post(&c, u, &key, js, "17").0, 400, "not an object or array");
    assert_eq!(
        post(&c, u, &key, js, b"[\xff\xfe]".to_vec()).0,
        400,
        "invalid UTF-8 JSON"
    );
    // Absurd nesting is refused without recursing (a row reject inside an array).
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (st, r) = post(&c, u, &key, js, deep);
    assert_eq!(
        (st, r["accepted"].as_u64(), r["rejected"].as_u64()),
        (200, Some(0), Some(1)),
        "deep nesting: {r}"
    );
    let (st, e) = post(&c, u, &key, "text/plain", behavior("x", 1, 1, "pv"));
    assert_eq!(st, 415);
    assert_eq!(e["error"]["code"], "unsupported_media_type");
    let (st, e) = post(&c, u, &key, nd, vec![b'\n'; 5_000_000]);
    assert_eq!(st, 413, "{e}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 64 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    let r = c
        .post(format!("{u}/v1/events"))
        .bearer_auth(&key)
        .header("content-type", nd)
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 413, "gzip bomb");
    // Row-level problems next to good rows: the good ones are kept.
    let huge = format!(
        r#"{{"type":"behavior","event_id":"h","ts":1764000000,"user_id":1,"item_id":2,"action":"pv","note":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    let mut body = Vec::new();
    body.extend_from_slice(behavior("g1", 1, 1, "pv").as_bytes());
    body.extend_from_slice(b"\n{\"type\":\"behavior\",\"event_id\":\"u\",\"ts\":1764000000,\"user_id\":\"\xff\",\"item_id\":1,\"action\":\"pv\"}\n");
    body.extend_from_slice(br#"{"type":"behavior","event_id":"w","ts":1764000000,"user_id":{"a":1},"item_id":1,"action":"pv"}"#);
    body.push(b'\n');
    body.extend_from_slice(huge.as_bytes());
    body.push(b'\n');
    body.extend_from_slice(br#"{"type":"rocket","ts":1764000000}"#);
    body.push(b'\n');
    body.extend_from_slice(behavior("g2", 2, 2, "buy").as_bytes());
    let (st, r) = post(&c, u, &key, nd, body);
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["accepted"], 2, "{r}");
    assert_eq!(r["rejected"], 4, "{r}");
    // Gzip bodies work, and the server is still healthy.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(behavior("g3", 3, 3, "pv").as_bytes()).unwrap();
    let r: Value = c
        .post(format!("{u}/v1/events"))
        .bearer_auth(&key)
        .header("content-type", js)
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["accepted"], 1);
    assert_eq!(c.get(format!("{u}/health")).send().unwrap().status(), 200);
}

#[test]
fn every_route_checks_scope_and_shop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // (name, scopes, shop)
    let specs: [(&str, &[&str], Option<&str>); 6] = [
        ("ingest_a", &["ingest"], Some("a")),
        ("read_a", &["read"], Some("a")),
        ("admin_a", &["admin"], Some("a")),
        ("ingest_all", &["ingest"], None),
        ("read_all", &["read"], None),
        ("admin_all", &["admin"], None),
    ];
    let mut keys: HashMap<&str, String> = HashMap::new();
    for (n, sc, shop) in specs {
        keys.insert(n, create_key(&data, n, sc, shop));
    }
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let ev_b =
        r#"{"type":"behavior","shop":"b","ts":1764000000,"user_id":1,"item_id":2,"action":"pv"}"#;
    let ev = r#"{"type":"behavior","ts":1764000000,"user_id":1,"item_id":2,"action":"pv"}"#;
    // (method, path, body, needed scope, shop asked: None = the key's own)
    let routes: Vec<(&str, &str, &str, &str, Option<&str>)> = vec![
        ("GET", "/metrics", "", "read", None),
        ("GET", "/v1/openapi.json", "", "read", None),
        ("POST", "/v1/events", ev, "ingest", None),
        ("POST", "/v1/events", ev_b, "ingest", Some("b")),
        (
            "PUT",
            "/v1/items",
            r#"[{"item_id":2,"title":"t"}]"#,
            "ingest",
            None,
        ),
        (
            "PUT",
            "/v1/items?shop=b",
            r#"[{"item_id":2}]"#,
            "ingest",
            Some("b"),
        ),
        ("GET", "/v1/items/2", "", "read", None),
        ("GET", "/v1/items/2?shop=b", "", "read", Some("b")),
        ("PUT", "/v1/users", r#"[{"user_id":1}]"#, "ingest", None),
        ("GET", "/v1/users/1", "", "read", None),
        ("GET", "/v1/users/1?shop=b", "", "read", Some("b")),
        ("DELETE", "/v1/users/99", "", "admin", None),
        ("DELETE", "/v1/users/99?shop=b", "", "admin", Some("b")),
        ("GET", "/v1/stats", "", "read", None),
        ("GET", "/v1/stats?shop=b", "", "read", Some("b")),
        ("GET", "/v1/quarantine", "", "read", None),
        ("GET", "/v1/quarantine?shop=b", "", "read", Some("b")),
        ("POST", "/v1/quarantine/replay", "", "admin", None),
        (
            "POST",
            "/v1/quarantine/replay",
            r#"{"shop":"b"}"#,
            "admin",
            Some("b"),
        ),
        ("GET", "/v1/audit", "", "admin", None),
        ("GET", "/v1/live", "", "read", None),
        ("GET", "/v1/live/hot-items", "", "read", None),
        ("GET", "/v1/live/hot-items?shop=b", "", "read", Some("b")),
        ("GET", "/v1/live/hot-items/history", "", "read", None),
        (
            "GET",
            "/v1/live/hot-items/history?shop=b",
            "",
            "read",
            Some("b"),
        ),
        ("GET", "/v1/live/stream?job=hot-items", "", "read", None),
        ("GET", "/v1/live/stream?shop=b", "", "read", Some("b")),
        ("POST", "/v1/query", r#"{"sql":"SELECT 1"}"#, "read", None),
        ("GET", "/v1/analyses", "", "read", None),
        ("POST", "/v1/analyses/kpis", "{}", "read", None),
        (
            "POST",
            "/v1/analyses/kpis",
            r#"{"shop":"b"}"#,
            "read",
            Some("b"),
        ),
        ("GET", "/v1/jobs", "", "read", None),
        ("GET", "/v1/jobs/runs", "", "read", None),
        ("POST", "/v1/jobs/nightly/run", "", "admin", None),
        ("GET", "/v1/mining", "", "read", None),
        ("GET", "/v1/mining/runs", "", "read", None),
        (
            "POST",
            "/v1/mining/rules",
            r#"{"sql":"SELECT 1 AS tx, 2 AS item"}"#,
            "read",
            None,
        ),
        (
            "POST",
            "/v1/mining/segments",
            r#"{"shop":"b"}"#,
            "read",
            Some("b"),
        ),
    ];
    let documented = {
        let doc: Value = c
            .get(format!("{}/v1/openapi.json", s.url))
            .bearer_auth(&keys["read_all"])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let mut ops = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in item.as_object().unwrap().keys() {
                ops.insert((m.to_uppercase(), path.clone()));
            }
        }
        ops
    };
    // The table covers every documented operation (health is checked without a key below).
    let tested: std::collections::BTreeSet<(String, String)> = routes
        .iter()
        .map(|(m, p, ..)| {
            let p = p
                .split('?')
                .next()
                .unwrap()
                .replace("/hot-items", "/{job}")
                .replace("/analyses/kpis", "/analyses/{name}")
                .replace("/jobs/nightly/", "/jobs/{name}/")
                .replace("/mining/rules", "/mining/{task}")
                .replace("/mining/segments", "/mining/{task}");
            let p = match p.rsplit_once('/') {
                Some((head, last)) if last.parse::<u64>().is_ok() => format!("{head}/{{id}}"),
                _ => p.to_string(),
            };
            (m.to_string(), p)
        })
        .chain([("GET".to_string(), "/health".to_string())])
        .collect();
    assert_eq!(
        tested, documented,
        "the auth table and the OpenAPI document differ"
    );
    for (method, path, body, need, asked) in &routes {
        let mut cases: Vec<(String, Option<String>, u16)> = vec![
            ("no key".into(), None, 401),
            ("bad key".into(), Some("sp_nope".into()), 401),
        ];
        for (n, sc, shop) in specs {
            let scope_ok = sc.contains(&"admin") || sc.contains(need);
            let shop_ok = match (asked, shop) {
                (Some(a), Some(own)) => a == &own,
                _ => true,
            };
            let want = if !scope_ok || !shop_ok { 403 } else { 0 };
            cases.push((n.to_string(), Some(keys[n].clone()), want));
        }
        for (who, key, want) in cases {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut rq = c
                .request(m, format!("{}{path}", s.url))
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(k) = &key {
                rq = rq.bearer_auth(k);
            }
            let r = rq.send().unwrap();
            let got = r.status().as_u16();
            if want == 0 {
                assert!(
                    got != 401 && got != 403 && got < 500,
                    "{method} {path} as {who}: got {got}, expected access"
                );
            } else {
                assert_eq!(got, want, "{method} {path} as {who}");
                let e: Value = r.json().unwrap();
                assert!(
                    e["error"]["code"].is_string(),
                    "error shape for {method} {path}"
                );
            }
        }
    }
    // Health needs no key.
    assert_eq!(
        c.get(format!("{}/health", s.url)).send().unwrap().status(),
        200
    );
    // Shop A's key never saw shop B's data: B's event came only from the all-shop keys.
    let st: Value = c
        .get(format!("{}/v1/stats", s.url))
        .bearer_auth(&keys["read_a"])
        .send()
        .unwrap()
        .json()
        .unwrap();
    for t in st["tables"].as_object().unwrap().values() {
        assert!(t["per_shop"].get("b").is_none(), "{st}");
    }
}

#[test]
fn erasing_a_user_removes_their_events_and_profile() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = create_key(&data, "adm", &["admin"], None);
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let r: Value = c
        .put(format!("{}/v1/users", s.url))
        .bearer_auth(&admin)
        .body(r#"[{"user_id":5,"attributes":{"vip":true}},{"user_id":6},{"nope":1}]"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (r["upserted"].as_u64(), r["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    let body: Vec<String> = (0..40)
        .map(|i| behavior(&format!("e{i}"), 5 + i % 2, i, "pv"))
        .collect();
    let (st, _) = post(&c, &s.url, &admin, "application/x-ndjson", body.join("\n"));
    assert_eq!(st, 200);
    let r: Value = c
        .delete(format!("{}/v1/users/5", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["events_erased"], 20, "{r}");
    assert_eq!(r["profile_erased"], true);
    let get = |id: u64| {
        c.get(format!("{}/v1/users/{id}", s.url))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!((get(5), get(6)), (404, 200));
    let mut ids = lake_event_ids(&data);
    ids.sort();
    let mut want: Vec<String> = (0..40)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("e{i}"))
        .collect();
    want.sort();
    assert_eq!(ids, want);
    let audit: Value = c
        .get(format!("{}/v1/audit", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"erase_user") && actions.contains(&"create_key"),
        "{audit}"
    );
    // Paged and filtered: one entry a page, only erasures.
    let total = audit["total"].as_u64().unwrap() as usize;
    assert_eq!(total, actions.len());
    let page = |query: &str| -> Value {
        c.get(format!("{}/v1/audit?{query}", s.url))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let mut offset = 0;
    let mut walked = Vec::new();
    loop {
        let p = page(&format!("limit=1&offset={offset}"));
        walked.extend(
            p["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].clone()),
        );
        match p["next_offset"].as_u64() {
            Some(n) => offset = n as usize,
            None => break,
        }
    }
    assert_eq!(walked, actions, "paging walks every entry once, in order");
    let erasures = page("action=erase_user");
    let n_erase = actions.iter().filter(|a| **a == "erase_user").count();
    assert_eq!(
        erasures["total"].as_u64(),
        Some(n_erase as u64),
        "{erasures}"
    );
    assert_eq!(page("limit=0")["error"]["code"], "bad_request");
}

#[test]
fn a_server_killed_at_random_loses_no_acknowledged_event_and_stores_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let port = free_port();
    let mut next = seeded_rng("server crash test");
    let mut acked: Vec<String> = Vec::new();
    let mut unacked: Vec<Vec<String>> = Vec::new();
    let mut seq = 0u64;
    let rounds = 10;
    // A small seal threshold so that ids move from the hash map into sorted runs many times.
    let env = [("STOREPULSE_LAKE__DEDUP_SEAL_IDS", "3000")];
    for round in 0..rounds {
        let mut s = Server::start(&data, port, &env);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let url = s.url.clone();
        let key2 = key.clone();
        let stop2 = stop.clone();
        // Retries first (their events may or may not have been stored), then fresh batches.
        let mut pending: Vec<Vec<String>> = std::mem::take(&mut unacked);
        let first_seq = seq;
        let client = std::thread::spawn(move || {
            let c = Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut acked = Vec::new();
            let mut failed = Vec::new();
            let mut seq = first_seq;
            loop {
                let ids = match pending.pop() {
                    Some(ids) => ids,
                    None if stop2.load(std::sync::atomic::Ordering::Relaxed) => break,
                    None => {
                        let ids: Vec<String> =
                            (0..200).map(|i| format!("r{round}-{}", seq + i)).collect();
                        seq += 200;
                        ids
                    }
                };
                let body: Vec<String> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| behavior(id, i as u64, seq, "pv"))
                    .collect();
                let r = c
                    .post(format!("{url}/v1/events"))
                    .bearer_auth(&key2)
                    .header("content-type", "application/x-ndjson")
                    .body(body.join("\n"))
                    .send();
                match r {
                    Ok(r) if r.status() == 200 => acked.extend(ids),
                    _ => {
                        failed.push(ids);
                        if stop2.load(std::sync::atomic::Ordering::Relaxed) {
                            failed.append(&mut pending);
                            break;
                        }
                    }
                }
            }
            (acked, failed, seq)
        });
        std::thread::sleep(Duration::from_millis(150 + next() % 500));
        s.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (a, f, last) = client.join().unwrap();
        seq = last;
        eprintln!(
            "round {round}: acked {} more, {} batches unacknowledged",
            a.len(),
            f.len()
        );
        acked.extend(a);
        unacked.extend(f);
    }
    // A last clean run resends everything unacknowledged, then stops gracefully.
    let mut s = Server::start(&data, port, &env);
    let c = Client::new();
    for ids in unacked.drain(..) {
        let body: Vec<String> = ids.iter().map(|id| behavior(id, 1, 1, "pv")).collect();
        let (st, _) = post(&c, &s.url, &key, "application/x-ndjson", body.join("\n"));
        assert_eq!(st, 200);
        acked.extend(ids);
    }
    assert!(s.stop());
    let stored = lake_event_ids(&data);
    let mut count: HashMap<&str, u32> = HashMap::new();
    for id in &stored {
        *count.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !count.contains_key(id.as_str()))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
    assert!(
        acked.len() > 1000,
        "the client should have been acknowledged many events"
    );
    assert_eq!(
        stored.len(),
        acked.len(),
        "every stored event was acknowledged once in the end"
    );
}

#[test]
fn a_full_wal_queue_answers_429_and_stores_nothing_of_that_request() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let mut s = Server::start(&data, free_port(), &[("STOREPULSE_SERVER__WAL_QUEUE", "1")]);
    let url = s.url.clone();
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let (url, key) = (url.clone(), key.clone());
            std::thread::spawn(move || {
                let c = Client::new();
                let (mut acked, mut throttled) = (Vec::new(), 0);
                for b in 0..15 {
                    let ids: Vec<String> = (0..200).map(|i| format!("t{t}-b{b}-{i}")).collect();
                    let body: Vec<String> = ids.iter().map(|id| behavior(id, t, b, "pv")).collect();
                    let r = c
                        .post(format!("{url}/v1/events"))
                        .bearer_auth(&key)
                        .header("content-type", "application/x-ndjson")
                        .body(body.join("\n"))
                        .send()
                        .unwrap();
                    match r.status().as_u16() {
                        200 => acked.extend(ids),
                        429 => {
                            assert!(r.headers().get("retry-after").is_some());
                            let e: Value = r.json().unwrap();
                            assert_eq!(e["error"]["code"], "overloaded");
                            throttled += 1;
                        }
                        other => panic!("unexpected status {other}"),
                    }
                }
                (acked, throttled)
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut throttled = 0;
    for t in threads {
        let (a, n) = t.join().unwrap();
        acked.extend(a);
        throttled += n;
    }
    assert!(s.stop());
    eprintln!(
        "{} events acknowledged, {throttled} requests throttled",
        acked.len()
    );
    assert!(
        throttled > 0,
        "a one-slot WAL queue under 32 writers must push back"
    );
    let mut stored = lake_event_ids(&data);
    stored.sort();
    acked.sort();
    assert_eq!(stored, acked, "exactly the acknowledged events are stored");
}

#[test]
fn dimension_rows_round_trip_with_per_row_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest", "read"], Some("s1"));
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let body = r#"[
        {"item_id": "SKU-9", "category_id": 7, "title": "Mug", "price": 9.5, "attributes": {"color": "red"}},
        {"item_id": 42, "title": "Cup"},
        {"title": "no id"},
        {"item_id": 5, "price": -1},
        {"item_id": 6, "attributes": [1]}
    ]"#;
    let r: Value = c
        .put(format!("{}/v1/items", s.url))
        .bearer_auth(&key)
        .body(body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (r["upserted"].as_u64(), r["rejected"].as_u64()),
        (Some(2), Some(3)),
        "{r}"
    );
    let bad: Vec<(u64, &str)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(bad, vec![(2, "item_id"), (3, "price"), (4, "attributes")]);
    let get = |id: &str| -> (u16, Value) {
        let r = c
            .get(format!("{}/v1/items/{id}", s.url))
            .bearer_auth(&key)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    };
    let (st, item) = get("SKU-9");
    assert_eq!(st, 200);
    assert_eq!(item["shop"], "s1");
    assert_eq!(item["item_id"], "SKU-9");
    assert_eq!(item["category_id"], 7);
    assert_eq!(item["title"], "Mug");
    assert_eq!(item["price"], 9.5);
    assert_eq!(item["attributes"], json!({"color": "red"}));
    assert_eq!(get("42").1["title"], "Cup");
    assert_eq!(get("5").0, 404, "a rejected row is not stored");
    // A newer upsert replaces the row.
    c.put(format!("{}/v1/items", s.url))
        .bearer_auth(&key)
        .body(r#"{"item_id": "SKU-9", "title": "Big mug"}"#)
        .send()
        .unwrap();
    assert_eq!(get("SKU-9").1["title"], "Big mug");
}
