//! A stop and start of the live engine mid-stream emits exactly what one uninterrupted run
//! emits: the restarted engine rebuilds its open windows from the lake, its watermarks stay in
//! the data's time (not decades ahead after the first idle check), and no event of the data's
//! range goes to the late output.

mod common;

use common::*;
use model::{Event, EventBody};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{Store, StoreConfig};
use storepulse_stream as stream;
use stream::live::{Live, LiveConfig, Subscriber};
use stream::{Emission, Kind};

/// 2017-11-26T00:00:00Z.
const DAY: i64 = 1_511_654_400_000;

const JOBS: &[&str] = &[
    "kpis",
    "hot-items",
    "hot-categories",
    "uv",
    "channel-stats",
    "ad-clicks",
    "sessions",
];

fn with_shop(mut e: Event, shop: &str) -> Event {
    e.shop = Some(shop.to_string());
    e
}

/// Three hours of two shops' behaviour, orders and ad clicks, 1.2 s apart, each up to 4 s out
/// of order (inside the 5 s bound: nothing is late, so arrival order cannot change a result).
fn events() -> Vec<Event> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    // Each shop's first batch holds both of kpis' sources, so neither finds the other's
    // watermark already past it (`run` sends these four alone).
    let start = DAY + 10 * H - 10_000;
    let mut out = Vec::new();
    for shop in ["a", "b"] {
        out.push(with_shop(
            order(start, &format!("seed-{shop}"), "create", 1.0),
            shop,
        ));
        out.push(with_shop(bev(start, 1, 1, "pv"), shop));
    }
    for i in 0..9_000i64 {
        let ts = DAY + 10 * H + i * 1_200 - rnd(4_000) as i64;
        let shop = if rnd(3) == 0 { "b" } else { "a" };
        let user = 1 + rnd(60) as i64;
        let e = match rnd(20) {
            0 => {
                let status = if rnd(2) == 0 { "create" } else { "pay" };
                order(ts, &format!("o{}", i / 2), status, 10.0 + rnd(90) as f64)
            }
            1 => click(
                ts,
                user,
                &format!("ad{}", rnd(3)),
                ["p1", "p2"][rnd(2) as usize],
            ),
            2 => bev(ts, user, 1 + rnd(40) as i64, "cart"),
            3 => bev(ts, user, 1 + rnd(40) as i64, "buy"),
            _ => {
                let mut e = bev(ts, user, 1 + rnd(40) as i64, "pv");
                if let EventBody::Behavior(b) = &mut e.body {
                    b.channel = Some(["app", "web"][rnd(2) as usize].into());
                }
                e
            }
        };
        out.push(with_shop(e, shop));
    }
    out
}

fn config() -> LiveConfig {
    let jobs = JOBS
        .iter()
        .map(|j| {
            let mut c = cfg(&[("ooo", "5s"), ("lateness", "1min"), ("idle", "1h")]);
            if *j == "hot-items" || *j == "hot-categories" {
                c.window = Some("10min".into());
                c.slide = Some("5min".into());
            }
            (j.to_string(), c)
        })
        .collect();
    LiveConfig {
        jobs,
        zone: store::Zone::default(),
        history: 100_000,
        save_results: false,
        flush_every: Duration::from_secs(3600),
        tick_every: Duration::from_millis(5),
    }
}

type Seen = Arc<Mutex<Vec<Emission>>>;

fn start(store: Option<Arc<Mutex<Store>>>) -> (Live, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let sub: Subscriber = Arc::new(move |es: &[Arc<Emission>]| {
        s.lock()
            .unwrap()
            .extend(es.iter().map(|e| e.as_ref().clone()))
    });
    (Live::start(config(), Some(sub), store).expect("live"), seen)
}

fn tables(events: &[Event]) -> Vec<collect::TableBatch> {
    let mut b = collect::EventBatch::new();
    for e in events {
        b.push(e);
    }
    b.finish().expect("batch")
}

/// Submits the first `seeds` events alone, then batches of 250, and waits until the engine has processed them, then lets it tick
/// a few more times (the idle check runs on every tick).
fn run(live: &Live, events: &[Event], seeds: usize) {
    let (seed, rest) = events.split_at(seeds);
    if !seed.is_empty() {
        live.submit(tables(seed));
    }
    for chunk in rest.chunks(250) {
        live.submit(tables(chunk));
    }
    let t = Instant::now();
    while live.queued() > 0 {
        assert!(t.elapsed() < Duration::from_secs(60), "live engine stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
}

fn by_job(es: &[Emission]) -> BTreeMap<String, Vec<Emission>> {
    let mut m: BTreeMap<String, Vec<Emission>> = BTreeMap::new();
    for e in es {
        m.entry(e.job.clone()).or_default().push(e.clone());
    }
    m
}

#[test]
fn a_restart_mid_stream_emits_what_one_uninterrupted_run_emits() {
    let all = events();
    let (first, second) = all.split_at(4 + 4_500);

    let (live, seen) = start(None);
    run(&live, &all, 4);
    live.stop();
    let whole = by_job(&seen.lock().unwrap());
    for job in JOBS {
        assert!(
            whole.get(*job).is_some_and(|v| !v.is_empty()),
            "{job} emitted nothing in the uninterrupted run"
        );
    }
    let odd: Vec<(&str, Kind, u32)> = whole
        .values()
        .flatten()
        .filter(|e| e.kind == Kind::Late || e.revision != 0)
        .map(|e| (e.job.as_str(), e.kind, e.revision))
        .collect();
    assert!(
        odd.is_empty(),
        "the stream is meant to have no late events: {odd:?}"
    );

    // The same stream with a stop after the first part: what the first run had was made durable
    // in the lake (as the server's fold does), and the second run starts from that lake.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(
        Store::open(StoreConfig::new(dir.path())).expect("store"),
    ));
    let (live, seen1) = start(Some(store.clone()));
    run(&live, first, 4);
    live.stop();
    {
        let mut st = store.lock().unwrap();
        let prepared = st.prepare(tables(first)).unwrap();
        st.commit(prepared, vec![], vec![], vec![], None).unwrap();
    }
    let (live, seen2) = start(Some(store.clone()));
    // Right after the start, and after the idle checks of the first ticks, every shop's
    // watermark is inside the data's time.
    std::thread::sleep(Duration::from_millis(50));
    let newest = first.iter().map(|e| e.ts).max().unwrap();
    for j in live.jobs() {
        let st = live.status(j).unwrap();
        for (shop, wm) in &st.watermarks {
            assert!(
                *wm <= newest && *wm > DAY,
                "{j} shop {shop}: watermark {wm} outside the data (newest event {newest})"
            );
        }
    }
    run(&live, second, 0);
    live.stop();

    let mut resumed = seen1.lock().unwrap().clone();
    resumed.extend(seen2.lock().unwrap().iter().cloned());
    let resumed = by_job(&resumed);
    assert_eq!(
        resumed.keys().collect::<Vec<_>>(),
        whole.keys().collect::<Vec<_>>()
    );
    for (job, want) in &whole {
        let got = &resumed[job];
        let late = got.iter().filter(|e| e.kind == Kind::Late).count();
        assert_eq!(late, 0, "{job}: {late} events went to the late output");
        assert_eq!(got.len(), want.len(), "{job}: emission count");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "{job}: emission {i} differs");
        }
    }
}
