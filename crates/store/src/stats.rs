//! Lake statistics: rows per table, day and kind from the manifest, distinct users and items.

use crate::reader::Scan;
use crate::store::{Store, StoreError};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use model::EventType;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Statistics of one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableStats {
    /// Rows.
    pub rows: u64,
    /// Files.
    pub files: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Earliest event time, UTC ms.
    pub min_ts: Option<i64>,
    /// Latest event time, UTC ms.
    pub max_ts: Option<i64>,
    /// Rows per day partition.
    pub per_day: BTreeMap<String, u64>,
    /// Rows per kind (action / status / result / channel / method).
    pub kinds: BTreeMap<String, u64>,
    /// Rows per shop.
    pub per_shop: BTreeMap<String, u64>,
}

/// Statistics of the whole lake.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LakeStats {
    /// Per table.
    pub tables: BTreeMap<String, TableStats>,
    /// Distinct user ids across behaviour events.
    pub distinct_users: u64,
    /// Distinct item ids across behaviour events.
    pub distinct_items: u64,
    /// Quarantined rows.
    pub quarantined: u64,
    /// Items and users in the catalog.
    pub catalog_items: u64,
    /// Users in the catalog.
    pub catalog_users: u64,
}

/// Computes the statistics; `distinct` also counts distinct behaviour users and items (exact).
pub fn stats(store: &Store, distinct: bool) -> Result<LakeStats, StoreError> {
    let mut out = LakeStats::default();
    for f in &store.manifest().files {
        let t = out.tables.entry(f.table.clone()).or_default();
        t.rows += f.rows;
        t.files += 1;
        t.bytes += f.bytes;
        t.min_ts = Some(t.min_ts.map_or(f.min_ts, |m| m.min(f.min_ts)));
        t.max_ts = Some(t.max_ts.map_or(f.max_ts, |m| m.max(f.max_ts)));
        *t.per_day.entry(f.dt.clone()).or_insert(0) += f.rows;
        *t.per_shop.entry(f.shop.clone()).or_insert(0) += f.rows;
        for (k, n) in &f.kinds {
            *t.kinds.entry(k.clone()).or_insert(0) += n;
        }
    }
    out.quarantined = store.manifest().quarantine.iter().map(|q| q.rows).sum();
    out.catalog_items = store.catalog().items.len() as u64;
    out.catalog_users = store.catalog().users.len() as u64;
    if distinct {
        let (u, i) = distinct_ids(store)?;
        out.distinct_users = u;
        out.distinct_items = i;
    }
    Ok(out)
}

fn distinct_ids(store: &Store) -> Result<(u64, u64), StoreError> {
    let mut scan = Scan::table(EventType::Behavior);
    scan.columns = Some(vec!["user_id".into(), "item_id".into()]);
    scan.batch_rows = 1 << 20;
    let (mut users, mut items) = (HashSet::new(), HashSet::new());
    for b in store.scan(scan) {
        let b = b?.batch;
        users.extend(
            b.column(0)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .copied(),
        );
        items.extend(
            b.column(1)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .copied(),
        );
    }
    Ok((users.len() as u64, items.len() as u64))
}
