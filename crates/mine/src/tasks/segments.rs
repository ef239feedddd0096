//! `mine segments`: customer segments per shop. Each customer's RFM (recency, frequency,
//! monetary — the `rfm` analysis's figures) is log-transformed and standardised, clustered by
//! k-means (k chosen by silhouette unless given) and each segment profiled in the shop's own
//! units: size, share of customers and of revenue, mean recency, frequency and spend.
//!
//! Names are stable across runs: a segment is named from where its centre lies (recent or
//! lapsed, frequent or not, big or small spenders), not from the arbitrary cluster number, and
//! segments are listed best first (by frequency + monetary − recency of the centre).

use super::cluster::kmeans_fit;
use super::{num, parse};
use crate::MineError;
use crate::features::{Transform, numeric_features};
use crate::source::Ctx;
use mining::{Column, Dataset};
use query::analysis::rfm::{RfmParams, customers};
use query::analysis::{Analysis, Range, Table};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Parameters of `mine segments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentsParams {
    /// Order days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// Segments per shop (default: chosen by silhouette, 2..=k_max).
    #[serde(default)]
    pub k: Option<usize>,
    /// Largest k tried.
    #[serde(default = "six")]
    pub k_max: usize,
    /// k-means restarts.
    #[serde(default = "ten")]
    pub n_init: usize,
    /// Seed of k-means++.
    #[serde(default)]
    pub seed: u64,
    /// List every customer with their segment.
    #[serde(default)]
    pub customers: bool,
    /// Own features instead of RFM: SQL giving `user_id`, optionally `shop`, and numeric
    /// feature columns (a `monetary` column gives the revenue shares).
    #[serde(default)]
    pub sql: Option<String>,
}

fn six() -> usize {
    6
}
fn ten() -> usize {
    10
}

/// A segment's name from its centre's standardised recency, frequency and monetary.
pub fn name_of(r: f64, f: f64, m: f64) -> &'static str {
    match (r <= 0.0, f > 0.0, m > 0.0) {
        (true, true, true) => "champions",
        (true, true, false) => "loyal",
        (true, false, true) => "promising",
        (true, false, false) => "new",
        (false, true, true) => "cannot lose",
        (false, true, false) => "at risk",
        (false, false, _) if r > 1.0 => "lost",
        (false, false, _) => "hibernating",
    }
}

/// Runs `mine segments`.
pub async fn run(ctx: &Ctx<'_>, params: Value) -> Result<Analysis, MineError> {
    let p: SegmentsParams = parse("segments", params)?;
    if let Some(sql) = &p.sql {
        return by_sql(ctx, &p, sql).await;
    }
    let rfm = RfmParams {
        range: p.range.clone(),
        as_of: None,
        customers: true,
    };
    let (as_of, all) = customers(&ctx.query, &rfm).await?;
    if all.is_empty() {
        return Err(MineError::Usage(
            "no customers with orders in the range (segments need orders with a user_id)".into(),
        ));
    }
    let mut by_shop: BTreeMap<&str, Vec<&query::analysis::rfm::Customer>> = BTreeMap::new();
    for c in &all {
        by_shop.entry(c.shop.as_str()).or_default().push(c);
    }
    let mut profiles = Table::new(
        "segments",
        &[
            "shop",
            "segment",
            "rank",
            "customers",
            "share",
            "revenue_share",
            "recency_days",
            "orders",
            "spend",
        ],
    );
    let mut members = Table::new(
        "customers",
        &[
            "shop",
            "user_id",
            "segment",
            "recency",
            "frequency",
            "monetary",
        ],
    );
    let mut summary = Map::new();
    let mut per_shop = Map::new();
    for (shop, cs) in &by_shop {
        let d = Dataset::new(vec![
            numeric("recency", cs.iter().map(|c| c.recency as f64)),
            numeric("frequency", cs.iter().map(|c| c.frequency as f64)),
            numeric("monetary", cs.iter().map(|c| c.monetary.max(0.0))),
        ])?;
        let f = numeric_features(&d, &[], Transform::LogStandardize)?;
        let k = p.k.map(|k| k.min(cs.len()));
        let fit = kmeans_fit(&f, k, p.k_max, p.n_init, p.seed)?;
        // Best first: high frequency and spend, low recency.
        let mut order: Vec<usize> = (0..fit.centers.len()).collect();
        let score = |c: &[f64]| c[1] + c[2] - c[0];
        order.sort_by(|&a, &b| score(&fit.centers[b]).total_cmp(&score(&fit.centers[a])));
        let mut names: Vec<String> = vec![String::new(); fit.centers.len()];
        let mut used: BTreeMap<&str, usize> = BTreeMap::new();
        for &c in &order {
            let ctr = &fit.centers[c];
            let base = name_of(ctr[0], ctr[1], ctr[2]);
            let n = used.entry(base).or_insert(0);
            *n += 1;
            names[c] = if *n == 1 {
                base.to_string()
            } else {
                format!("{base} {n}")
            };
        }
        let revenue: f64 = cs.iter().map(|c| c.monetary).sum();
        for (rank, &c) in order.iter().enumerate() {
            let idx: Vec<usize> = (0..cs.len())
                .filter(|&i| fit.labels[i] == c as i64)
                .collect();
            let n = idx.len().max(1) as f64;
            let mean = |g: &dyn Fn(usize) -> f64| idx.iter().map(|&i| g(i)).sum::<f64>() / n;
            let spend: f64 = idx.iter().map(|&i| cs[i].monetary).sum();
            profiles.push(vec![
                json!(shop),
                json!(names[c]),
                json!(rank + 1),
                json!(idx.len()),
                num(idx.len() as f64 / cs.len() as f64, 4),
                num(if revenue > 0.0 { spend / revenue } else { 0.0 }, 4),
                num(mean(&|i| cs[i].recency as f64), 1),
                num(mean(&|i| cs[i].frequency as f64), 2),
                num(mean(&|i| cs[i].monetary), 2),
            ]);
        }
        if p.customers {
            for (i, c) in cs.iter().enumerate() {
                members.push(vec![
                    json!(shop),
                    json!(c.user_id),
                    json!(names[fit.labels[i] as usize]),
                    json!(c.recency),
                    json!(c.frequency),
                    num(c.monetary, 2),
                ]);
            }
        }
        let mut s = fit.summary.clone();
        s.insert("customers".into(), json!(cs.len()));
        per_shop.insert(shop.to_string(), Value::Object(s));
    }
    summary.insert("as_of".into(), json!(as_of.to_string()));
    summary.insert("customers".into(), json!(all.len()));
    summary.insert("shops".into(), json!(by_shop.len()));
    if let [only] = by_shop.keys().collect::<Vec<_>>()[..] {
        summary.insert("shop".into(), json!(only));
        if let Some(Value::Object(s)) = per_shop.get(*only) {
            for key in ["k", "inertia", "k_chosen_by"] {
                if let Some(v) = s.get(key) {
                    summary.insert(key.into(), v.clone());
                }
            }
        }
    }
    summary.insert("per_shop".into(), Value::Object(per_shop));
    let mut tables = vec![profiles];
    if p.customers {
        tables.push(members);
    }
    Ok(Analysis {
        analysis: "segments".into(),
        params: serde_json::to_value(&p).unwrap_or(Value::Null),
        summary,
        tables,
    })
}

fn numeric(name: &str, v: impl Iterator<Item = f64>) -> Column {
    Column::Numeric {
        name: name.into(),
        values: v.map(Some).collect(),
    }
}

/// Segments of customers described by the user's own SQL features: k-means on the log-
/// standardised features per shop; segments numbered by size, profiled by feature means.
async fn by_sql(ctx: &Ctx<'_>, p: &SegmentsParams, sql: &str) -> Result<Analysis, MineError> {
    let src = crate::source::Source {
        sql: Some(sql.to_string()),
        ..Default::default()
    };
    let raw = src.table(ctx).await?;
    let user = raw.index_of("user_id")?;
    let shop_col = raw.names.iter().position(|n| n == "shop");
    let mut types = crate::typing::TypeSpec {
        categorical: vec!["user_id".into()],
        numeric: vec![],
    };
    if shop_col.is_some() {
        types.categorical.push("shop".into());
    }
    let d = crate::typing::typed(&raw, &types)?;
    let features: Vec<String> = d
        .columns()
        .iter()
        .filter(|c| matches!(c, Column::Numeric { .. }))
        .map(|c| c.name().to_string())
        .collect();
    if features.is_empty() {
        return Err(MineError::Usage(
            "the SQL gives no numeric feature column besides user_id".into(),
        ));
    }
    let text = |c: usize, i: usize| raw.columns[c].text(i).unwrap_or_default();
    let default_shop = ctx
        .query
        .scope
        .shop
        .clone()
        .unwrap_or_else(|| crate::results::ALL_SHOPS.into());
    let mut rows_of: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in 0..raw.rows() {
        let s = shop_col.map_or_else(|| default_shop.clone(), |c| text(c, i));
        rows_of.entry(s).or_default().push(i);
    }
    let mut cols: Vec<&str> = vec!["shop", "segment", "customers", "share"];
    let has_money = features.iter().any(|f| f == "monetary");
    if has_money {
        cols.push("revenue_share");
    }
    cols.extend(features.iter().map(String::as_str));
    let mut profiles = Table::new("segments", &cols);
    let mut members = Table::new("customers", &["shop", "user_id", "segment"]);
    let mut per_shop = Map::new();
    for (shop, rows) in &rows_of {
        let sub = super::tree::subset(&d, &(0..d.columns().len()).collect::<Vec<_>>(), rows)?;
        let f = numeric_features(&sub, &features, Transform::LogStandardize)?;
        let fit = kmeans_fit(
            &f,
            p.k.map(|k| k.min(rows.len())),
            p.k_max,
            p.n_init,
            p.seed,
        )?;
        let k = fit.centers.len();
        let mut size = vec![0usize; k];
        for &l in &fit.labels {
            size[l as usize] += 1;
        }
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| size[b].cmp(&size[a]).then(a.cmp(&b)));
        let mut name = vec![0usize; k];
        for (n, &c) in order.iter().enumerate() {
            name[c] = n + 1;
        }
        let value = |j: usize, i: usize| match &sub.columns()[j] {
            Column::Numeric { values, .. } => values[i].unwrap_or(0.0),
            Column::Nominal { .. } => 0.0,
        };
        let idx: Vec<usize> = features
            .iter()
            .filter_map(|f| sub.index_of(f).ok())
            .collect();
        let money_idx = sub.index_of("monetary").ok();
        let revenue: f64 = money_idx.map_or(0.0, |m| (0..rows.len()).map(|i| value(m, i)).sum());
        for &c in &order {
            let members_of: Vec<usize> = (0..rows.len())
                .filter(|&i| fit.labels[i] == c as i64)
                .collect();
            let n = members_of.len().max(1) as f64;
            let mut row = vec![
                json!(shop),
                json!(format!("segment {}", name[c])),
                json!(members_of.len()),
                num(members_of.len() as f64 / rows.len() as f64, 4),
            ];
            if let Some(m) = money_idx {
                let spend: f64 = members_of.iter().map(|&i| value(m, i)).sum();
                row.push(num(if revenue > 0.0 { spend / revenue } else { 0.0 }, 4));
            }
            for &j in &idx {
                row.push(num(
                    members_of.iter().map(|&i| value(j, i)).sum::<f64>() / n,
                    4,
                ));
            }
            profiles.push(row);
        }
        if p.customers {
            for (i, &r) in rows.iter().enumerate() {
                members.push(vec![
                    json!(shop),
                    json!(text(user, r)),
                    json!(format!("segment {}", name[fit.labels[i] as usize])),
                ]);
            }
        }
        let mut s = fit.summary.clone();
        s.insert("customers".into(), json!(rows.len()));
        per_shop.insert(shop.clone(), Value::Object(s));
    }
    let mut summary = Map::new();
    summary.insert("features".into(), json!(features));
    summary.insert("customers".into(), json!(raw.rows()));
    if let [only] = rows_of.keys().collect::<Vec<_>>()[..] {
        summary.insert("shop".into(), json!(only));
    }
    summary.insert("per_shop".into(), Value::Object(per_shop));
    let mut tables = vec![profiles];
    if p.customers {
        tables.push(members);
    }
    Ok(Analysis {
        analysis: "segments".into(),
        params: serde_json::to_value(p).unwrap_or(Value::Null),
        summary,
        tables,
    })
}
