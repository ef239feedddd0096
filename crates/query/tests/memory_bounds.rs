//! Every query's memory is bounded — values that functions build, constants, results, several
//! queries at once — and planning is bounded in time (issue 14, defect 5).
//!
//! The tests measure the process's peak RSS, so they take turns.

mod common;

use common::*;
use query::{Engine, Limits, QueryError, Scope};
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use storepulse_query as query;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn small_lake() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        bev("a", D0, 1, 10, "pv"),
        bev("a", D0 + 60, 1, 10, "buy"),
        bev("b", D0 + DAY, 2, 20, "cart"),
    ];
    let data = lake(dir.path(), "UTC", &lines);
    (dir, data)
}

fn with_memory(data: &std::path::Path, memory_mib: usize) -> Engine {
    Engine::new(
        data,
        Limits {
            memory_mib,
            ..Limits::default()
        },
    )
    .unwrap()
}

fn status_kib(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// How far the process's resident memory rose above where it was while `f` ran, in MiB.
fn rss_growth_mib<T>(f: impl FnOnce() -> T) -> (T, u64) {
    // Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
    let peak_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let out = f();
    let after = if peak_reset {
        status_kib("VmHWM:")
    } else {
        status_kib("VmRSS:")
    };
    (out, after.saturating_sub(before) / 1024)
}

fn memory_error(r: Result<Vec<Vec<serde_json::Value>>, QueryError>, what: &str) -> String {
    match r {
        Ok(rows) => panic!("{what}: expected the memory error, got {} rows", rows.len()),
        Err(e) => {
            assert_eq!(e.code(), "query_memory_limit", "{what}: {e}");
            e.to_string()
        }
    }
}

#[test]
fn functions_that_build_huge_values_are_refused_before_they_allocate() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (_d, data) = small_lake();
    let e = engine(&data);
    let doubling = {
        // Each level doubles the value: 2^22 KB = 4 GiB at the end.
        let mut q = "WITH t0 AS (SELECT repeat('x', 1000) AS s)".to_string();
        for i in 1..=22 {
            q += &format!(", t{i} AS (SELECT s || s AS s FROM t{})", i - 1);
        }
        q + " SELECT length(s) FROM t22"
    };
    let concat_doubling = doubling.replace("s || s", "concat(s, s)");
    let queries = [
        "SELECT length(repeat('x', 2000000000))".to_string(),
        "SELECT length(lpad('x', 2000000000, 'y'))".into(),
        "SELECT length(rpad('x', 2000000000))".into(),
        "SELECT length(repeat(action, 1000000000)) FROM behavior".into(),
        "SELECT length(replace(repeat('x', 200000), 'x', repeat('y', 200000)))".into(),
        "SELECT length(regexp_replace(repeat('x', 200000), 'x', repeat('y', 200000), 'g'))"
            .into(),
        "SELECT length(overlay(repeat('x', 200000) placing repeat('y', 200000) from 2))".into(),
        "SELECT length(encode(encode(encode(encode(encode(encode(repeat('x', 100000), 'hex'), 'hex'), 'hex'), 'hex'), 'hex'), 'hex'))".into(),
        doubling,
        concat_doubling,
    ];
    for q in queries {
        let t = Instant::now();
        let (r, grew) = rss_growth_mib(|| sql(&e, Scope::all(), &q));
        let msg = memory_error(r, &q);
        assert!(msg.contains("query.memory_mib"), "{msg}");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{q}: {:?}",
            t.elapsed()
        );
        assert!(grew < 300, "{q}: the process grew {grew} MiB");
    }
    let msg = memory_error(
        sql(&e, Scope::all(), "SELECT length(repeat('x', 2000000000))"),
        "repeat",
    );
    assert!(msg.contains("repeat would build a value of"), "{msg}");
    // DataFusion's array and series builders are not built in.
    for q in [
        "SELECT array_repeat('x', 1000000000)",
        "SELECT make_array(1, 2)",
        "SELECT range(1, 1000000000)",
        "SELECT generate_series(1, 1000000000)",
    ] {
        let err = sql(&e, Scope::all(), q).unwrap_err();
        assert_eq!(err.code(), "invalid_query", "{q}: {err}");
    }
    // Aggregates that gather rows count them in the pool.
    let tight = with_memory(&data, 64);
    for q in [
        "SELECT length(string_agg(CAST(value AS VARCHAR), ',')) FROM generate_series(1, 10000000)",
        "SELECT arrow_typeof(array_agg(value)) FROM generate_series(1, 10000000)",
    ] {
        let (r, grew) = rss_growth_mib(|| sql(&tight, Scope::all(), q));
        memory_error(r, q);
        assert!(grew < 300, "{q}: the process grew {grew} MiB");
    }
    // The engine still answers.
    assert_eq!(
        sql(&e, Scope::all(), "SELECT count(*) FROM behavior").unwrap(),
        vec![vec![json!(3)]]
    );
}

#[test]
fn the_guarded_functions_still_compute_what_they_did() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (_d, data) = small_lake();
    let e = engine(&data);
    let rows = sql(
        &e,
        Scope::all(),
        "SELECT repeat('ab', 3), lpad('7', 3, '0'), rpad('a', 3, '-'), concat('a', NULL, 'b'), \
         concat_ws('-', 'a', 'b', 'c'), 'a' || 'b', 'a' || NULL, 'n' || 1, \
         replace('aXa', 'X', 'yy'), regexp_replace('a1b2', '[0-9]', '#', 'g'), \
         overlay('Txxxxas' placing 'hom' from 2 for 4), to_char(DATE '2024-01-02', '%Y/%m'), \
         encode('ab', 'hex'), regexp_match('k=v', '(\\w)=(\\w)')",
    )
    .unwrap();
    assert_eq!(
        rows,
        vec![vec![
            json!("ababab"),
            json!("007"),
            json!("a--"),
            json!("ab"),
            json!("a-b-c"),
            json!("ab"),
            json!(null),
            json!("n1"),
            json!("ayya"),
            json!("a#b#"),
            json!("Thomas"),
            json!("2024/01"),
            json!("6162"),
            json!(["k", "v"]),
        ]]
    );
    // Over columns, grouped by an operator expression that keeps its name.
    let rows = sql(
        &e,
        Scope::all(),
        "SELECT shop || '/' || action AS k, lpad(action, 5, '*'), count(*) FROM behavior \
         GROUP BY shop || '/' || action, lpad(action, 5, '*') ORDER BY k",
    )
    .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![json!("a/buy"), json!("**buy"), json!(1)],
            vec![json!("a/pv"), json!("***pv"), json!(1)],
            vec![json!("b/cart"), json!("*cart"), json!(1)],
        ]
    );
    let rows = sql(
        &e,
        Scope::all(),
        "SELECT * FROM (SELECT shop || action FROM behavior) ORDER BY 1 LIMIT 1",
    )
    .unwrap();
    assert_eq!(rows, vec![vec![json!("abuy")]]);
    // A value well within the limit is fine.
    let rows = sql(&e, Scope::all(), "SELECT length(repeat('x', 100000))").unwrap();
    assert_eq!(rows, vec![vec![json!(100000)]]);
}

#[test]
fn constants_repeated_over_batches_and_huge_results_fail_with_the_memory_error() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (_d, data) = small_lake();
    let e = with_memory(&data, 256);
    // Each constant is small, but every batch of the result holds 8192 copies of each.
    let cols: Vec<String> = (0..40)
        .map(|i| format!("repeat('{}', 30000) AS c{i}", i % 10))
        .collect();
    let q = format!(
        "SELECT {} FROM generate_series(1, 1000000)",
        cols.join(", ")
    );
    let (r, grew) = rss_growth_mib(|| sql(&e, Scope::all(), &q));
    let msg = memory_error(r, "constants");
    assert!(msg.contains("computed constants"), "{msg}");
    assert!(grew < 300, "constants: the process grew {grew} MiB");
    // A result bigger than the limit, gathered whole.
    let q = "SELECT value, value * 2 AS twice FROM generate_series(1, 100000000)";
    let (r, grew) = rss_growth_mib(|| sql(&e, Scope::all(), q));
    // Whichever consumer asks last is refused: the gathered batches or a buffer upstream.
    memory_error(r, "result");
    assert!(grew < 800, "result: the process grew {grew} MiB");
    // Read batch by batch, the same result streams within the limit.
    let mut rows = e
        .sql_blocking(q.replace("100000000", "3000000").as_str(), Scope::all())
        .unwrap();
    let mut n = 0;
    while let Some(b) = rows.blocking_next() {
        n += b.unwrap().num_rows();
    }
    assert_eq!(n, 3_000_000);
}

#[test]
fn concurrent_queries_share_one_budget() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (_d, data) = small_lake();
    let e = std::sync::Arc::new(engine(&data));
    // Two heavy queries at once are both refused, quickly and without growing the process.
    let (errors, grew) = rss_growth_mib(|| {
        let handles: Vec<_> = [
            "SELECT length(repeat('x', 2000000000))",
            "SELECT length(lpad('x', 2000000000))",
        ]
        .into_iter()
        .map(|q| {
            let e = e.clone();
            std::thread::spawn(move || sql(&e, Scope::all(), q))
        })
        .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for r in errors {
        memory_error(r, "concurrent");
    }
    assert!(grew < 300, "the process grew {grew} MiB");

    // One query's unread result (32 MiB) leaves too little of a shared 64 MiB for another.
    let e = with_memory(&data, 64);
    let q = "SELECT repeat('x', 4000 + value * 0) FROM generate_series(1, 8192)";
    let first = e.sql_blocking(q, Scope::all()).unwrap();
    let msg = memory_error(sql(&e, Scope::all(), q), "second");
    assert!(msg.contains("query.total_memory_mib"), "{msg}");
    drop(first);
    assert_eq!(sql(&e, Scope::all(), q).unwrap().len(), 8192);
}

#[test]
fn planning_is_bounded_by_depth_and_by_the_deadline() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (_d, data) = small_lake();
    let e = engine(&data);
    // 7,000 terms took 49 s of planning; now they are refused before it.
    let deep = format!("SELECT {}", vec!["1"; 7_000].join("+"));
    assert!(deep.len() < 16 * 1024);
    let t = Instant::now();
    let err = sql(&e, Scope::all(), &deep).unwrap_err();
    assert_eq!(err.code(), "query_not_allowed", "{err}");
    assert!(err.to_string().contains("query.max_expr_depth"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Within the depth limit, planning still answers at the deadline.
    let slow = Engine::new(
        &data,
        Limits {
            timeout_secs: 0.2,
            ..Limits::default()
        },
    )
    .unwrap();
    let term = format!("({})", vec!["1"; 900].join("+"));
    let cols: Vec<String> = (0..8).map(|i| format!("{term} AS c{i}")).collect();
    let wide = format!("SELECT {}", cols.join(", "));
    assert!(wide.len() < 16 * 1024);
    let t = Instant::now();
    let err = sql(&slow, Scope::all(), &wide).unwrap_err();
    assert_eq!(err.code(), "query_timeout", "{err}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // And a generous deadline plans it.
    let rows = sql(
        &e,
        Scope::all(),
        &format!("SELECT {}", vec!["1"; 900].join("+")),
    )
    .unwrap();
    assert_eq!(rows, vec![vec![json!(900)]]);
}
