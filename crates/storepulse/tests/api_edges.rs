//! The API's edges through the real server: every mistake in a query string or path answers
//! the JSON error envelope (`{"error": {"code", "message"}}`), never axum's plain text.

mod common;

use common::{Server, create_key, free_port, sp};

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

/// `openapi-spec-validator` (PyPI, installed by `.ci/run`) judges the served document. Without
/// it the test fails unless `STOREPULSE_TEST_ALLOW_MISSING_REFS` says the reference may be absent.
#[test]
fn the_openapi_document_is_valid_and_declares_query_parameters_in_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "r", &["read"], None);
    let s = Server::start(&data, free_port(), &[]);
    let doc: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/v1/openapi.json", s.url))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    // Every declared path parameter appears in its path, and the other way round.
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path} declares path parameter {name}"
                    );
                }
            }
        }
    }
    let q = &doc["paths"]["/v1/query"]["post"]["parameters"][0];
    assert_eq!(
        (q["name"].as_str(), q["in"].as_str()),
        (Some("format"), Some("query"))
    );
    // Every answer has a schema: errors the envelope, successes their body with its fields.
    let mut bare = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let rs = op["responses"].as_object().unwrap();
            if op
                .get("security")
                .is_some_and(|s| !s.as_array().unwrap().is_empty())
            {
                assert!(
                    rs.contains_key("401") && rs.contains_key("403"),
                    "{method} {path}"
                );
            }
            for (code, r) in rs {
                let content = r["content"].as_object();
                assert!(
                    content.is_some_and(|c| !c.is_empty()),
                    "{method} {path} {code}: no schema"
                );
                let json = &r["content"]["application/json"]["schema"];
                if code.starts_with('2') && *json == serde_json::json!({"type": "object"}) {
                    bare.push(format!("{method} {path} {code}"));
                }
                if path == "/health" && code == "503" {
                    // Not ready is not an error of the request: the same body, saying why.
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Health"
                    );
                } else if !code.starts_with('2') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
    assert!(bare.is_empty(), "bare objects, not their fields: {bare:?}");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named openapi_spec_validator") {
        assert!(
            std::env::var_os("STOREPULSE_TEST_ALLOW_MISSING_REFS").is_some(),
            "openapi-spec-validator is missing: pip install openapi-spec-validator (.ci/run does)"
        );
        eprintln!("SKIPPED: openapi-spec-validator is not installed");
        return;
    }
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{err}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn accept_headers_choose_the_query_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "r", &["read"], None);
    let s = Server::start(&data, free_port(), &[]);
    let c = reqwest::blocking::Client::new();
    let ask = |accept: &str| {
        let r = c
            .post(format!("{}/v1/query", s.url))
            .bearer_auth(&key)
            .header("accept", accept)
            .json(&serde_json::json!({"sql": "select 1 as one, 'a' as letter"}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    assert_eq!(ask("text/csv"), (200, "one,letter\n1,a\n".to_string()));
    assert_eq!(
        ask("application/json"),
        (200, "[{\"one\":1,\"letter\":\"a\"}]\n".to_string())
    );
    assert_eq!(
        ask("*/*"),
        (200, "{\"one\":1,\"letter\":\"a\"}\n".to_string())
    );
    let (status, body) = ask("text/html");
    assert_eq!(status, 406, "{body}");
    assert!(body.contains("not_acceptable"), "{body}");
}

#[test]
fn a_revoked_key_is_refused_by_the_running_server_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = create_key(&data, "boss", &["admin"], None);
    let doomed = create_key(&data, "leaky", &["read"], None);
    let s = Server::start(&data, free_port(), &[]);
    let c = reqwest::blocking::Client::new();
    let stats = |key: &str| {
        c.get(format!("{}/v1/stats", s.url))
            .bearer_auth(key)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(stats(&doomed), 200);
    let typo = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["keys", "revoke", "leakky"])
        .output()
        .unwrap();
    assert!(!typo.status.success());
    let err = String::from_utf8_lossy(&typo.stderr);
    assert!(err.contains("did you mean leaky?"), "{err}");
    assert_eq!(stats(&doomed), 200, "a failed revoke changes nothing");
    common::sp(&data, &["keys", "revoke", "leaky"]);
    assert_eq!(stats(&doomed), 401, "revoked");
    assert_eq!(stats(&admin), 200, "the other key still works");
    let audit: serde_json::Value = c
        .get(format!("{}/v1/audit?action=revoke_key", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["entries"][0]["details"]["name"], "leaky", "{audit}");
}

#[test]
fn bench_ingest_writes_into_a_scratch_shop_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "bench", &["ingest"], None);
    let mut s = Server::start(&data, free_port(), &[]);
    let out = std::process::Command::new(common::BIN)
        .args(["bench", "ingest", "--url", &s.url, "--key", &key])
        .args(["--events", "3000", "--batch", "500", "--concurrency", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("shop `bench`"),
        "it says where the events go: {err}"
    );
    assert!(s.stop());
    let shops: Vec<String> = std::fs::read_dir(data.join("lake/behavior"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(shops, vec!["shop=bench".to_string()]);
    assert_eq!(common::lake_event_ids(&data).len(), 3000);
}

#[test]
fn keys_list_shows_when_each_key_was_last_used() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let used = create_key(&data, "used", &["read"], None);
    create_key(&data, "idle", &["read"], None);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let s = Server::start(&data, free_port(), &[]);
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/v1/stats", s.url))
        .bearer_auth(&used)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = sp(&data, &["keys", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = |name: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .map(|k| k["last_used_ms"].clone())
            .unwrap()
    };
    let t = last("used").as_i64().expect("the used key has a last use");
    assert!(t >= before - 1000, "{t} vs {before}");
    assert!(last("idle").is_null(), "{keys}");
    let table = String::from_utf8(sp(&data, &["keys", "list"]).stdout).unwrap();
    let idle = table.lines().find(|l| l.starts_with("idle")).unwrap();
    assert!(idle.ends_with("never"), "{table}");
}
