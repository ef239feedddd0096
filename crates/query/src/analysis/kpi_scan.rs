//! The daily KPIs without SQL: each (shop, day) partition's files are read column by column on
//! their own thread, and distinct users are counted exactly with a bitmap over the partition's
//! user id range (a sort when the range is too sparse). Three exact `count(DISTINCT)` per day
//! through the SQL engine took 5.7 s on 100M events; this path is what makes daily KPIs quick.

use super::file_scan::{dict_codes, parallel, read};
use crate::error::QueryError;
use crate::tables::{Scope, Snapshot};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One day's figures of one shop.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DayCounts {
    /// Views, carts, favourites, buys.
    pub actions: [u64; 4],
    /// Distinct users, carting users, buying users.
    pub uv: u64,
    /// Users who carted.
    pub carters: u64,
    /// Users who bought.
    pub buyers: u64,
    /// `create` orders.
    pub orders: u64,
    /// `pay` orders.
    pub paid: u64,
    /// Sum of paid amounts.
    pub gmv: f64,
}

/// Files of one (shop, day).
struct Part {
    key: (String, String),
    behavior: Vec<PathBuf>,
    orders: Vec<PathBuf>,
}

/// Exact number of distinct values.
fn distinct(mut ids: Vec<i64>) -> u64 {
    let (Some(&min), Some(&max)) = (ids.iter().min(), ids.iter().max()) else {
        return 0;
    };
    let span = (max as i128 - min as i128) as u128 + 1;
    if span <= (ids.len() as u128) * 64 && span <= (1 << 31) {
        let mut bits = vec![0u64; (span as usize).div_ceil(64)];
        for &id in &ids {
            let o = (id - min) as usize;
            bits[o / 64] |= 1 << (o % 64);
        }
        return bits.iter().map(|w| w.count_ones() as u64).sum();
    }
    ids.sort_unstable();
    ids.dedup();
    ids.len() as u64
}

fn count_part(p: &Part) -> Result<DayCounts, QueryError> {
    let mut c = DayCounts::default();
    let (mut users, mut carters, mut buyers) = (Vec::new(), Vec::new(), Vec::new());
    for path in &p.behavior {
        read(path, &["user_id", "action"], |b| {
            let code = dict_codes(b, "action", u8::MAX, |a| match a {
                "pv" => 0,
                "cart" => 1,
                "fav" => 2,
                "buy" => 3,
                _ => u8::MAX,
            })?;
            let u = b
                .column_by_name("user_id")
                .and_then(|a| a.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| QueryError::Internal("user_id is not BIGINT".into()))?;
            users.extend_from_slice(u.values());
            for (i, &k) in code.iter().enumerate() {
                match k {
                    0 => c.actions[0] += 1,
                    1 => {
                        c.actions[1] += 1;
                        carters.push(u.value(i));
                    }
                    2 => c.actions[2] += 1,
                    3 => {
                        c.actions[3] += 1;
                        buyers.push(u.value(i));
                    }
                    _ => {}
                }
            }
            Ok(())
        })?;
    }
    c.uv = distinct(users);
    c.carters = distinct(carters);
    c.buyers = distinct(buyers);
    for path in &p.orders {
        read(path, &["status", "amount"], |b| {
            let code = dict_codes(b, "status", u8::MAX, |s| match s {
                "create" => 0,
                "pay" => 1,
                _ => u8::MAX,
            })?;
            let amount = b
                .column_by_name("amount")
                .and_then(|a| a.as_primitive_opt::<Float64Type>());
            for (i, &k) in code.iter().enumerate() {
                match k {
                    0 => c.orders += 1,
                    1 => {
                        c.paid += 1;
                        if let Some(a) = amount
                            && a.is_valid(i)
                        {
                            c.gmv += a.value(i);
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        })?;
    }
    Ok(c)
}

/// Per (shop, day) counts of the days in `[from, to]` (inclusive, `YYYY-MM-DD`), on all cores.
pub fn daily(
    snap: &Snapshot,
    scope: &Scope,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<BTreeMap<(String, String), DayCounts>, QueryError> {
    let mut parts: BTreeMap<(String, String), Part> = BTreeMap::new();
    for (table, is_orders) in [
        (model::EventType::Behavior, false),
        (model::EventType::Order, true),
    ] {
        for f in snap.event_files(table, scope) {
            let (Some(shop), Some(dt)) = (f.shop.clone(), f.dt.clone()) else {
                continue;
            };
            if from.is_some_and(|d| dt.as_str() < d) || to.is_some_and(|d| dt.as_str() > d) {
                continue;
            }
            let key = (shop, dt);
            let p = parts.entry(key.clone()).or_insert_with(|| Part {
                key,
                behavior: Vec::new(),
                orders: Vec::new(),
            });
            if is_orders {
                p.orders.push(f.path);
            } else {
                p.behavior.push(f.path);
            }
        }
    }
    // Taken from the end: largest partitions first, so no thread is left with a big one last.
    let mut work: Vec<Part> = parts.into_values().collect();
    work.sort_by_key(|p| p.behavior.len() + p.orders.len());
    let counted = parallel(work, |p| Ok((p.key.clone(), count_part(&p)?)))?;
    Ok(counted.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_dense_and_sparse_ids() {
        assert_eq!(distinct(vec![]), 0);
        assert_eq!(distinct(vec![5, 5, 7, 5, 9]), 3);
        assert_eq!(distinct(vec![i64::MIN, i64::MAX, 0, 0]), 3);
        assert_eq!(distinct((0..1000).chain(0..1000).collect()), 1000);
    }
}
