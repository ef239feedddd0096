//! Daily KPIs: PV, UV, carts, favourites, buys, buyers, orders, paid orders, GMV, AOV and the
//! cart and purchase conversion, per local day. The definitions are the live `kpis` job's, so a
//! replay with a 1-day window gives the same figures.

use super::{Analysis, Ctx, Range, Table, num, ratio};
use crate::error::QueryError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Parameters of the daily KPIs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
}

/// The rows of every day of a bounded range (days without events as zeros), else as found.
fn dense_days(raw: &Table, range: &Range) -> Vec<Vec<Value>> {
    let (Some(from), Some(to)) = (range.from, range.to) else {
        return raw.rows.clone();
    };
    if (to - from).num_days() > 3660 {
        return raw.rows.clone();
    }
    let day_col = raw.col("day").unwrap_or(0);
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        let label = d.to_string();
        match raw
            .rows
            .iter()
            .find(|r| r[day_col].as_str() == Some(label.as_str()))
        {
            Some(r) => out.push(r.clone()),
            None => {
                let mut r = vec![json!(0); raw.columns.len()];
                r[day_col] = json!(label);
                out.push(r);
            }
        }
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// Runs the daily KPIs with a direct parallel scan of the day files.
pub async fn run(ctx: &Ctx<'_>, p: &KpiParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    let scope = ctx.scope_for(&p.range)?;
    let snap = crate::tables::Snapshot::load(ctx.engine.data_dir())?;
    let from = p.range.from.map(|d| d.to_string());
    let to = p.range.to.map(|d| d.to_string());
    let parts = super::kpi_scan::daily(&snap, &scope, from.as_deref(), to.as_deref())?;
    let mut days: std::collections::BTreeMap<String, super::kpi_scan::DayCounts> =
        Default::default();
    for ((_, day), c) in parts {
        let d = days.entry(day).or_default();
        for i in 0..4 {
            d.actions[i] += c.actions[i];
        }
        d.uv += c.uv;
        d.carters += c.carters;
        d.buyers += c.buyers;
        d.orders += c.orders;
        d.paid += c.paid;
        d.gmv += c.gmv;
    }
    let mut raw = Table::new(
        "raw",
        &[
            "day",
            "pv",
            "uv",
            "carts",
            "favs",
            "buys",
            "buyers",
            "carters",
            "orders",
            "paid_orders",
            "gmv",
        ],
    );
    for (day, c) in days {
        raw.push(vec![
            json!(day),
            json!(c.actions[0]),
            json!(c.uv),
            json!(c.actions[1]),
            json!(c.actions[2]),
            json!(c.actions[3]),
            json!(c.buyers),
            json!(c.carters),
            json!(c.orders),
            json!(c.paid),
            json!(c.gmv),
        ]);
    }
    finish(p, raw)
}

/// The daily KPIs through SQL: the reference the direct scan is tested against.
pub async fn run_sql(ctx: &Ctx<'_>, p: &KpiParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    let scope = ctx.scope_for(&p.range)?;
    let dt = p.range.dt_filter();
    // UV, buyers and carters count (shop, user) pairs: user ids are per shop, so distinct
    // users per shop and day are summed over shops.
    let sql = format!(
        "WITH bs AS (
           SELECT dt, shop,
             count(CASE WHEN action = 'pv' THEN 1 END) AS pv,
             count(DISTINCT user_id) AS uv,
             count(CASE WHEN action = 'cart' THEN 1 END) AS carts,
             count(CASE WHEN action = 'fav' THEN 1 END) AS favs,
             count(CASE WHEN action = 'buy' THEN 1 END) AS buys,
             count(DISTINCT CASE WHEN action = 'buy' THEN user_id END) AS buyers,
             count(DISTINCT CASE WHEN action = 'cart' THEN user_id END) AS carters
           FROM behavior WHERE {dt} GROUP BY dt, shop),
         b AS (
           SELECT dt, sum(pv) AS pv, sum(uv) AS uv, sum(carts) AS carts, sum(favs) AS favs,
             sum(buys) AS buys, sum(buyers) AS buyers, sum(carters) AS carters
           FROM bs GROUP BY dt),
         o AS (
           SELECT dt,
             count(CASE WHEN status = 'create' THEN 1 END) AS orders,
             count(CASE WHEN status = 'pay' THEN 1 END) AS paid_orders,
             coalesce(sum(CASE WHEN status = 'pay' THEN amount END), 0.0) AS gmv
           FROM orders WHERE {dt} GROUP BY dt)
         SELECT CAST(coalesce(b.dt, o.dt) AS VARCHAR) AS day,
           coalesce(pv, 0) AS pv, coalesce(uv, 0) AS uv, coalesce(carts, 0) AS carts,
           coalesce(favs, 0) AS favs, coalesce(buys, 0) AS buys, coalesce(buyers, 0) AS buyers,
           coalesce(carters, 0) AS carters, coalesce(orders, 0) AS orders,
           coalesce(paid_orders, 0) AS paid_orders, coalesce(gmv, 0.0) AS gmv
         FROM b FULL OUTER JOIN o ON b.dt = o.dt ORDER BY day"
    );
    let raw = ctx.table("raw", &scope, &sql).await?;
    finish(p, raw)
}

fn finish(p: &KpiParams, raw: Table) -> Result<Analysis, QueryError> {
    let mut days = Table::new(
        "days",
        &[
            "day",
            "pv",
            "uv",
            "carts",
            "favs",
            "buys",
            "buyers",
            "orders",
            "paid_orders",
            "gmv",
            "aov",
            "cart_conversion",
            "purchase_conversion",
        ],
    );
    let f =
        |row: &[Value], c: &str| -> f64 { raw.col(c).and_then(|i| row[i].as_f64()).unwrap_or(0.0) };
    let mut total = [0f64; 4]; // pv, paid orders, gmv, orders
    let rows = dense_days(&raw, &p.range);
    for row in &rows {
        let day = raw
            .col("day")
            .map(|i| row[i].clone())
            .unwrap_or(Value::Null);
        let (uv, gmv, paid) = (f(row, "uv"), f(row, "gmv"), f(row, "paid_orders"));
        total[0] += f(row, "pv");
        total[1] += paid;
        total[2] += gmv;
        total[3] += f(row, "orders");
        days.push(vec![
            day,
            json!(f(row, "pv") as u64),
            json!(uv as u64),
            json!(f(row, "carts") as u64),
            json!(f(row, "favs") as u64),
            json!(f(row, "buys") as u64),
            json!(f(row, "buyers") as u64),
            json!(f(row, "orders") as u64),
            json!(paid as u64),
            num(gmv, 2),
            num(ratio(gmv, paid), 2),
            num(ratio(f(row, "carters"), uv), 6),
            num(ratio(f(row, "buyers"), uv), 6),
        ]);
    }
    let mut summary = Map::new();
    summary.insert("days".into(), json!(days.rows.len()));
    summary.insert("pv".into(), json!(total[0] as u64));
    summary.insert("orders".into(), json!(total[3] as u64));
    summary.insert("paid_orders".into(), json!(total[1] as u64));
    summary.insert("gmv".into(), num(total[2], 2));
    summary.insert("aov".into(), num(ratio(total[2], total[1]), 2));
    Ok(Analysis {
        analysis: "kpis".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables: vec![days],
    })
}
