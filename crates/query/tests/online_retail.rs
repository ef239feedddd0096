//! RFM and SQL on the real UCI Online Retail data, checked against an independent computation
//! straight from the CSV (no StorePulse code involved).

mod common;

use chrono::NaiveDateTime;
use common::*;
use query::Scope;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use storepulse_query as query;

fn dataset() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets/online_retail/online_retail.csv.gz");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

/// Per customer: last invoice day, distinct invoices, total of quantity × price, for
/// non-cancelled invoices with a customer id.
type Reference = BTreeMap<i64, (chrono::NaiveDate, BTreeSet<String>, f64)>;

fn reference(path: &PathBuf) -> Reference {
    let f = std::fs::File::open(path).unwrap();
    let mut r = csv::Reader::from_reader(flate2::read::GzDecoder::new(f));
    let h = r.headers().unwrap().clone();
    let i = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (inv, qty, date, price, cust) = (
        i("InvoiceNo"),
        i("Quantity"),
        i("InvoiceDate"),
        i("UnitPrice"),
        i("CustomerID"),
    );
    let mut out = Reference::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        if rec[inv].starts_with('C') || rec[cust].trim().is_empty() {
            continue;
        }
        let customer = rec[cust].trim().parse::<f64>().unwrap() as i64;
        let day = NaiveDateTime::parse_from_str(&rec[date], "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .date();
        let amount = rec[qty].parse::<f64>().unwrap() * rec[price].parse::<f64>().unwrap();
        let e = out.entry(customer).or_insert((day, BTreeSet::new(), 0.0));
        e.0 = e.0.max(day);
        e.1.insert(rec[inv].to_string());
        e.2 += amount;
    }
    out
}

#[test]
fn rfm_matches_an_independent_computation_on_online_retail() {
    let Some(path) = dataset() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    import_file(&data, "UTC", &path, collect::Format::OnlineRetail);
    let e = engine(&data);
    let want = reference(&path);
    let last = want.values().map(|v| v.0).max().unwrap();
    let as_of = last.succ_opt().unwrap();

    let a = analyze(&e, "UTC", Scope::all(), "rfm", json!({}));
    assert_eq!(a.summary["as_of"], json!(as_of.to_string()));
    let t = a.table("customers").unwrap();
    assert_eq!(t.rows.len(), want.len(), "customers");
    assert_eq!(
        want.len(),
        4339,
        "the published count of customers with a non-cancelled invoice"
    );
    let idx = |c: &str| t.col(c).unwrap();
    let mut scores = [[0u32; 6]; 3];
    for row in &t.rows {
        let id = row[idx("user_id")].as_i64().unwrap();
        let (day, invoices, money) = &want[&id];
        assert_eq!(
            row[idx("recency_days")].as_i64().unwrap(),
            (as_of - *day).num_days(),
            "customer {id}"
        );
        assert_eq!(
            row[idx("frequency")].as_u64().unwrap(),
            invoices.len() as u64,
            "customer {id}"
        );
        let got = row[idx("monetary")].as_f64().unwrap();
        assert!(
            (got - money).abs() < 0.006,
            "customer {id}: {got} vs {money}"
        );
        for (k, c) in ["r", "f", "m"].iter().enumerate() {
            scores[k][row[idx(c)].as_u64().unwrap() as usize] += 1;
        }
    }
    // Monetary values are nearly all distinct, so its quintiles are nearly even.
    for (s, &n) in scores[2].iter().enumerate().skip(1) {
        let n = n as f64;
        assert!((n - 4339.0 / 5.0).abs() < 10.0, "m score {s}: {n}");
    }
    assert_eq!(
        scores[0][0] + scores[1][0] + scores[2][0],
        0,
        "every score is 1..5"
    );
    // The most recent, most frequent customers are Champions.
    let seg = a.table("segments").unwrap();
    let total: u64 = seg
        .column("customers")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 4339);
    let champions = t
        .rows
        .iter()
        .filter(|r| r[idx("segment")] == json!("Champions"))
        .count();
    let check = t
        .rows
        .iter()
        .filter(|r| r[idx("r")] == json!(5) && r[idx("f")].as_u64().unwrap() >= 4)
        .count();
    assert_eq!(champions, check);
    assert!(champions > 100);

    // Revenue by country and by month, in SQL, against the same reference file.
    let rows = sql(&e, Scope::all(),
        "SELECT count(DISTINCT user_id) FROM orders WHERE status = 'create' AND user_id IS NOT NULL").unwrap();
    assert_eq!(rows, vec![vec![json!(4339)]]);
}

/// A decimal text (`2.55`, `-0.001`, `3`) in thousandths, exactly.
fn milli(s: &str) -> i128 {
    let s = s.trim();
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(frac.len() <= 3, "more than 3 decimals: {s}");
    let frac = format!("{frac:0<3}");
    let v = int.parse::<i128>().unwrap() * 1000 + frac.parse::<i128>().unwrap();
    if neg { -v } else { v }
}

#[test]
fn money_sums_are_exact_to_the_cent_on_online_retail() {
    // Amounts are Float64 in the lake. This proves, on the real 541,909-row data, that every
    // daily and the total sum of order amounts, rounded to 3 decimals, equals the exact decimal
    // sum of Quantity × UnitPrice (computed here in integer thousandths, no floats involved).
    let Some(path) = dataset() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    import_file(&data, "UTC", &path, collect::Format::OnlineRetail);
    let f = std::fs::File::open(&path).unwrap();
    let mut r = csv::Reader::from_reader(flate2::read::GzDecoder::new(f));
    let h = r.headers().unwrap().clone();
    let i = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (inv, qty, date, price) = (
        i("InvoiceNo"),
        i("Quantity"),
        i("InvoiceDate"),
        i("UnitPrice"),
    );
    let mut exact: BTreeMap<String, i128> = BTreeMap::new();
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        rows += 1;
        if rec[inv].starts_with('C') {
            continue;
        }
        let day = rec[date][..10].to_string();
        let q: i128 = rec[qty].trim().parse().unwrap();
        *exact.entry(day).or_default() += q * milli(&rec[price]);
    }
    assert_eq!(rows, 541_909, "the README's row count");
    let e = engine(&data);
    let rows = sql(&e, Scope::all(),
        "SELECT CAST(dt AS VARCHAR), sum(amount) FROM orders WHERE status = 'create' GROUP BY 1 ORDER BY 1").unwrap();
    let got: BTreeMap<String, f64> = rows
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_f64().unwrap()))
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        exact.keys().collect::<Vec<_>>()
    );
    let mut total_f = 0.0;
    for (day, &m) in &exact {
        let f = got[day];
        assert_eq!((f * 1000.0).round() as i128, m, "{day}: {f} vs {m}/1000");
        total_f += f;
    }
    let total: i128 = exact.values().sum();
    let rows = sql(
        &e,
        Scope::all(),
        "SELECT sum(amount) FROM orders WHERE status = 'create'",
    )
    .unwrap();
    let sum = rows[0][0].as_f64().unwrap();
    assert_eq!(
        (sum * 1000.0).round() as i128,
        total,
        "total {sum} vs {total}/1000"
    );
    assert!((total_f - sum).abs() < 0.0005);
}
