//! Association rules from frequent itemsets, as mlxtend 0.25's
//! `association_rules(freq, num_itemsets=n, metric=..., min_threshold=...)` derives them.
//!
//! Every itemset of two or more items splits into each non-empty proper antecedent and the
//! rest as consequent (only one-item consequents with `single_consequent`, as R's arules).
//! The metrics use mlxtend's exact floating-point expressions — confidence is
//! `(sAC * n) / (sA * n)`, conviction is infinite unless `confidence < 1` — and a rule is kept
//! when its chosen metric `>= min_threshold`, so boundary cases fall the same way.
//! `tests/rules_mlxtend.rs` compares every rule and metric with mlxtend on real baskets;
//! `tests/rules_prop.rs` with a brute-force derivation.

use super::itemset::Itemset;
use crate::{MiningError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::str::FromStr;

/// The measure a rule must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// `support(A ∪ C) / support(A)`.
    #[default]
    Confidence,
    /// `confidence / support(C)`.
    Lift,
    /// `support(A ∪ C) - support(A) · support(C)`.
    Leverage,
    /// `(1 - support(C)) / (1 - confidence)`, infinite when confidence is 1.
    Conviction,
    /// `support(A ∪ C)`.
    Support,
}

impl FromStr for Metric {
    type Err = MiningError;

    fn from_str(s: &str) -> Result<Metric> {
        super::parse_choice(
            "metric",
            s,
            &[
                ("confidence", Metric::Confidence),
                ("lift", Metric::Lift),
                ("leverage", Metric::Leverage),
                ("conviction", Metric::Conviction),
                ("support", Metric::Support),
            ],
        )
    }
}

/// Which rules [`rules`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RuleParams {
    /// The measure thresholded.
    pub metric: Metric,
    /// Keep rules whose `metric >= min_threshold`.
    pub min_threshold: f64,
    /// Only consequents of one item (R arules) instead of every split (mlxtend).
    pub single_consequent: bool,
}

impl RuleParams {
    /// Every split, thresholded on `metric`.
    pub fn new(metric: Metric, min_threshold: f64) -> RuleParams {
        RuleParams {
            metric,
            min_threshold,
            single_consequent: false,
        }
    }
}

/// One rule `antecedent → consequent` with mlxtend's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Item ids, ascending.
    pub antecedent: Vec<u32>,
    /// Item ids, ascending.
    pub consequent: Vec<u32>,
    /// `support(A)`.
    pub antecedent_support: f64,
    /// `support(C)`.
    pub consequent_support: f64,
    /// `support(A ∪ C)`.
    pub support: f64,
    /// `support(A ∪ C) / support(A)`.
    pub confidence: f64,
    /// `confidence / support(C)`.
    pub lift: f64,
    /// `support(A ∪ C) - support(A) · support(C)`.
    pub leverage: f64,
    /// `(1 - support(C)) / (1 - confidence)`; `f64::INFINITY` when confidence is 1.
    pub conviction: f64,
}

impl Rule {
    /// The value of `m` for this rule.
    pub fn metric(&self, m: Metric) -> f64 {
        match m {
            Metric::Confidence => self.confidence,
            Metric::Lift => self.lift,
            Metric::Leverage => self.leverage,
            Metric::Conviction => self.conviction,
            Metric::Support => self.support,
        }
    }
}

/// Rules of `itemsets` (the output of [`super::frequent_itemsets`] over `n_transactions`
/// baskets, or any list holding every subset of its itemsets), in the itemsets' order, then by
/// antecedent size (largest first), then by antecedent items.
pub fn rules(itemsets: &[Itemset], n_transactions: u64, p: &RuleParams) -> Result<Vec<Rule>> {
    if n_transactions == 0 {
        return Err(MiningError::Empty(
            "n_transactions is 0: rules need the number of baskets the itemsets came from".into(),
        ));
    }
    if p.min_threshold.is_nan() {
        return Err(MiningError::param(
            "min_threshold",
            "NaN is no threshold; give a number such as 0.25 for confidence",
        ));
    }
    let support = index(itemsets)?;
    let n = n_transactions as f64;
    let mut out = Vec::new();
    let mut idx: Vec<usize> = Vec::new();
    let mut ante: Vec<u32> = Vec::new();
    let mut cons: Vec<u32> = Vec::new();
    for set in itemsets.iter().filter(|s| s.items.len() >= 2) {
        let len = set.items.len();
        let s_ac = set.support;
        let smallest = if p.single_consequent { len - 1 } else { 1 };
        for r in (smallest..len).rev() {
            idx.clear();
            idx.extend(0..r);
            loop {
                ante.clear();
                cons.clear();
                let mut next = 0;
                for (i, &x) in set.items.iter().enumerate() {
                    if next < r && idx[next] == i {
                        ante.push(x);
                        next += 1;
                    } else {
                        cons.push(x);
                    }
                }
                let s_a = lookup(&support, &ante, &set.items)?;
                let s_c = lookup(&support, &cons, &set.items)?;
                let rule = metrics(&ante, &cons, s_ac, s_a, s_c, n);
                if rule.metric(p.metric) >= p.min_threshold {
                    out.push(rule);
                }
                if !next_combination(&mut idx, len) {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// mlxtend's expressions, operation for operation (no fused multiply-add).
fn metrics(ante: &[u32], cons: &[u32], s_ac: f64, s_a: f64, s_c: f64, n: f64) -> Rule {
    let confidence = (s_ac * n) / (s_a * n);
    let conviction = if confidence < 1.0 {
        (1.0 - s_c) / (1.0 - confidence)
    } else {
        f64::INFINITY
    };
    Rule {
        antecedent: ante.to_vec(),
        consequent: cons.to_vec(),
        antecedent_support: s_a,
        consequent_support: s_c,
        support: s_ac,
        confidence,
        lift: confidence / s_c,
        leverage: s_ac - s_a * s_c,
        conviction,
    }
}

/// Steps `idx` (ascending positions below `len`) to the next combination in lexicographic order.
fn next_combination(idx: &mut [usize], len: usize) -> bool {
    let r = idx.len();
    let Some(i) = (0..r).rev().find(|&i| idx[i] < len - r + i) else {
        return false;
    };
    idx[i] += 1;
    for j in i + 1..r {
        idx[j] = idx[j - 1] + 1;
    }
    true
}

/// Itemsets by items, after checking each is a proper itemset listed once.
fn index(itemsets: &[Itemset]) -> Result<HashMap<&[u32], f64>> {
    let mut map = HashMap::with_capacity(itemsets.len());
    for (i, s) in itemsets.iter().enumerate() {
        let bad = |what: String| {
            Err(MiningError::param(
                "itemsets",
                format!(
                    "itemset {} {:?}: {what}; pass the output of frequent_itemsets",
                    i + 1,
                    s.items
                ),
            ))
        };
        if s.items.is_empty() {
            return bad("it has no items".into());
        }
        if s.items.windows(2).any(|w| w[0] >= w[1]) {
            return bad("its items are not ascending and distinct".into());
        }
        if !(s.support > 0.0 && s.support <= 1.0) {
            return bad(format!("support {} is not in (0, 1]", s.support));
        }
        if map.insert(s.items.as_slice(), s.support).is_some() {
            return bad("it is listed twice".into());
        }
    }
    Ok(map)
}

fn lookup(map: &HashMap<&[u32], f64>, part: &[u32], whole: &[u32]) -> Result<f64> {
    map.get(part).copied().ok_or_else(|| {
        MiningError::param(
            "itemsets",
            format!(
                "{whole:?} is listed but its subset {part:?} is not, so its rules have no \
                 support for that side; pass every frequent itemset (not a filtered list)"
            ),
        )
    })
}
