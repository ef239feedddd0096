//! The real binary in fresh temp dirs: imports of every real sample, stats, quarantine replay,
//! and the lake read by DuckDB as an independent reader.

mod common;

use common::sp;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn datasets() -> Option<PathBuf> {
    // ../shared/datasets next to the project (STOREPULSE_DATASETS overrides).
    let p = std::env::var_os("STOREPULSE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: data sets not found at {}", p.display());
        None
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn every_real_sample_imports_with_exact_counts() {
    let Some(ds) = datasets() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let cases: [(&str, &str, &str, u64); 8] = [
        (
            "taobao_userbehavior/UserBehavior.csv",
            "taobao",
            "behavior",
            110_300,
        ),
        ("course_logs/apache.log", "access-log", "page_view", 10_000),
        ("course_logs/AdClickLog.csv", "ad-click", "ad_click", 143),
        ("course_logs/LoginLog.csv", "login", "login", 50),
        ("course_logs/LoginLog_v20200605.csv", "login", "login", 48),
        ("course_logs/OrderLog.csv", "order", "order", 78),
        ("course_logs/ReceiptLog.csv", "receipt", "payment", 40),
        (
            "online_retail/online_retail.csv.gz",
            "online-retail",
            "order",
            541_909,
        ),
    ];
    let mut want: std::collections::BTreeMap<&str, u64> = Default::default();
    for (file, format, table, rows) in cases {
        let path = ds.join(file);
        let r = json(&sp(
            data,
            &[
                "--json",
                "import",
                path.to_str().unwrap(),
                "--format",
                format,
            ],
        ));
        assert_eq!(r[0]["imported"], rows, "{file}");
        assert_eq!(
            r[0]["quarantined"],
            serde_json::json!({}),
            "{file} has no rejects"
        );
        *want.entry(table).or_default() += rows;
    }
    let s = json(&sp(
        data,
        &["--json", "--timezone", "+08:00", "stats", "--exact"],
    ));
    for (table, rows) in want {
        assert_eq!(s["tables"][table]["rows"], rows, "{table}");
    }
    let b = &s["tables"]["behavior"]["kinds"];
    assert_eq!(
        (
            b["pv"].as_u64(),
            b["cart"].as_u64(),
            b["fav"].as_u64(),
            b["buy"].as_u64()
        ),
        (Some(98_361), Some(6_063), Some(3_383), Some(2_493))
    );
    assert_eq!(
        (s["distinct_users"].as_u64(), s["distinct_items"].as_u64()),
        (Some(66_454), Some(84_793))
    );
    assert_eq!(
        s["catalog_items"], 4_070,
        "Online Retail's distinct stock codes"
    );
    let cancels = &s["tables"]["order"]["kinds"]["cancel"];
    assert_eq!(
        cancels.as_u64(),
        Some(9_288),
        "C invoices are kept and marked"
    );
}

#[test]
fn quarantined_rows_replay_after_the_rules_are_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("ub.csv");
    // 3 rows before 2017-11-26 03:00:01 UTC, 2 at or after it, one broken for good.
    std::fs::write(&file, "1,1,1,pv,1511658000\n2,2,1,pv,1511661600\n3,3,1,buy,1511665200\n4,4,1,pv,1511665201\n5,5,1,cart,1511700000\nx,y\n").unwrap();
    let strict = Command::new(env!("CARGO_BIN_EXE_storepulse"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--json",
            "import",
            file.to_str().unwrap(),
            "--format",
            "taobao",
        ])
        .env("STOREPULSE_VALIDATION__MIN_TS", "2017-11-26T03:00:01Z")
        .output()
        .unwrap();
    assert!(
        strict.status.success(),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
    let r = json(&strict);
    assert_eq!(r[0]["imported"], 2);
    assert_eq!(
        r[0]["quarantined"],
        serde_json::json!({"ts_out_of_range": 3, "column_count": 1})
    );
    let listed = json(&sp(
        &data,
        &[
            "--json",
            "quarantine",
            "list",
            "--reason",
            "ts_out_of_range",
        ],
    ));
    let lines: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 2, 3]);
    assert_eq!(listed[0]["raw"], "1,1,1,pv,1511658000");
    let replay = json(&sp(&data, &["--json", "quarantine", "replay"]));
    assert_eq!(
        replay,
        serde_json::json!({"imported": 3, "still_quarantined": 1})
    );
    let s = json(&sp(&data, &["--json", "stats"]));
    assert_eq!(s["tables"]["behavior"]["rows"], 5);
    let left = json(&sp(&data, &["--json", "quarantine", "list"]));
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(
        (left[0]["reason"].as_str(), left[0]["line"].as_u64()),
        (Some("column_count"), Some(6))
    );
}

#[test]
fn duckdb_reads_the_lake_as_is() {
    let Some(ds) = datasets() else { return };
    let has_duckdb = Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_duckdb {
        eprintln!(
            "skipping: python3 with the duckdb package is not available (pip install duckdb)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let ub = ds.join("taobao_userbehavior/UserBehavior.csv");
    sp(
        data,
        &[
            "--timezone",
            "+08:00",
            "import",
            ub.to_str().unwrap(),
            "--format",
            "taobao",
            "--shop",
            "tb",
            "--rows-per-commit",
            "30000",
        ],
    );
    let script = r#"
import duckdb, json, sys
lake = sys.argv[1]
con = duckdb.connect()
rows = con.execute(f"""
  select action, count(*), count(distinct user_id), epoch_ms(min(ts)), epoch_ms(max(ts)), min(shop), min(dt)::varchar
  from read_parquet('{lake}/lake/behavior/**/*.parquet', hive_partitioning=true)
  group by action order by action""").fetchall()
total = con.execute(f"select count(*), count(distinct user_id), count(distinct item_id), count(distinct category_id) from read_parquet('{lake}/lake/behavior/**/*.parquet', hive_partitioning=true)").fetchone()
print(json.dumps({"by_action": [list(r) for r in rows], "total": list(total)}))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(
        v["total"],
        serde_json::json!([110_300, 66_454, 84_793, 3_913])
    );
    let counts: Vec<(String, u64)> = v["by_action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap()))
        .collect();
    assert_eq!(
        counts,
        [
            ("buy".into(), 2_493),
            ("cart".into(), 6_063),
            ("fav".into(), 3_383),
            ("pv".into(), 98_361)
        ]
    );
    assert_eq!(v["by_action"][0][5], "tb");
    assert_eq!(
        v["by_action"][0][6], "2017-11-26",
        "hive dt partition in UTC+8"
    );
    // Event times are UTC instants: compare with the file's own unix seconds.
    let text = std::fs::read_to_string(&ub).unwrap();
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for line in text.lines() {
        let ts: i64 = line.rsplit(',').next().unwrap().parse().unwrap();
        (min, max) = (min.min(ts * 1000), max.max(ts * 1000));
    }
    let rows = v["by_action"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r[3].as_i64().unwrap()).min(), Some(min));
    assert_eq!(rows.iter().map(|r| r[4].as_i64().unwrap()).max(), Some(max));
}

/// Rows of the lake, from `stats --json`.
fn lake_rows(data: &Path) -> u64 {
    let s = json(&sp(data, &["--json", "stats"]));
    s["tables"]
        .as_object()
        .map(|ts| ts.values().map(|t| t["rows"].as_u64().unwrap_or(0)).sum())
        .unwrap_or_else(|| panic!("no tables in {s}"))
}

#[test]
fn retention_says_what_it_drops_and_never_empties_the_lake_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // Five days of 2017 (Taobao format: user, item, category, action, unix seconds), 10 a day.
    let csv = data.join("ub.csv");
    let mut text = String::new();
    for day in 0..5i64 {
        for i in 0..10i64 {
            let ts = 1_511_654_400 + day * 86_400 + i * 60;
            text.push_str(&format!("{},{},{},pv,{ts}\n", i + 1, 100 + i, 7));
        }
    }
    std::fs::write(&csv, text).unwrap();
    sp(
        data,
        &["import", csv.to_str().unwrap(), "--format", "taobao"],
    );
    assert_eq!(lake_rows(data), 50);

    // The README's old example over old data: refused, with the way out, and nothing dropped.
    let out = Command::new(env!("CARGO_BIN_EXE_storepulse"))
        .arg("--data-dir")
        .arg(data)
        .args(["compact", "--retention-days", "365"])
        .env_remove("STOREPULSE_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "retention emptying the lake must fail"
    );
    assert!(
        err.contains("would drop every row") && err.contains("--retention-from newest"),
        "{err}"
    );
    assert_eq!(lake_rows(data), 50);

    // A dry run lists what would go and changes nothing.
    let dry = sp(
        data,
        &[
            "compact",
            "--retention-days",
            "2",
            "--retention-from",
            "newest",
            "--dry-run",
        ],
    );
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("days before 2017-11-28 would drop — 2 partitions, 20 rows; 30 rows kept"),
        "{text}"
    );
    assert!(text.contains("2017-11-26 .. 2017-11-27"), "{text}");
    assert_eq!(lake_rows(data), 50);
    let plan = json(&sp(
        data,
        &[
            "--json",
            "compact",
            "--retention-days",
            "2",
            "--retention-from",
            "newest",
            "--dry-run",
        ],
    ));
    assert_eq!(plan["retention"]["rows"], 20, "{plan}");
    assert_eq!(plan["retention"]["cutoff_dt"], "2017-11-28", "{plan}");

    // Relative to the newest event it keeps the data's last days.
    let r = json(&sp(
        data,
        &[
            "--json",
            "compact",
            "--retention-days",
            "2",
            "--retention-from",
            "newest",
        ],
    ));
    assert_eq!(
        (r["partitions_dropped"].as_u64(), r["rows_dropped"].as_u64()),
        (Some(2), Some(20))
    );
    assert_eq!(lake_rows(data), 30);

    // --force does what it is told.
    sp(data, &["compact", "--retention-days", "365", "--force"]);
    assert_eq!(lake_rows(data), 0);
}

// ---- Input edges: byte order marks, duplicate keys, broken .gz, all-rejected imports,
// ---- content fingerprints and CSV headers.

/// Runs the binary and requires it to fail; returns its stderr.
fn sp_err(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_storepulse"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("STOREPULSE_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "storepulse {args:?} should fail: {err}"
    );
    err
}

/// Rows stored in the lake, all tables.
fn stored_rows(data: &Path) -> u64 {
    let s = json(&sp(data, &["--json", "stats"]));
    s["tables"]
        .as_object()
        .map_or(0, |ts| ts.values().filter_map(|t| t["rows"].as_u64()).sum())
}

fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn import_json(data: &Path, file: &Path, format: &str) -> serde_json::Value {
    let r = json(&sp(
        data,
        &[
            "--json",
            "import",
            file.to_str().unwrap(),
            "--format",
            format,
            "-q",
        ],
    ));
    r[0].clone()
}

fn login_row(user: u32) -> String {
    format!(r#"{{"type":"login","ts":1558430815,"user_id":{user},"result":"fail"}}"#)
}

#[test]
fn a_byte_order_mark_does_not_cost_the_first_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let nd = dir.path().join("e.ndjson");
    let rows: Vec<String> = (1..=3).map(login_row).collect();
    std::fs::write(&nd, format!("\u{feff}{}\n", rows.join("\n"))).unwrap();
    let r = import_json(&data, &nd, "ndjson");
    assert_eq!(
        (&r["imported"], &r["quarantined"]),
        (&3.into(), &serde_json::json!({}))
    );
    let csv = dir.path().join("ub.csv.gz");
    std::fs::write(
        &csv,
        gzip(
            b"\xef\xbb\xbf1,2,3,pv,1511658000\n4,5,6,buy,1511658001\n",
            6,
        ),
    )
    .unwrap();
    let r = import_json(&data, &csv, "taobao");
    assert_eq!(
        (&r["imported"], &r["quarantined"]),
        (&2.into(), &serde_json::json!({}))
    );
}

#[test]
fn a_key_named_twice_is_quarantined_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let nd = dir.path().join("e.ndjson");
    let dup = r#"{"type":"login","ts":1558430815,"user_id":3,"result":"fail","result":"success"}"#;
    std::fs::write(&nd, format!("{}\n{dup}\n{}\n", login_row(1), login_row(2))).unwrap();
    let r = import_json(&data, &nd, "ndjson");
    assert_eq!(r["imported"], 2);
    assert_eq!(r["quarantined"], serde_json::json!({"duplicate_field": 1}));
    let q = json(&sp(
        &data,
        &[
            "--json",
            "quarantine",
            "list",
            "--reason",
            "duplicate_field",
        ],
    ));
    assert_eq!(
        (q[0]["line"].as_u64(), q[0]["raw"].as_str()),
        (Some(2), Some(dup))
    );
    assert!(q.to_string().contains("result"), "{q}");
}

#[test]
fn a_truncated_gz_stores_what_decodes_fails_loudly_and_the_repaired_file_resumes() {
    let Some(ds) = datasets() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ub = std::fs::read(ds.join("taobao_userbehavior/UserBehavior.csv")).unwrap();
    let whole = gzip(&ub, 6);
    let gz = dir.path().join("ub.csv.gz");
    std::fs::write(&gz, &whole[..whole.len() / 2]).unwrap();
    let args = ["import", gz.to_str().unwrap(), "--format", "taobao", "-q"];
    let err = sp_err(&data, &args);
    assert!(
        err.contains("truncated") && err.contains("broke off after record"),
        "{err}"
    );
    assert!(err.contains("resumes after record"), "{err}");
    let at: u64 = err
        .split("broke off after record ")
        .nth(1)
        .and_then(|t| t.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record number in {err}"));
    assert!(at > 10_000 && at < 110_300, "{at}");
    assert!(err.contains(&format!("{at} imported")), "{err}");
    assert_eq!(stored_rows(&data), at, "every complete row before the cut");
    // The same broken file again: nothing new, the same loud failure.
    assert!(sp_err(&data, &args).contains(&format!("broke off after record {at}")));
    assert_eq!(stored_rows(&data), at);

    // The repaired file resumes after the last stored row: nothing twice.
    std::fs::write(&gz, &whole).unwrap();
    let r = import_json(&data, &gz, "taobao");
    assert_eq!(
        (r["resumed_from"].as_u64(), r["imported"].as_u64()),
        (Some(at), Some(110_300 - at))
    );
    assert_eq!(stored_rows(&data), 110_300);
    assert_eq!(import_json(&data, &gz, "taobao")["already_imported"], true);

    // Trailing garbage: every row is stored, then the import fails; without it, it completes.
    let data2 = dir.path().join("data2");
    let tail = dir.path().join("tail.csv.gz");
    std::fs::write(&tail, [whole.as_slice(), b"garbage!"].concat()).unwrap();
    let err = sp_err(
        &data2,
        &["import", tail.to_str().unwrap(), "--format", "taobao"],
    );
    assert!(
        err.contains("8 bytes that are not gzip follow the last complete gzip member"),
        "{err}"
    );
    assert!(err.contains("110300 imported"), "{err}");
    assert_eq!(stored_rows(&data2), 110_300);
    std::fs::write(&tail, &whole).unwrap();
    let r = import_json(&data2, &tail, "taobao");
    assert_eq!(
        (r["resumed_from"].as_u64(), r["imported"].as_u64()),
        (Some(110_300), Some(0))
    );
    assert_eq!(stored_rows(&data2), 110_300);
}

#[test]
fn an_import_that_rejects_every_row_fails_and_keeps_the_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "1,2,3,pv,yesterday\nx,y\n1,2,3,pv,soon\n").unwrap();
    let err = sp_err(
        &data,
        &["import", bad.to_str().unwrap(), "--format", "taobao"],
    );
    assert!(
        err.contains("every row of") && err.contains("was rejected"),
        "{err}"
    );
    assert!(err.contains("bad_timestamp 2, column_count 1"), "{err}");
    assert!(err.contains("storepulse quarantine list --source"), "{err}");
    let q = json(&sp(&data, &["--json", "quarantine", "list"]));
    assert_eq!(
        q.as_array().map(Vec::len),
        Some(3),
        "the rejects stay quarantined"
    );
    // One good row makes it a partial reject: success.
    std::fs::write(&bad, "1,2,3,pv,1511658000\nx,y\n").unwrap();
    let r = import_json(&data, &bad, "taobao");
    assert_eq!(
        (r["imported"].as_u64(), r["records"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn a_file_and_its_gzips_are_one_import() {
    let Some(ds) = datasets() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ub = std::fs::read(ds.join("taobao_userbehavior/UserBehavior.csv")).unwrap();
    let gz9 = dir.path().join("ub9.csv.gz");
    std::fs::write(&gz9, gzip(&ub, 9)).unwrap();
    assert_eq!(import_json(&data, &gz9, "taobao")["imported"], 110_300);
    let plain = dir.path().join("ub.csv");
    std::fs::write(&plain, &ub).unwrap();
    // The .gz's content, compressed again at another level.
    let gz1 = dir.path().join("ub1.gz");
    let content = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&gz9)
        .output()
        .map(|o| o.stdout)
        .unwrap_or_else(|_| ub.clone());
    std::fs::write(&gz1, gzip(&content, 1)).unwrap();
    for f in [&plain, &gz1, &gz9] {
        let r = import_json(&data, f, "taobao");
        assert_eq!(r["already_imported"], true, "{}", f.display());
    }
    assert_eq!(stored_rows(&data), 110_300);
}

#[test]
fn a_csv_header_is_no_row_and_quarantine_lines_are_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("logins.csv");
    std::fs::write(
        &csv,
        "type,ts,user_id,result\nlogin,1558430815,1,fail\nlogin,never,2,fail\nlogin,1558430815,3,fail\n",
    )
    .unwrap();
    let r = import_json(&data, &csv, "csv");
    assert_eq!(
        (r["records"].as_u64(), r["imported"].as_u64()),
        (Some(3), Some(2))
    );
    let q = json(&sp(&data, &["--json", "quarantine", "list"]));
    assert_eq!(
        (q[0]["line"].as_u64(), q[0]["raw"].as_str()),
        (Some(3), Some("login,never,2,fail"))
    );
}
