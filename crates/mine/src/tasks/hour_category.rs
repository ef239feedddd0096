//! `mine hour-category`: when which categories sell. Each category's events (buys by default)
//! by local hour of day become a 24-value profile (the share of its events in each hour);
//! k-means groups categories with alike profiles (k by silhouette unless given), so a shop sees
//! its morning, lunchtime and evening categories and each group's peak hours.

use super::cluster::kmeans_fit;
use super::{num, parse};
use crate::MineError;
use crate::features::{Transform, numeric_features};
use crate::input::{RawTable, RawValues};
use crate::source::Ctx;
use mining::{Column, Dataset};
use query::analysis::{Analysis, Range, Table, sql_str};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Parameters of `mine hour-category`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourCategoryParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// The behaviour action counted (`buy` by default; `all` for every action).
    #[serde(default = "buy")]
    pub action: String,
    /// Categories with fewer events are left out (their profile is noise).
    #[serde(default = "thirty")]
    pub min_events: u64,
    /// Groups per shop (default: chosen by silhouette).
    #[serde(default)]
    pub k: Option<usize>,
    /// Largest k tried.
    #[serde(default = "six")]
    pub k_max: usize,
    /// Seed of k-means++.
    #[serde(default)]
    pub seed: u64,
}

fn buy() -> String {
    "buy".into()
}
fn thirty() -> u64 {
    30
}
fn six() -> usize {
    6
}

/// (shop, category) → events per local hour.
type Profiles = BTreeMap<(String, String), [u64; 24]>;

async fn profiles(ctx: &Ctx<'_>, p: &HourCategoryParams) -> Result<Profiles, MineError> {
    p.range.check()?;
    let scope = ctx.query.scope_for(&p.range)?;
    let dt = p.range.dt_filter();
    let action = if p.action == "all" {
        String::new()
    } else {
        format!("AND action = {}", sql_str(&p.action))
    };
    let local = ctx.query.local_ts();
    let sql = format!(
        "SELECT shop, CAST(category_id AS VARCHAR) AS category,
                CAST(date_part('hour', {local}) AS BIGINT) AS hour, count(*) AS n
         FROM behavior WHERE {dt} AND category_id IS NOT NULL {action}
         GROUP BY 1, 2, 3"
    );
    let mut out = Profiles::new();
    let Some(t) = RawTable::query(ctx.query.engine, &sql, &scope, usize::MAX).await? else {
        return Ok(out);
    };
    let (RawValues::Text(shops), RawValues::Text(cats), RawValues::Num(hours), RawValues::Num(n)) =
        (&t.columns[0], &t.columns[1], &t.columns[2], &t.columns[3])
    else {
        return Err(MineError::Internal(
            "unexpected hour-category columns".into(),
        ));
    };
    for i in 0..t.rows() {
        let (Some(s), Some(c), Some(h), Some(n)) = (&shops[i], &cats[i], hours[i], n[i]) else {
            continue;
        };
        let h = (h as usize).min(23);
        out.entry((s.clone(), c.clone())).or_insert([0; 24])[h] += n as u64;
    }
    Ok(out)
}

/// The hours around the peak holding at least half of the events, as `h1–h2`.
fn busy_hours(counts: &[u64; 24]) -> String {
    let total: u64 = counts.iter().sum();
    let top = peak(counts);
    let (mut lo, mut hi, mut got) = (top, top, counts[top]);
    while got * 2 < total {
        let before = counts[(lo + 23) % 24];
        let after = counts[(hi + 1) % 24];
        if after >= before {
            hi = (hi + 1) % 24;
            got += after;
        } else {
            lo = (lo + 23) % 24;
            got += before;
        }
    }
    format!("{lo:02}–{:02}", (hi + 1) % 24)
}

/// The busiest hour (the earliest of ties).
fn peak(counts: &[u64; 24]) -> usize {
    (0..24).max_by_key(|&h| (counts[h], 24 - h)).unwrap_or(0)
}

/// Runs `mine hour-category`.
pub async fn run(ctx: &Ctx<'_>, params: Value) -> Result<Analysis, MineError> {
    let p: HourCategoryParams = parse("hour-category", params)?;
    let all = profiles(ctx, &p).await?;
    let mut by_shop: BTreeMap<&str, Vec<(&str, &[u64; 24])>> = BTreeMap::new();
    for ((s, c), v) in &all {
        if v.iter().sum::<u64>() >= p.min_events {
            by_shop.entry(s).or_default().push((c, v));
        }
    }
    if by_shop.is_empty() {
        return Err(MineError::Usage(format!(
            "no category has {} or more {} events in the range (lower min_events, or choose \
             another action)",
            p.min_events, p.action
        )));
    }
    let mut hour_cols: Vec<String> = vec![
        "shop".into(),
        "group".into(),
        "categories".into(),
        "events".into(),
        "peak_hour".into(),
        "busy_hours".into(),
    ];
    hour_cols.extend((0..24).map(|h| format!("h{h:02}")));
    let refs: Vec<&str> = hour_cols.iter().map(String::as_str).collect();
    let mut groups = Table::new("groups", &refs);
    let mut cats = Table::new(
        "categories",
        &["shop", "category", "group", "events", "peak_hour"],
    );
    let mut per_shop = Map::new();
    for (shop, list) in &by_shop {
        let columns = (0..24)
            .map(|h| Column::Numeric {
                name: format!("h{h:02}"),
                values: list
                    .iter()
                    .map(|(_, v)| Some(v[h] as f64 / v.iter().sum::<u64>().max(1) as f64))
                    .collect(),
            })
            .collect();
        let f = numeric_features(&Dataset::new(columns)?, &[], Transform::None)?;
        let k = match p.k {
            Some(k) => Some(k.min(list.len())),
            None if list.len() < 3 => Some(1),
            None => None,
        };
        let fit = kmeans_fit(&f, k, p.k_max, 10, p.seed)?;
        // Groups in order of their peak hour, so group 1 is the earliest.
        let mut sums = vec![[0u64; 24]; fit.centers.len()];
        for (i, (_, v)) in list.iter().enumerate() {
            for h in 0..24 {
                sums[fit.labels[i] as usize][h] += v[h];
            }
        }
        let mut order: Vec<usize> = (0..sums.len()).collect();
        order.sort_by_key(|&g| peak(&sums[g]));
        let mut number = vec![0usize; sums.len()];
        for (n, &g) in order.iter().enumerate() {
            number[g] = n + 1;
        }
        for &g in &order {
            let total: u64 = sums[g].iter().sum();
            let members = fit.labels.iter().filter(|&&l| l as usize == g).count();
            let mut row = vec![
                json!(shop),
                json!(number[g]),
                json!(members),
                json!(total),
                json!(peak(&sums[g])),
                json!(busy_hours(&sums[g])),
            ];
            row.extend(
                sums[g]
                    .iter()
                    .map(|&c| num(c as f64 / total.max(1) as f64, 4)),
            );
            groups.push(row);
        }
        for (i, (c, v)) in list.iter().enumerate() {
            cats.push(vec![
                json!(shop),
                json!(c),
                json!(number[fit.labels[i] as usize]),
                json!(v.iter().sum::<u64>()),
                json!(peak(v)),
            ]);
        }
        let mut s = fit.summary.clone();
        s.insert("categories".into(), json!(list.len()));
        per_shop.insert(shop.to_string(), Value::Object(s));
    }
    let mut summary = Map::new();
    summary.insert("action".into(), json!(p.action));
    if let [only] = by_shop.keys().collect::<Vec<_>>()[..] {
        summary.insert("shop".into(), json!(only));
        if let Some(Value::Object(s)) = per_shop.get(*only) {
            summary.extend(
                s.iter()
                    .filter(|(k, _)| k.as_str() != "k_tried")
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
    }
    summary.insert("per_shop".into(), Value::Object(per_shop));
    Ok(Analysis {
        analysis: "hour-category".into(),
        params: serde_json::to_value(&p).unwrap_or(Value::Null),
        summary,
        tables: vec![groups, cats],
    })
}

#[cfg(test)]
mod tests {
    use super::busy_hours;

    #[test]
    fn busy_hours_grow_around_the_peak_and_wrap_at_midnight() {
        let mut c = [0u64; 24];
        c[20] = 5;
        c[21] = 3;
        c[23] = 1;
        c[0] = 1;
        assert_eq!(busy_hours(&c), "20–21");
        c[20] = 2;
        c[22] = 1;
        c[23] = 3;
        c[0] = 3;
        // 12 events: the peak at 00 (3, the earliest of the ties) and 23 (3) hold half.
        assert_eq!(busy_hours(&c), "23–01");
    }
}
