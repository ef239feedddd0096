//! Repeat-purchase rate: of the customers who bought in the range, the share who bought more
//! than once, and how many customers made 1, 2, 3, 4 and 5+ purchases.
//!
//! A purchase is a distinct order (`order_id` of a `create` row) when the range has orders, else
//! a `buy` behaviour event.

use super::{Analysis, Ctx, Range, Table, num, ratio};
use crate::error::QueryError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

/// Where purchases come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Orders if the range has any, else behaviour buys.
    #[default]
    Auto,
    /// Distinct `order_id`s of `create` rows.
    Orders,
    /// `buy` behaviour events.
    Behavior,
}

/// Parameters of the repeat-purchase analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// Where purchases come from.
    #[serde(default)]
    pub source: Source,
}

/// Runs the repeat-purchase analysis.
pub async fn run(ctx: &Ctx<'_>, p: &RepeatParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    let scope = ctx.scope_for(&p.range)?;
    let dt = p.range.dt_filter();
    let orders_sql = format!(
        "SELECT shop, user_id, count(DISTINCT order_id) AS n FROM orders
         WHERE {dt} AND status = 'create' AND user_id IS NOT NULL GROUP BY shop, user_id"
    );
    let buys_sql = format!(
        "SELECT shop, user_id, count(*) AS n FROM behavior
         WHERE {dt} AND action = 'buy' GROUP BY shop, user_id"
    );
    let source = match p.source {
        Source::Auto => {
            let t = ctx
                .table(
                    "probe",
                    &scope,
                    &format!("SELECT count(*) AS n FROM orders WHERE {dt} AND status = 'create'"),
                )
                .await?;
            let has_orders = t.rows.first().and_then(|r| r[0].as_u64()).unwrap_or(0) > 0;
            if has_orders {
                Source::Orders
            } else {
                Source::Behavior
            }
        }
        s => s,
    };
    let per_user = if source == Source::Orders {
        orders_sql
    } else {
        buys_sql
    };
    let sql = format!(
        "WITH u AS ({per_user})
         SELECT CASE WHEN n >= 5 THEN 5 ELSE n END AS purchases, count(*) AS customers,
                sum(n) AS total
         FROM u GROUP BY 1 ORDER BY 1"
    );
    let raw = ctx.table("raw", &scope, &sql).await?;
    let mut dist = Table::new("distribution", &["purchases", "customers", "share"]);
    let customers: u64 = raw.rows.iter().filter_map(|r| r[1].as_u64()).sum();
    let purchases: u64 = raw.rows.iter().filter_map(|r| r[2].as_u64()).sum();
    let mut repeaters = 0u64;
    for k in 1..=5u64 {
        let n = raw
            .rows
            .iter()
            .find(|r| r[0].as_u64() == Some(k))
            .and_then(|r| r[1].as_u64())
            .unwrap_or(0);
        if k >= 2 {
            repeaters += n;
        }
        let label = if k == 5 {
            json!("5+")
        } else {
            json!(k.to_string())
        };
        dist.push(vec![
            label,
            json!(n),
            num(ratio(n as f64, customers as f64), 6),
        ]);
    }
    let mut summary = Map::new();
    summary.insert(
        "source".into(),
        serde_json::to_value(source).unwrap_or_default(),
    );
    summary.insert("customers".into(), json!(customers));
    summary.insert("repeat_customers".into(), json!(repeaters));
    summary.insert(
        "repeat_rate".into(),
        num(ratio(repeaters as f64, customers as f64), 6),
    );
    summary.insert(
        "purchases_per_customer".into(),
        num(ratio(purchases as f64, customers as f64), 4),
    );
    Ok(Analysis {
        analysis: "repeat".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables: vec![dist],
    })
}
