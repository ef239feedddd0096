//! Every real sample imports through `parse` with zero rejects and exact counts.

mod common;

use common::{Outcome, datasets, import, opts};
use model::EventType;
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;
use storepulse_collect::Format;

fn clean(path: &Path, format: Format) -> Outcome {
    let out = import(path, opts(format)).expect("import");
    out.assert_consistent();
    assert!(
        out.rejects.is_empty(),
        "{} rejects in {}, first: {:?}",
        out.rejects.len(),
        path.display(),
        out.rejects.first()
    );
    out
}

fn distinct(v: Vec<Option<i64>>) -> usize {
    v.into_iter().flatten().collect::<HashSet<_>>().len()
}

fn assert_taobao(out: &Outcome) {
    assert_eq!(out.records, 110_300);
    assert_eq!(out.kept, 110_300);
    assert_eq!(out.rows(EventType::Behavior), 110_300);
    let want: BTreeMap<String, usize> = [
        ("pv", 98_361),
        ("cart", 6_063),
        ("fav", 3_383),
        ("buy", 2_493),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(out.counts(EventType::Behavior, "action"), want);
    assert_eq!(distinct(out.ints(EventType::Behavior, "user_id")), 66_454);
    assert_eq!(distinct(out.ints(EventType::Behavior, "item_id")), 84_793);
    assert_eq!(
        distinct(out.ints(EventType::Behavior, "category_id")),
        3_913
    );
}

#[test]
fn taobao_user_behavior() {
    let Some(d) = datasets() else { return };
    let out = clean(
        &d.join("taobao_userbehavior/UserBehavior.csv"),
        Format::Taobao,
    );
    assert_taobao(&out);
}

#[test]
fn taobao_gzipped_gives_the_same_counts() {
    let Some(d) = datasets() else { return };
    let mut plain = Vec::new();
    std::fs::File::open(d.join("taobao_userbehavior/UserBehavior.csv"))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("UserBehavior.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&plain).unwrap();
    enc.finish().unwrap();
    assert!(std::fs::metadata(&gz).unwrap().len() < plain.len() as u64 / 2);
    let out = clean(&gz, Format::Taobao);
    assert_taobao(&out);
}

#[test]
fn course_logs() {
    let Some(d) = datasets() else { return };
    let d = d.join("course_logs");
    let cases = [
        ("apache.log", Format::AccessLog, EventType::PageView, 10_000),
        ("AdClickLog.csv", Format::AdClick, EventType::AdClick, 143),
        ("LoginLog.csv", Format::Login, EventType::Login, 50),
        (
            "LoginLog_v20200605.csv",
            Format::Login,
            EventType::Login,
            48,
        ),
        ("ReceiptLog.csv", Format::Receipt, EventType::Payment, 40),
        ("OrderLog.csv", Format::Order, EventType::Order, 78),
    ];
    for (file, format, table, n) in cases {
        let out = clean(&d.join(file), format);
        assert_eq!(
            (out.records, out.kept, out.rows(table)),
            (n, n as usize, n as usize),
            "{file}"
        );
    }
}

#[test]
fn order_log_statuses_match_an_independent_count() {
    let Some(d) = datasets() else { return };
    let path = d.join("course_logs/OrderLog.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut want = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let status = line.split(',').nth(1).unwrap().to_string();
        *want.entry(status).or_insert(0usize) += 1;
    }
    assert_eq!(want.len(), 2, "{want:?}");
    assert_eq!(want.values().sum::<usize>(), 78);
    let out = clean(&path, Format::Order);
    assert_eq!(out.counts(EventType::Order, "status"), want);
    // A pay always carries its transaction id, a create never does.
    let tx = out.strs(EventType::Order, "tx_id");
    let status = out.strs(EventType::Order, "status");
    for (s, t) in status.iter().zip(&tx) {
        assert_eq!(s.as_deref() == Some("pay"), t.is_some());
    }
}

#[test]
fn online_retail() {
    let Some(d) = datasets() else { return };
    let path = d.join("online_retail/online_retail.csv.gz");
    // Independent counts with the csv crate over the decompressed file.
    let mut rdr = csv::Reader::from_reader(flate2::read::GzDecoder::new(
        std::fs::File::open(&path).unwrap(),
    ));
    let (mut rows, mut cancels, mut no_customer) = (0usize, 0usize, 0usize);
    let mut stock_codes = HashSet::new();
    for r in rdr.records() {
        let r = r.unwrap();
        rows += 1;
        cancels += usize::from(r[0].starts_with('C'));
        no_customer += usize::from(r[6].is_empty());
        stock_codes.insert(r[1].to_string());
    }
    assert_eq!((rows, no_customer), (541_909, 135_080));

    let started = Instant::now();
    let out = clean(&path, Format::OnlineRetail);
    eprintln!(
        "online retail: {} events in {:.2?} ({} build)",
        out.kept,
        started.elapsed(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert_eq!(out.records, 541_910, "the header is record 1");
    assert_eq!(out.kept, 541_909);
    assert_eq!(out.rows(EventType::Order), 541_909);
    let status = out.counts(EventType::Order, "status");
    assert_eq!(status.get("cancel").copied().unwrap_or(0), cancels);
    assert_eq!(status.get("create").copied().unwrap_or(0), rows - cancels);
    let users = out.ints(EventType::Order, "user_id");
    assert_eq!(users.iter().filter(|u| u.is_none()).count(), 135_080);
    assert_eq!(distinct(users), 4_372);
    assert_eq!(out.counts(EventType::Order, "country").len(), 38);
    assert_eq!(
        out.strs(EventType::Order, "order_id")
            .into_iter()
            .flatten()
            .collect::<HashSet<_>>()
            .len(),
        25_900
    );
    // The item dimension learns every stock code.
    let items: HashSet<_> = out.items.iter().map(|i| i.item_id.as_i64()).collect();
    assert_eq!(items.len(), stock_codes.len());
    assert_eq!(items.len(), 4_070);
}
