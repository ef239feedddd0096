//! Hand-worked frequent itemsets and rules (expected values worked out on paper in each
//! test), mlxtend's support-threshold boundary, and the errors for bad input.

use storepulse_mining::rules::itemset::min_count;
use storepulse_mining::rules::{
    Algo, Itemset, ItemsetParams, Metric, RuleParams, display, frequent_itemsets, rules,
};
use storepulse_mining::{Baskets, MiningError};

const ALGOS: [Algo; 3] = [Algo::Apriori, Algo::Eclat, Algo::FpGrowth];

fn baskets(tx: &[&[&str]]) -> Baskets {
    Baskets::from_names(tx.iter().map(|t| t.iter().copied()))
}

fn mine(b: &Baskets, s: f64, max_len: Option<usize>) -> Vec<Itemset> {
    let mut first: Option<Vec<Itemset>> = None;
    for algo in ALGOS {
        let got = frequent_itemsets(
            b,
            &ItemsetParams {
                min_support: s,
                max_len,
                algo,
            },
        )
        .unwrap();
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(&got, f, "{algo:?} differs from Apriori"),
        }
    }
    first.unwrap()
}

fn set(items: &[u32], count: u64, n: u64) -> Itemset {
    Itemset {
        items: items.to_vec(),
        count,
        support: count as f64 / n as f64,
    }
}

#[test]
fn a_rule_that_always_holds_has_infinite_conviction() {
    // a: 0, b: 1. {a, b} twice, {b} once: a → b always holds.
    let b = baskets(&[&["a", "b"], &["a", "b"], &["b"]]);
    let sets = mine(&b, 0.5, None);
    assert_eq!(
        sets,
        vec![set(&[0], 2, 3), set(&[1], 3, 3), set(&[0, 1], 2, 3)]
    );
    let r = rules(&sets, 3, &RuleParams::new(Metric::Confidence, 0.0)).unwrap();
    assert_eq!(r.len(), 2);
    let (ab, ba) = (&r[0], &r[1]);
    assert_eq!(
        (ab.antecedent.as_slice(), ab.consequent.as_slice()),
        (&[0][..], &[1][..])
    );
    assert_eq!(ab.confidence, 1.0);
    assert_eq!(ab.lift, 1.0);
    assert_eq!(ab.leverage, 0.0);
    assert_eq!(ab.conviction, f64::INFINITY);
    // b → a: confidence 2/3, conviction (1 - 2/3) / (1 - 2/3) = 1.
    assert!((ba.confidence - 2.0 / 3.0).abs() < 1e-15);
    assert!((ba.conviction - 1.0).abs() < 1e-12);
    // Thresholding on conviction keeps the infinite one.
    let r = rules(&sets, 3, &RuleParams::new(Metric::Conviction, 1e300)).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].antecedent, vec![0]);
}

#[test]
fn max_len_stops_at_pairs() {
    let b = baskets(&[&["x", "y", "z"], &["x", "y", "z"], &["x"]]);
    let sets = mine(&b, 0.5, Some(2));
    let want = vec![
        set(&[0], 3, 3),
        set(&[1], 2, 3),
        set(&[2], 2, 3),
        set(&[0, 1], 2, 3),
        set(&[0, 2], 2, 3),
        set(&[1, 2], 2, 3),
    ];
    assert_eq!(sets, want);
    let all = mine(&b, 0.5, None);
    assert_eq!(all.last(), Some(&set(&[0, 1, 2], 2, 3)));
    assert_eq!(mine(&b, 0.5, Some(1)), want[..3].to_vec());
}

#[test]
fn min_support_one_keeps_items_in_every_basket() {
    let b = baskets(&[
        &["milk", "bread"],
        &["bread", "eggs", "milk"],
        &["milk", "bread", "jam"],
    ]);
    assert_eq!(
        mine(&b, 1.0, None),
        vec![set(&[0], 3, 3), set(&[1], 3, 3), set(&[0, 1], 3, 3)]
    );
}

#[test]
fn one_item_baskets_give_singletons_and_no_rules() {
    let b = baskets(&[&["a"], &["b"], &["a"], &["c"]]);
    let sets = mine(&b, 0.25, None);
    assert_eq!(
        sets,
        vec![set(&[0], 2, 4), set(&[1], 1, 4), set(&[2], 1, 4)]
    );
    assert!(
        rules(&sets, 4, &RuleParams::new(Metric::Confidence, 0.0))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn empty_baskets_count_in_the_support() {
    let b = Baskets::parse("a,b\n\n\na\n", ',', true);
    assert_eq!(b.len(), 4);
    // a in 2 of 4, b in 1 of 4: at 0.5 only {a}.
    assert_eq!(mine(&b, 0.5, None), vec![set(&[0], 2, 4)]);
    // With no basket holding a frequent item the result is empty, not an error.
    assert!(mine(&Baskets::parse("\n\n", ',', true), 0.5, None).is_empty());
}

#[test]
fn the_threshold_is_mlxtends_float_comparison() {
    // 3 / 10 == 0.3 in f64, but 0.1 * 3 is just above it.
    assert_eq!(min_count(0.3, 10), 3);
    assert_eq!(min_count(0.1 * 3.0, 10), 4);
    assert_eq!(min_count(1.0, 7), 7);
    assert_eq!(min_count(1e-9, 7), 1);
    let b = baskets(&[
        &["a"],
        &["a"],
        &["a"],
        &["b"],
        &["b"],
        &["b"],
        &["b"],
        &["c"],
        &["c"],
        &["c"],
    ]);
    let ids = |v: Vec<Itemset>| v.into_iter().map(|s| s.items).collect::<Vec<_>>();
    assert_eq!(ids(mine(&b, 0.3, None)), vec![vec![0], vec![1], vec![2]]);
    assert_eq!(ids(mine(&b, 0.1 * 3.0, None)), vec![vec![1]]);
}

#[test]
fn multi_item_consequents_and_single_consequents() {
    // Every basket has p, q, r: 6 rules from {p, q, r}, 6 from its pairs.
    let b = baskets(&[&["p", "q", "r"], &["p", "q", "r"]]);
    let sets = mine(&b, 1.0, None);
    let all = rules(&sets, 2, &RuleParams::new(Metric::Confidence, 1.0)).unwrap();
    let sides: Vec<(Vec<u32>, Vec<u32>)> = all
        .iter()
        .map(|r| (r.antecedent.clone(), r.consequent.clone()))
        .collect();
    let v = |x: &[u32]| x.to_vec();
    assert_eq!(
        sides,
        vec![
            (v(&[0]), v(&[1])),
            (v(&[1]), v(&[0])),
            (v(&[0]), v(&[2])),
            (v(&[2]), v(&[0])),
            (v(&[1]), v(&[2])),
            (v(&[2]), v(&[1])),
            (v(&[0, 1]), v(&[2])),
            (v(&[0, 2]), v(&[1])),
            (v(&[1, 2]), v(&[0])),
            (v(&[0]), v(&[1, 2])),
            (v(&[1]), v(&[0, 2])),
            (v(&[2]), v(&[0, 1])),
        ]
    );
    let p = RuleParams {
        single_consequent: true,
        ..RuleParams::new(Metric::Confidence, 1.0)
    };
    let single = rules(&sets, 2, &p).unwrap();
    assert_eq!(single.len(), 9);
    assert!(single.iter().all(|r| r.consequent.len() == 1));
}

#[test]
fn lift_and_leverage_by_hand() {
    // 4 baskets: {a,b}, {a}, {b}, {c}. s(a)=s(b)=1/2, s(ab)=1/4: lift 1, leverage 0.
    // a → c never co-occur, so no rule exists for them.
    let b = baskets(&[&["a", "b"], &["a"], &["b"], &["c"]]);
    let sets = mine(&b, 0.25, None);
    let r = rules(&sets, 4, &RuleParams::new(Metric::Lift, 0.0)).unwrap();
    assert_eq!(r.len(), 2);
    for x in &r {
        assert_eq!(x.confidence, 0.5);
        assert_eq!(x.lift, 1.0);
        assert_eq!(x.leverage, 0.0);
        assert_eq!(x.conviction, 1.0);
    }
    assert!(
        rules(&sets, 4, &RuleParams::new(Metric::Lift, 1.01))
            .unwrap()
            .is_empty()
    );
    assert!(
        rules(&sets, 4, &RuleParams::new(Metric::Leverage, 1e-9))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        rules(&sets, 4, &RuleParams::new(Metric::Support, 0.25))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn names_render_in_braces() {
    let names = vec!["whole milk".to_string(), "yogurt".to_string()];
    assert_eq!(display(&[0, 1], &names), "{whole milk, yogurt}");
    assert_eq!(display(&[], &names), "{}");
    assert_eq!(display(&[1, 7], &names), "{yogurt, #7}");
}

fn bad_param(e: MiningError) -> (String, String) {
    match e {
        MiningError::BadParameter { name, message } => (name, message),
        other => panic!("not a BadParameter: {other:?}"),
    }
}

#[test]
fn names_of_algorithms_and_metrics_parse_with_suggestions() {
    assert_eq!("FP-Growth".parse::<Algo>().unwrap(), Algo::FpGrowth);
    assert_eq!("eclat".parse::<Algo>().unwrap(), Algo::Eclat);
    assert_eq!(" Apriori ".parse::<Algo>().unwrap(), Algo::Apriori);
    let (name, msg) = bad_param("fpgrwth".parse::<Algo>().unwrap_err());
    assert_eq!(name, "algo");
    assert!(msg.contains("did you mean \"fpgrowth\""), "{msg}");
    assert!(msg.contains("apriori, eclat, fpgrowth"), "{msg}");
    let (_, msg) = bad_param("kmeans".parse::<Algo>().unwrap_err());
    assert!(!msg.contains("did you mean"), "{msg}");
    assert_eq!("Lift".parse::<Metric>().unwrap(), Metric::Lift);
    let (name, msg) = bad_param("confidance".parse::<Metric>().unwrap_err());
    assert_eq!(name, "metric");
    assert!(msg.contains("did you mean \"confidence\""), "{msg}");
    assert!(
        msg.contains("confidence, lift, leverage, conviction, support"),
        "{msg}"
    );
}

#[test]
fn bad_support_and_length_are_refused_with_the_parameter_named() {
    let b = baskets(&[&["a"]]);
    for s in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        let (name, msg) = bad_param(frequent_itemsets(&b, &ItemsetParams::new(s)).unwrap_err());
        assert_eq!(name, "min_support", "{s}");
        assert!(msg.contains("(0, 1]"), "{msg}");
    }
    let p = ItemsetParams {
        max_len: Some(0),
        ..ItemsetParams::new(0.5)
    };
    let (name, msg) = bad_param(frequent_itemsets(&b, &p).unwrap_err());
    assert_eq!(name, "max_len");
    assert!(msg.contains("at least 1"), "{msg}");
}

#[test]
fn no_baskets_is_an_empty_input() {
    let e = frequent_itemsets(&Baskets::default(), &ItemsetParams::new(0.5)).unwrap_err();
    assert!(
        matches!(&e, MiningError::Empty(m) if m.contains("no transactions")),
        "{e}"
    );
    let e = rules(&[], 0, &RuleParams::new(Metric::Confidence, 0.5)).unwrap_err();
    assert!(
        matches!(&e, MiningError::Empty(m) if m.contains("n_transactions")),
        "{e}"
    );
}

#[test]
fn malformed_baskets_name_the_transaction() {
    let b = Baskets {
        items: vec!["a".into(), "b".into()],
        transactions: vec![vec![0], vec![1, 0]],
    };
    let (name, msg) = bad_param(frequent_itemsets(&b, &ItemsetParams::new(0.5)).unwrap_err());
    assert_eq!(name, "transactions");
    assert!(
        msg.starts_with("transaction 2:") && msg.contains("sort"),
        "{msg}"
    );
    let b = Baskets {
        items: vec!["a".into()],
        transactions: vec![vec![0, 3]],
    };
    let (_, msg) = bad_param(frequent_itemsets(&b, &ItemsetParams::new(0.5)).unwrap_err());
    assert!(msg.contains("item id 3 has no name"), "{msg}");
}

#[test]
fn bad_rule_input_is_refused() {
    let b = baskets(&[&["a", "b"], &["a", "b"]]);
    let sets = mine(&b, 0.5, None);
    let p = RuleParams::new(Metric::Confidence, f64::NAN);
    assert_eq!(
        bad_param(rules(&sets, 2, &p).unwrap_err()).0,
        "min_threshold"
    );
    // A filtered list lacks the supports of the sides.
    let only_pair = vec![sets[2].clone()];
    let (name, msg) =
        bad_param(rules(&only_pair, 2, &RuleParams::new(Metric::Confidence, 0.0)).unwrap_err());
    assert_eq!(name, "itemsets");
    assert!(
        msg.contains("subset [0]") && msg.contains("every frequent itemset"),
        "{msg}"
    );
    let twice = vec![sets[0].clone(), sets[0].clone()];
    let (_, msg) = bad_param(rules(&twice, 2, &RuleParams::new(Metric::Lift, 0.0)).unwrap_err());
    assert!(msg.contains("listed twice"), "{msg}");
    let unsorted = vec![Itemset {
        items: vec![1, 0],
        count: 2,
        support: 1.0,
    }];
    let (_, msg) = bad_param(rules(&unsorted, 2, &RuleParams::new(Metric::Lift, 0.0)).unwrap_err());
    assert!(msg.contains("ascending"), "{msg}");
}
