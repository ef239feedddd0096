//! Criterion benches of the frequent-itemset miners and rule generation on real baskets:
//! Groceries (9,835 baskets) at min_support 0.006, the case compared with mlxtend in
//! `tests/rules_mlxtend.rs`, and Online Retail's ~22k invoices at 0.01. Run with
//! `cargo bench -p storepulse-mining --bench rules --locked`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use storepulse_mining::Baskets;
use storepulse_mining::rules::{Algo, ItemsetParams, Metric, RuleParams, frequent_itemsets, rules};

fn datasets() -> PathBuf {
    std::env::var_os("STOREPULSE_DATASETS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"),
        PathBuf::from,
    )
}

/// Splits one CSV line, honouring quotes (Online Retail's descriptions hold commas).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Online Retail's invoices (no cancellations or returns) as baskets of stock codes.
fn invoices() -> Option<Baskets> {
    let gz = datasets().join("online_retail/online_retail.csv.gz");
    let out = Command::new("gzip").arg("-dc").arg(&gz).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut by_invoice: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in text.lines().skip(1) {
        let f = fields(line);
        let qty: i64 = f.get(3).and_then(|q| q.parse().ok()).unwrap_or(0);
        if f.len() < 4 || f[0].starts_with('C') || qty <= 0 {
            continue;
        }
        by_invoice
            .entry(f[0].clone())
            .or_default()
            .push(f[1].clone());
    }
    Some(Baskets::from_names(by_invoice.into_values()))
}

fn benches(c: &mut Criterion) {
    let path = datasets().join("groceries/groceries.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIPPED: {} is missing", path.display());
        return;
    };
    let groceries = Baskets::parse(&text, ',', true);
    let mut g = c.benchmark_group("groceries_s0.006");
    for algo in [Algo::FpGrowth, Algo::Eclat, Algo::Apriori] {
        let p = ItemsetParams {
            min_support: 0.006,
            max_len: None,
            algo,
        };
        g.bench_function(format!("{algo:?}"), |bench| {
            bench.iter(|| frequent_itemsets(black_box(&groceries), &p))
        });
    }
    let sets = frequent_itemsets(&groceries, &ItemsetParams::new(0.006)).expect("mines");
    let n = groceries.len() as u64;
    let p = RuleParams::new(Metric::Confidence, 0.25);
    g.bench_function("rules_confidence_0.25", |bench| {
        bench.iter(|| rules(black_box(&sets), n, &p))
    });
    g.finish();

    let Some(inv) = invoices() else {
        eprintln!("SKIPPED: online_retail.csv.gz is missing or gzip failed");
        return;
    };
    let mut g = c.benchmark_group("online_retail_s0.01");
    g.sample_size(10);
    for algo in [Algo::FpGrowth, Algo::Eclat, Algo::Apriori] {
        let p = ItemsetParams {
            min_support: 0.01,
            max_len: None,
            algo,
        };
        g.bench_function(format!("{algo:?}"), |bench| {
            bench.iter(|| frequent_itemsets(black_box(&inv), &p))
        });
    }
    g.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
