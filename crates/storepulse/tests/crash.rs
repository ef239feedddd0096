//! Crash safety: an importing child process is killed with SIGKILL at random moments; after each
//! kill the lake must hold every acknowledged batch exactly once, and a re-run must resume and
//! finish with every row exactly once.

mod common;

use common::seeded_rng;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use store::reader::Scan;

const ROWS: u64 = 1_000_000;

/// Item ids in the lake (each input line has a unique item id = its 0-based line number).
fn lake_items(data: &Path) -> Vec<i64> {
    let store = store::Store::open(store::StoreConfig::new(data)).expect("reopen after crash");
    let mut scan = Scan::table(model::EventType::Behavior);
    scan.columns = Some(vec!["item_id".into()]);
    let mut out = Vec::new();
    for b in store.scan(scan) {
        let b = b.unwrap().batch;
        let col = b
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        out.extend(col.values().iter().copied());
    }
    out
}

fn check_exactly_once(data: &Path, acked: u64) -> usize {
    let items = lake_items(data);
    let unique: HashSet<i64> = items.iter().copied().collect();
    assert_eq!(unique.len(), items.len(), "a row is stored twice");
    for i in 0..acked as i64 {
        assert!(
            unique.contains(&i),
            "acknowledged row {i} is missing (acked {acked})"
        );
    }
    items.len()
}

#[test]
fn killed_imports_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ub.csv");
    let data = dir.path().join("data");
    let body: String = (0..ROWS)
        .map(|i| {
            format!(
                "{},{i},{},pv,{}\n",
                i % 5000,
                i % 97,
                1_511_658_000 + i / 50
            )
        })
        .collect();
    std::fs::write(&file, body).unwrap();
    let mut next = seeded_rng("crash test");
    let mut acked_total = 0u64;
    let mut rounds_killed = 0;
    for round in 0..8 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_storepulse"))
            .arg("--data-dir")
            .arg(&data)
            .args([
                "import",
                file.to_str().unwrap(),
                "--format",
                "taobao",
                "--rows-per-commit",
                "9000",
                "--print-acks",
                "--quiet",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line
                    .strip_prefix("ack records=")
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
                {
                    last = n;
                    let _ = tx.send(n);
                }
            }
            last
        });
        // Kill at a random acknowledged batch (the first round before any), then a random few
        // milliseconds later, so the kill lands mid-import whatever the machine's speed.
        if round > 0 {
            let remaining = ROWS.saturating_sub(acked_total);
            let target = acked_total + 1 + next() % (remaining / 3).max(1);
            while let Ok(n) = rx.recv_timeout(Duration::from_secs(60)) {
                if n >= target {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_micros(next() % 20_000));
        let killed = child.try_wait().unwrap().is_none();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let acked = reader.join().unwrap();
        acked_total = acked_total.max(acked);
        rounds_killed += usize::from(killed);
        let stored = check_exactly_once(&data, acked_total);
        eprintln!("round {round}: killed={killed} acked={acked_total} stored={stored}");
        if !killed {
            break;
        }
    }
    assert!(
        rounds_killed >= 3,
        "the child should have been killed mid-import several times"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_storepulse"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "import",
            file.to_str().unwrap(),
            "--format",
            "taobao",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(check_exactly_once(&data, ROWS), ROWS as usize);
}
