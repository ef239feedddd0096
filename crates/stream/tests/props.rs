//! Property: for random streams — any window size and slide, out-of-order events, late events,
//! allowed lateness, any batching — the final result of every sliding window equals a
//! brute-force recount of the events that window admits.
//!
//! The reference semantics, per event in arrival order: the watermark before it is the largest
//! earlier event time minus the out-of-orderness; window `[E − S, E)` admits the event if it
//! contains its time and `watermark < E + lateness`. A window is emitted iff it admits anything,
//! and its last emission holds exactly what it admits.

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use storepulse_stream as stream;

const BASE: i64 = 1_511_654_400_000;

fn brute(
    events: &[(i64, i64)],
    size: i64,
    slide: i64,
    ooo: i64,
    lateness: i64,
) -> BTreeMap<i64, Vec<(String, f64)>> {
    let mut wm = i64::MIN;
    let mut admitted: BTreeMap<i64, BTreeMap<i64, u64>> = BTreeMap::new();
    for &(ts, item) in events {
        let mut end = ts - ts.rem_euclid(slide) + slide;
        while end - size <= ts {
            if wm < end + lateness {
                *admitted.entry(end).or_default().entry(item).or_default() += 1;
            }
            end += slide;
        }
        wm = wm.max(ts - ooo);
    }
    admitted
        .into_iter()
        .map(|(end, counts)| {
            let mut v: Vec<(i64, u64)> = counts.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            (
                end,
                v.into_iter()
                    .map(|(i, c)| (i.to_string(), c as f64))
                    .collect(),
            )
        })
        .collect()
}

fn stream_of() -> impl Strategy<Value = Vec<(i64, i64)>> {
    // Mostly increasing times with jitter backwards (some beyond any bound), few items.
    prop::collection::vec((0i64..120, -40i64..=2, 0i64..6), 1..250).prop_map(|steps| {
        let mut t = 0i64;
        steps
            .into_iter()
            .map(|(step, back, item)| {
                t += step * 1000;
                let back = if back < 0 { back * 15_000 } else { 0 };
                (BASE + (t + back).max(0), item)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn incremental_sliding_counts_equal_a_brute_force_recount(
        events in stream_of(),
        size_s in prop::sample::select(vec![60i64, 120, 300, 600]),
        slide_div in prop::sample::select(vec![1i64, 2, 3, 4, 5, 10]),
        ooo_s in prop::sample::select(vec![0i64, 5, 60]),
        lateness_s in prop::sample::select(vec![0i64, 30, 120]),
        batch in 1usize..40,
    ) {
        let slide_s = (size_s / slide_div).max(1);
        let (size, slide, ooo, lateness) =
            (size_s * 1000, slide_s * 1000, ooo_s * 1000, lateness_s * 1000);
        let c = cfg(&[
            ("window", &format!("{size_s}s")),
            ("slide", &format!("{slide_s}s")),
            ("ooo", &format!("{ooo_s}s")),
            ("lateness", &format!("{lateness_s}s")),
            ("top", "1000"),
        ]);
        let evs: Vec<model::Event> =
            events.iter().map(|&(ts, item)| bev(ts, 1, item, "pv")).collect();
        let mut j = stream::build("hot-items", &c, store::Zone::default()).unwrap();
        let out = run(j.as_mut(), &evs, batch);
        let got: BTreeMap<i64, Vec<(String, f64)>> =
            finals(&out).values().map(|e| (e.end, pairs(e))).collect();
        let want = brute(&events, size, slide, ooo, lateness);
        prop_assert_eq!(got, want);
        // Late output: exactly the events no window admitted.
        let mut wm = i64::MIN;
        let mut late = 0u64;
        for &(ts, _) in &events {
            let last_end = (ts + size) - (ts + size).rem_euclid(slide);
            if last_end + lateness <= wm {
                late += 1;
            }
            wm = wm.max(ts - ooo);
        }
        prop_assert_eq!(j.counters().late, late);
    }

    #[test]
    fn top_n_is_the_head_of_the_full_ranking(
        events in stream_of(),
        n in 1usize..4,
    ) {
        let full = cfg(&[("window", "300s"), ("slide", "60s"), ("ooo", "60s"), ("top", "1000")]);
        let top = cfg(&[("window", "300s"), ("slide", "60s"), ("ooo", "60s"), ("top", &n.to_string())]);
        let evs: Vec<model::Event> =
            events.iter().map(|&(ts, item)| bev(ts, 1, item, "pv")).collect();
        let a = finals(&run(job("hot-items", full).as_mut(), &evs, 7));
        let b = finals(&run(job("hot-items", top).as_mut(), &evs, 7));
        prop_assert_eq!(a.len(), b.len());
        for (k, e) in &a {
            let mut head = pairs(e);
            head.truncate(n);
            prop_assert_eq!(&pairs(&b[k]), &head);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With disorder inside the bound (nothing late), sessions are the runs of each user's
    /// sorted events split where two events are `gap` or more apart.
    #[test]
    fn sessions_equal_gap_splits_of_each_users_events(
        raw in prop::collection::vec((0i64..400, 0i64..4, 0i64..20), 1..200),
        batch in 1usize..30,
    ) {
        // Out-of-orderness 30 s, larger than the stream's 20 s of disorder: nothing is late.
        let gap = 60_000i64;
        // Times drift forward; each event is at most 20 s older than the newest before it.
        let mut t = 0i64;
        let mut newest = 0i64;
        let events: Vec<(i64, i64)> = raw
            .iter()
            .map(|&(step, user, back)| {
                t += step * 200;
                newest = newest.max(t);
                (BASE + (t - back * 1000).max(newest - 20_000), user)
            })
            .collect();
        let evs: Vec<model::Event> = events.iter().map(|&(ts, u)| bev(ts, u, 1, "pv")).collect();
        let c = cfg(&[("gap", "60s"), ("ooo", "30s")]);
        let mut j = stream::build("sessions", &c, store::Zone::default()).unwrap();
        let out = run(j.as_mut(), &evs, batch);
        prop_assert_eq!(j.counters().late, 0);
        let mut got: Vec<(i64, i64, i64, u64)> = finals_by_user(&out);
        got.sort();
        let mut want = Vec::new();
        let mut by_user: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for &(ts, u) in &events {
            by_user.entry(u).or_default().push(ts);
        }
        for (u, mut ts) in by_user {
            ts.sort();
            let mut start = ts[0];
            let mut n = 1u64;
            for w in ts.windows(2) {
                if w[1] - w[0] >= gap {
                    want.push((u, start, w[0] + gap, n));
                    start = w[1];
                    n = 0;
                }
                n += 1;
            }
            want.push((u, start, ts[ts.len() - 1] + gap, n));
        }
        want.sort();
        prop_assert_eq!(got, want);
    }
}

fn finals_by_user(out: &[stream::Emission]) -> Vec<(i64, i64, i64, u64)> {
    let mut m: BTreeMap<(i64, i64), (i64, u64)> = BTreeMap::new();
    for e in out {
        if e.kind == stream::Kind::Late {
            continue;
        }
        let user: i64 = e.rows[0].keys[0].1.to_string().parse().unwrap();
        m.insert((user, e.start), (e.end, metric(e, "events") as u64));
    }
    m.into_iter()
        .map(|((u, s), (end, n))| (u, s, end, n))
        .collect()
}
