//! Offline analytics end to end: `storepulse query|analyze|report` on a real lake, and the
//! server's `POST /v1/query` (every format, shop scoping, errors), analyses and scheduler.

mod common;

use common::*;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// 2024-01-01T00:00:00Z.
const D0: i64 = 1_704_067_200;

fn events() -> String {
    let mut lines = Vec::new();
    for u in 1..=20i64 {
        let shop = if u % 4 == 0 { "b" } else { "a" };
        let t = D0 + u * 60;
        lines.push(json!({"type":"behavior","shop":shop,"ts":t,"user_id":u,"item_id":100 + u % 3,"category_id":7,"action":"pv"}));
        if u % 2 == 0 {
            lines.push(json!({"type":"behavior","shop":shop,"ts":t + 10,"user_id":u,"item_id":100 + u % 3,"category_id":7,"action":"cart"}));
        }
        if u % 5 == 0 {
            lines.push(json!({"type":"behavior","shop":shop,"ts":t + 20,"user_id":u,"item_id":100 + u % 3,"category_id":7,"action":"buy"}));
        }
    }
    lines
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn lake(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let f = dir.join("events.ndjson");
    std::fs::write(&f, events()).unwrap();
    sp(
        &data,
        &[
            "import",
            f.to_str().unwrap(),
            "--format",
            "ndjson",
            "--quiet",
        ],
    );
    data
}

fn fails(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("STOREPULSE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cli_query_analyze_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path());
    let out = sp(
        &data,
        &[
            "query",
            "SELECT shop, count(*) AS n FROM behavior GROUP BY shop ORDER BY shop",
            "--format",
            "csv",
        ],
    );
    // shop a: 15 users (pv) + 7 carts (even, not multiple of 4: 2,6,10,14,18 → 5... computed below)
    let text = String::from_utf8(out.stdout).unwrap();
    let mut want_a = 0;
    let mut want_b = 0;
    for u in 1..=20 {
        let n = 1 + (u % 2 == 0) as i32 + (u % 5 == 0) as i32;
        if u % 4 == 0 { want_b += n } else { want_a += n }
    }
    assert_eq!(text, format!("shop,n\na,{want_a}\nb,{want_b}\n"));
    let out = sp(
        &data,
        &[
            "query",
            "SELECT count(*) AS n FROM behavior",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, json!([{"n": want_a + want_b}]));
    let pq = dir.path().join("r.parquet");
    sp(
        &data,
        &[
            "query",
            "SELECT * FROM behavior",
            "--format",
            "parquet",
            "--out",
            pq.to_str().unwrap(),
        ],
    );
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&pq).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(
        reader.metadata().file_metadata().num_rows(),
        (want_a + want_b) as i64
    );
    let err = fails(&data, &["query", "DROP TABLE behavior"]);
    assert!(err.contains("read-only"), "{err}");

    let out = sp(
        &data,
        &[
            "--json", "analyze", "funnel", "pv", "cart", "buy", "--window", "1h",
        ],
    );
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    let users: Vec<u64> = a["tables"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[2].as_u64().unwrap())
        .collect();
    // everyone views; even users cart; multiples of 10 cart and buy (5, 15 buy without a cart)
    assert_eq!(users, vec![20, 10, 2]);
    let out = sp(&data, &["analyze", "kpis"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2024-01-01"));
    let err = fails(&data, &["analyze", "funnel"]);
    assert!(err.contains("needs steps"), "{err}");

    let rep = dir.path().join("rep");
    sp(
        &data,
        &[
            "report",
            "daily",
            "--date",
            "2024-01-01",
            "--out",
            rep.to_str().unwrap(),
        ],
    );
    let html = std::fs::read_to_string(rep.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Daily report"));
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained"
    );
    assert!(rep.join("report.json").exists());
    let csvs: Vec<_> = std::fs::read_dir(&rep)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "csv"))
        .collect();
    assert!(csvs.len() >= 6, "a CSV per table: {}", csvs.len());
    let funnel_csv =
        std::fs::read_to_string(rep.join("03-funnel-view-cart-buy-1-day.steps.csv")).unwrap();
    assert!(funnel_csv.starts_with("step,name,users"), "{funnel_csv}");
}

fn wait_rows(c: &Client, url: &str, key: &str, want: u64) {
    let t = Instant::now();
    loop {
        let r: Value = c
            .post(format!("{url}/v1/query?format=json"))
            .bearer_auth(key)
            .body(r#"{"sql":"SELECT count(*) AS n FROM behavior"}"#)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if r[0]["n"].as_u64() == Some(want) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "rows never reached the lake: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn query_endpoint_streams_every_format_scopes_shops_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ingest = create_key(&data, "in", &["ingest"], None);
    let read = create_key(&data, "rd", &["read"], None);
    let read_b = create_key(&data, "rdb", &["read"], Some("b"));
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let r = c
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&ingest)
        .header("content-type", "application/x-ndjson")
        .body(events())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let total = events().lines().count() as u64;
    wait_rows(&c, &s.url, &read, total);

    let q = |key: &str, body: &str, format: &str| {
        c.post(format!("{}/v1/query?format={format}", s.url))
            .bearer_auth(key)
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let body =
        r#"{"sql":"SELECT user_id, action FROM behavior WHERE user_id <= 2 ORDER BY user_id, ts"}"#;
    let r = q(&read, body, "ndjson");
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    assert_eq!(
        r.text().unwrap(),
        "{\"user_id\":1,\"action\":\"pv\"}\n{\"user_id\":2,\"action\":\"pv\"}\n{\"user_id\":2,\"action\":\"cart\"}\n"
    );
    let r = q(&read, body, "csv");
    assert_eq!(r.text().unwrap(), "user_id,action\n1,pv\n2,pv\n2,cart\n");
    let r = q(&read, body, "arrow");
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = r.bytes().unwrap();
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None)
            .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3);

    // A shop-bound key sees only its shop, whatever the SQL says.
    let r: Value = q(
        &read_b,
        r#"{"sql":"SELECT DISTINCT shop FROM behavior"}"#,
        "json",
    )
    .json()
    .unwrap();
    assert_eq!(r, json!([{"shop": "b"}]));

    for (sql, status, code) in [
        (
            "INSERT INTO behavior SELECT * FROM behavior",
            403,
            "query_not_allowed",
        ),
        ("SELECT nope FROM behavior", 400, "invalid_query"),
        (
            "SELECT * FROM read_csv('/etc/passwd')",
            400,
            "invalid_query",
        ),
    ] {
        let r = q(&read, &json!({"sql": sql}).to_string(), "ndjson");
        assert_eq!(r.status().as_u16(), status, "{sql}");
        let e: Value = r.json().unwrap();
        assert_eq!(e["error"]["code"], code, "{sql}: {e}");
    }
    let r = q(&read, "not json", "ndjson");
    assert_eq!(r.status(), 400);

    let r: Value = c
        .post(format!("{}/v1/analyses/funnel", s.url))
        .bearer_auth(&read)
        .body(r#"{"steps":[{"action":"pv"},{"action":"buy"}],"window":"1h"}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["summary"]["converted"], json!(4), "{r}");
    let r: Value = c
        .post(format!("{}/v1/analyses/funnel", s.url))
        .bearer_auth(&read_b)
        .body(r#"{"steps":[{"action":"pv"},{"action":"buy"}],"window":"1h"}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        r["summary"]["entered"],
        json!(5),
        "shop b has users 4, 8, 12, 16, 20: {r}"
    );
    let r = c
        .post(format!("{}/v1/analyses/nope", s.url))
        .bearer_auth(&read)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[test]
fn the_scheduler_runs_reports_logs_runs_and_refuses_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path());
    // As if written by a version without user timelines: the compact job writes them.
    let timelines: Vec<std::path::PathBuf> = store::Manifest::load(&store::manifest_path(&data))
        .unwrap()
        .files
        .iter()
        .filter(|f| f.table == "behavior")
        .map(|f| store::timeline_path(&data, f.seq))
        .collect();
    assert!(!timelines.is_empty());
    for t in &timelines {
        std::fs::remove_file(t).unwrap();
    }
    let admin = create_key(&data, "adm", &["admin"], None);
    let cfg = dir.path().join("storepulse.toml");
    std::fs::write(
        &cfg,
        r#"
[[schedule]]
name = "compact"
cron = "* * * * * *"
task = "compact"

[[schedule]]
name = "weekly"
cron = "0 0 3 * * Mon"
task = "report"
report = "weekly"
days_ago = 0
"#,
    )
    .unwrap();
    let s = Server::start(
        &data,
        free_port(),
        &[("STOREPULSE_CONFIG", cfg.to_str().unwrap())],
    );
    let c = Client::new();
    let jobs: Value = c
        .get(format!("{}/v1/jobs", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");
    let r = c
        .post(format!("{}/v1/jobs/weekly/run", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let t = Instant::now();
    let runs = loop {
        let runs: Value = c
            .get(format!("{}/v1/jobs/runs", s.url))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let done = |job: &str| {
            runs.as_array()
                .unwrap()
                .iter()
                .any(|r| r["job"] == job && r["status"] != "running")
        };
        if done("weekly") && done("compact") {
            break runs;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "runs: {runs}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let weekly = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "weekly")
        .unwrap();
    // Today's week has no events: every section runs on empty data and the report is written.
    assert_eq!(weekly["status"], "ok", "{weekly}");
    assert_eq!(weekly["trigger"], "manual");
    let msg = weekly["message"].as_str().unwrap();
    assert!(
        msg.starts_with("report weekly for ") && msg.contains(" files in "),
        "{weekly}"
    );
    let compact = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "compact" && r["status"] == "ok");
    assert!(compact.is_some(), "{runs}");
    let manifest = store::Manifest::load(&store::manifest_path(&data)).unwrap();
    for f in manifest.files.iter().filter(|f| f.table == "behavior") {
        assert!(
            store::timeline_path(&data, f.seq).is_file(),
            "the compact job wrote the timeline of {}",
            f.path
        );
    }
    let r = c
        .post(format!("{}/v1/jobs/nope/run", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn reports_land_in_postgres_and_mariadb_and_a_rerun_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path());
    let stamp = format!(
        "t{}_{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() % 1_000_000
    );
    for (kind, url) in [
        ("postgres", "postgres://postgres@127.0.0.1:5432/test"),
        ("mariadb", "mysql://root@127.0.0.1:3306/test"),
    ] {
        let prefix = format!("sp_{stamp}_{}_", &kind[..2]);
        let cfg = dir.path().join(format!("{kind}.toml"));
        std::fs::write(
            &cfg,
            format!("[sink]\nurl = \"{url}\"\ntable_prefix = \"{prefix}\"\n"),
        )
        .unwrap();
        let run = || {
            let out = Command::new(BIN)
                .arg("--data-dir")
                .arg(&data)
                .arg("--config")
                .arg(&cfg)
                .args(["report", "daily", "--date", "2024-01-01", "--sink", "--out"])
                .arg(dir.path().join(format!("rep-{kind}")))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{kind}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run();
        let table = format!("{prefix}kpis_days");
        let rows = db_query(kind, &format!("SELECT day, pv, uv FROM {table}"));
        assert_eq!(
            rows.len(),
            7,
            "{kind}: the 7-day KPI section, one row a day: {rows:?}"
        );
        let jan1 = rows.iter().find(|r| r.starts_with("2024-01-01")).unwrap();
        let cols: Vec<&str> = jan1.split(['|', '\t']).collect();
        assert_eq!(&cols[1..], ["20", "20"], "{kind}: {jan1}");
        let steps = db_query(
            kind,
            &format!("SELECT users FROM {prefix}funnel_steps ORDER BY step"),
        );
        assert_eq!(steps, ["20", "10", "2"], "{kind}");
        run();
        let n = db_query(kind, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(n, ["7"], "{kind}: a rerun updates in place");
        for t in [
            "kpis_days",
            "activity_hours",
            "activity_weekdays",
            "funnel_steps",
            "rankings_ranking",
            "repeat_distribution",
        ] {
            db_query(kind, &format!("DROP TABLE IF EXISTS {prefix}{t}"));
        }
    }
}

#[test]
fn live_job_results_are_upserted_into_postgres_as_they_fire() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest", "read"], None);
    let prefix = format!("sp_live_{}_", std::process::id());
    let cfg = dir.path().join("storepulse.toml");
    std::fs::write(&cfg, format!(
        "[live]\njobs = [\"kpis\"]\n\n[sink]\nurl = \"postgres://postgres@127.0.0.1:5432/test\"\ntable_prefix = \"{prefix}\"\nflush_secs = 0.2\n"
    )).unwrap();
    let mut s = Server::start(
        &data,
        free_port(),
        &[("STOREPULSE_CONFIG", cfg.to_str().unwrap())],
    );
    let c = Client::new();
    let r = c
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .body(events())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Pushes the watermark of both shops well past the events' minutes.
    let later = [("a", 1), ("b", 4)].map(|(shop, u)| {
        json!({"type":"behavior","shop":shop,"ts":D0 + 7200,"user_id":u,"item_id":1,"action":"fav"}).to_string()
    }).join("\n");
    c.post(format!("{}/v1/events", s.url))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .body(later)
        .send()
        .unwrap();
    let table = format!("{prefix}live_results");
    let sql = format!(
        "SELECT shop, window_start, value FROM {table} WHERE job = 'kpis' AND kind = 'result' AND key = '1min' AND metric = 'pv'"
    );
    let t = Instant::now();
    let rows = loop {
        let exists = db_query(
            "postgres",
            &format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}'"),
        );
        if exists == ["1"] {
            let rows = db_query("postgres", &sql);
            if rows.len() >= 20 {
                break rows;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "live results never reached the sink"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Every fired minute's pv equals a count from the events themselves.
    let mut nonzero = 0;
    for r in &rows {
        let f: Vec<&str> = r.split('|').collect();
        let start = chrono::DateTime::parse_from_rfc3339(f[1])
            .unwrap()
            .timestamp();
        let want = (1..=20i64)
            .filter(|u| (if u % 4 == 0 { "b" } else { "a" }) == f[0])
            .filter(|u| (start..start + 60).contains(&(D0 + u * 60)))
            .count();
        assert_eq!(f[2].parse::<f64>().unwrap() as usize, want, "{r}");
        nonzero += want;
    }
    assert_eq!(nonzero, 20, "every pv is in exactly one fired minute");
    assert!(s.stop());
    db_query("postgres", &format!("DROP TABLE {table}"));
}
