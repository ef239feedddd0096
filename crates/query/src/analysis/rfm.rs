//! RFM per customer: recency (days from the last order to the reference day), frequency
//! (distinct orders) and monetary (total amount), each scored 1–5 by quintile, and the usual
//! named segments from the recency and frequency scores.
//!
//! Orders are `create` rows with a customer: cancellations (`cancel` rows, e.g. Online Retail's
//! `C…` invoices) and rows without a customer are left out. Scores rank customers: a score is
//! 1 + ⌊5 · (customers strictly worse) / (customers)⌋, so ties share a score and the best fifth
//! gets 5.

use super::{Analysis, Ctx, Range, Table, num, ratio};
use crate::error::QueryError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};
use std::collections::BTreeMap;

/// Parameters of an RFM analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfmParams {
    /// Order days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// Recency is measured to this day; default: the day after the last order in the range.
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// Include the per-customer table (it has one row per customer).
    #[serde(default = "yes")]
    pub customers: bool,
}

fn yes() -> bool {
    true
}

impl Default for RfmParams {
    fn default() -> Self {
        RfmParams {
            range: Range::default(),
            as_of: None,
            customers: true,
        }
    }
}

/// One customer's figures and scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Shop.
    pub shop: String,
    /// Customer id.
    pub user_id: i64,
    /// Days since the last order.
    pub recency: i64,
    /// Distinct orders.
    pub frequency: u64,
    /// Total amount.
    pub monetary: f64,
    /// Scores 1–5.
    pub r: u8,
    /// Frequency score.
    pub f: u8,
    /// Monetary score.
    pub m: u8,
}

/// The segment of recency and frequency scores (the common R×F grid).
pub fn segment(r: u8, f: u8) -> &'static str {
    match (r, f) {
        (5, 4..=5) => "Champions",
        (3..=4, 4..=5) => "Loyal Customers",
        (4..=5, 2..=3) => "Potential Loyalists",
        (5, 1) => "New Customers",
        (4, 1) => "Promising",
        (3, 3) => "Need Attention",
        (3, 1..=2) => "About to Sleep",
        (1..=2, 5) => "Can't Lose Them",
        (1..=2, 3..=4) => "At Risk",
        _ => "Hibernating",
    }
}

/// Quintile scores of `values` where larger is better: 1 + ⌊5·(strictly smaller count)/n⌋.
pub fn scores<T: PartialOrd + Copy>(values: &[T]) -> Vec<u8> {
    let n = values.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| {
        values[a]
            .partial_cmp(&values[b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out = vec![0u8; n];
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end < n
            && values[idx[end]].partial_cmp(&values[idx[start]]) == Some(std::cmp::Ordering::Equal)
        {
            end += 1;
        }
        let end = end.max(start + 1);
        let s = (1 + (5 * start) / n).min(5) as u8;
        for &i in &idx[start..end] {
            out[i] = s;
        }
        start = end;
    }
    out
}

/// Computes every customer's RFM (the analysis without the tables).
pub async fn customers(
    ctx: &Ctx<'_>,
    p: &RfmParams,
) -> Result<(NaiveDate, Vec<Customer>), QueryError> {
    p.range.check()?;
    let scope = ctx.scope_for(&p.range)?;
    let dt = p.range.dt_filter();
    let sql = format!(
        "SELECT shop, user_id, CAST(max(dt) AS VARCHAR) AS last_day,
                count(DISTINCT order_id) AS frequency, sum(amount) AS monetary
         FROM orders WHERE {dt} AND status = 'create' AND user_id IS NOT NULL
         GROUP BY shop, user_id"
    );
    let raw = ctx.table("raw", &scope, &sql).await?;
    let mut rows = Vec::with_capacity(raw.rows.len());
    let mut last_all: Option<NaiveDate> = None;
    for r in &raw.rows {
        let last: NaiveDate = r[2]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| QueryError::Internal(format!("unexpected day {}", r[2])))?;
        last_all = last_all.max(Some(last));
        rows.push((
            r[0].as_str().unwrap_or_default().to_string(),
            r[1].as_i64().unwrap_or_default(),
            last,
            r[3].as_u64().unwrap_or_default(),
            r[4].as_f64().unwrap_or_default(),
        ));
    }
    let as_of = match (p.as_of, last_all) {
        (Some(d), _) => d,
        (None, Some(l)) => l.succ_opt().unwrap_or(l),
        (None, None) => p.range.to.unwrap_or(NaiveDate::MIN),
    };
    let recency: Vec<i64> = rows.iter().map(|r| (as_of - r.2).num_days()).collect();
    let neg_recency: Vec<i64> = recency.iter().map(|r| -r).collect();
    let freq: Vec<u64> = rows.iter().map(|r| r.3).collect();
    let money: Vec<f64> = rows.iter().map(|r| r.4).collect();
    let (rs, fs, ms) = (scores(&neg_recency), scores(&freq), scores(&money));
    let mut out: Vec<Customer> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (shop, user_id, _, frequency, monetary))| Customer {
            shop,
            user_id,
            recency: recency[i],
            frequency,
            monetary,
            r: rs[i],
            f: fs[i],
            m: ms[i],
        })
        .collect();
    out.sort_by(|a, b| (&a.shop, a.user_id).cmp(&(&b.shop, b.user_id)));
    Ok((as_of, out))
}

/// Runs an RFM analysis.
pub async fn run(ctx: &Ctx<'_>, p: &RfmParams) -> Result<Analysis, QueryError> {
    let (as_of, cs) = customers(ctx, p).await?;
    let mut seg: BTreeMap<&str, (u64, i64, u64, f64)> = BTreeMap::new();
    let total_money: f64 = cs.iter().map(|c| c.monetary).sum();
    let mut table = Table::new(
        "customers",
        &[
            "shop",
            "user_id",
            "recency_days",
            "frequency",
            "monetary",
            "r",
            "f",
            "m",
            "rfm",
            "segment",
        ],
    );
    for c in &cs {
        let s = segment(c.r, c.f);
        let e = seg.entry(s).or_default();
        e.0 += 1;
        e.1 += c.recency;
        e.2 += c.frequency;
        e.3 += c.monetary;
        if p.customers {
            table.push(vec![
                json!(c.shop),
                json!(c.user_id),
                json!(c.recency),
                json!(c.frequency),
                num(c.monetary, 2),
                json!(c.r),
                json!(c.f),
                json!(c.m),
                json!(format!("{}{}{}", c.r, c.f, c.m)),
                json!(s),
            ]);
        }
    }
    let mut segments = Table::new(
        "segments",
        &[
            "segment",
            "customers",
            "share",
            "avg_recency_days",
            "avg_frequency",
            "avg_monetary",
            "revenue_share",
        ],
    );
    let mut seg_rows: Vec<_> = seg.into_iter().collect();
    seg_rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    for (name, (n, rec, freq, money)) in seg_rows {
        let nf = n as f64;
        segments.push(vec![
            json!(name),
            json!(n),
            num(ratio(nf, cs.len() as f64), 6),
            num(rec as f64 / nf, 2),
            num(freq as f64 / nf, 2),
            num(money / nf, 2),
            num(ratio(money, total_money), 6),
        ]);
    }
    let mut summary = Map::new();
    summary.insert("as_of".into(), json!(as_of.to_string()));
    summary.insert("customers".into(), json!(cs.len()));
    summary.insert("revenue".into(), num(total_money, 2));
    let mut tables = vec![segments];
    if p.customers {
        tables.push(table);
    }
    Ok(Analysis {
        analysis: "rfm".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_share_ties_and_reach_five() {
        assert_eq!(scores(&[10, 20, 30, 40, 50]), vec![1, 2, 3, 4, 5]);
        assert_eq!(scores(&[1, 1, 1, 1, 2]), vec![1, 1, 1, 1, 5]);
        assert_eq!(scores(&[3.0, 1.0, 2.0]), vec![4, 1, 2]);
        assert_eq!(scores::<i64>(&[]), Vec::<u8>::new());
    }

    #[test]
    fn every_score_pair_has_a_segment() {
        assert_eq!(segment(5, 5), "Champions");
        assert_eq!(segment(1, 1), "Hibernating");
        assert_eq!(segment(1, 5), "Can't Lose Them");
        assert_eq!(segment(5, 1), "New Customers");
        assert_eq!(segment(3, 3), "Need Attention");
    }
}
