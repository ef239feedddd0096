//! Helpers: events built through the real collect path, fed to jobs in batches.

#![allow(dead_code)]

use collect::EventBatch;
use model::{AdClick, Behavior, Event, EventBody, Id, Order};
use std::collections::BTreeMap;
use storepulse_stream as stream;
use stream::{Emission, Job, JobConfig, Kind};

pub const MIN: i64 = 60_000;
pub const H: i64 = 3_600_000;

fn event(ts: i64, shop: &str, body: EventBody) -> Event {
    Event {
        event_id: None,
        shop: Some(shop.to_string()),
        ts,
        received_at: None,
        body,
        props: None,
    }
}

pub fn bev(ts: i64, user: i64, item: i64, action: &str) -> Event {
    bev_in("default", ts, user, item, action)
}

pub fn bev_in(shop: &str, ts: i64, user: i64, item: i64, action: &str) -> Event {
    event(
        ts,
        shop,
        EventBody::Behavior(Behavior {
            user_id: Id::Num(user),
            item_id: Id::Num(item),
            category_id: Some(Id::Num(item % 10)),
            action: action.into(),
            session_id: None,
            price: None,
            qty: None,
            channel: None,
        }),
    )
}

pub fn order(ts: i64, id: &str, status: &str, amount: f64) -> Event {
    event(
        ts,
        "default",
        EventBody::Order(Order {
            order_id: id.into(),
            user_id: Some(Id::Num(1)),
            status: status.into(),
            amount: Some(amount),
            tx_id: None,
            item_id: None,
            qty: None,
            price: None,
            country: None,
        }),
    )
}

pub fn click(ts: i64, user: i64, ad: &str, province: &str) -> Event {
    event(
        ts,
        "default",
        EventBody::AdClick(AdClick {
            user_id: Id::Num(user),
            ad_id: ad.into(),
            province: Some(province.into()),
            city: None,
        }),
    )
}

pub fn job(name: &str, cfg: JobConfig) -> Box<dyn Job> {
    stream::build(name, &cfg, store::Zone::default()).expect("job")
}

pub fn cfg(pairs: &[(&str, &str)]) -> JobConfig {
    let mut c = JobConfig::default();
    for (k, v) in pairs {
        let v = Some(v.to_string());
        match *k {
            "window" => c.window = v,
            "slide" => c.slide = v,
            "lateness" => c.lateness = v,
            "ooo" => c.out_of_orderness = v,
            "idle" => c.idle_timeout = v,
            "gap" => c.gap = v,
            "top" => c.top = v.and_then(|s| s.parse().ok()),
            "windows" => c.windows = v.map(|s| s.split(',').map(String::from).collect()),
            "threshold" => c.threshold = v.and_then(|s| s.parse().ok()),
            other => panic!("unknown setting {other}"),
        }
    }
    c
}

/// Feeds `events` in batches of `batch` (processing time `now`), without finishing.
pub fn feed(job: &mut dyn Job, events: &[Event], batch: usize, now: i64) -> Vec<Emission> {
    let mut out = Vec::new();
    let mut rows = 0;
    for chunk in events.chunks(batch.max(1)) {
        let mut b = EventBatch::new();
        for e in chunk {
            b.push(e);
        }
        let tables = b.finish().expect("batch");
        stream::replay::process_tables(job, &tables, now, &mut out, &mut rows).expect("process");
    }
    out
}

/// Feeds everything and finishes.
pub fn run(job: &mut dyn Job, events: &[Event], batch: usize) -> Vec<Emission> {
    let mut out = feed(job, events, batch, 0);
    job.finish(&mut out);
    out
}

/// Window key of an emission: shop, start, end and the row keys of a keyed window (kpis/uv label).
pub type WinKey = (String, i64, i64, String);

pub fn win_key(e: &Emission) -> WinKey {
    let label = match e.rows.first() {
        Some(r) if r.rank.is_none() => r
            .keys
            .iter()
            .filter(|(k, _)| *k == "window")
            .map(|(_, v)| v.to_string())
            .collect(),
        _ => String::new(),
    };
    (e.shop.clone(), e.start, e.end, label)
}

/// The last revision of every window's result.
pub fn finals(es: &[Emission]) -> BTreeMap<WinKey, Emission> {
    let mut m: BTreeMap<WinKey, Emission> = BTreeMap::new();
    for e in es {
        if matches!(e.kind, Kind::Result | Kind::Update) {
            m.insert(win_key(e), e.clone());
        }
    }
    m
}

/// (key, value) pairs of a counted window: first key field and first metric.
pub fn pairs(e: &Emission) -> Vec<(String, f64)> {
    e.rows
        .iter()
        .map(|r| (r.keys[0].1.to_string(), r.values[0].1))
        .collect()
}

pub fn metric(e: &Emission, name: &str) -> f64 {
    e.rows[0]
        .values
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no metric {name} in {e:?}"))
}

pub fn of_kind(es: &[Emission], k: Kind) -> Vec<&Emission> {
    es.iter().filter(|e| e.kind == k).collect()
}
