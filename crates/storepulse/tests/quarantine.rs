//! Rejected rows over real HTTP: quarantined under the shop they name, once however often their
//! batch is retried (across restarts and a crash too); dimension rows stored under their shop.

mod common;

use common::*;
use reqwest::blocking::Client;
use serde_json::{Value, json};

fn send(c: &Client, method: &str, url: &str, key: &str, body: &str) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let r = c
        .request(m, url)
        .bearer_auth(key)
        .header("content-type", "application/x-ndjson")
        .body(body.to_string())
        .send()
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().unwrap_or(Value::Null))
}

/// Every quarantined row on disk (read after a shutdown, which folds everything): (shop, raw).
fn quarantined(data: &std::path::Path) -> Vec<(String, String)> {
    let st = store::Store::open_read_only(store::StoreConfig::new(data)).expect("open store");
    let mut rows: Vec<(String, String)> = st
        .quarantine_rows()
        .unwrap()
        .into_iter()
        .map(|q| (q.shop, q.raw))
        .collect();
    rows.sort();
    rows
}

/// A behaviour row with a bad timestamp, with optional shop and id.
fn bad_ts(shop: Option<&str>, id: Option<&str>) -> String {
    let mut v = json!({"type":"behavior","ts":"soon","user_id":1,"item_id":2,"action":"pv"});
    if let Some(s) = shop {
        v["shop"] = json!(s);
    }
    if let Some(i) = id {
        v["event_id"] = json!(i);
    }
    v.to_string()
}

#[test]
fn rejected_rows_are_quarantined_under_the_shop_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let all = create_key(&data, "all", &["ingest", "read"], None);
    let bound = create_key(&data, "bound", &["ingest", "read"], Some("a"));
    let mut s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let url = format!("{}/v1/events", s.url);
    let unknown_action = r#"{"type":"behavior","shop":"b","event_id":"r2","ts":1764000000,"user_id":1,"item_id":2,"action":"teleport"}"#;
    let all_rows = [
        bad_ts(Some("b"), Some("r1")),
        unknown_action.to_string(),
        bad_ts(None, Some("r3")),
        bad_ts(Some("not a shop!"), Some("r4")),
        r#"{"type":"behavior","shop":"b","ts":"#.to_string(),
    ];
    let (st, r) = send(&c, "POST", &url, &all, &all_rows.join("\n"));
    assert_eq!((st, r["rejected"].as_u64()), (200, Some(5)), "{r}");
    // A shop-bound key: always its own shop, also for a bad row that names another.
    let bound_rows = [
        bad_ts(Some("a"), Some("r5")),
        bad_ts(Some("b"), Some("r6")),
        bad_ts(None, Some("r7")),
    ];
    let (st, r) = send(&c, "POST", &url, &bound, &bound_rows.join("\n"));
    assert_eq!((st, r["rejected"].as_u64()), (200, Some(3)), "{r}");
    assert!(s.stop());
    let shops: Vec<(String, String)> = quarantined(&data);
    let shop_of = |raw: &str| {
        shops
            .iter()
            .filter(|(_, r)| r == raw)
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(shop_of(&all_rows[0]), ["b"], "{shops:?}");
    assert_eq!(shop_of(&all_rows[1]), ["b"], "a row failing validation");
    assert_eq!(shop_of(&all_rows[2]), ["default"]);
    assert_eq!(shop_of(&all_rows[3]), ["default"], "an invalid shop name");
    // Not JSON at all: nothing can be read from it.
    assert_eq!(shop_of(&all_rows[4]), ["default"]);
    for row in &bound_rows {
        assert_eq!(shop_of(row), ["a"], "{row}");
    }
    // The API filters by that shop.
    let s = Server::start(&data, free_port(), &[]);
    let q: Value = c
        .get(format!("{}/v1/quarantine?shop=b", s.url))
        .bearer_auth(&all)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(q["total"], 2, "{q}");
}

#[test]
fn a_retried_batch_quarantines_each_bad_row_once_across_a_crash_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let port = free_port();
    let batch = [
        behavior("g1", 1, 10, "pv"),
        bad_ts(None, Some("q1")),
        // No id: the same text is the same row.
        bad_ts(Some("b"), None),
        r#"{"type":"behavior","ts":17"#.to_string(),
        behavior("g2", 2, 11, "buy"),
        // The same id twice in one batch is one bad row too.
        bad_ts(None, Some("q1")).replace("soon", "later"),
    ]
    .join("\n");
    let c = Client::new();
    let post = |url: &str| {
        let (st, r) = send(&c, "POST", &format!("{url}/v1/events"), &key, &batch);
        assert_eq!((st, r["rejected"].as_u64()), (200, Some(4)), "{r}");
        r["accepted"].as_u64().unwrap_or(0)
    };
    let mut s = Server::start(&data, port, &[]);
    assert_eq!(post(&s.url), 2);
    assert_eq!(post(&s.url), 0, "the retry stores no event again");
    // Killed before its WAL may have been folded: recovery must know the rows were quarantined.
    s.kill9();
    let mut s = Server::start(&data, port, &[]);
    assert_eq!(post(&s.url), 0);
    assert!(s.stop());
    let s2 = Server::start(&data, port, &[]);
    assert_eq!(post(&s2.url), 0);
    drop(s2);
    let mut s = Server::start(&data, port, &[]);
    assert!(s.stop());
    let q = quarantined(&data);
    assert_eq!(q.len(), 3, "each bad row once: {q:#?}");
    let mut ids = lake_event_ids(&data);
    ids.sort();
    assert_eq!(ids, vec!["g1", "g2"]);
    // A corrected event with the id of a quarantined row is still accepted.
    let s = Server::start(&data, port, &[]);
    let (_, r) = send(
        &c,
        "POST",
        &format!("{}/v1/events", s.url),
        &key,
        &behavior("q1", 1, 2, "pv"),
    );
    assert_eq!(r["accepted"], 1, "{r}");
}

#[test]
fn dimension_rows_are_stored_under_the_shop_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let all = create_key(&data, "all", &["ingest", "read"], None);
    let bound = create_key(&data, "bound", &["ingest", "read"], Some("a"));
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let u = &s.url;
    let get = |path: &str, key: &str| {
        let r = c.get(format!("{u}{path}")).bearer_auth(key).send().unwrap();
        let st = r.status().as_u16();
        (st, r.json::<Value>().unwrap_or(Value::Null))
    };
    let items = r#"[{"item_id":1,"shop":"b","title":"in b"},{"item_id":2,"title":"in default"},{"item_id":3,"shop":"no shop!"},{"item_id":4,"shop":["x"]}]"#;
    let (st, r) = send(&c, "PUT", &format!("{u}/v1/items"), &all, items);
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["upserted"].as_u64(), r["rejected"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(r["errors"][0]["field"], "shop", "{r}");
    assert_eq!(get("/v1/items/1?shop=b", &all).1["title"], "in b");
    assert_eq!(get("/v1/items/1", &all).0, 404, "not under default");
    assert_eq!(get("/v1/items/2", &all).1["title"], "in default");
    // `?shop=` is the default for rows naming none.
    let (_, r) = send(
        &c,
        "PUT",
        &format!("{u}/v1/users?shop=c"),
        &all,
        r#"[{"user_id":5},{"user_id":6,"shop":"b"}]"#,
    );
    assert_eq!(r["upserted"], 2, "{r}");
    assert_eq!(get("/v1/users/5?shop=c", &all).0, 200);
    assert_eq!(get("/v1/users/6?shop=b", &all).0, 200);
    assert_eq!(get("/v1/users/6?shop=c", &all).0, 404);
    // A shop-bound key: its shop or none, and another shop refuses the whole request.
    let (_, r) = send(
        &c,
        "PUT",
        &format!("{u}/v1/users"),
        &bound,
        r#"[{"user_id":7,"shop":"a"},{"user_id":8}]"#,
    );
    assert_eq!(r["upserted"], 2, "{r}");
    assert_eq!(get("/v1/users/7", &bound).0, 200);
    assert_eq!(get("/v1/users/8", &bound).0, 200);
    let (st, e) = send(
        &c,
        "PUT",
        &format!("{u}/v1/users"),
        &bound,
        r#"[{"user_id":9},{"user_id":10,"shop":"b"}]"#,
    );
    assert_eq!(st, 403, "{e}");
    assert_eq!(e["error"]["details"]["indices"], json!([1]), "{e}");
    assert_eq!(
        get("/v1/users/9", &bound).0,
        404,
        "nothing of it was stored"
    );
    assert_eq!(get("/v1/users/10?shop=b", &all).0, 404);
}
