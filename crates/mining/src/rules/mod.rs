//! Frequent itemsets and association rules, as mlxtend 0.25 defines them.
//!
//! [`frequent_itemsets`] runs [`Algo::Apriori`] ([`apriori`]: level-wise candidates counted in
//! a prefix trie), [`Algo::Eclat`] ([`eclat`]: depth-first over tid bitsets) or
//! [`Algo::FpGrowth`] ([`fpgrowth`]: FP-trees built from sorted paths); all three return the
//! same itemsets, in one canonical order, with mlxtend's support threshold
//! (`count / n >= min_support` in `f64`). [`rules()`] ([`assoc`]) derives rules with mlxtend's
//! `association_rules` formulas and thresholding.
//!
//! Tested in `tests/rules_mlxtend.rs` (every itemset and rule of Groceries and Online Retail
//! against mlxtend's `fpgrowth`/`apriori` + `association_rules`, run for real),
//! `tests/rules_prop.rs` (random baskets: the three algorithms equal a brute-force count, rules
//! equal a brute-force derivation) and `tests/rules_small.rs` (hand-worked cases, bad input).

pub mod apriori;
pub mod assoc;
pub mod eclat;
pub mod fpgrowth;
pub mod itemset;

pub use assoc::{Metric, Rule, RuleParams, rules};
pub use itemset::{Algo, Itemset, ItemsetParams, frequent_itemsets};

/// Items by name, like `{whole milk, yogurt}`; an id without a name shows as `#id`.
pub fn display(items: &[u32], names: &[String]) -> String {
    let mut s = String::from("{");
    for (i, &id) in items.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match names.get(id as usize) {
            Some(n) => s.push_str(n),
            None => {
                s.push('#');
                s.push_str(&id.to_string());
            }
        }
    }
    s.push('}');
    s
}

/// Parses one of `choices` (case, `-` and `_` ignored), or says which one was probably meant.
pub(crate) fn parse_choice<T: Copy>(
    param: &str,
    text: &str,
    choices: &[(&str, T)],
) -> crate::Result<T> {
    let norm: String = text
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != '_' && *c != ' ')
        .flat_map(char::to_lowercase)
        .collect();
    if let Some((_, v)) = choices.iter().find(|(name, _)| *name == norm) {
        return Ok(*v);
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let best = names
        .iter()
        .map(|n| (edit_distance(&norm, n), *n))
        .min()
        .filter(|(d, n)| *d <= n.len() / 2);
    let hint = match best {
        Some((_, n)) => format!("; did you mean {n:?}?"),
        None => String::new(),
    };
    Err(crate::MiningError::param(
        param,
        format!("unknown value {text:?}{hint} (one of {})", names.join(", ")),
    ))
}

/// Levenshtein distance, for suggestions only.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
