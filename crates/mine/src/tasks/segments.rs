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
