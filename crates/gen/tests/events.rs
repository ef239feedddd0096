//! Every event type: validity, ordering, orders and payments, abuse patterns, page views,
//! planted co-purchases and out-of-orderness.

use model::{Event, EventBody, EventType, Rules};
use std::collections::{BTreeMap, HashMap, HashSet};
use storepulse_gen::{GenConfig, Generator, PAY_TIMEOUT_MS, planted_patterns};

fn events(cfg: &GenConfig) -> (Generator, Vec<Event>) {
    let generator = Generator::new(cfg).expect("valid config");
    let mut all = Vec::new();
    let stats = generator.for_each_event(|e| all.push(e.clone()));
    assert_eq!(stats.total(), all.len() as u64);
    (generator, all)
}

fn cfg() -> GenConfig {
    GenConfig::new(300_000)
        .with_seed(3)
        .with_shop(Some("shop_7".into()))
        .with_chunk_events(50_000)
}

#[test]
fn every_event_is_valid_ordered_and_typed_in_realistic_ratios() {
    let cfg = cfg();
    let (_, all) = events(&cfg);
    let rules = Rules::default();
    let mut per_type: BTreeMap<EventType, u64> = BTreeMap::new();
    for e in &all {
        if let Err(r) = e.validate(&rules) {
            panic!("invalid event {e:?}: {r}");
        }
        assert_eq!(e.shop(), "shop_7");
        assert!(e.ts >= cfg.start_ms && e.ts < cfg.end_ms(), "{e:?}");
        *per_type.entry(e.event_type()).or_default() += 1;
    }
    assert!(all.windows(2).all(|w| w[0].ts <= w[1].ts), "time order");
    let beh = per_type[&EventType::Behavior];
    assert_eq!(beh, 300_000);
    let ratio = |t: EventType| per_type.get(&t).copied().unwrap_or(0) as f64 / beh as f64;
    assert!(
        (0.035..0.06).contains(&ratio(EventType::Order)),
        "{per_type:?}"
    );
    assert!(
        (0.015..0.03).contains(&ratio(EventType::Payment)),
        "{per_type:?}"
    );
    assert!(
        (0.02..0.06).contains(&ratio(EventType::Login)),
        "{per_type:?}"
    );
    assert!(
        (0.005..0.03).contains(&ratio(EventType::AdClick)),
        "{per_type:?}"
    );
    assert!(
        (0.15..0.40).contains(&ratio(EventType::PageView)),
        "{per_type:?}"
    );
    // Round trip through the canonical JSON.
    for e in all.iter().step_by(97) {
        assert_eq!(&Event::from_json(e.to_json(), None).expect("parses"), e);
    }
    // Behaviour details.
    let mut channels = HashSet::new();
    for e in &all {
        if let EventBody::Behavior(b) = &e.body {
            assert!(b.session_id.is_some() && b.price.is_some_and(|p| p > 0.0));
            assert_eq!(b.qty.is_some(), b.action == "cart" || b.action == "buy");
            channels.insert(b.channel.clone().unwrap_or_default());
        }
    }
    assert_eq!(
        channels,
        HashSet::from(["app".into(), "web".into(), "ad".into()])
    );
}

#[test]
fn orders_are_paid_with_receipts_or_time_out() {
    let (_, all) = events(&cfg());
    let mut buys = 0;
    let mut created: HashMap<String, i64> = HashMap::new();
    let mut paid: HashMap<String, (i64, String)> = HashMap::new();
    let mut cancelled: HashMap<String, i64> = HashMap::new();
    let mut receipts: HashMap<String, u32> = HashMap::new();
    let mut pay_channels = HashSet::new();
    for e in &all {
        match &e.body {
            EventBody::Behavior(b) if b.action == "buy" => buys += 1,
            EventBody::Order(o) => {
                assert!(o.user_id.is_some() && o.item_id.is_some() && o.amount.is_some());
                let prev = match o.status.as_str() {
                    "create" => created.insert(o.order_id.clone(), e.ts),
                    "pay" => {
                        let tx = o.tx_id.clone().expect("a pay carries its tx_id");
                        paid.insert(o.order_id.clone(), (e.ts, tx)).map(|p| p.0)
                    }
                    "cancel" => cancelled.insert(o.order_id.clone(), e.ts),
                    s => panic!("unexpected status {s}"),
                };
                assert!(prev.is_none(), "one {} per order", o.status);
            }
            EventBody::Payment(p) => {
                *receipts.entry(p.tx_id.clone()).or_default() += 1;
                pay_channels.insert(p.channel.clone().unwrap_or_default());
            }
            _ => {}
        }
    }
    assert_eq!(created.len(), buys, "every buy creates an order");
    for (order, (ts, tx)) in &paid {
        let c = created[order];
        assert!(*ts > c && *ts - c < PAY_TIMEOUT_MS, "paid in the window");
        assert_eq!(receipts.get(tx), Some(&1), "one receipt for {tx}");
        assert!(!cancelled.contains_key(order));
    }
    assert_eq!(receipts.len(), paid.len(), "no receipt without a pay");
    let unpaid = created.len() - paid.len();
    let share = unpaid as f64 / created.len() as f64;
    assert!((0.03..0.12).contains(&share), "timeouts {share:.3}");
    assert!(!cancelled.is_empty() && cancelled.len() < unpaid);
    for (order, ts) in &cancelled {
        assert!(
            *ts - created[order] >= PAY_TIMEOUT_MS,
            "cancel after the window"
        );
    }
    assert_eq!(
        pay_channels,
        HashSet::from(["alipay".into(), "wechat".into(), "card".into()])
    );
}

#[test]
fn logins_ad_clicks_and_page_views_carry_the_planted_abuse() {
    let (_, all) = events(&cfg());
    // Logins: mostly successes, and some account suffers a burst of consecutive failures.
    let mut per_user: HashMap<i64, Vec<(i64, bool)>> = HashMap::new();
    let (mut ok, mut fail) = (0, 0);
    for e in &all {
        if let EventBody::Login(l) = &e.body {
            assert!(l.ip.as_deref().is_some_and(|ip| ip.split('.').count() == 4));
            let success = l.result == "success";
            if success {
                ok += 1
            } else {
                fail += 1
            }
            per_user
                .entry(l.user_id.as_i64())
                .or_default()
                .push((e.ts, success));
        }
    }
    assert!(ok > fail && fail > 0);
    let longest_fail_run = per_user
        .values()
        .map(|v| {
            let (mut best, mut run) = (0, 0);
            for (_, success) in v {
                run = if *success { 0 } else { run + 1 };
                best = best.max(run);
            }
            best
        })
        .max()
        .unwrap_or(0);
    assert!(
        longest_fail_run >= 8,
        "brute force: {longest_fail_run} consecutive failures"
    );
    let typo_runs = per_user.values().filter(|v| v.iter().any(|x| !x.1)).count();
    assert!(typo_runs > 3, "ordinary users mistype too");

    // Ad clicks: known provinces, and a fraudster clicking one ad over 100 times in a day.
    let provinces = [
        "guangdong",
        "zhejiang",
        "jiangsu",
        "shanghai",
        "beijing",
        "shandong",
    ];
    let mut per_user_ad_day: HashMap<(i64, String, i64), u32> = HashMap::new();
    let mut seen_province = HashSet::new();
    for e in &all {
        if let EventBody::AdClick(a) = &e.body {
            let p = a.province.clone().expect("province");
            assert!(a.city.is_some());
            seen_province.insert(p);
            let day = (e.ts + 8 * 3_600_000).div_euclid(86_400_000);
            *per_user_ad_day
                .entry((a.user_id.as_i64(), a.ad_id.clone(), day))
                .or_default() += 1;
        }
    }
    assert!(provinces.iter().all(|p| seen_province.contains(*p)));
    let top = per_user_ad_day.values().copied().max().unwrap_or(0);
    assert!(top > 100, "click fraud: {top} clicks on one ad in a day");
    let normal = per_user_ad_day.values().filter(|c| **c <= 3).count();
    assert!(
        normal > per_user_ad_day.len() * 9 / 10,
        "most users click a few times"
    );

    // Page views: access-log style.
    let (mut get, mut post) = (0, 0);
    let mut statuses = HashSet::new();
    let mut anonymous_404 = 0;
    for e in &all {
        if let EventBody::PageView(p) = &e.body {
            assert!(p.url.starts_with('/') && p.ip.is_some() && p.user_agent.is_some());
            match p.method.as_deref() {
                Some("GET") => get += 1,
                Some("POST") => post += 1,
                m => panic!("method {m:?}"),
            }
            let s = p.status.expect("status");
            statuses.insert(s);
            anonymous_404 += (p.user_id.is_none() && s == 404) as u32;
        }
    }
    assert!(get > 5 * post && post > 0);
    assert_eq!(statuses, HashSet::from([200, 304, 404]));
    assert!(anonymous_404 > 0, "scanners probing");
}

#[test]
fn planted_co_purchases_co_occur_far_more_than_chance() {
    let cfg = cfg();
    let (generator, all) = events(&cfg);
    let patterns = generator.planted_patterns();
    assert_eq!(planted_patterns(&cfg).expect("valid"), patterns);
    assert!(patterns.len() >= 4);
    assert!(patterns.iter().any(|p| p.len() == 3) && patterns.iter().any(|p| p.len() == 2));
    // Baskets: the items bought in each session.
    let mut baskets: HashMap<String, HashSet<i64>> = HashMap::new();
    for e in &all {
        match &e.body {
            EventBody::Behavior(b) if b.action == "buy" => {
                let s = b.session_id.clone().expect("session");
                baskets.entry(s).or_default().insert(b.item_id.as_i64());
            }
            _ => {}
        }
    }
    let n = baskets.len() as f64;
    let freq = |item: i64| baskets.values().filter(|b| b.contains(&item)).count() as f64;
    for p in &patterns {
        for (i, a) in p.iter().enumerate() {
            for b in &p[i + 1..] {
                let both = baskets
                    .values()
                    .filter(|s| s.contains(a) && s.contains(b))
                    .count() as f64;
                let chance = freq(*a) * freq(*b) / n;
                assert!(
                    both >= 10.0,
                    "pair {a},{b} bought together only {both} times"
                );
                assert!(
                    both > 20.0 * chance.max(0.05),
                    "pair {a},{b}: {both} vs chance {chance:.3}"
                );
            }
        }
        let full = baskets
            .values()
            .filter(|s| p.iter().all(|i| s.contains(i)))
            .count();
        assert!(full >= 10, "pattern {p:?} complete in {full} baskets");
    }
}

#[test]
fn out_of_orderness_is_bounded_and_off_by_default() {
    let late_ms = 3_000;
    let cfg = GenConfig::new(60_000)
        .with_days(2)
        .with_out_of_order_ms(late_ms)
        .with_chunk_events(10_000);
    let (_, all) = events(&cfg);
    let mut max_seen = i64::MIN;
    let mut inversions = 0;
    for e in &all {
        assert!(
            e.ts >= max_seen.saturating_sub(late_ms),
            "late by over {late_ms} ms"
        );
        assert!(e.ts >= cfg.start_ms && e.ts < cfg.end_ms());
        inversions += (e.ts < max_seen) as u32;
        max_seen = max_seen.max(e.ts);
    }
    assert!(
        inversions > all.len() as u32 / 10,
        "really out of order: {inversions}"
    );
    // The same events, only with other times.
    let (_, sorted) = events(&cfg.clone().with_out_of_order_ms(0));
    assert_eq!(sorted.len(), all.len());
    assert!(sorted.windows(2).all(|w| w[0].ts <= w[1].ts));
    for (a, b) in all.iter().zip(&sorted) {
        assert_eq!(a.body, b.body);
        assert!(b.ts - a.ts >= 0 && b.ts - a.ts <= late_ms);
    }
}

#[test]
fn bad_configs_are_refused_with_the_reason() {
    let Err(e) = Generator::new(&GenConfig::default().with_days(0)) else {
        panic!("0 days must be refused");
    };
    assert!(e.to_string().contains("days"));
    let io = storepulse_gen::write_taobao_csv(&GenConfig::new(0), Vec::new()).expect_err("refused");
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert!(io.to_string().contains("events"));
    assert!(planted_patterns(&GenConfig::default().with_out_of_order_ms(-5)).is_err());
}
