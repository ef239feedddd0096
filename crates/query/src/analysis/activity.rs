//! Hourly and weekday activity: events per action and active users by local hour of day and by
//! day of week (Monday first), from the behaviour table.

use super::{Analysis, Ctx, Range, Table};
use crate::error::QueryError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Parameters of the activity analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Runs the activity analysis.
pub async fn run(ctx: &Ctx<'_>, p: &ActivityParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    let scope = ctx.scope_for(&p.range)?;
    let dt = p.range.dt_filter();
    let local = ctx.local_ts();
    let by = |unit: &str| {
        format!(
            "WITH e AS (SELECT CAST(date_part('{unit}', {local}) AS BIGINT) AS k, shop, user_id, action
                        FROM behavior WHERE {dt}),
                  s AS (SELECT k, shop, count(*) AS events,
                          count(CASE WHEN action = 'pv' THEN 1 END) AS pv,
                          count(CASE WHEN action = 'cart' THEN 1 END) AS carts,
                          count(CASE WHEN action = 'fav' THEN 1 END) AS favs,
                          count(CASE WHEN action = 'buy' THEN 1 END) AS buys,
                          count(DISTINCT user_id) AS users
                        FROM e GROUP BY k, shop)
             SELECT k, sum(events) AS events, sum(pv) AS pv, sum(carts) AS carts, sum(favs) AS favs,
                    sum(buys) AS buys, sum(users) AS users
             FROM s GROUP BY k ORDER BY k"
        )
    };
    let cols = ["events", "pv", "carts", "favs", "buys", "users"];
    let hours_raw = ctx.table("raw", &scope, &by("hour")).await?;
    let mut hours = Table::new(
        "hours",
        &[
            "hour", "events", "pv", "carts", "favs", "buys", "users", "share",
        ],
    );
    let dense = |raw: &Table, n: i64, label: &dyn Fn(i64) -> Value, out: &mut Table| {
        let total: f64 = raw.column("events").iter().filter_map(|v| v.as_f64()).sum();
        for k in 0..n {
            let row = raw.rows.iter().find(|r| r[0].as_i64() == Some(k));
            let mut cells = vec![label(k)];
            for c in cols {
                let v = row
                    .and_then(|r| raw.col(c).and_then(|i| r[i].as_u64()))
                    .unwrap_or(0);
                cells.push(json!(v));
            }
            let events = cells[1].as_f64().unwrap_or(0.0);
            cells.push(super::num(super::ratio(events, total), 6));
            out.push(cells);
        }
    };
    dense(&hours_raw, 24, &|k| json!(k), &mut hours);
    // dow: 0 = Sunday … 6 = Saturday; rows are re-keyed Monday first.
    let week_raw = ctx.table("raw", &scope, &by("dow")).await?;
    let mut week_raw_0 = week_raw.clone();
    for r in &mut week_raw_0.rows {
        r[0] = json!((r[0].as_i64().unwrap_or(0) + 6) % 7);
    }
    let mut weekdays = Table::new(
        "weekdays",
        &[
            "weekday", "events", "pv", "carts", "favs", "buys", "users", "share",
        ],
    );
    dense(
        &week_raw_0,
        7,
        &|k| json!(WEEKDAYS[k as usize]),
        &mut weekdays,
    );
    let peak = hours
        .rows
        .iter()
        .max_by_key(|r| r[1].as_u64().unwrap_or(0))
        .map(|r| r[0].clone())
        .unwrap_or(Value::Null);
    let mut summary = Map::new();
    summary.insert("peak_hour".into(), peak);
    summary.insert(
        "events".into(),
        json!(hours.rows.iter().filter_map(|r| r[1].as_u64()).sum::<u64>()),
    );
    Ok(Analysis {
        analysis: "activity".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables: vec![hours, weekdays],
    })
}
