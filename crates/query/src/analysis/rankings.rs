//! Category and item rankings: the top items or categories by views, carts, favourites, buys,
//! distinct users or conversion, with the catalog's title where known.

use super::{Analysis, Ctx, Range, Table, num};
use crate::error::QueryError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

/// What to rank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Items (`item_id`).
    #[default]
    Item,
    /// Categories (`category_id`).
    Category,
}

/// The ranking metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Page views.
    #[default]
    Pv,
    /// Add-to-carts.
    Cart,
    /// Favourites.
    Fav,
    /// Purchases.
    Buy,
    /// Distinct users.
    Users,
    /// Buys per view.
    Conversion,
}

/// Parameters of a ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// Items or categories.
    #[serde(default)]
    pub by: RankBy,
    /// Sort by this metric, highest first (ties: smaller id first).
    #[serde(default)]
    pub metric: Metric,
    /// How many to return.
    #[serde(default = "default_top")]
    pub top: usize,
    /// For `conversion`: only keys with at least this many views.
    #[serde(default = "default_min_views")]
    pub min_views: u64,
}

fn default_top() -> usize {
    20
}
fn default_min_views() -> u64 {
    100
}

impl Default for RankingParams {
    fn default() -> Self {
        RankingParams {
            range: Range::default(),
            by: RankBy::Item,
            metric: Metric::Pv,
            top: default_top(),
            min_views: default_min_views(),
        }
    }
}

/// Runs a ranking.
pub async fn run(ctx: &Ctx<'_>, p: &RankingParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    if p.top == 0 || p.top > 10_000 {
        return Err(QueryError::Invalid(
            "top must be between 1 and 10000".into(),
        ));
    }
    let scope = ctx.scope_for(&p.range)?;
    let dt = p.range.dt_filter();
    let key = match p.by {
        RankBy::Item => "item_id",
        RankBy::Category => "category_id",
    };
    let order = match p.metric {
        Metric::Pv => "pv",
        Metric::Cart => "carts",
        Metric::Fav => "favs",
        Metric::Buy => "buys",
        Metric::Users => "users",
        Metric::Conversion => "conversion",
    };
    let having = match p.metric {
        Metric::Conversion => format!("WHERE pv >= {}", p.min_views),
        _ => String::new(),
    };
    let titles = match p.by {
        RankBy::Item => {
            "SELECT shop, item_id AS k, max(title) AS title FROM items GROUP BY shop, item_id"
        }
        RankBy::Category => {
            "SELECT CAST(NULL AS VARCHAR) AS shop, CAST(NULL AS BIGINT) AS k, CAST(NULL AS VARCHAR) AS title"
        }
    };
    let sql = format!(
        "WITH r AS (
           SELECT shop, {key} AS k,
             count(CASE WHEN action = 'pv' THEN 1 END) AS pv,
             count(CASE WHEN action = 'cart' THEN 1 END) AS carts,
             count(CASE WHEN action = 'fav' THEN 1 END) AS favs,
             count(CASE WHEN action = 'buy' THEN 1 END) AS buys,
             count(DISTINCT user_id) AS users
           FROM behavior WHERE {dt} AND {key} IS NOT NULL GROUP BY shop, {key}),
         c AS (SELECT *, CASE WHEN pv > 0 THEN CAST(buys AS DOUBLE) / pv ELSE 0.0 END AS conversion FROM r {having}),
         t AS ({titles})
         SELECT c.shop, c.k AS {key}, t.title, pv, carts, favs, buys, users, conversion
         FROM c LEFT JOIN t ON t.shop = c.shop AND t.k = c.k
         ORDER BY {order} DESC, {key} ASC, c.shop ASC LIMIT {top}",
        top = p.top
    );
    let raw = ctx.table("raw", &scope, &sql).await?;
    let mut out = Table::new(
        "ranking",
        &[
            "rank",
            "shop",
            key,
            "title",
            "pv",
            "carts",
            "favs",
            "buys",
            "users",
            "conversion",
        ],
    );
    for (i, r) in raw.rows.iter().enumerate() {
        let mut row = vec![json!(i + 1)];
        row.extend(r[..8].iter().cloned());
        row.push(num(r[8].as_f64().unwrap_or(0.0), 6));
        out.push(row);
    }
    let mut summary = Map::new();
    summary.insert("keys".into(), json!(out.rows.len()));
    Ok(Analysis {
        analysis: "rankings".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables: vec![out],
    })
}
