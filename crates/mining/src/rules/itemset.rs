//! The itemset API shared by the three miners: parameters, input checks, mlxtend's support
//! threshold turned into a minimum count, the recoding of baskets into frequency ranks that
//! every miner starts from, and the canonical output order.
//!
//! The threshold matches mlxtend 0.25 (`support = count / n` as `f64`, kept when
//! `support >= min_support`); `tests/rules_mlxtend.rs` compares whole results with mlxtend and
//! `tests/rules_small.rs` checks the boundary and the error messages.

use crate::{Baskets, MiningError, Result};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Which miner to run; all give the same itemsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    /// Level-wise candidate generation and counting.
    Apriori,
    /// Depth-first intersection of transaction bitsets.
    Eclat,
    /// Pattern growth over FP-trees (the fastest here).
    #[default]
    FpGrowth,
}

impl FromStr for Algo {
    type Err = MiningError;

    fn from_str(s: &str) -> Result<Algo> {
        super::parse_choice(
            "algo",
            s,
            &[
                ("apriori", Algo::Apriori),
                ("eclat", Algo::Eclat),
                ("fpgrowth", Algo::FpGrowth),
            ],
        )
    }
}

/// What [`frequent_itemsets`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ItemsetParams {
    /// Minimum support as a fraction of all transactions (empty ones included), `0 < s <= 1`.
    pub min_support: f64,
    /// Longest itemset to report; `None` for no limit.
    pub max_len: Option<usize>,
    /// The miner.
    pub algo: Algo,
}

impl ItemsetParams {
    /// FP-growth at `min_support`, no length limit.
    pub fn new(min_support: f64) -> ItemsetParams {
        ItemsetParams {
            min_support,
            max_len: None,
            algo: Algo::FpGrowth,
        }
    }
}

/// A frequent itemset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Itemset {
    /// Item ids, ascending.
    pub items: Vec<u32>,
    /// Transactions containing every item.
    pub count: u64,
    /// `count / n` (mlxtend's `support`).
    pub support: f64,
}

/// Frequent itemsets of `b`, ordered by length, then by items.
pub fn frequent_itemsets(b: &Baskets, p: &ItemsetParams) -> Result<Vec<Itemset>> {
    let prep = Prepared::new(b, p)?;
    let mut sink = Sink::new(&prep);
    match p.algo {
        Algo::Apriori => super::apriori::mine(&prep, &mut sink),
        Algo::Eclat => super::eclat::mine(&prep, &mut sink),
        Algo::FpGrowth => super::fpgrowth::mine(&prep, &mut sink),
    }
    Ok(sink.finish())
}

/// The smallest count `c` with `c as f64 / n as f64 >= min_support`, the exact test mlxtend
/// applies; found by correcting `ceil(s * n)`, whose product may round either way.
pub fn min_count(min_support: f64, n: u64) -> u64 {
    let nf = n as f64;
    let frequent = |c: u64| c as f64 / nf >= min_support;
    let mut c = ((min_support * nf).ceil().max(1.0) as u64).min(n);
    while c > 1 && frequent(c - 1) {
        c -= 1;
    }
    while c < n && !frequent(c) {
        c += 1;
    }
    c
}

/// Baskets recoded for mining: only frequent items, each renamed to its rank (0 = most
/// frequent, ties by id), every transaction's ranks ascending, flat.
pub(crate) struct Prepared {
    /// Transactions, empty ones included.
    pub n: u64,
    pub min_count: u64,
    /// `usize::MAX` when unlimited.
    pub max_len: usize,
    /// Rank → item id.
    pub rank_item: Vec<u32>,
    /// Rank → count.
    pub rank_count: Vec<u64>,
    /// Ranks of every transaction that kept an item, back to back.
    pub tx: Vec<u32>,
    /// End of each transaction in `tx`.
    pub tx_end: Vec<usize>,
}

impl Prepared {
    pub fn new(b: &Baskets, p: &ItemsetParams) -> Result<Prepared> {
        let s = p.min_support;
        if s.is_nan() || s <= 0.0 || s > 1.0 {
            return Err(MiningError::param(
                "min_support",
                format!(
                    "{s} is not a fraction of transactions in (0, 1]; \
                     use e.g. 0.01 for itemsets in at least 1% of the baskets"
                ),
            ));
        }
        if p.max_len == Some(0) {
            return Err(MiningError::param(
                "max_len",
                "0 allows no itemset; give at least 1, or none for no limit",
            ));
        }
        if b.transactions.is_empty() {
            return Err(MiningError::Empty(
                "no transactions: frequent itemsets need at least one basket".into(),
            ));
        }
        let n_items = b.items.len();
        let mut counts = vec![0u64; n_items];
        for (row, t) in b.transactions.iter().enumerate() {
            for (j, &id) in t.iter().enumerate() {
                if id as usize >= n_items {
                    return Err(MiningError::param(
                        "transactions",
                        format!(
                            "transaction {}: item id {id} has no name ({n_items} items); \
                             build baskets with Baskets::from_names or parse",
                            row + 1
                        ),
                    ));
                }
                if j > 0 && t[j - 1] >= id {
                    return Err(MiningError::param(
                        "transactions",
                        format!(
                            "transaction {}: item ids are not ascending and distinct \
                             ({} then {id}); sort and deduplicate each basket",
                            row + 1,
                            t[j - 1]
                        ),
                    ));
                }
                counts[id as usize] += 1;
            }
        }
        let n = b.transactions.len() as u64;
        let min_count = min_count(s, n);
        let mut rank_item: Vec<u32> = (0..n_items as u32)
            .filter(|&i| counts[i as usize] >= min_count)
            .collect();
        rank_item.sort_unstable_by_key(|&i| (std::cmp::Reverse(counts[i as usize]), i));
        let rank_count: Vec<u64> = rank_item.iter().map(|&i| counts[i as usize]).collect();
        let mut rank_of = vec![u32::MAX; n_items];
        for (r, &i) in rank_item.iter().enumerate() {
            rank_of[i as usize] = r as u32;
        }
        let kept: u64 = rank_count.iter().sum();
        let mut tx = Vec::with_capacity(kept as usize);
        let mut tx_end = Vec::with_capacity(b.transactions.len());
        for t in &b.transactions {
            let start = tx.len();
            tx.extend(
                t.iter()
                    .map(|&i| rank_of[i as usize])
                    .filter(|&r| r != u32::MAX),
            );
            if tx.len() > start {
                tx[start..].sort_unstable();
                tx_end.push(tx.len());
            }
        }
        if tx.len() > u32::MAX as usize {
            return Err(MiningError::param(
                "transactions",
                format!(
                    "{} frequent item occurrences exceed the 2^32 one run handles; \
                     mine a sample or raise min_support",
                    tx.len()
                ),
            ));
        }
        Ok(Prepared {
            n,
            min_count,
            max_len: p.max_len.unwrap_or(usize::MAX),
            rank_item,
            rank_count,
            tx,
            tx_end,
        })
    }

    /// Frequent items.
    pub fn n_frequent(&self) -> usize {
        self.rank_item.len()
    }

    /// The recoded transactions (none empty).
    pub fn transactions(&self) -> impl Iterator<Item = &[u32]> {
        let starts = std::iter::once(0).chain(self.tx_end.iter().copied());
        starts
            .zip(self.tx_end.iter().copied())
            .map(|(a, b)| &self.tx[a..b])
    }
}

/// Collects itemsets given as ranks, back in item ids.
pub(crate) struct Sink<'a> {
    prep: &'a Prepared,
    out: Vec<Itemset>,
}

impl<'a> Sink<'a> {
    pub fn new(prep: &'a Prepared) -> Sink<'a> {
        Sink {
            prep,
            out: Vec::new(),
        }
    }

    /// One frequent itemset, its ranks in any order.
    pub fn emit(&mut self, ranks: &[u32], count: u64) {
        let mut items: Vec<u32> = ranks
            .iter()
            .map(|&r| self.prep.rank_item[r as usize])
            .collect();
        items.sort_unstable();
        self.out.push(Itemset {
            items,
            count,
            support: count as f64 / self.prep.n as f64,
        });
    }

    /// The itemsets in canonical order.
    pub fn finish(mut self) -> Vec<Itemset> {
        self.out
            .sort_unstable_by(|a, b| (a.items.len(), &a.items).cmp(&(b.items.len(), &b.items)));
        self.out
    }
}
