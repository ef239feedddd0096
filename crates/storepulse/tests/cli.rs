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
