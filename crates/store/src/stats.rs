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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LakeStats {
    /// Per table.
    pub tables: BTreeMap<String, TableStats>,
    /// Distinct user ids across behaviour events.
    pub distinct_users: u64,
    /// Distinct item ids across behaviour events.
    pub distinct_items: u64,
    /// Whether the distinct counts are exact (else HyperLogLog++ estimates, ±0.8 % standard error).
    pub distinct_exact: bool,
    /// Quarantined rows.
    pub quarantined: u64,
    /// Items and users in the catalog.
    pub catalog_items: u64,
    /// Users in the catalog.
    pub catalog_users: u64,
}

/// How `stats` counts distinct users and items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distinct {
    /// Not at all (manifest only).
    Skip,
    /// From the per-file sketches (fast, ±0.8 %), exactly when any sketch is missing.
    Estimate,
    /// Exactly, by reading every id.
    Exact,
}

/// Computes the statistics.
pub fn stats(store: &Store, distinct: Distinct) -> Result<LakeStats, StoreError> {
    stats_of(store, distinct, None)
}

/// Computes the statistics of one shop (`Some`) or of all (`None`).
pub fn stats_of(
    store: &Store,
    distinct: Distinct,
    shop: Option<&str>,
) -> Result<LakeStats, StoreError> {
    let mut out = LakeStats::default();
    let in_shop = |s: &str| shop.is_none_or(|x| x == s);
    for f in store.manifest().files.iter().filter(|f| in_shop(&f.shop)) {
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
    out.quarantined = match shop {
        None => store.manifest().quarantine.iter().map(|q| q.rows).sum(),
        Some(s) => store
            .quarantine_rows()?
            .iter()
            .filter(|r| r.shop == s)
            .count() as u64,
    };
    out.catalog_items = store
        .catalog()
        .items
        .keys()
        .filter(|k| in_shop(&k.0))
        .count() as u64;
    out.catalog_users = store
        .catalog()
        .users
        .keys()
        .filter(|k| in_shop(&k.0))
        .count() as u64;
    let sketched = match distinct {
        Distinct::Estimate => merged_sketches(store, shop),
        _ => None,
    };
    if let Some((u, i)) = sketched {
        (out.distinct_users, out.distinct_items) = (u, i);
    } else if distinct != Distinct::Skip {
        let (u, i) = distinct_ids(store, shop)?;
        (out.distinct_users, out.distinct_items, out.distinct_exact) = (u, i, true);
    }
    Ok(out)
}

/// Merges the behaviour files' sketches; `None` if any is missing. Small sets stay exact inside
/// the sketch, so a small lake gets exact counts either way.
fn merged_sketches(store: &Store, shop: Option<&str>) -> Option<(u64, u64)> {
    let (mut users, mut items) = (crate::sketch::Hll::new(), crate::sketch::Hll::new());
    for f in store
        .manifest()
        .files
        .iter()
        .filter(|f| f.table == EventType::Behavior.name() && shop.is_none_or(|s| s == f.shop))
    {
        let s = crate::sketch::FileSketch::load(&crate::sketch::sketch_path(store.root(), f.seq))?;
        users.merge(&s.users);
        items.merge(&s.items);
    }
    Some((users.estimate() as u64, items.estimate() as u64))
}

/// Distinct ids, exact: ids below 2^32 set bits in a bitset (O(1), cache friendly); the rare
/// larger ones (surrogates of string keys) go to a hash set. Files are split across threads.
#[derive(Default)]
struct DistinctSet {
    bits: Vec<u64>,
    big: HashSet<i64>,
}

impl DistinctSet {
    #[inline]
    fn add(&mut self, v: i64) {
        if (0..1 << 32).contains(&v) {
            let (w, b) = ((v >> 6) as usize, v & 63);
            if w >= self.bits.len() {
                self.bits.resize((w + 1).next_power_of_two(), 0);
            }
            self.bits[w] |= 1 << b;
        } else {
            self.big.insert(v);
        }
    }

    fn merge(&mut self, o: DistinctSet) {
        if o.bits.len() > self.bits.len() {
            self.bits.resize(o.bits.len(), 0);
        }
        for (a, b) in self.bits.iter_mut().zip(o.bits) {
            *a |= b;
        }
        self.big.extend(o.big);
    }

    fn count(&self) -> u64 {
        self.bits.iter().map(|w| w.count_ones() as u64).sum::<u64>() + self.big.len() as u64
    }
}

fn distinct_ids(store: &Store, shop: Option<&str>) -> Result<(u64, u64), StoreError> {
    let files: Vec<_> = store
        .manifest()
        .files
        .iter()
        .filter(|f| f.table == EventType::Behavior.name() && shop.is_none_or(|s| s == f.shop))
        .cloned()
        .collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let parts: Vec<Result<(DistinctSet, DistinctSet), StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let (mut users, mut items) = (DistinctSet::default(), DistinctSet::default());
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = files.get(i) else {
                            return Ok((users, items));
                        };
                        let mut scan = Scan::table(EventType::Behavior);
                        scan.columns = Some(vec!["user_id".into(), "item_id".into()]);
                        scan.batch_rows = 1 << 16;
                        for b in store.scan_files(scan, vec![f.clone()]) {
                            let b = b?.batch;
                            b.column(0)
                                .as_primitive::<Int64Type>()
                                .values()
                                .iter()
                                .for_each(|v| users.add(*v));
                            b.column(1)
                                .as_primitive::<Int64Type>()
                                .values()
                                .iter()
                                .for_each(|v| items.add(*v));
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError::Encode("stats thread panicked".into())))
            })
            .collect()
    });
    let (mut users, mut items) = (DistinctSet::default(), DistinctSet::default());
    for p in parts {
        let (u, i) = p?;
        users.merge(u);
        items.merge(i);
    }
    Ok((users.count(), items.count()))
}
