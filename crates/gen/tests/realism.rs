//! The behaviour stream looks like Taobao UserBehavior: mix, skew, rhythm, time range.

mod common;

use common::{Row, csv, parse_csv};
use std::collections::HashMap;
use storepulse_gen::{GenConfig, Generator, TAOBAO_MIX, TAOBAO_START_MS};

fn million() -> (GenConfig, Vec<Row>) {
    let cfg = GenConfig::new(1_000_000);
    let rows = parse_csv(&csv(&cfg));
    (cfg, rows)
}

fn share_of_top(mut counts: Vec<u64>, top: usize) -> f64 {
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let total: u64 = counts.iter().sum();
    counts.iter().take(top).sum::<u64>() as f64 / total as f64
}

#[test]
fn a_million_events_look_like_taobao() {
    let (cfg, rows) = million();
    let scale = Generator::new(&cfg).expect("valid").scale();
    assert_eq!(rows.len(), 1_000_000);

    // Behaviour mix within ±0.5 percentage points of the real one.
    for (action, real) in TAOBAO_MIX {
        let n = rows.iter().filter(|r| r.action == action).count();
        let share = n as f64 / rows.len() as f64;
        assert!(
            (share - real).abs() < 0.005,
            "{action}: {:.2}% vs real {:.2}%",
            share * 100.0,
            real * 100.0
        );
    }

    // Item popularity: the top 1% of the catalog's items take a large share of page views.
    let mut pv_per_item: HashMap<i64, u64> = HashMap::new();
    for r in rows.iter().filter(|r| r.action == "pv") {
        *pv_per_item.entry(r.item).or_default() += 1;
    }
    let top_items = share_of_top(
        pv_per_item.values().copied().collect(),
        scale.items as usize / 100,
    );
    assert!(top_items > 0.20, "top 1% of items: {top_items:.3} of pv");
    assert!(top_items < 0.70, "but not absurdly so: {top_items:.3}");

    // User activity: skewed, with some heavy users.
    let mut per_user: HashMap<i64, u64> = HashMap::new();
    for r in &rows {
        *per_user.entry(r.user).or_default() += 1;
    }
    let top_users = share_of_top(
        per_user.values().copied().collect(),
        scale.users as usize / 10,
    );
    assert!(
        top_users > 0.30,
        "top 10% of users: {top_users:.3} of events"
    );
    let mean = rows.len() as f64 / per_user.len() as f64;
    let max = per_user.values().copied().max().unwrap_or(0) as f64;
    assert!(max > 15.0 * mean, "heaviest user {max} vs mean {mean:.1}");
    assert!(per_user.len() as u32 <= scale.users);

    // Every item belongs to exactly one category; categories are skewed too.
    let mut cat_of: HashMap<i64, i64> = HashMap::new();
    let mut per_cat: HashMap<i64, u64> = HashMap::new();
    for r in &rows {
        assert_eq!(
            *cat_of.entry(r.item).or_insert(r.cat),
            r.cat,
            "item {}",
            r.item
        );
        *per_cat.entry(r.cat).or_default() += 1;
    }
    assert!(per_cat.len() as u32 <= scale.categories);
    let top_cats = share_of_top(
        per_cat.values().copied().collect(),
        (scale.categories as usize / 10).max(1),
    );
    assert!(top_cats > 0.4, "top 10% of categories: {top_cats:.3}");

    // Times: whole seconds in [start, start + days), non-decreasing.
    let start = TAOBAO_START_MS / 1000;
    let end = cfg.end_ms() / 1000;
    assert!(rows.iter().all(|r| r.ts >= start && r.ts < end));
    assert!(
        rows.windows(2).all(|w| w[0].ts <= w[1].ts),
        "sorted by time"
    );
    assert_eq!(
        rows[0].ts / 86_400,
        start / 86_400,
        "starts on the first day"
    );
    assert!(
        rows[rows.len() - 1].ts > end - 3600,
        "reaches the last hour"
    );

    // Daily rhythm in local time (UTC+8): evenings beat the small hours by far.
    let mut per_hour = [0u64; 24];
    for r in &rows {
        per_hour[((r.ts + 8 * 3600).rem_euclid(86_400) / 3600) as usize] += 1;
    }
    let evening = per_hour[20] + per_hour[21];
    let night = per_hour[3] + per_hour[4];
    assert!(evening > 4 * night, "20-22h {evening} vs 3-5h {night}");
    assert!(per_hour[14] > per_hour[4], "afternoon beats 4am");

    // Sessions: a user's consecutive events stay in few categories.
    let mut by_user: HashMap<i64, Vec<&Row>> = HashMap::new();
    for r in &rows {
        by_user.entry(r.user).or_default().push(r);
    }
    let (mut same, mut pairs) = (0u64, 0u64);
    for evs in by_user.values() {
        for w in evs.windows(2) {
            if w[1].ts - w[0].ts < 120 {
                pairs += 1;
                same += (w[0].cat == w[1].cat) as u64;
            }
        }
    }
    let locality = same as f64 / pairs as f64;
    assert!(
        locality > 0.5,
        "consecutive events share a category {locality:.2} of the time"
    );
}

#[test]
fn the_rhythm_follows_the_configured_time_zone() {
    // New York shop: local evening is 00-03 UTC.
    let cfg = GenConfig::new(200_000)
        .with_days(4)
        .with_tz_offset_secs(-5 * 3600)
        .with_start_ms(1_514_782_800_000); // 2018-01-01 00:00 -05:00
    let rows = parse_csv(&csv(&cfg));
    assert_eq!(rows.len(), 200_000);
    let mut per_local_hour = [0u64; 24];
    for r in &rows {
        per_local_hour[((r.ts - 5 * 3600).rem_euclid(86_400) / 3600) as usize] += 1;
    }
    assert!(
        per_local_hour[21] > 4 * per_local_hour[4],
        "{per_local_hour:?}"
    );
    assert!(
        rows.iter()
            .all(|r| r.ts >= 1_514_782_800 && r.ts < 1_514_782_800 + 4 * 86_400)
    );
}

#[test]
fn tiny_and_odd_runs_still_give_exactly_the_requested_events() {
    for (events, days) in [(1, 1), (7, 1), (10, 100), (999, 2), (5_000, 1)] {
        let cfg = GenConfig::new(events).with_days(days).with_seed(events);
        let rows = parse_csv(&csv(&cfg));
        assert_eq!(rows.len() as u64, events, "events={events} days={days}");
        assert!(rows.windows(2).all(|w| w[0].ts <= w[1].ts));
        let (s, e) = (cfg.start_ms / 1000, cfg.end_ms() / 1000);
        assert!(rows.iter().all(|r| r.ts >= s && r.ts < e));
    }
    // Small runs still have a funnel: some carts and buys, not only page views.
    let rows = parse_csv(&csv(&GenConfig::new(5_000).with_days(1)));
    assert!(rows.iter().any(|r| r.action == "buy"));
    assert!(rows.iter().any(|r| r.action == "cart"));
}
