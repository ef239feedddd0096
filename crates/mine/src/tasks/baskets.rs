//! `mine baskets`: which products sell together, per shop. Baskets are the lake's orders (the
//! items of one order id) or, for shops with behaviour events only, each user's day of the
//! chosen actions (buys and carts by default); rules come from FP-growth with mlxtend's metrics
//! and name items by their catalog titles (falling back to the shop's item key or id).

use super::rules::{Mined, RulesParams, mine, summary, tables};
use super::{num, parse};
use crate::MineError;
use crate::input::RawTable;
use crate::source::{Ctx, Source};
use query::analysis::{Analysis, Range, Table, sql_str};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Parameters of `mine baskets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasketsParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// `orders` (default: an order's items) or `sessions` (a user's day of `actions`).
    #[serde(default = "orders")]
    pub from_table: String,
    /// Behaviour actions that put an item in a session basket.
    #[serde(default = "buy_cart")]
    pub actions: Vec<String>,
    /// Smallest share of baskets an itemset must be in.
    #[serde(default = "one_percent")]
    pub min_support: f64,
    /// Smallest confidence of a rule.
    #[serde(default = "half")]
    pub min_confidence: f64,
    /// Longest itemset.
    #[serde(default)]
    pub max_len: Option<usize>,
    /// One item on the right of a rule.
    #[serde(default)]
    pub single_consequent: bool,
    /// Rules listed at most per shop.
    #[serde(default = "hundred")]
    pub limit: usize,
}

fn orders() -> String {
    "orders".into()
}
fn buy_cart() -> Vec<String> {
    vec!["buy".into(), "cart".into()]
}
fn one_percent() -> f64 {
    0.01
}
fn half() -> f64 {
    0.5
}
fn hundred() -> usize {
    100
}

/// Runs `mine baskets`.
pub async fn run(ctx: &Ctx<'_>, params: Value) -> Result<Analysis, MineError> {
    let p: BasketsParams = parse("baskets", params)?;
    p.range.check()?;
    let scope = ctx.query.scope_for(&p.range)?;
    let dt = p.range.dt_filter();
    let sql = match p.from_table.as_str() {
        "orders" => format!(
            "SELECT shop, order_id AS tx, CAST(item_id AS VARCHAR) AS item_id FROM orders
             WHERE {dt} AND status = 'create' AND item_id IS NOT NULL"
        ),
        "sessions" => {
            if p.actions.is_empty() {
                return Err(MineError::Usage("actions is empty; e.g. buy,cart".into()));
            }
            let acts: Vec<String> = p.actions.iter().map(|a| sql_str(a)).collect();
            format!(
                "SELECT shop, CAST(user_id AS VARCHAR) || '/' || CAST(dt AS VARCHAR) AS tx,
                        CAST(item_id AS VARCHAR) AS item_id
                 FROM behavior WHERE {dt} AND action IN ({})",
                acts.join(", ")
            )
        }
        other => {
            return Err(MineError::Usage(format!(
                "from_table {other:?}{} is not a basket source; use orders or sessions",
                model::suggest::hint(other, ["orders", "sessions"])
            )));
        }
    };
    let max_rows = crate::input::DEFAULT_MAX_ROWS * 4;
    let Some(t) = RawTable::query(ctx.query.engine, &sql, &scope, max_rows).await? else {
        return Err(MineError::Usage(format!(
            "no {} rows in the range to build baskets from",
            p.from_table
        )));
    };
    let titles = titles(ctx, &scope).await?;
    let rules_params = RulesParams {
        source: Source::default(),
        tx: None,
        item: None,
        algo: Default::default(),
        min_support: p.min_support,
        metric: Default::default(),
        min_threshold: p.min_confidence,
        max_len: p.max_len,
        single_consequent: p.single_consequent,
        limit: p.limit,
    };
    let mut out_rules: Option<Table> = None;
    let mut out_sets: Option<Table> = None;
    let mut per_shop = Map::new();
    for (shop, shop_rows) in split_by_shop(&t)? {
        let b = crate::baskets::from_table(&shop_rows, Some("tx"), Some("item_id"))?;
        let m: Mined = mine(b, &rules_params)?;
        let named = |items: &[u32]| {
            let parts: Vec<String> = items
                .iter()
                .map(|&i| {
                    let id = &m.baskets.items[i as usize];
                    titles
                        .get(&(shop.clone(), id.clone()))
                        .cloned()
                        .unwrap_or_else(|| format!("item {id}"))
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        };
        for t in tables(&m, &named, p.limit) {
            let slot = if t.name == "rules" {
                &mut out_rules
            } else {
                &mut out_sets
            };
            let merged = slot.get_or_insert_with(|| {
                let mut cols = vec!["shop"];
                cols.extend(t.columns.iter().map(String::as_str));
                Table::new(&t.name, &cols)
            });
            for mut r in t.rows {
                r.insert(0, json!(shop));
                merged.rows.push(r);
            }
        }
        let mut s = summary(&m, &rules_params);
        s.insert(
            "avg_basket".into(),
            num(
                m.baskets.transactions.iter().map(Vec::len).sum::<usize>() as f64
                    / m.baskets.len().max(1) as f64,
                2,
            ),
        );
        per_shop.insert(shop, Value::Object(s));
    }
    let mut summary = Map::new();
    summary.insert("from_table".into(), json!(p.from_table));
    if per_shop.len() == 1
        && let Some((shop, Value::Object(s))) = per_shop.iter().next()
    {
        summary.insert("shop".into(), json!(shop));
        summary.extend(s.clone());
    }
    summary.insert("per_shop".into(), Value::Object(per_shop));
    Ok(Analysis {
        analysis: "baskets".into(),
        params: serde_json::to_value(&p).unwrap_or(Value::Null),
        summary,
        tables: out_rules.into_iter().chain(out_sets).collect(),
    })
}

/// (shop, item id as text) → catalog title (or the shop's own item key).
async fn titles(
    ctx: &Ctx<'_>,
    scope: &query::Scope,
) -> Result<HashMap<(String, String), String>, MineError> {
    let sql = "SELECT shop, CAST(item_id AS VARCHAR) AS id, coalesce(title, item_key) AS name
               FROM items WHERE coalesce(title, item_key) IS NOT NULL";
    let mut out = HashMap::new();
    let Some(t) = RawTable::query(ctx.query.engine, sql, scope, usize::MAX).await? else {
        return Ok(out);
    };
    let text = |c: usize, i: usize| t.columns[c].text(i);
    for i in 0..t.rows() {
        if let (Some(s), Some(id), Some(n)) = (text(0, i), text(1, i), text(2, i)) {
            out.insert((s, id), n);
        }
    }
    Ok(out)
}

/// The rows of each shop (column 0), without the shop column.
fn split_by_shop(t: &RawTable) -> Result<Vec<(String, RawTable)>, MineError> {
    use crate::input::RawValues;
    let RawValues::Text(shops) = &t.columns[0] else {
        return Err(MineError::Internal("shop column is not text".into()));
    };
    let mut order: Vec<String> = Vec::new();
    let mut idx: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in shops.iter().enumerate() {
        let s = s.clone().unwrap_or_default();
        if !idx.contains_key(&s) {
            order.push(s.clone());
        }
        idx.entry(s).or_default().push(i);
    }
    order.sort();
    Ok(order
        .into_iter()
        .map(|s| {
            let rows = &idx[&s];
            let columns = t.columns[1..]
                .iter()
                .map(|c| match c {
                    RawValues::Num(v) => RawValues::Num(rows.iter().map(|&i| v[i]).collect()),
                    RawValues::Text(v) => {
                        RawValues::Text(rows.iter().map(|&i| v[i].clone()).collect())
                    }
                })
                .collect();
            let sub = RawTable {
                names: t.names[1..].to_vec(),
                columns,
                source: format!("shop {s}"),
            };
            (s, sub)
        })
        .collect())
}
