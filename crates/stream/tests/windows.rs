//! Hand-computed window cases: alignment and boundaries, out-of-order events within and beyond
//! the bound, allowed lateness, the late output, idle sources, session gaps, day windows across
//! a time-zone midnight, the ad-click blacklist, and shop isolation.

mod common;

use common::*;
use storepulse_stream as stream;
use stream::Kind;

/// 2017-11-26T00:00:00Z.
const DAY: i64 = 1_511_654_400_000;

fn t(h: i64, m: i64) -> i64 {
    DAY + h * H + m * MIN
}

fn p(items: &[(i64, f64)]) -> Vec<(String, f64)> {
    items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn sliding_windows_are_epoch_aligned_and_an_event_at_a_window_end_belongs_to_the_next() {
    let c = cfg(&[
        ("window", "10min"),
        ("slide", "5min"),
        ("ooo", "0"),
        ("top", "10"),
    ]);
    let events = [
        bev(t(10, 2), 1, 1, "pv"),
        bev(t(10, 5), 1, 2, "pv"), // exactly the end of [09:55, 10:05)
        bev(t(10, 9), 1, 1, "pv"),
        bev(t(10, 20), 1, 3, "pv"),
        bev(t(10, 21), 1, 4, "cart"), // not a view: ignored by hot-items
    ];
    let mut j = job("hot-items", c.clone());
    let before_end = feed(j.as_mut(), &events, 1, 0);
    let ends: Vec<i64> = before_end.iter().map(|e| e.end).collect();
    // [10:10, 10:20) is empty and not emitted; 10:25 and 10:30 wait for the watermark.
    assert_eq!(ends, vec![t(10, 5), t(10, 10), t(10, 15)]);
    assert_eq!(before_end[0].start, t(9, 55));
    assert_eq!(pairs(&before_end[0]), p(&[(1, 1.0)]));
    assert_eq!(pairs(&before_end[1]), p(&[(1, 2.0), (2, 1.0)]));
    assert_eq!(pairs(&before_end[2]), p(&[(1, 1.0), (2, 1.0)]));
    assert!(
        before_end
            .iter()
            .all(|e| e.kind == Kind::Result && e.revision == 0)
    );

    let mut all = before_end;
    j.finish(&mut all);
    let tail: Vec<(i64, Vec<(String, f64)>)> = all[3..].iter().map(|e| (e.end, pairs(e))).collect();
    assert_eq!(
        tail,
        vec![(t(10, 25), p(&[(3, 1.0)])), (t(10, 30), p(&[(3, 1.0)]))]
    );
    // The same stream in one batch gives the same results.
    let mut j2 = job("hot-items", c);
    assert_eq!(run(j2.as_mut(), &events, 100), all);
}

#[test]
fn out_of_order_events_within_the_bound_are_counted() {
    let c = cfg(&[
        ("window", "10min"),
        ("slide", "10min"),
        ("ooo", "5min"),
        ("top", "10"),
    ]);
    let events = [
        bev(t(10, 8), 1, 1, "pv"),
        bev(t(10, 11), 1, 2, "pv"), // watermark 10:06
        bev(t(10, 9), 1, 3, "pv"),  // older, but its window has not closed
        bev(t(10, 16), 1, 4, "pv"), // watermark 10:11: [10:00, 10:10) fires
    ];
    let mut j = job("hot-items", c);
    let out = feed(j.as_mut(), &events, 1, 0);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].start, out[0].end), (t(10, 0), t(10, 10)));
    assert_eq!(pairs(&out[0]), p(&[(1, 1.0), (3, 1.0)]));
    assert_eq!(j.counters().late, 0);
}

#[test]
fn events_beyond_the_bound_go_to_the_late_output_and_change_nothing() {
    let c = cfg(&[
        ("window", "10min"),
        ("slide", "10min"),
        ("ooo", "0"),
        ("top", "10"),
    ]);
    let events = [
        bev(t(10, 8), 1, 1, "pv"),
        bev(t(10, 11), 1, 2, "pv"), // watermark 10:11: [10:00, 10:10) fires with item 1
        bev(t(10, 9), 1, 3, "pv"),  // too late
    ];
    let mut j = job("hot-items", c);
    let out = run(j.as_mut(), &events, 1);
    let late = of_kind(&out, Kind::Late);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].rows[0].keys[0].1.to_string(), "3");
    assert_eq!(late[0].rows[0].values, vec![("ts", t(10, 9) as f64)]);
    assert_eq!((late[0].start, late[0].end), (t(10, 0), t(10, 10)));
    assert_eq!(j.counters().late, 1);
    let f = finals(&out);
    let first = f.values().next().unwrap();
    assert_eq!(pairs(first), p(&[(1, 1.0)]));
    assert!(of_kind(&out, Kind::Update).is_empty());
}

#[test]
fn late_events_within_the_allowed_lateness_fire_the_window_again() {
    let c = cfg(&[
        ("window", "10min"),
        ("slide", "10min"),
        ("ooo", "0"),
        ("lateness", "5min"),
        ("top", "10"),
    ]);
    let events = [
        bev(t(10, 8), 1, 1, "pv"),
        bev(t(10, 11), 1, 2, "pv"), // fires [10:00, 10:10) = {1}
        bev(t(10, 9), 1, 3, "pv"),  // within lateness: update {1, 3}
        bev(t(10, 16), 1, 4, "pv"), // watermark 10:16 >= 10:10 + 5 min: the window is gone
        bev(t(10, 5), 1, 5, "pv"),  // late output
    ];
    let mut j = job("hot-items", c);
    let out = feed(j.as_mut(), &events, 1, 0);
    let w: Vec<_> = out.iter().filter(|e| e.end == t(10, 10)).collect();
    assert_eq!(w.len(), 3, "{out:#?}");
    assert_eq!((w[0].kind, w[0].revision), (Kind::Result, 0));
    assert_eq!(pairs(w[0]), p(&[(1, 1.0)]));
    assert_eq!((w[1].kind, w[1].revision), (Kind::Update, 1));
    assert_eq!(pairs(w[1]), p(&[(1, 1.0), (3, 1.0)]));
    assert_eq!(w[2].kind, Kind::Late);
    assert_eq!(w[2].rows[0].keys[0].1.to_string(), "5");
    assert_eq!(j.counters().late, 1);
}

#[test]
fn an_idle_source_stops_holding_the_watermark_back() {
    // kpis reads behaviour and orders: two sources of one watermark.
    let c = cfg(&[("windows", "1h"), ("ooo", "0"), ("idle", "5s")]);
    let mut j = job("kpis", c);
    let mut out = feed(
        j.as_mut(),
        &[
            bev(t(10, 10), 7, 1, "pv"),
            order(t(10, 20), "o1", "pay", 12.5),
        ],
        1,
        0,
    );
    out.extend(feed(j.as_mut(), &[bev(t(11, 5), 8, 2, "pv")], 1, 1_000));
    assert!(out.is_empty(), "orders (10:20) hold the watermark: {out:?}");
    j.tick(2_000, &mut out);
    assert!(out.is_empty(), "orders are not idle yet after 2 s");
    out.extend(feed(j.as_mut(), &[bev(t(11, 6), 9, 3, "buy")], 1, 6_000));
    j.tick(6_000, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let e = &out[0];
    assert_eq!((e.start, e.end), (t(10, 0), t(11, 0)));
    assert_eq!(metric(e, "pv"), 1.0);
    assert_eq!(metric(e, "uv"), 1.0);
    assert_eq!(metric(e, "paid_orders"), 1.0);
    assert_eq!(metric(e, "gmv"), 12.5);
    let shops = j.shops();
    assert_eq!(shops.len(), 1);
    assert_eq!(
        (shops[0].0.as_str(), shops[0].1.watermark),
        ("default", Some(t(11, 6)))
    );
}

#[test]
fn sessions_close_after_the_gap_and_a_late_event_can_bridge_two() {
    let c = cfg(&[("gap", "30min"), ("ooo", "0"), ("lateness", "2h")]);
    let mut j = job("sessions", c);
    let events = [
        bev(t(10, 0), 1, 1, "pv"),
        bev(t(10, 5), 2, 1, "pv"),
        bev(t(10, 10), 1, 2, "cart"),
        bev(t(10, 50), 1, 3, "pv"), // 40 min after 10:10: a new session
        bev(t(12, 0), 3, 1, "pv"),  // moves the watermark past every session
    ];
    let out = feed(j.as_mut(), &events, 1, 0);
    let got: Vec<(i64, i64, i64, f64)> = out
        .iter()
        .map(|e| {
            let user = e.rows[0].keys[0].1.to_string().parse().unwrap();
            (user, e.start, e.end, metric(e, "events"))
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (2, t(10, 5), t(10, 35), 1.0),
            (1, t(10, 0), t(10, 40), 2.0),
            (1, t(10, 50), t(11, 20), 1.0),
        ]
    );
    assert!(out.iter().all(|e| e.kind == Kind::Session));
    // 10:30 reaches both of user 1's sessions: one session of four events replaces them.
    let more = feed(j.as_mut(), &[bev(t(10, 30), 1, 4, "pv")], 1, 0);
    assert_eq!(more.len(), 1, "{more:?}");
    let m = &more[0];
    assert_eq!((m.kind, m.revision), (Kind::Update, 1));
    assert_eq!((m.start, m.end), (t(10, 0), t(11, 20)));
    assert_eq!(metric(m, "events"), 4.0);
    assert_eq!(metric(m, "carts"), 1.0);
    assert_eq!(metric(m, "duration_s"), 50.0 * 60.0);
    // Beyond the lateness nothing can be merged any more.
    let gone = feed(j.as_mut(), &[bev(t(9, 0), 5, 4, "pv")], 1, 0);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].kind, Kind::Late);
}

#[test]
fn day_windows_follow_the_zone_across_midnight() {
    let zone: store::Zone = "+08:00".parse().unwrap();
    let c = cfg(&[("windows", "1d"), ("ooo", "0")]);
    let mut j = stream::build("uv", &c, zone).unwrap();
    let midnight_local = t(-8, 0); // 2017-11-26T00:00+08:00 = 2017-11-25T16:00Z
    let events = [
        bev(midnight_local - 1_000, 1, 1, "pv"),
        bev(midnight_local - 500, 1, 1, "pv"),
        bev(midnight_local, 2, 1, "pv"),
        bev(midnight_local + 1_000, 3, 1, "pv"),
    ];
    let out = run(j.as_mut(), &events, 1);
    let got: Vec<(i64, i64, f64)> = out
        .iter()
        .map(|e| (e.start, e.end, metric(e, "uv")))
        .collect();
    assert_eq!(
        got,
        vec![
            (midnight_local - 24 * H, midnight_local, 1.0),
            (midnight_local, midnight_local + 24 * H, 2.0),
        ]
    );
    // The sketch agrees on tiny counts.
    assert_eq!(metric(&out[1], "uv_estimate"), 2.0);
}

#[test]
fn the_blacklist_reports_once_filters_the_rest_of_the_day_and_resets_at_midnight() {
    let c = cfg(&[
        ("window", "1d"),
        ("slide", "1d"),
        ("threshold", "3"),
        ("ooo", "0"),
    ]);
    let mut j = job("ad-clicks", c);
    let mut events = Vec::new();
    for i in 0..5 {
        events.push(click(t(10, i), 1, "A", "p1"));
    }
    events.push(click(t(10, 7), 1, "B", "p1")); // another ad: counted
    events.push(click(t(11, 0), 2, "A", "p2"));
    events.push(click(t(24 + 9, 0), 1, "A", "p1")); // the next day starts clean
    events.push(click(t(24 + 9, 1), 1, "A", "p1"));
    let out = run(j.as_mut(), &events, 1);
    let black = of_kind(&out, Kind::Blacklist);
    assert_eq!(black.len(), 1);
    let keys: Vec<String> = black[0].rows[0]
        .keys
        .iter()
        .map(|k| k.1.to_string())
        .collect();
    assert_eq!(keys, vec!["1", "A"]);
    assert_eq!(black[0].rows[0].values[1], ("ts", t(10, 2) as f64));
    assert_eq!(j.counters().filtered, 2);
    let days: Vec<(i64, Vec<(String, f64)>)> = of_kind(&out, Kind::Result)
        .iter()
        .map(|e| (e.start, pairs(e)))
        .collect();
    let s = |v: &[(&str, f64)]| v.iter().map(|(k, c)| (k.to_string(), *c)).collect();
    assert_eq!(
        days,
        vec![
            (DAY, s(&[("p1", 4.0), ("p2", 1.0)])),
            (DAY + 24 * H, s(&[("p1", 2.0)])),
        ]
    );
}

#[test]
fn shops_keep_their_own_watermarks() {
    let c = cfg(&[("window", "10min"), ("slide", "10min"), ("ooo", "0")]);
    let mut j = job("hot-items", c);
    let out = feed(
        j.as_mut(),
        &[
            bev_in("a", t(10, 1), 1, 1, "pv"),
            bev_in("b", t(15, 0), 1, 2, "pv"),
        ],
        1,
        0,
    );
    assert!(
        out.is_empty(),
        "shop b's clock must not close shop a's window"
    );
    let out = feed(j.as_mut(), &[bev_in("a", t(10, 12), 1, 1, "pv")], 1, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].shop, "a");
    // A shop that sent nothing the job counts has no watermark yet (not i64::MIN), and each
    // shop's totals are its own.
    feed(j.as_mut(), &[bev_in("c", t(10, 0), 1, 1, "cart")], 1, 0);
    let shops = j.shops();
    let seen: Vec<(&str, Option<i64>, u64, u64)> = shops
        .iter()
        .map(|(s, st)| {
            (
                s.as_str(),
                st.watermark,
                st.counters.events,
                st.counters.emitted,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("a", Some(t(10, 12)), 2, 1),
            ("b", Some(t(15, 0)), 1, 0),
            ("c", None, 0, 0)
        ]
    );
    assert_eq!(j.counters().events, 3);
}

#[test]
fn bad_settings_are_clear_errors() {
    let err = |c: stream::JobConfig, name: &str| {
        stream::build(name, &c, store::Zone::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err(cfg(&[("window", "5min"), ("slide", "10min")]), "hot-items").contains("slide"));
    assert!(err(cfg(&[("window", "ten minutes")]), "hot-items").contains("bad duration"));
    assert!(err(cfg(&[]), "hot-stuff").contains("hot-items"));
    assert!(err(cfg(&[("threshold", "0")]), "ad-clicks").contains("threshold"));
}

#[test]
fn the_uv_sketch_stays_within_its_documented_error_bound() {
    // Three days with 20K, 120K and 300K distinct users (each seen twice).
    let c = cfg(&[("windows", "1d"), ("ooo", "0")]);
    let mut j = job("uv", c);
    let sizes = [20_000i64, 120_000, 300_000];
    let mut events = Vec::new();
    for (d, n) in sizes.iter().enumerate() {
        for rep in 0..2 {
            for u in 0..*n {
                let ts = DAY + d as i64 * 24 * H + rep * H + u % 3_600_000;
                events.push(bev(ts, u * 7 + d as i64 * 1_000_000_000, 1, "pv"));
            }
        }
        events.sort_by_key(|e| e.ts);
    }
    let out = run(j.as_mut(), &events, 65_536);
    assert_eq!(out.len(), 3);
    for (e, n) in out.iter().zip(sizes) {
        assert_eq!(metric(e, "uv"), n as f64, "exact");
        let err = (metric(e, "uv_estimate") - n as f64).abs() / n as f64;
        assert!(
            err <= 3.0 * stream::jobs::HLL_STD_ERROR,
            "estimate off by {:.2} % for {n} users",
            err * 100.0
        );
    }
}
