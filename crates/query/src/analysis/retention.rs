//! Retention cohorts: users grouped by the day or week they were first seen (any behaviour
//! event) or first bought, and the share of each cohort that came back (any event, or a given
//! action) 0, 1, …, N periods later. First-seen looks at all history before the range too, so a
//! user seen last month is not "new" today. Periods the data does not reach yet are null.

use super::{Analysis, Ctx, Range, Table, num, ratio, sql_str};
use crate::error::QueryError;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What puts a user in a cohort.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CohortBy {
    /// Their first behaviour event.
    #[default]
    FirstSeen,
    /// Their first `buy`.
    FirstPurchase,
}

/// Cohort and return period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Local calendar days.
    #[default]
    Day,
    /// ISO weeks (Monday to Sunday).
    Week,
}

/// Parameters of a retention analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionParams {
    /// Which cohorts (by their first day) and shop.
    #[serde(flatten)]
    pub range: Range,
    /// What makes a user join a cohort.
    #[serde(default)]
    pub cohort: CohortBy,
    /// Day or week.
    #[serde(default)]
    pub period: Period,
    /// Action that counts as returning (`pv`, `cart`, `fav`, `buy`); `None` = any event.
    #[serde(default)]
    pub returning: Option<String>,
    /// Periods after the first to report.
    #[serde(default = "default_periods")]
    pub periods: u32,
}

fn default_periods() -> u32 {
    7
}

impl Default for RetentionParams {
    fn default() -> Self {
        RetentionParams {
            range: Range::default(),
            cohort: CohortBy::FirstSeen,
            period: Period::Day,
            returning: None,
            periods: default_periods(),
        }
    }
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// Period number of a day: days since 1970-01-01, or Monday-based weeks (1970-01-01 was a
/// Thursday, hence the +3).
fn period_of(day: NaiveDate, period: Period) -> i64 {
    let d = (day - EPOCH).num_days();
    match period {
        Period::Day => d,
        Period::Week => (d + 3).div_euclid(7),
    }
}

fn first_day(p: i64, period: Period) -> NaiveDate {
    let days = match period {
        Period::Day => p,
        Period::Week => p * 7 - 3,
    };
    if days >= 0 {
        EPOCH
            .checked_add_days(Days::new(days as u64))
            .unwrap_or(EPOCH)
    } else {
        EPOCH
            .checked_sub_days(Days::new(days.unsigned_abs()))
            .unwrap_or(EPOCH)
    }
}

/// Runs a retention analysis.
pub async fn run(ctx: &Ctx<'_>, p: &RetentionParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    if p.periods > 366 {
        return Err(QueryError::Invalid("periods must be at most 366".into()));
    }
    let scope = ctx.scope_for(&p.range)?;
    let pexpr = match p.period {
        Period::Day => "CAST(CAST(dt AS INT) AS BIGINT)".to_string(),
        Period::Week => "CAST(floor((CAST(dt AS INT) + 3) / 7.0) AS BIGINT)".to_string(),
    };
    let first_cond = match p.cohort {
        CohortBy::FirstSeen => "TRUE".to_string(),
        CohortBy::FirstPurchase => "action = 'buy'".to_string(),
    };
    let ret_cond = match &p.returning {
        None => "TRUE".to_string(),
        Some(a) => format!("action = {}", sql_str(a)),
    };
    let mut in_range = vec!["TRUE".to_string()];
    if let Some(d) = p.range.from {
        in_range.push(format!("f.c >= {}", period_of(d, p.period)));
    }
    if let Some(d) = p.range.to {
        in_range.push(format!("f.c <= {}", period_of(d, p.period)));
    }
    let in_range = in_range.join(" AND ");
    let horizon = match p.range.to {
        Some(t) => {
            let last = first_day(period_of(t, p.period) + p.periods as i64 + 1, p.period);
            format!("dt < DATE '{last}'")
        }
        None => "TRUE".into(),
    };
    let n = p.periods;
    let sql = format!(
        "WITH e AS (SELECT shop, user_id, {pexpr} AS p, action FROM behavior WHERE {horizon}),
              f AS (SELECT shop, user_id, min(p) AS c FROM e WHERE {first_cond} GROUP BY shop, user_id),
              a AS (SELECT DISTINCT shop, user_id, p FROM e WHERE {ret_cond}),
              m AS (SELECT max(p) AS last FROM e)
         SELECT f.c AS cohort, -1 AS k, count(*) AS users, max(m.last) AS last
         FROM f CROSS JOIN m WHERE {in_range} GROUP BY f.c
         UNION ALL
         SELECT f.c AS cohort, a.p - f.c AS k, count(*) AS users, CAST(NULL AS BIGINT) AS last
         FROM f JOIN a ON a.shop = f.shop AND a.user_id = f.user_id
         WHERE {in_range} AND a.p >= f.c AND a.p - f.c <= {n}
         GROUP BY f.c, a.p - f.c"
    );
    let raw = ctx.table("raw", &scope, &sql).await?;
    let mut sizes: BTreeMap<i64, u64> = BTreeMap::new();
    let mut back: BTreeMap<(i64, i64), u64> = BTreeMap::new();
    let mut last = i64::MIN;
    for r in &raw.rows {
        let (c, k, users) = (
            r[0].as_i64().unwrap_or(0),
            r[1].as_i64().unwrap_or(0),
            r[2].as_u64().unwrap_or(0),
        );
        if k < 0 {
            sizes.insert(c, users);
            last = last.max(r[3].as_i64().unwrap_or(i64::MIN));
        } else {
            back.insert((c, k), users);
        }
    }
    let mut cols: Vec<String> = vec!["cohort".into(), "users".into()];
    cols.extend((0..=n).map(|k| format!("p{k}")));
    let col_refs: Vec<&str> = cols.iter().map(|s| s.as_str()).collect();
    let mut wide = Table::new("retention", &col_refs);
    let mut long = Table::new("counts", &["cohort", "period", "users", "returned", "rate"]);
    for (&c, &size) in &sizes {
        let label = json!(first_day(c, p.period).to_string());
        let mut row = vec![label.clone(), json!(size)];
        for k in 0..=n as i64 {
            if c + k > last {
                row.push(Value::Null);
                continue;
            }
            let r = back.get(&(c, k)).copied().unwrap_or(0);
            let rate = num(ratio(r as f64, size as f64), 6);
            long.push(vec![
                label.clone(),
                json!(k),
                json!(size),
                json!(r),
                rate.clone(),
            ]);
            row.push(rate);
        }
        wide.push(row);
    }
    let mut summary = Map::new();
    summary.insert("cohorts".into(), json!(sizes.len()));
    summary.insert("users".into(), json!(sizes.values().sum::<u64>()));
    Ok(Analysis {
        analysis: "retention".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables: vec![wide, long],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let mon = NaiveDate::from_ymd_opt(2017, 11, 27).unwrap();
        let sun = NaiveDate::from_ymd_opt(2017, 12, 3).unwrap();
        assert_eq!(period_of(mon, Period::Week), period_of(sun, Period::Week));
        assert_eq!(
            period_of(sun, Period::Week) + 1,
            period_of(sun.succ_opt().unwrap(), Period::Week)
        );
        assert_eq!(first_day(period_of(sun, Period::Week), Period::Week), mon);
        let old = NaiveDate::from_ymd_opt(1969, 12, 29).unwrap(); // a Monday
        assert_eq!(first_day(period_of(old, Period::Week), Period::Week), old);
    }
}
