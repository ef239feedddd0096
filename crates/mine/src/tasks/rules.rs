//! `mine rules`: frequent itemsets and association rules from a basket file or a table of
//! (transaction, item) rows, by FP-growth (default), Apriori or Eclat — all three give the same
//! itemsets. Rules carry mlxtend's metrics; they are listed by lift, then confidence.

use super::{num, parse};
use crate::MineError;
use crate::source::{Ctx, Loaded, Source};
use mining::Baskets;
use mining::rules::{
    Itemset, Rule, assoc::Metric, display, frequent_itemsets, itemset::Algo, itemset::ItemsetParams,
};
use query::analysis::{Analysis, Table};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Parameters of `mine rules`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesParams {
    /// The input: `baskets` (a basket file), or `sql`/`data` with `tx` and `item` columns.
    #[serde(flatten)]
    pub source: Source,
    /// The transaction column of a table input (default: its first column).
    #[serde(default)]
    pub tx: Option<String>,
    /// The item column of a table input (default: its second column).
    #[serde(default)]
    pub item: Option<String>,
    /// `fpgrowth` (default), `apriori` or `eclat`.
    #[serde(default)]
    pub algo: Algo,
    /// Smallest share of transactions an itemset must be in.
    #[serde(default = "min_support")]
    pub min_support: f64,
    /// The rule metric thresholded: confidence (default), lift, leverage, conviction, support.
    #[serde(default)]
    pub metric: Metric,
    /// The metric's smallest value.
    #[serde(default = "min_threshold")]
    pub min_threshold: f64,
    /// Longest itemset.
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Only one item on the right of a rule (as R's arules).
    #[serde(default)]
    pub single_consequent: bool,
    /// Rules listed at most (all are counted).
    #[serde(default = "limit")]
    pub limit: usize,
}

fn min_support() -> f64 {
    0.01
}
fn min_threshold() -> f64 {
    0.5
}
fn limit() -> usize {
    1000
}

/// The mined itemsets and rules, named.
pub struct Mined {
    /// The baskets mined.
    pub baskets: Baskets,
    /// Frequent itemsets.
    pub itemsets: Vec<Itemset>,
    /// Rules, by lift then confidence (descending).
    pub rules: Vec<Rule>,
}

/// Mines itemsets and rules from baskets.
pub fn mine(b: Baskets, p: &RulesParams) -> Result<Mined, MineError> {
    let itemsets = frequent_itemsets(
        &b,
        &ItemsetParams {
            min_support: p.min_support,
            max_len: p.max_len,
            algo: p.algo,
        },
    )?;
    let mut rp = mining::rules::assoc::RuleParams::new(p.metric, p.min_threshold);
    rp.single_consequent = p.single_consequent;
    let mut rules = mining::rules::rules(&itemsets, b.len() as u64, &rp)?;
    rules.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.antecedent.cmp(&b.antecedent))
            .then(a.consequent.cmp(&b.consequent))
    });
    Ok(Mined {
        baskets: b,
        itemsets,
        rules,
    })
}

/// The itemsets and rules tables, items shown by `name`.
pub fn tables(m: &Mined, name: &dyn Fn(&[u32]) -> String, limit: usize) -> Vec<Table> {
    let mut sets = Table::new("itemsets", &["itemset", "size", "count", "support"]);
    let mut by_support: Vec<&Itemset> = m.itemsets.iter().collect();
    by_support.sort_by(|a, b| b.count.cmp(&a.count).then(a.items.cmp(&b.items)));
    for s in by_support {
        sets.push(vec![
            json!(name(&s.items)),
            json!(s.items.len()),
            json!(s.count),
            num(s.support, 6),
        ]);
    }
    let mut rules = Table::new(
        "rules",
        &[
            "antecedent",
            "consequent",
            "antecedent_support",
            "consequent_support",
            "support",
            "confidence",
            "lift",
            "leverage",
            "conviction",
        ],
    );
    for r in m.rules.iter().take(limit) {
        rules.push(vec![
            json!(name(&r.antecedent)),
            json!(name(&r.consequent)),
            num(r.antecedent_support, 6),
            num(r.consequent_support, 6),
            num(r.support, 6),
            num(r.confidence, 6),
            num(r.lift, 6),
            num(r.leverage, 6),
            // Infinite conviction (confidence 1) as a string: JSON has no infinity.
            if r.conviction.is_finite() {
                num(r.conviction, 6)
            } else {
                json!("inf")
            },
        ]);
    }
    vec![rules, sets]
}

/// Headline figures of a mining run.
pub fn summary(m: &Mined, p: &RulesParams) -> Map<String, Value> {
    let mut s = Map::new();
    s.insert("algo".into(), json!(p.algo));
    s.insert("transactions".into(), json!(m.baskets.len()));
    s.insert("items".into(), json!(m.baskets.items.len()));
    s.insert("itemsets".into(), json!(m.itemsets.len()));
    s.insert("rules".into(), json!(m.rules.len()));
    if m.rules.len() > p.limit {
        s.insert("rules_listed".into(), json!(p.limit));
    }
    s
}

/// Runs `mine rules`.
pub async fn run(ctx: &Ctx<'_>, params: Value) -> Result<Analysis, MineError> {
    let p: RulesParams = parse("rules", params)?;
    let b = match p.source.load(ctx, true).await? {
        Loaded::Baskets(b) => {
            if p.tx.is_some() || p.item.is_some() {
                return Err(MineError::Usage(
                    "tx and item name columns of a table; a basket file has none".into(),
                ));
            }
            b
        }
        Loaded::Table(t) => crate::baskets::from_table(&t, p.tx.as_deref(), p.item.as_deref())?,
    };
    let m = mine(b, &p)?;
    let names = m.baskets.items.clone();
    Ok(Analysis {
        analysis: "rules".into(),
        params: serde_json::to_value(&p).unwrap_or(Value::Null),
        summary: summary(&m, &p),
        tables: tables(&m, &|items| display(items, &names), p.limit),
    })
}
