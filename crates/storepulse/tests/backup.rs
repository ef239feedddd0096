//! `storepulse backup` while the server takes events, then `restore` into a fresh data dir:
//! every table of the restored lake equals the original's, including the events that were
//! acknowledged but still only in the WAL when the backup ran.

mod common;

use common::{Server, create_key, free_port, sp};
use std::path::Path;

fn table(data: &Path, t: &str) -> Vec<String> {
    let out = sp(
        data,
        &["query", &format!("SELECT * FROM {t}"), "--format", "csv"],
    );
    let mut rows: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_backup_taken_while_serving_restores_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // History from a file import...
    let file = dir.path().join("old.ndjson");
    let old: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"type":"behavior","event_id":"old{i}","ts":"2026-11-19T10:00:{:02}Z","user_id":{},"item_id":{},"action":"pv"}}"#, i % 60, i % 17, i % 5))
        .collect();
    std::fs::write(&file, old.join("\n")).unwrap();
    sp(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--format",
            "ndjson",
            "--quiet",
        ],
    );
    let key = create_key(&data, "k", &["ingest", "read"], None);
    // ...and live events the server holds in its WAL only (it folds once a minute here).
    let mut s = Server::start(
        &data,
        free_port(),
        &[
            ("STOREPULSE_SERVER__FOLD_INTERVAL_MS", "60000"),
            ("STOREPULSE_LIVE__ENABLED", "false"),
        ],
    );
    let c = reqwest::blocking::Client::new();
    let mut body: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"type":"order","event_id":"o{i}","ts":"2026-11-20T10:00:00Z","order_id":"A{i}","user_id":{i},"status":"pay","amount":{}.25}}"#, i))
        .collect();
    body.push(
        r#"{"type":"behavior","ts":"yesterday","user_id":1,"item_id":1,"action":"pv"}"#.into(),
    );
    let r = c
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .body(body.join("\n"))
        .send()
        .unwrap();
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(200), Some(1)),
        "{v}"
    );
    let r = c
        .put(format!("{}/v1/items", s.url))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(r#"[{"item_id":1,"title":"Mug","price":4.5},{"item_id":"SKU-2","category_id":3}]"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    let backup = dir.path().join("backup");
    let out = sp(&data, &["backup", backup.to_str().unwrap(), "--json"]);
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rep["wal_bytes"].as_u64().unwrap() > 0,
        "the WAL is in the backup: {rep}"
    );
    assert!(!dir.path().join("backup.partial").exists());
    assert!(
        !backup.join("lake/order").exists(),
        "the orders were only in the WAL when the backup ran"
    );
    assert!(
        s.stop(),
        "a clean stop folds the WAL into the original lake"
    );

    let restored = dir.path().join("restored");
    sp(&restored, &["restore", backup.to_str().unwrap()]);
    for t in [
        "behavior",
        "orders",
        "payment",
        "login",
        "ad_click",
        "page_view",
        "quarantine",
        "items",
        "users",
        "results",
    ] {
        let (a, b) = (table(&data, t), table(&restored, t));
        assert_eq!(a, b, "table {t} differs after restore");
    }
    assert_eq!(table(&restored, "orders").len(), 201, "header + 200 orders");
    assert_eq!(table(&restored, "behavior").len(), 301);
    assert_eq!(table(&restored, "quarantine").len(), 2);
    assert_eq!(table(&restored, "items").len(), 3);
    // A restore never mixes with a live lake, and a backup never overwrites one.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_storepulse"))
        .args([
            "--data-dir",
            restored.to_str().unwrap(),
            "restore",
            backup.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_storepulse"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "backup",
            backup.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists already"));
}
