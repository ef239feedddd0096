//! Funnels, retention and the daily KPIs on hand-built event sets with known answers.

mod common;

use common::*;
use query::Scope;
use serde_json::{Value, json};
use storepulse_query as query;

fn funnel_events() -> Vec<String> {
    let s = |ts: i64, u: i64, a: &str, ch: &str| bev_ch("default", D0 + ts, u, a, ch);
    vec![
        // u1: pv, cart, buy in 20 s
        s(0, 1, "pv", "app"),
        s(10, 1, "cart", "app"),
        s(20, 1, "buy", "app"),
        // u2: pv, buy, cart: the buy comes before the cart, so only pv → cart
        s(0, 2, "pv", "web"),
        s(10, 2, "buy", "web"),
        s(20, 2, "cart", "web"),
        // u3: the buy lands one second after the 1-day window
        s(0, 3, "pv", "web"),
        s(100, 3, "cart", "web"),
        s(DAY + 1, 3, "buy", "web"),
        // u4: the buy lands exactly on the window's edge (inclusive)
        s(0, 4, "pv", "app"),
        s(10, 4, "cart", "app"),
        s(DAY, 4, "buy", "app"),
        // u5: never views
        s(0, 5, "cart", "app"),
        s(10, 5, "buy", "app"),
        // u6: a fav between pv and cart (fine when ordered, breaks a strict funnel)
        s(0, 6, "pv", "web"),
        s(5, 6, "fav", "web"),
        s(10, 6, "cart", "web"),
        s(20, 6, "buy", "web"),
        // another shop's user: pv, cart, buy in 30 s
        bev_ch("other", D0, 1, "pv", "app"),
        bev_ch("other", D0 + 15, 1, "cart", "app"),
        bev_ch("other", D0 + 30, 1, "buy", "app"),
    ]
}

fn users(a: &query::analysis::Analysis) -> Vec<u64> {
    col(a, "steps", "users")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[test]
fn ordered_and_strict_funnels_count_the_known_users() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path(), "UTC", &funnel_events());
    let e = engine(&data);
    let steps = json!([{"action": "pv"}, {"action": "cart"}, {"action": "buy"}]);
    let ordered = analyze(
        &e,
        "UTC",
        Scope::all(),
        "funnel",
        json!({"steps": steps, "window": "1d"}),
    );
    // entered: u1 u2 u3 u4 u6 + other/u1; cart: the same six; buy: u1 u4 u6 other/u1
    assert_eq!(users(&ordered), vec![6, 6, 4]);
    assert_eq!(
        col(&ordered, "steps", "drop_off"),
        vec![json!(0), json!(0), json!(2)]
    );
    assert_eq!(
        col(&ordered, "steps", "conversion_from_first")[2],
        json!(0.666667)
    );
    // times to buy from pv: 20, 86400, 20, 30 s → median 25 s
    assert_eq!(
        col(&ordered, "steps", "median_seconds_from_first")[2],
        json!(25.0)
    );
    assert_eq!(ordered.summary["converted"], json!(4));

    let strict = analyze(
        &e,
        "UTC",
        Scope::all(),
        "funnel",
        json!({"steps": steps, "window": "1d", "mode": "strict"}),
    );
    // cart right after pv: u1 u3 u4 other/u1; buy right after: u1 u4 other/u1
    assert_eq!(users(&strict), vec![6, 4, 3]);

    let narrow = analyze(
        &e,
        "UTC",
        Scope::all(),
        "funnel",
        json!({"steps": steps, "window": "86399s"}),
    );
    assert_eq!(
        users(&narrow),
        vec![6, 6, 3],
        "u4's buy falls out of a window one second shorter"
    );

    let mine = analyze(
        &e,
        "UTC",
        Scope::shop("default"),
        "funnel",
        json!({"steps": steps, "window": "1d"}),
    );
    assert_eq!(users(&mine), vec![5, 5, 3]);

    let by = analyze(
        &e,
        "UTC",
        Scope::shop("default"),
        "funnel",
        json!({"steps": steps, "window": "1d", "breakdown": "channel"}),
    );
    let t = by.table("breakdown").unwrap();
    let got: Vec<(String, u64, u64)> = t
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_u64().unwrap(),
                r[3].as_u64().unwrap(),
            )
        })
        .collect();
    // web: u2 u3 u6; app: u1 u4 (u5 never entered); larger groups first
    assert_eq!(
        got,
        vec![
            ("web".into(), 1, 3),
            ("web".into(), 2, 3),
            ("web".into(), 3, 1),
            ("app".into(), 1, 2),
            ("app".into(), 2, 2),
            ("app".into(), 3, 2),
        ]
    );
}

#[test]
fn funnel_steps_take_sql_conditions_and_bad_ones_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path(), "UTC", &funnel_events());
    let e = engine(&data);
    let a = analyze(
        &e,
        "UTC",
        Scope::all(),
        "funnel",
        json!({
        "steps": [{"action": "pv", "filter": "channel = 'app'"}, {"action": "buy"}], "window": "1d"}),
    );
    // app pv: u1, u4, other/u1; each buys within the day
    assert_eq!(users(&a), vec![3, 3]);
    let err = try_analyze(
        &e,
        "UTC",
        Scope::all(),
        "funnel",
        json!({
        "steps": [{"filter": "no_such_column = 1"}, {"action": "buy"}]}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "invalid_query", "{err}");
    let err = try_analyze(
        &e,
        "UTC",
        Scope::all(),
        "funnel",
        json!({"steps": [{"action": "pv"}]}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("2 to 32 steps"), "{err}");
    let err = try_analyze(
        &e,
        "UTC",
        Scope::shop("default"),
        "funnel",
        json!({
        "steps": [{"action": "pv"}, {"action": "buy"}], "shop": "other"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "query_not_allowed");
}

#[test]
fn a_ten_step_funnel_walks_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    // user u does the first u actions of a 10-step path (u = 1..=10), one a minute
    for u in 1..=10i64 {
        for k in 0..u {
            lines.push(bev("default", D0 + k * 60, u, 100 + k, "pv"));
        }
    }
    let data = lake(dir.path(), "UTC", &lines);
    let e = engine(&data);
    let steps: Vec<Value> = (0..10)
        .map(|k| json!({"filter": format!("item_id = {}", 100 + k)}))
        .collect();
    let a = analyze(
        &e,
        "UTC",
        Scope::all(),
        "funnel",
        json!({"steps": steps, "window": "1h"}),
    );
    assert_eq!(
        users(&a),
        (1..=10).rev().map(|n| n as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        col(&a, "steps", "median_seconds_from_previous")[9],
        json!(60.0)
    );
}

#[test]
fn retention_cohorts_by_first_seen_day_with_unreached_periods_null() {
    let dir = tempfile::tempdir().unwrap();
    let d = |day: i64, u: i64, a: &str| bev("default", D0 + day * DAY + 3600, u, 1, a);
    let lines = vec![
        d(-1, 5, "pv"), // e: seen the day before the range, so not new on day 0
        d(0, 5, "pv"),
        d(0, 1, "pv"),
        d(1, 1, "pv"),
        d(2, 1, "buy"), // a
        d(0, 2, "pv"),
        d(2, 2, "pv"), // b
        d(0, 3, "pv"), // c
        d(1, 4, "pv"),
        d(2, 4, "cart"), // d
        d(0, 1, "buy"),
    ];
    let data = lake(dir.path(), "UTC", &lines);
    let e = engine(&data);
    let a = analyze(
        &e,
        "UTC",
        Scope::all(),
        "retention",
        json!({"from": "2024-01-01", "to": "2024-01-02", "periods": 2}),
    );
    let t = a.table("retention").unwrap();
    assert_eq!(t.columns, vec!["cohort", "users", "p0", "p1", "p2"]);
    assert_eq!(
        t.rows,
        vec![
            vec![
                json!("2024-01-01"),
                json!(3),
                json!(1.0),
                json!(0.333333),
                json!(0.666667)
            ],
            vec![
                json!("2024-01-02"),
                json!(1),
                json!(1.0),
                json!(1.0),
                Value::Null
            ],
        ]
    );
    // first purchase cohort, returning = buy: a bought on day 0 and day 2
    let b = analyze(
        &e,
        "UTC",
        Scope::all(),
        "retention",
        json!({
        "from": "2024-01-01", "to": "2024-01-01", "cohort": "first_purchase",
        "returning": "buy", "periods": 2}),
    );
    assert_eq!(
        b.table("retention").unwrap().rows,
        vec![vec![
            json!("2024-01-01"),
            json!(1),
            json!(1.0),
            json!(0.0),
            json!(1.0)
        ]]
    );
    // weekly: 2024-01-01 is a Monday, so days 0..2 are one week
    let w = analyze(
        &e,
        "UTC",
        Scope::all(),
        "retention",
        json!({
        "from": "2024-01-01", "to": "2024-01-07", "period": "week", "periods": 1}),
    );
    assert_eq!(
        w.table("retention").unwrap().rows,
        vec![vec![json!("2024-01-01"), json!(4), json!(1.0), Value::Null]]
    );
}

#[test]
fn daily_kpis_match_hand_counts_in_the_lake_zone() {
    let dir = tempfile::tempdir().unwrap();
    // +08:00: 2024-01-01T20:00Z is 2024-01-02 local
    let lines = vec![
        bev("default", D0, 1, 1, "pv"),
        bev("default", D0 + 60, 1, 1, "cart"),
        bev("default", D0 + 120, 1, 1, "buy"),
        bev("default", D0 + 180, 2, 2, "pv"),
        bev("other", D0 + 200, 1, 2, "pv"),
        bev("default", D0 + 20 * 3600, 3, 3, "pv"),
        order("default", D0 + 130, "o1", 1, "create", 50.0),
        order("default", D0 + 140, "o1", 1, "pay", 50.0),
        order("default", D0 + 150, "o2", 2, "create", 30.0),
        order("default", D0 + 160, "o2", 2, "pay", 30.25),
        order("default", D0 + 170, "o3", 2, "cancel", 10.0),
    ];
    let data = lake(dir.path(), "+08:00", &lines);
    let e = engine(&data);
    let a = analyze(&e, "+08:00", Scope::all(), "kpis", json!({}));
    let t = a.table("days").unwrap();
    let row = |day: &str| -> serde_json::Map<String, Value> {
        let r = t.rows.iter().find(|r| r[0] == json!(day)).unwrap();
        t.columns.iter().cloned().zip(r.iter().cloned()).collect()
    };
    let d1 = row("2024-01-01");
    assert_eq!(d1["pv"], json!(3));
    assert_eq!(d1["uv"], json!(3), "user 1 of two shops counts twice");
    assert_eq!(
        (
            d1["carts"].clone(),
            d1["buys"].clone(),
            d1["buyers"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(
        (d1["orders"].clone(), d1["paid_orders"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(d1["gmv"], json!(80.25));
    assert_eq!(d1["aov"], json!(40.13));
    assert_eq!(d1["purchase_conversion"], json!(0.333333));
    let d2 = row("2024-01-02");
    assert_eq!(
        (d2["pv"].clone(), d2["uv"].clone(), d2["gmv"].clone()),
        (json!(1), json!(1), json!(0.0))
    );
    let only = analyze(
        &e,
        "+08:00",
        Scope::all(),
        "kpis",
        json!({"from": "2024-01-02", "shop": "default"}),
    );
    assert_eq!(only.table("days").unwrap().rows.len(), 1);
}

#[test]
fn the_direct_kpi_scan_equals_the_sql_reference() {
    let dir = tempfile::tempdir().unwrap();
    // A pseudo-random mix over 3 shops, 4 days, 60 users, every action and order status.
    let mut x: u64 = 7;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let mut lines = Vec::new();
    for i in 0..3000 {
        let shop = ["a", "b", "c"][next(3) as usize];
        let ts = D0 + next(4 * DAY as u64) as i64;
        // the second half's ids are shifted, so the two imports' id ranges differ
        let user = next(60) as i64 - 5 + if i >= 1500 { 30 } else { 0 };
        if i % 7 == 0 {
            let status = ["create", "pay", "cancel"][next(3) as usize];
            lines.push(order(
                shop,
                ts,
                &format!("o{i}"),
                user,
                status,
                next(10_000) as f64 / 100.0,
            ));
        } else {
            let action = ["pv", "pv", "pv", "cart", "fav", "buy"][next(6) as usize];
            lines.push(bev(shop, ts, user, next(50) as i64, action));
        }
    }
    // Two imports: each (shop, day) then has two files with overlapping but different id
    // ranges, whose per-row-group sets the direct scan merges.
    let (first, second) = lines.split_at(lines.len() / 2);
    let data = lake(dir.path(), "+08:00", first);
    let zone: store::Zone = "+08:00".parse().unwrap();
    let check = |e: &query::Engine| {
        for (scope, params) in [
            (Scope::all(), json!({})),
            (
                Scope::all(),
                json!({"from": "2024-01-02", "to": "2024-01-03"}),
            ),
            (Scope::shop("b"), json!({})),
        ] {
            let ctx = query::analysis::Ctx {
                engine: e,
                scope,
                zone,
            };
            let p: query::analysis::kpis::KpiParams = serde_json::from_value(params).unwrap();
            let fast = e.block_on(query::analysis::kpis::run(&ctx, &p)).unwrap();
            let sql = e
                .block_on(query::analysis::kpis::run_sql(&ctx, &p))
                .unwrap();
            assert!(fast.tables[0].rows.len() >= 2);
            assert_eq!(fast.tables, sql.tables);
            assert_eq!(fast.summary, sql.summary);
        }
    };
    check(&engine(&data));
    let more = dir.path().join("more.ndjson");
    std::fs::write(&more, second.join("\n")).unwrap();
    import_file(&data, "+08:00", &more, collect::Format::Ndjson);
    check(&engine(&data));
    // Partitions are counted from the files' user sets when all are there, else scanned: with
    // some sets removed, one torn and then none at all, the figures stay the same.
    let sets: Vec<std::path::PathBuf> = std::fs::read_dir(data.join("lake/_sketches"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "users"))
        .collect();
    let files = store::Manifest::load(&store::manifest_path(&data))
        .unwrap()
        .files;
    let event_files: Vec<std::path::PathBuf> = files
        .iter()
        .filter(|f| f.table == "behavior" || f.table == "order")
        .map(|f| data.join(&f.path))
        .collect();
    assert_eq!(
        sets.len(),
        event_files.len(),
        "every behaviour and order file has its sets"
    );
    // With every set there the events are not read at all: with the day files emptied, the
    // figures are still the ones `check` just found equal to SQL.
    let e = engine(&data);
    let ctx = query::analysis::Ctx {
        engine: &e,
        scope: Scope::all(),
        zone,
    };
    let p: query::analysis::kpis::KpiParams = serde_json::from_value(json!({})).unwrap();
    let before = e.block_on(query::analysis::kpis::run(&ctx, &p)).unwrap();
    let saved: Vec<Vec<u8>> = event_files
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    for f in &event_files {
        std::fs::write(f, b"").unwrap();
    }
    let after = e.block_on(query::analysis::kpis::run(&ctx, &p)).unwrap();
    assert_eq!(
        (after.tables, after.summary),
        (before.tables, before.summary)
    );
    for (f, bytes) in event_files.iter().zip(saved) {
        std::fs::write(f, bytes).unwrap();
    }
    let (torn, rest) = sets.split_first().unwrap();
    let bytes = std::fs::read(torn).unwrap();
    std::fs::write(torn, &bytes[..bytes.len() / 2]).unwrap();
    check(&engine(&data));
    for p in rest.iter().step_by(2) {
        std::fs::remove_file(p).unwrap();
    }
    check(&engine(&data));
    for p in &sets {
        let _ = std::fs::remove_file(p);
    }
    check(&engine(&data));
}

#[test]
fn a_funnel_too_big_for_the_memory_limit_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // More events than 1 MiB holds at the direct scan's 18 bytes each.
    let lines: Vec<String> = (0..70_000)
        .map(|i| bev("s", D0 + i, i % 100, 1, "pv"))
        .collect();
    let data = lake(dir.path(), "UTC", &lines);
    // From the user timelines (about 2 bytes per event here) the funnel fits in 1 MiB.
    let small = query::Engine::new(
        &data,
        query::Limits {
            memory_mib: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let params = json!({"steps": [{"action": "pv"}, {"action": "buy"}]});
    let a = analyze(&small, "UTC", Scope::all(), "funnel", params.clone());
    assert_eq!(a.summary["entered"], json!(100));
    // Without them the Parquet files are decoded at 18 bytes per event, which does not.
    for f in std::fs::read_dir(data.join("lake/_sketches")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|x| x == "timeline") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let err = try_analyze(&small, "UTC", Scope::all(), "funnel", params.clone()).unwrap_err();
    assert_eq!(err.code(), "query_memory_limit", "{err}");
    assert!(err.to_string().contains("narrow the days"), "{err}");
    // The default limit holds it.
    let a = analyze(&engine(&data), "UTC", Scope::all(), "funnel", params);
    assert_eq!(a.summary["entered"], json!(100));
}

#[test]
fn the_direct_funnel_scan_equals_the_sql_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut x: u64 = 11;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    // Enough events for several buckets of the direct scan; two imports, so the second one's
    // files overlap the first's in time and users' events arrive out of order.
    let mut batches = [Vec::new(), Vec::new()];
    for i in 0..80_000 {
        let shop = ["a", "b"][next(2) as usize];
        // ids far apart in one shop, and the same ids in both shops
        let user = if shop == "a" {
            next(1500) as i64
        } else {
            next(1500) as i64 * 1_000_000_007
        };
        let action = ["pv", "pv", "cart", "fav", "buy"][next(5) as usize];
        // Shop b's times in milliseconds, so its timelines count in ms and shop a's in s.
        let ts = D0 + next(3 * DAY as u64) as i64;
        let ts = if shop == "b" {
            ts * 1000 + next(1000) as i64
        } else {
            ts
        };
        batches[i % 2].push(bev(shop, ts, user, 1, action));
    }
    let data = lake(dir.path(), "UTC", &batches[0]);
    let check = |e: &query::Engine| {
        let steps = ["pv", "cart", "fav", "buy", "pv"];
        for (mode, window, scope, range) in [
            ("ordered", "1h", Scope::all(), json!({})),
            ("strict", "1d", Scope::all(), json!({})),
            (
                "ordered",
                "6h",
                Scope::shop("b"),
                json!({"from": "2024-01-02"}),
            ),
        ] {
            let direct: Vec<_> = steps.iter().map(|a| json!({"action": a})).collect();
            let via_sql: Vec<_> = steps
                .iter()
                .map(|a| json!({"action": a, "filter": "TRUE", "name": a}))
                .collect();
            let mut p = range.as_object().unwrap().clone();
            p.insert("window".into(), json!(window));
            p.insert("mode".into(), json!(mode));
            p.insert("steps".into(), json!(direct));
            let fast = analyze(
                e,
                "UTC",
                scope.clone(),
                "funnel",
                serde_json::Value::Object(p.clone()),
            );
            p.insert("steps".into(), json!(via_sql));
            let slow = analyze(e, "UTC", scope, "funnel", serde_json::Value::Object(p));
            // Some users get past the second step, so chains and windows are exercised.
            assert!(
                fast.tables[0].rows[2][2].as_u64().unwrap() > 0,
                "{mode} {window}"
            );
            assert_eq!(fast.tables, slow.tables, "{mode} {window}");
            assert_eq!(fast.summary, slow.summary, "{mode} {window}");
        }
    };
    check(&engine(&data));
    let more = dir.path().join("more.ndjson");
    std::fs::write(&more, batches[1].join("\n")).unwrap();
    import_file(&data, "UTC", &more, collect::Format::Ndjson);
    check(&engine(&data));
    // Every behaviour file has a timeline, and with all of them there the Parquet files are
    // not read: emptied, the funnel is unchanged.
    let behaviour: Vec<(std::path::PathBuf, std::path::PathBuf)> =
        store::Manifest::load(&store::manifest_path(&data))
            .unwrap()
            .files
            .iter()
            .filter(|f| f.table == "behavior")
            .map(|f| (data.join(&f.path), store::timeline_path(&data, f.seq)))
            .collect();
    assert!(behaviour.len() >= 8, "two imports of 2 shops x 3 days");
    assert!(behaviour.iter().all(|(_, t)| t.is_file()));
    let e = engine(&data);
    let params =
        json!({"steps": [{"action": "pv"}, {"action": "cart"}, {"action": "buy"}], "window": "2h"});
    let before = analyze(&e, "UTC", Scope::all(), "funnel", params.clone());
    let saved: Vec<Vec<u8>> = behaviour
        .iter()
        .map(|(f, _)| std::fs::read(f).unwrap())
        .collect();
    for (f, _) in &behaviour {
        std::fs::write(f, b"").unwrap();
    }
    let after = analyze(&e, "UTC", Scope::all(), "funnel", params);
    assert_eq!(
        (after.tables, after.summary),
        (before.tables, before.summary)
    );
    for ((f, _), bytes) in behaviour.iter().zip(saved) {
        std::fs::write(f, bytes).unwrap();
    }
    // A torn timeline, then half of them missing: the Parquet files are read instead.
    let bytes = std::fs::read(&behaviour[0].1).unwrap();
    std::fs::write(&behaviour[0].1, &bytes[..bytes.len() / 2]).unwrap();
    check(&engine(&data));
    for (_, t) in behaviour.iter().step_by(2) {
        let _ = std::fs::remove_file(t);
    }
    check(&engine(&data));
}

#[test]
fn a_step_naming_an_action_nobody_has_is_refused_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path(), "UTC", &funnel_events());
    let e = engine(&data);
    let steps = json!([{"action": "pv"}, {"action": "byu"}]);
    let err = try_analyze(&e, "UTC", Scope::all(), "funnel", json!({ "steps": steps }))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step 2") && err.contains("did you mean buy?"),
        "{err}"
    );
    let err = try_analyze(
        &e,
        "UTC",
        Scope::all(),
        "paths",
        json!({ "after": {"action": "crat"} }),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("did you mean cart?"), "{err}");
    // A filter-only step is not checked, and known actions pass.
    let steps = json!([{"action": "pv"}, {"filter": "user_id = 1"}]);
    assert!(try_analyze(&e, "UTC", Scope::all(), "funnel", json!({ "steps": steps })).is_ok());
}

#[test]
fn every_registered_analysis_is_dispatched() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path(), "UTC", &funnel_events());
    let e = engine(&data);
    let needs = |name: &str| match name {
        "funnel" => json!({"steps": [{"action": "pv"}, {"action": "buy"}]}),
        "paths" => json!({"after": {"action": "pv"}}),
        _ => json!({}),
    };
    for d in query::analysis::REGISTRY {
        let r = try_analyze(&e, "UTC", Scope::all(), d.name, needs(d.name));
        let a = r.unwrap_or_else(|err| panic!("{}: {err}", d.name));
        assert_eq!(a.analysis, d.name);
        for t in &a.tables {
            for k in d.key_columns(&t.name) {
                assert!(
                    t.col(k).is_some(),
                    "{}.{}: no key column {k}",
                    d.name,
                    t.name
                );
            }
        }
    }
    let err = try_analyze(&e, "UTC", Scope::all(), "funel", json!({})).unwrap_err();
    assert!(err.to_string().contains("did you mean funnel?"), "{err}");
}

#[test]
fn an_analysis_over_several_shops_says_so_and_one_shop_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = lake(dir.path(), "UTC", &funnel_events());
    let e = engine(&data);
    let all = analyze(&e, "UTC", Scope::all(), "kpis", json!({}));
    assert_eq!(all.summary["spans_shops"], json!(["default", "other"]));
    let one = analyze(&e, "UTC", Scope::all(), "kpis", json!({"shop": "default"}));
    assert!(
        !one.summary.contains_key("spans_shops"),
        "{:?}",
        one.summary
    );
    let bound = analyze(&e, "UTC", Scope::shop("other"), "kpis", json!({}));
    assert!(!bound.summary.contains_key("spans_shops"));
}
