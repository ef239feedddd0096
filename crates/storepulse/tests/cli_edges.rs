//! What a new user hits on the first day, through the real binary: unknown values get a
//! "did you mean" and exit 2 (a usage error, as clap's own), a data dir with no lake is an
//! error rather than a quiet success, and a closed pipe ends a command quietly.

mod common;

use common::{BIN, sp};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the binary expecting failure; (exit code, stderr).
fn fails(data: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("STOREPULSE_CONFIG")
        .output()
        .expect("run storepulse");
    assert!(!out.status.success(), "storepulse {args:?} succeeded");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn small_lake(data: &Path) {
    let csv = data.with_extension("csv");
    let rows: String = (0..5000)
        .map(|i| format!("{},{},7,pv,{}\n", i % 50, i % 300, 1_511_658_000 + i))
        .collect();
    std::fs::write(&csv, rows).unwrap();
    sp(
        data,
        &[
            "import",
            csv.to_str().unwrap(),
            "--format",
            "taobao",
            "--quiet",
        ],
    );
}

#[test]
fn unknown_values_suggest_the_name_meant_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_lake(&data);
    let cases: [(&[&str], &str); 17] = [
        (
            &[
                "gen", "--events", "10", "--format", "lake", "--out", "x.csv",
            ],
            "--out x.csv does not apply",
        ),
        (
            &["import", "x.csv", "--format", "taobao", "--map", "ts=t"],
            "--map does not apply",
        ),
        (
            &[
                "import",
                "x.csv",
                "--format",
                "online-retail",
                "--type",
                "order",
            ],
            "--type does not apply",
        ),
        (&["analyze", "funnel", "pv", "byu"], "did you mean buy?"),
        (
            &["analyze", "rfm", "--window", "1d"],
            "--window does not apply to rfm",
        ),
        (
            &["analyze", "kpis", "pv", "buy"],
            "steps does not apply to kpis",
        ),
        (
            &["replay", "kpis", "--top", "3"],
            "--top does not apply to kpis",
        ),
        (
            &["import", "x.csv", "--format", "tabao"],
            "did you mean taobao?",
        ),
        (&["analyze", "funel"], "did you mean funnel?"),
        (&["replay", "hot-itmes"], "did you mean hot-items?"),
        (&["query", "select 1", "--format", "jsn"], "unknown format"),
        (&["keys", "create", "--scope", "raed"], "did you mean read?"),
        // Flags that do not apply to what was asked are refused, not ignored.
        (
            &["compact", "--retention-from", "newest"],
            "--retention-from applies to retention",
        ),
        (&["compact", "--force"], "--force applies to retention"),
        (
            &["quarantine", "replay", "--limit", "5"],
            "unexpected argument '--limit'",
        ),
        (
            &["report", "--list", "--date", "2017-11-25"],
            "cannot be used with",
        ),
        (
            &[
                "bench", "ingest", "--key", "k", "--from", "e.ndjson", "--run-id", "r",
            ],
            "cannot be used with",
        ),
    ];
    for (args, says) in cases {
        let (code, err) = fails(&data, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
    }
    // A stranger gets the list, but no guess.
    let (code, err) = fails(&data, &["analyze", "zzzzzz"]);
    assert_eq!(code, 2);
    assert!(!err.contains("did you mean"), "{err}");
    assert!(err.contains("available: kpis, funnel"), "{err}");
}

#[test]
fn a_data_dir_without_a_lake_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    for args in [
        &["stats"][..],
        &["quarantine", "list"],
        &["query", "select 1"],
    ] {
        let (code, err) = fails(&missing, args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("nothing-here") && err.contains("--data-dir"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !missing.exists(),
        "a read-only command created the data dir"
    );
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_lake(&data);
    // `storepulse query … | head -c 10`: the reader goes away after a few bytes.
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["query", "select * from behavior", "--format", "csv"])
        .env_remove("STOREPULSE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // stdout is dropped (closed) here.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {err}",
        out.status
    );
}
