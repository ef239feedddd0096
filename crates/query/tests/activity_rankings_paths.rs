//! Activity by hour and weekday (fixed and named zones), rankings, repeat purchases and paths on
//! hand-built events with known answers.

mod common;

use common::*;
use query::Scope;
use serde_json::json;
use storepulse_query as query;

#[test]
fn activity_counts_local_hours_and_weekdays() {
    let dir = tempfile::tempdir().unwrap();
    // 2024-01-01 is a Monday. 23:30 UTC on Monday is 07:30 Tuesday in UTC+8.
    let lines = vec![
        bev("s", D0 + 23 * 3600 + 1800, 1, 1, "pv"),
        bev("s", D0 + 23 * 3600 + 1900, 2, 1, "buy"),
        bev("s", D0 + 3600, 1, 1, "pv"),
    ];
    for zone in ["+08:00", "Asia/Shanghai"] {
        let sub = dir.path().join(zone.replace(['/', ':', '+'], "_"));
        std::fs::create_dir_all(&sub).unwrap();
        let data = lake(&sub, zone, &lines);
        let e = engine(&data);
        let a = analyze(&e, zone, Scope::all(), "activity", json!({}));
        let hours = a.table("hours").unwrap();
        assert_eq!(hours.rows.len(), 24);
        let at = |h: usize, c: &str| hours.rows[h][hours.col(c).unwrap()].clone();
        assert_eq!(
            (at(7, "events"), at(7, "pv"), at(7, "buys"), at(7, "users")),
            (json!(2), json!(1), json!(1), json!(2)),
            "{zone}"
        );
        assert_eq!(
            at(9, "events"),
            json!(1),
            "{zone}: 01:00 UTC is 09:00 local"
        );
        assert_eq!(a.summary["peak_hour"], json!(7));
        let days = a.table("weekdays").unwrap();
        let by_day: Vec<(String, u64)> = days
            .rows
            .iter()
            .map(|r| (r[0].as_str().unwrap().into(), r[1].as_u64().unwrap()))
            .collect();
        assert_eq!(by_day[0], ("Monday".into(), 1), "{zone}");
        assert_eq!(by_day[1], ("Tuesday".into(), 2), "{zone}");
    }
}

#[test]
fn rankings_repeat_purchases_and_paths_have_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let t = |s: i64| D0 + s;
    let lines = vec![
        // item 11: 3 views by 2 users, 1 buy; item 12: 2 views, 2 buys; item 13: 1 view
        bev("s", t(0), 1, 11, "pv"),
        bev("s", t(10), 1, 11, "cart"),
        bev("s", t(20), 1, 11, "buy"),
        bev("s", t(30), 2, 11, "pv"),
        bev("s", t(40), 2, 11, "pv"),
        bev("s", t(50), 2, 12, "pv"),
        bev("s", t(60), 2, 12, "cart"),
        bev("s", t(70), 2, 12, "buy"),
        bev("s", t(4000), 2, 12, "pv"),
        bev("s", t(4010), 2, 12, "buy"),
        bev("s", t(80), 3, 13, "pv"),
        bev("s", t(90), 3, 13, "cart"),
    ];
    let data = lake(dir.path(), "UTC", &lines);
    let e = engine(&data);
    let r = analyze(
        &e,
        "UTC",
        Scope::all(),
        "rankings",
        json!({"by": "item", "metric": "pv", "top": 2}),
    );
    let ids: Vec<_> = r.tables[0].column("item_id").into_iter().cloned().collect();
    assert_eq!(ids, vec![json!(11), json!(12)]);
    assert_eq!(r.tables[0].column("users")[0], &json!(2));
    let r = analyze(
        &e,
        "UTC",
        Scope::all(),
        "rankings",
        json!({"by": "item", "metric": "buy"}),
    );
    assert_eq!(
        r.tables[0].rows[0][r.tables[0].col("item_id").unwrap()],
        json!(12)
    );
    let r = analyze(
        &e,
        "UTC",
        Scope::all(),
        "rankings",
        json!({"by": "item", "metric": "conversion", "min_views": 2}),
    );
    let conv: Vec<_> = r.tables[0]
        .column("conversion")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        conv,
        vec![json!(1.0), json!(0.333333)],
        "item 12: 2 buys / 2 views; item 11: 1 / 3; item 13 below min_views"
    );
    let r = analyze(
        &e,
        "UTC",
        Scope::all(),
        "rankings",
        json!({"by": "category", "metric": "cart"}),
    );
    assert_eq!(r.tables[0].rows.len(), 3, "categories 1, 2, 3 (item % 10)");

    // buyers: user 1 once, user 2 twice → one repeat customer of two
    let rp = analyze(&e, "UTC", Scope::all(), "repeat", json!({}));
    assert_eq!(rp.summary["source"], json!("behavior"));
    assert_eq!(
        (
            rp.summary["customers"].clone(),
            rp.summary["repeat_customers"].clone()
        ),
        (json!(2), json!(1))
    );
    assert_eq!(rp.summary["repeat_rate"], json!(0.5));
    let dist: Vec<u64> = rp.tables[0]
        .column("customers")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(dist, vec![1, 1, 0, 0, 0]);

    // After a cart: user 1 buys; user 2 buys; user 3's cart is the last event → (exit)
    let p = analyze(
        &e,
        "UTC",
        Scope::all(),
        "paths",
        json!({"after": {"action": "cart"}}),
    );
    let paths: Vec<(String, u64)> = p.tables[0]
        .rows
        .iter()
        .map(|r| (r[1].as_str().unwrap().into(), r[2].as_u64().unwrap()))
        .collect();
    assert_eq!(paths, vec![("buy".into(), 2), ("(exit)".into(), 1)]);
    // Two steps after a buy, with a 30-minute gap ending a path: user 2's buy at 70 s is
    // followed by a pv an hour later, so that path exits at once.
    let p = analyze(
        &e,
        "UTC",
        Scope::all(),
        "paths",
        json!({"after": {"action": "buy"}, "depth": 2}),
    );
    let paths: Vec<(String, u64)> = p.tables[0]
        .rows
        .iter()
        .map(|r| (r[1].as_str().unwrap().into(), r[2].as_u64().unwrap()))
        .collect();
    assert_eq!(paths, vec![("(exit)".into(), 3)]);
    let p = analyze(
        &e,
        "UTC",
        Scope::all(),
        "paths",
        json!({"after": {"action": "buy"}, "depth": 2, "max_gap": "2h"}),
    );
    let paths: Vec<(String, u64)> = p.tables[0]
        .rows
        .iter()
        .map(|r| (r[1].as_str().unwrap().into(), r[2].as_u64().unwrap()))
        .collect();
    assert_eq!(paths, vec![("(exit)".into(), 2), ("pv > buy".into(), 1)]);
}
