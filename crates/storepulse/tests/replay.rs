//! `storepulse replay` end to end: the lake (even with overlapping files) gives what the file
//! gives, results land in the lake's results table, and hot-items equals DuckDB's SQL answer.

mod common;

use common::sp;
use std::path::{Path, PathBuf};
use std::process::Command;

fn gen_csv(dir: &Path, events: &str) -> PathBuf {
    let csv = dir.join("events.csv");
    sp(
        dir,
        &[
            "gen",
            "--events",
            events,
            "--days",
            "2",
            "--seed",
            "3",
            "--out",
            csv.to_str().unwrap(),
        ],
    );
    csv
}

fn replay_to(data: &Path, job: &str, from: &str, out: &Path) -> String {
    let mut args = vec![
        "--timezone",
        "+08:00",
        "replay",
        job,
        "--from",
        from,
        "--quiet",
    ];
    if from != "lake" {
        args.extend(["--format", "taobao"]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    sp(data, &args);
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn replay_from_the_lake_equals_replay_from_the_file_even_with_overlapping_lake_files() {
    let dir = tempfile::tempdir().unwrap();
    let csv = gen_csv(dir.path(), "120K");
    // Two imports of interleaved halves: every day partition gets files that overlap in time.
    let text = std::fs::read_to_string(&csv).unwrap();
    let (mut even, mut odd) = (String::new(), String::new());
    for (i, l) in text.lines().enumerate() {
        let half = if i % 2 == 0 { &mut even } else { &mut odd };
        half.push_str(l);
        half.push('\n');
    }
    let data = dir.path().join("data");
    for (name, body) in [("even.csv", &even), ("odd.csv", &odd)] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        sp(
            &data,
            &[
                "--timezone",
                "+08:00",
                "import",
                p.to_str().unwrap(),
                "--format",
                "taobao",
                "--quiet",
            ],
        );
    }
    for job in ["hot-items", "kpis", "uv", "sessions", "channel-stats"] {
        let lake = replay_to(
            &data,
            job,
            "lake",
            &dir.path().join(format!("{job}-lake.ndjson")),
        );
        let file = replay_to(
            &data,
            job,
            csv.to_str().unwrap(),
            &dir.path().join(format!("{job}-file.ndjson")),
        );
        assert!(lake.lines().count() > 10, "{job}: {lake}");
        assert_eq!(lake, file, "{job}: lake and file replays differ");
        assert!(
            !lake.contains(r#""kind":"late""#),
            "{job}: the merged scan is in time order"
        );
    }
}

#[test]
fn saved_results_land_in_the_lake_results_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = gen_csv(dir.path(), "20K");
    let data = dir.path().join("data");
    let out = sp(
        &data,
        &[
            "--json",
            "replay",
            "hot-items",
            "--from",
            csv.to_str().unwrap(),
            "--format",
            "taobao",
            "--quiet",
            "--save",
        ],
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let emissions = summary["emissions"].as_u64().unwrap();
    assert!(emissions > 0);
    let mut files = Vec::new();
    let mut stack = vec![data.join("lake/results")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    assert!(!files.is_empty());
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|x| x == "parquet"))
    );
    let rows: i64 = files
        .iter()
        .map(|f| {
            let r =
                parquet::file::reader::SerializedFileReader::new(std::fs::File::open(f).unwrap())
                    .unwrap();
            parquet::file::reader::FileReader::metadata(&r)
                .file_metadata()
                .num_rows()
        })
        .sum();
    // Top 5 items, one metric each, per window (windows with fewer items have fewer rows).
    assert!(
        rows as u64 <= emissions * 5 && rows as u64 >= emissions,
        "{rows} rows for {emissions}"
    );
}

#[test]
fn hot_items_equal_duckdb_sql_over_the_same_csv() {
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
    let csv = gen_csv(dir.path(), "300K");
    let ours = dir.path().join("hot.csv");
    sp(
        dir.path(),
        &[
            "replay",
            "hot-items",
            "--from",
            csv.to_str().unwrap(),
            "--format",
            "taobao",
            "--quiet",
            "--out",
            ours.to_str().unwrap(),
        ],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/hot_items_duckdb.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&csv)
        .arg(&ours)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("identical"), "{text}");
}
