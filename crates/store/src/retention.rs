//! Retention: dropping day partitions older than a cutoff, of every table (results included),
//! in one manifest commit. The cutoff counts days back from today (in the lake's zone) or from
//! the day of the newest event, so a lake of old history (the sample data sets are from 2011
//! and 2017) is not emptied by a "keep a year" that meant "a year of this data". A plan can be
//! looked at before anything is dropped.

use crate::maintenance::CompactReport;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// What retention days are counted back from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionFrom {
    /// Today, in the lake's zone.
    #[default]
    Now,
    /// The day of the newest event in the lake.
    Newest,
}

impl std::str::FromStr for RetentionFrom {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "now" | "today" => Ok(RetentionFrom::Now),
            "newest" | "newest-event" => Ok(RetentionFrom::Newest),
            other => Err(format!(
                "unknown retention origin {other:?}: use `now` (today) or `newest` (the day of the newest event)"
            )),
        }
    }
}

/// The partitions of one table and shop that retention drops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DroppedRange {
    /// Table.
    pub table: String,
    /// Shop.
    pub shop: String,
    /// Oldest day dropped.
    pub first_dt: String,
    /// Newest day dropped.
    pub last_dt: String,
    /// Day partitions.
    pub partitions: usize,
    /// Rows.
    pub rows: u64,
}

/// What retention of some days would drop.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionPlan {
    /// Days kept.
    pub days: u32,
    /// What the days count back from.
    pub from: RetentionFrom,
    /// Partitions before this day (`YYYY-MM-DD`) are dropped.
    pub cutoff_dt: String,
    /// The newest day with data in the lake, if any.
    pub newest_dt: Option<String>,
    /// Per table and shop.
    pub ranges: Vec<DroppedRange>,
    /// Day partitions in all.
    pub partitions: usize,
    /// Rows in all.
    pub rows: u64,
    /// Rows left in the lake afterwards.
    pub rows_kept: u64,
}

impl RetentionPlan {
    /// Whether it drops every row of the lake.
    pub fn drops_everything(&self) -> bool {
        self.rows > 0 && self.rows_kept == 0
    }
}

impl Store {
    /// What keeping `days` days counted back from `from` would drop (nothing is changed).
    pub fn retention_plan(&self, days: u32, from: RetentionFrom) -> RetentionPlan {
        let files = &self.manifest().files;
        let newest_dt = files.iter().map(|f| f.dt.clone()).max();
        let origin = match from {
            RetentionFrom::Now => Some(self.config().zone.day_of(collect::now_ms())),
            RetentionFrom::Newest => newest_dt
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        };
        let cutoff_dt = origin
            .map(|d| d - chrono::Days::new(days as u64))
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        // (table, shop) → (rows per day, rows).
        type Days<'a> = (BTreeMap<&'a str, u64>, u64);
        let mut by: BTreeMap<(&str, &str), Days<'_>> = BTreeMap::new();
        let mut rows_kept = 0;
        for f in files {
            if f.dt.as_str() < cutoff_dt.as_str() {
                let e = by.entry((&f.table, &f.shop)).or_default();
                *e.0.entry(&f.dt).or_default() += f.rows;
                e.1 += f.rows;
            } else {
                rows_kept += f.rows;
            }
        }
        let ranges: Vec<DroppedRange> = by
            .into_iter()
            .map(|((table, shop), (dts, rows))| DroppedRange {
                table: table.to_string(),
                shop: shop.to_string(),
                first_dt: dts.keys().next().map(|d| d.to_string()).unwrap_or_default(),
                last_dt: dts.keys().last().map(|d| d.to_string()).unwrap_or_default(),
                partitions: dts.len(),
                rows,
            })
            .collect();
        RetentionPlan {
            days,
            from,
            partitions: ranges.iter().map(|r| r.partitions).sum(),
            rows: ranges.iter().map(|r| r.rows).sum(),
            cutoff_dt,
            newest_dt,
            ranges,
            rows_kept,
        }
    }

    /// Drops day partitions (of every table, results included) before `cutoff_dt` (`YYYY-MM-DD`).
    pub fn drop_before(&mut self, cutoff_dt: &str) -> Result<CompactReport, StoreError> {
        let mut report = CompactReport::default();
        let old: Vec<_> = self
            .manifest()
            .files
            .iter()
            .filter(|f| f.dt.as_str() < cutoff_dt)
            .collect();
        if old.is_empty() {
            return Ok(report);
        }
        let parts: std::collections::BTreeSet<_> =
            old.iter().map(|f| (&f.table, &f.shop, &f.dt)).collect();
        report.partitions_dropped = parts.len();
        report.rows_dropped = old.iter().map(|f| f.rows).sum();
        let cutoff = cutoff_dt.to_string();
        self.manifest_mut_commit(|m| m.files.retain(|f| f.dt >= cutoff))?;
        Ok(report)
    }

    /// Carries out a plan made by [`Store::retention_plan`].
    pub fn apply_plan(&mut self, plan: &RetentionPlan) -> Result<CompactReport, StoreError> {
        if plan.cutoff_dt.is_empty() {
            return Ok(CompactReport::default());
        }
        self.drop_before(&plan.cutoff_dt)
    }

    /// Applies retention of `days` days relative to today in the lake's zone.
    pub fn apply_retention(&mut self, days: u32) -> Result<CompactReport, StoreError> {
        let plan = self.retention_plan(days, RetentionFrom::Now);
        self.apply_plan(&plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;
    use collect::EventBatch;
    use model::{Behavior, Event, EventBody, Id};

    fn ev(day: i64, shop: &str) -> Event {
        Event {
            event_id: None,
            shop: Some(shop.into()),
            ts: 1_511_654_400_000 + day * 86_400_000,
            received_at: None,
            body: EventBody::Behavior(Behavior {
                user_id: Id::Num(1),
                item_id: Id::Num(2),
                category_id: None,
                action: "pv".into(),
                session_id: None,
                price: None,
                qty: None,
                channel: None,
            }),
            props: None,
        }
    }

    #[test]
    fn a_plan_names_what_goes_and_newest_keeps_old_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open(StoreConfig::new(dir.path())).unwrap();
        let mut b = EventBatch::new();
        for (d, shop) in [(0, "a"), (0, "a"), (1, "a"), (2, "b"), (5, "a")] {
            b.push(&ev(d, shop));
        }
        let p = st.prepare(b.finish().unwrap()).unwrap();
        st.commit(p, vec![], vec![], vec![], None).unwrap();

        // Relative to today, a year drops all of 2017: the plan says so before anything goes.
        let now = st.retention_plan(365, RetentionFrom::Now);
        assert!(now.drops_everything());
        assert_eq!((now.partitions, now.rows, now.rows_kept), (4, 5, 0));
        assert_eq!(st.manifest().files.iter().map(|f| f.rows).sum::<u64>(), 5);

        // Relative to the newest event (2017-12-01), three days keep 11-28 onwards.
        let newest = st.retention_plan(3, RetentionFrom::Newest);
        assert_eq!(newest.newest_dt.as_deref(), Some("2017-12-01"));
        assert_eq!(newest.cutoff_dt, "2017-11-28");
        let ranges: Vec<(&str, &str, &str, &str, usize, u64)> = newest
            .ranges
            .iter()
            .map(|r| {
                let (t, s) = (r.table.as_str(), r.shop.as_str());
                (
                    t,
                    s,
                    r.first_dt.as_str(),
                    r.last_dt.as_str(),
                    r.partitions,
                    r.rows,
                )
            })
            .collect();
        assert_eq!(
            ranges,
            vec![("behavior", "a", "2017-11-26", "2017-11-27", 2, 3)]
        );
        let r = st.apply_plan(&newest).unwrap();
        assert_eq!((r.partitions_dropped, r.rows_dropped), (2, 3));
        let kept: Vec<&str> = st.manifest().files.iter().map(|f| f.dt.as_str()).collect();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|d| *d >= "2017-11-28"));
        assert!("yesterday".parse::<RetentionFrom>().is_err());
    }
}
