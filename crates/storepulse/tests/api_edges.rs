//! The API's edges through the real server: every mistake in a query string or path answers
//! the JSON error envelope (`{"error": {"code", "message"}}`), never axum's plain text.

mod common;

use common::{Server, create_key, free_port};

#[test]
fn bad_query_strings_get_the_json_error_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "r", &["read", "ingest"], None);
    let s = Server::start(&data, free_port(), &[]);
    let c = reqwest::blocking::Client::new();
    for path in [
        "/v1/stats?exact=maybe",
        "/v1/quarantine?limit=-1",
        "/v1/quarantine?offset=x",
        "/v1/jobs/runs?limit=lots",
        "/v1/live/kpis/history?limit=-5",
    ] {
        let r = c
            .get(format!("{}{path}", s.url))
            .bearer_auth(&key)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        let v: serde_json::Value = r.json().unwrap();
        assert_eq!(v["error"]["code"], "bad_parameter", "{path}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(!msg.is_empty(), "{path}: {v}");
    }
    // A good query string still works.
    let r = c
        .get(format!("{}/v1/quarantine?limit=5", s.url))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
