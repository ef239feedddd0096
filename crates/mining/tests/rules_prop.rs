//! Random baskets: Apriori, Eclat and FP-growth return the same itemsets, equal (on up to 8
//! items) to a brute-force count over every itemset with mlxtend's `count / n >= s` test; the
//! rules equal a brute-force derivation over every split (bit masks, independent of our
//! combination walk) with textbook formulas from counts; `min_count` is the least count that
//! passes the float test.

use proptest::prelude::*;
use std::collections::BTreeMap;
use storepulse_mining::Baskets;
use storepulse_mining::rules::itemset::min_count;
use storepulse_mining::rules::{
    Algo, Itemset, ItemsetParams, Metric, RuleParams, frequent_itemsets, rules,
};

fn to_baskets(n_items: u32, tx: Vec<Vec<u32>>) -> Baskets {
    let transactions: Vec<Vec<u32>> = tx
        .into_iter()
        .map(|mut t| {
            t.retain(|&i| i < n_items);
            t.sort_unstable();
            t.dedup();
            t
        })
        .collect();
    Baskets {
        items: (0..n_items).map(|i| format!("i{i}")).collect(),
        transactions,
    }
}

/// Every itemset over `n_items` items, counted directly.
fn brute_force(b: &Baskets, n_items: u32, s: f64, max_len: Option<usize>) -> Vec<Itemset> {
    let n = b.len() as u64;
    let masks: Vec<u32> = b
        .transactions
        .iter()
        .map(|t| t.iter().fold(0u32, |m, &i| m | 1 << i))
        .collect();
    let mut out = Vec::new();
    for set in 1u32..(1 << n_items) {
        let items: Vec<u32> = (0..n_items).filter(|i| set >> i & 1 == 1).collect();
        if max_len.is_some_and(|m| items.len() > m) {
            continue;
        }
        let count = masks.iter().filter(|&&m| m & set == set).count() as u64;
        let support = count as f64 / n as f64;
        if support >= s {
            out.push(Itemset {
                items,
                count,
                support,
            });
        }
    }
    out.sort_by(|a, b| (a.items.len(), &a.items).cmp(&(b.items.len(), &b.items)));
    out
}

fn all_three(b: &Baskets, s: f64, max_len: Option<usize>) -> Vec<Itemset> {
    let run = |algo| {
        frequent_itemsets(
            b,
            &ItemsetParams {
                min_support: s,
                max_len,
                algo,
            },
        )
    };
    let a = run(Algo::Apriori).unwrap();
    let e = run(Algo::Eclat).unwrap();
    let f = run(Algo::FpGrowth).unwrap();
    assert_eq!(a, e, "Apriori vs Eclat");
    assert_eq!(a, f, "Apriori vs FP-growth");
    a
}

/// Up to `max_items` items, up to `max_tx` baskets of at most `max_basket` draws each.
fn baskets_strategy(
    max_items: u32,
    max_tx: usize,
    max_basket: usize,
) -> impl Strategy<Value = (u32, Vec<Vec<u32>>)> {
    (1..=max_items).prop_flat_map(move |n_items| {
        let tx = prop::collection::vec(
            prop::collection::vec(0..n_items, 0..=max_basket.min(n_items as usize)),
            1..max_tx,
        );
        (Just(n_items), tx)
    })
}

fn support_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.001f64..1.0,
        Just(1.0),
        (1u32..10).prop_map(|k| f64::from(k) / 10.0)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn miners_equal_a_brute_force_count(
        (n_items, tx) in baskets_strategy(8, 40, 8),
        s in support_strategy(),
        max_len in prop::option::of(1usize..5),
    ) {
        let b = to_baskets(n_items, tx);
        let ours = all_three(&b, s, max_len);
        prop_assert_eq!(ours, brute_force(&b, n_items, s, max_len));
    }

    #[test]
    fn rules_equal_a_brute_force_derivation(
        (n_items, tx) in baskets_strategy(7, 30, 7),
        s in 0.01f64..0.6,
        single in any::<bool>(),
        metric in prop::sample::select(vec![Metric::Confidence, Metric::Lift, Metric::Leverage, Metric::Conviction, Metric::Support]),
        thr in -0.2f64..2.5,
    ) {
        let b = to_baskets(n_items, tx);
        let n = b.len() as u64;
        let sets = all_three(&b, s, None);
        let count: BTreeMap<Vec<u32>, u64> = sets.iter().map(|x| (x.items.clone(), x.count)).collect();
        let got = rules(&sets, n, &RuleParams { metric, min_threshold: thr, single_consequent: single }).unwrap();
        let mut want = Vec::new();
        for x in sets.iter().filter(|x| x.items.len() >= 2) {
            let k = x.items.len() as u32;
            for mask in 1u32..(1 << k) - 1 {
                let side = |inside: bool| -> Vec<u32> {
                    (0..k).filter(|j| (mask >> j & 1 == 1) == inside).map(|j| x.items[j as usize]).collect()
                };
                let (a, c) = (side(true), side(false));
                if single && c.len() != 1 {
                    continue;
                }
                want.push((a, c));
            }
        }
        let nf = n as f64;
        let mut kept = BTreeMap::new();
        for (a, c) in want {
            let (ca, cc) = (count[&a] as f64, count[&c] as f64);
            let mut ac = a.clone();
            ac.extend(&c);
            ac.sort_unstable();
            let cac = count[&ac] as f64;
            let conf = cac / ca;
            let value = match metric {
                Metric::Confidence => conf,
                Metric::Lift => conf / (cc / nf),
                Metric::Leverage => cac / nf - ca / nf * (cc / nf),
                Metric::Conviction => if cac == ca { f64::INFINITY } else { (1.0 - cc / nf) / (1.0 - conf) },
                Metric::Support => cac / nf,
            };
            // Far from the threshold, rounding cannot decide; near it, ours must say why.
            if (value - thr).abs() > 1e-9 && value < thr {
                continue;
            }
            kept.insert((a, c), (ca / nf, cc / nf, cac / nf, conf, value));
        }
        let mut seen = BTreeMap::new();
        for r in &got {
            let key = (r.antecedent.clone(), r.consequent.clone());
            let Some(&(sa, sc, sac, conf, value)) = kept.get(&key) else {
                return Err(TestCaseError::fail(format!("unexpected rule {key:?}")));
            };
            prop_assert!(r.metric(metric) >= thr);
            prop_assert_eq!((r.antecedent_support, r.consequent_support, r.support), (sa, sc, sac));
            prop_assert!((r.confidence - conf).abs() < 1e-12);
            prop_assert!((r.lift - conf / sc).abs() < 1e-9);
            prop_assert!((r.leverage - (sac - sa * sc)).abs() < 1e-12);
            if conf == 1.0 {
                prop_assert_eq!(r.conviction, f64::INFINITY);
            } else {
                prop_assert!((r.conviction - (1.0 - sc) / (1.0 - conf)).abs() < 1e-9);
            }
            if value.is_finite() {
                prop_assert!((r.metric(metric) - value).abs() < 1e-9);
            }
            seen.insert(key, ());
        }
        // Every rule clearly above the threshold is there.
        for (key, &(.., value)) in &kept {
            if value - thr > 1e-9 || value == f64::INFINITY {
                prop_assert!(seen.contains_key(key), "missing rule {:?}", key);
            }
        }
    }

    #[test]
    fn min_count_is_the_least_count_passing_the_float_test(s in support_strategy(), n in 1u64..100_000) {
        let c = min_count(s, n);
        prop_assert!(c >= 1 && c <= n);
        prop_assert!(c as f64 / n as f64 >= s);
        prop_assert!(c == 1 || ((c - 1) as f64 / n as f64) < s);
    }
}

proptest! {
    // Bigger inputs, fewer cases: no brute force here, the three miners hold each other.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn miners_agree_on_larger_baskets(
        (n_items, tx) in baskets_strategy(40, 300, 12),
        s in 0.02f64..0.5,
        max_len in prop::option::of(2usize..6),
    ) {
        let b = to_baskets(n_items, tx);
        all_three(&b, s, max_len);
    }
}
