//! Frequent itemsets and rules against mlxtend 0.25, run for real: python3 encodes the same
//! basket file with `TransactionEncoder`, mines it with `fpgrowth` or `apriori` and derives
//! rules with `association_rules(..., num_itemsets=n, metric=..., min_threshold=...)`; every
//! itemset (items, support) and every rule (both sides, every metric) must match ours, for
//! each of our three miners. Floats travel as Python `repr` strings so they parse exactly.
//!
//! Needs python3 with mlxtend and pandas and the shared datasets; without them these tests
//! fail, unless STOREPULSE_TEST_ALLOW_MISSING_REFS is set (then they print SKIPPED).

mod refs;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Command;
use storepulse_mining::Baskets;
use storepulse_mining::rules::{
    Algo, Itemset, ItemsetParams, Metric, Rule, RuleParams, frequent_itemsets, rules,
};

/// Mines `argv[1]` (one basket a line, comma separated) and prints JSON.
/// argv: file, min_support, max_len ('none' or int), miner, then metric:threshold pairs.
const MLXTEND: &str = r#"
import json, sys
import pandas as pd
from mlxtend.preprocessing import TransactionEncoder
from mlxtend.frequent_patterns import fpgrowth, apriori, association_rules
path, s, max_len, miner = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
max_len = None if max_len == 'none' else int(max_len)
with open(path) as f:
    tx = [[i for i in line.rstrip('\n').split(',') if i.strip()] for line in f]
te = TransactionEncoder()
df = pd.DataFrame(te.fit(tx).transform(tx), columns=te.columns_)
mine = {'fpgrowth': fpgrowth, 'apriori': apriori}[miner]
freq = mine(df, min_support=s, use_colnames=True, max_len=max_len)
out = {'n': len(df), 'itemsets': [[sorted(x), repr(float(v))] for x, v in zip(freq.itemsets, freq.support)], 'rules': {}}
cols = ['antecedent support', 'consequent support', 'support', 'confidence', 'lift', 'leverage', 'conviction']
for spec in sys.argv[5:]:
    metric, thr = spec.split(':')
    single = metric.endswith('/1')
    r = association_rules(freq, num_itemsets=len(df), metric=metric.removesuffix('/1'), min_threshold=float(thr))
    if single:
        r = r[r.consequents.map(len) == 1]
    vals = r[cols].to_numpy(dtype=float)
    out['rules'][spec] = [[sorted(a), sorted(c)] + [repr(float(x)) for x in row] for a, c, row in zip(r.antecedents, r.consequents, vals)]
print(json.dumps(out))
"#;

/// True when the test should skip (after saying why); fails otherwise.
fn skip_or_fail(why: &str) -> bool {
    !refs::missing(why)
}

use refs::datasets;

/// mlxtend imports, or the test should not go on.
fn have_mlxtend() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import mlxtend, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok || !skip_or_fail(
        "python3 with mlxtend 0.25 and pandas is needed: pip install mlxtend==0.25.0 pandas",
    )
}

/// (antecedent, consequent) → the seven metrics in mlxtend's column order.
type RuleTable = BTreeMap<(Vec<u32>, Vec<u32>), [f64; 7]>;

struct Reference {
    n: u64,
    /// Sorted ids → support.
    itemsets: BTreeMap<Vec<u32>, f64>,
    /// Per metric spec.
    rules: HashMap<String, RuleTable>,
}

fn run_mlxtend(
    file: &std::path::Path,
    b: &Baskets,
    s: f64,
    max_len: Option<usize>,
    miner: &str,
    specs: &[&str],
) -> Reference {
    let max_len = max_len.map_or("none".to_string(), |m| m.to_string());
    let out = Command::new("python3")
        .args(["-c", MLXTEND])
        .arg(file)
        .args([s.to_string(), max_len, miner.to_string()])
        .args(specs)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "mlxtend failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("mlxtend prints JSON");
    // Baskets trims names; TransactionEncoder keeps Groceries' trailing spaces.
    let ids: HashMap<&str, u32> = b
        .items
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let to_ids = |names: &serde_json::Value| -> Vec<u32> {
        let mut v: Vec<u32> = names
            .as_array()
            .expect("names")
            .iter()
            .map(|n| ids[n.as_str().expect("a name").trim()])
            .collect();
        v.sort_unstable();
        v
    };
    let num = |x: &serde_json::Value| -> f64 { x.as_str().expect("repr").parse().expect("float") };
    let itemsets = v["itemsets"]
        .as_array()
        .expect("itemsets")
        .iter()
        .map(|e| (to_ids(&e[0]), num(&e[1])))
        .collect();
    let mut rules = HashMap::new();
    for spec in specs {
        let list = v["rules"][*spec].as_array().expect("rules");
        let map: BTreeMap<_, _> = list
            .iter()
            .map(|r| {
                let m: [f64; 7] = std::array::from_fn(|i| num(&r[2 + i]));
                ((to_ids(&r[0]), to_ids(&r[1])), m)
            })
            .collect();
        assert_eq!(map.len(), list.len(), "{spec}: mlxtend repeats a rule");
        rules.insert(spec.to_string(), map);
    }
    Reference {
        n: v["n"].as_u64().expect("n"),
        itemsets,
        rules,
    }
}

fn assert_itemsets(
    ours: &[Itemset],
    reference: &BTreeMap<Vec<u32>, f64>,
    names: &[String],
    what: &str,
) {
    let mut sorted = ours.to_vec();
    sorted.sort_by(|a, b| (a.items.len(), &a.items).cmp(&(b.items.len(), &b.items)));
    assert_eq!(ours, sorted.as_slice(), "{what}: not in canonical order");
    let got: BTreeMap<Vec<u32>, f64> = ours.iter().map(|s| (s.items.clone(), s.support)).collect();
    let show = |k: &Vec<u32>| storepulse_mining::rules::display(k, names);
    for (k, s) in reference {
        match got.get(k) {
            None => panic!("{what}: mlxtend finds {} (support {s}), we do not", show(k)),
            Some(g) => assert_eq!(g, s, "{what}: support of {}", show(k)),
        }
    }
    if let Some(k) = got.keys().find(|k| !reference.contains_key(*k)) {
        panic!("{what}: we find {}, mlxtend does not", show(k));
    }
    assert!(!reference.is_empty(), "{what}: the case finds nothing");
}

fn assert_rules(ours: &[Rule], reference: &RuleTable, names: &[String], what: &str) {
    let show = |(a, c): &(Vec<u32>, Vec<u32>)| {
        let d = storepulse_mining::rules::display;
        format!("{} -> {}", d(a, names), d(c, names))
    };
    let mut got = BTreeMap::new();
    for r in ours {
        let m = [
            r.antecedent_support,
            r.consequent_support,
            r.support,
            r.confidence,
            r.lift,
            r.leverage,
            r.conviction,
        ];
        let key = (r.antecedent.clone(), r.consequent.clone());
        assert!(
            got.insert(key.clone(), m).is_none(),
            "{what}: {} twice",
            show(&key)
        );
    }
    let labels = [
        "antecedent support",
        "consequent support",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
    ];
    for (k, want) in reference {
        let Some(have) = got.get(k) else {
            panic!("{what}: mlxtend has the rule {}, we do not", show(k));
        };
        for i in 0..7 {
            let (h, w) = (have[i], want[i]);
            let same = (h.is_infinite() && h == w) || (h - w).abs() <= 1e-12;
            assert!(
                same,
                "{what}: {} {}: ours {h}, mlxtend {w}",
                show(k),
                labels[i]
            );
        }
    }
    if let Some(k) = got.keys().find(|k| !reference.contains_key(*k)) {
        panic!("{what}: we have the rule {}, mlxtend does not", show(k));
    }
    assert!(!reference.is_empty(), "{what}: the case has no rules");
}

const ALGOS: [Algo; 3] = [Algo::Apriori, Algo::Eclat, Algo::FpGrowth];

/// One basket file, one mlxtend run, compared with each of our miners and each rule spec.
fn check(file: &std::path::Path, s: f64, max_len: Option<usize>, miner: &str, specs: &[&str]) {
    let text = std::fs::read_to_string(file).expect("basket file");
    let b = Baskets::parse(&text, ',', true);
    let reference = run_mlxtend(file, &b, s, max_len, miner, specs);
    assert_eq!(reference.n, b.len() as u64, "both read the same baskets");
    for algo in ALGOS {
        let p = ItemsetParams {
            min_support: s,
            max_len,
            algo,
        };
        let sets = frequent_itemsets(&b, &p).expect("mines");
        let what = format!("{algo:?} vs mlxtend {miner}, s = {s}, max_len {max_len:?}");
        assert_itemsets(&sets, &reference.itemsets, &b.items, &what);
        for spec in specs {
            let (metric, thr) = spec.split_once(':').expect("metric:threshold");
            let single = metric.ends_with("/1");
            let metric: Metric = metric.trim_end_matches("/1").parse().expect("metric");
            let p = RuleParams {
                metric,
                min_threshold: thr.parse().expect("threshold"),
                single_consequent: single,
            };
            let got = rules(&sets, b.len() as u64, &p).expect("rules");
            assert_rules(
                &got,
                &reference.rules[*spec],
                &b.items,
                &format!("{what}, rules {spec}"),
            );
        }
    }
}

fn groceries() -> Option<PathBuf> {
    let f = datasets().join("groceries/groceries.csv");
    if f.exists() {
        Some(f)
    } else {
        skip_or_fail(&format!("{} is missing (the shared datasets)", f.display()));
        None
    }
}

#[test]
fn groceries_fpgrowth_and_rules_match_mlxtend() {
    let Some(file) = groceries().filter(|_| have_mlxtend()) else {
        return;
    };
    check(
        &file,
        0.006,
        None,
        "fpgrowth",
        &[
            "confidence:0.25",
            "lift:2.0",
            "leverage:0.005",
            "conviction:1.2",
            "support:0.01",
        ],
    );
}

#[test]
fn groceries_apriori_and_one_item_consequents_match_mlxtend() {
    let Some(file) = groceries().filter(|_| have_mlxtend()) else {
        return;
    };
    // "/1": mlxtend's rules kept to one-item consequents, our `single_consequent`.
    check(
        &file,
        0.006,
        None,
        "apriori",
        &["confidence/1:0.25", "lift/1:1.5"],
    );
}

#[test]
fn groceries_max_len_and_a_lower_support_match_mlxtend() {
    let Some(file) = groceries().filter(|_| have_mlxtend()) else {
        return;
    };
    check(
        &file,
        0.002,
        Some(3),
        "fpgrowth",
        &["confidence:0.5", "conviction:1.5"],
    );
}

/// Online Retail's invoices (cancellations and returns left out) as baskets of stock codes,
/// written by pandas: the README's ~20k-invoice case.
#[test]
fn online_retail_invoices_match_mlxtend() {
    if !have_mlxtend() {
        return;
    }
    let gz = datasets().join("online_retail/online_retail.csv.gz");
    if !gz.exists() {
        skip_or_fail(&format!(
            "{} is missing (the shared datasets)",
            gz.display()
        ));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("invoices.csv");
    let script = r#"
import sys, pandas as pd
d = pd.read_csv(sys.argv[1], dtype=str)
d = d[~d.InvoiceNo.str.startswith('C') & (d.Quantity.astype(int) > 0)]
with open(sys.argv[2], 'w') as f:
    for _, codes in d.groupby('InvoiceNo', sort=True).StockCode:
        f.write(','.join(sorted(set(codes))) + '\n')
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&gz)
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(
        &file,
        0.01,
        None,
        "fpgrowth",
        &["confidence:0.5", "lift:10"],
    );
}
