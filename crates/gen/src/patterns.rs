//! Planted co-purchase patterns: item pairs and triples that are bought together.
//!
//! A run plants `clamp(items / 2500, 4, 16)` patterns; every third is a triple, the rest are
//! pairs. The first item of a pattern is drawn from a category by traffic, at a middling
//! popularity rank (between 5% and 25% of the category's size), so it is not frequent on its
//! own; each further item comes from the same category half of the time (accessory of the
//! same kind) and from another traffic-weighted category otherwise (phone + case). Items are
//! distinct across all patterns.
//!
//! In a session of at least `2k + 1` events, with probability [`BUNDLE_SHARE`] the session is a
//! *bundle session* for one pattern (uniformly chosen): right after its first page view it
//! views the `k` pattern items, and it ends with a checkout that buys all `k` within seconds.
//! With the default mix this makes each pattern's items co-occur in tens of buy sessions per
//! million events, where chance would give well below one.

use crate::popularity::Catalog;
use crate::rng::{below_of, hash3, unit_of};

/// Share of eligible sessions that are bundle sessions.
pub const BUNDLE_SHARE: f64 = 0.02;

/// The planted patterns of a run: `(item index, category index)` per item.
pub(crate) struct Patterns {
    pub(crate) sets: Vec<Vec<(u32, u32)>>,
}

impl Patterns {
    pub(crate) fn new(catalog: &Catalog, items: u32, seed: u64) -> Patterns {
        let count = (items / 2500).clamp(4, 16) as usize;
        let mut used: Vec<u32> = Vec::new();
        let mut sets = Vec::with_capacity(count);
        let mut attempt = 0u64;
        for p in 0..count {
            let k = if p % 3 == 2 { 3 } else { 2 };
            let mut set: Vec<(u32, u32)> = Vec::with_capacity(k);
            while set.len() < k && attempt < 100_000 {
                attempt += 1;
                let h = hash3(seed ^ 0xb0d1e, p as u64, attempt);
                let cat = match set.first() {
                    Some(&(_, c0)) if unit_of(h) < 0.5 => c0,
                    _ => catalog.sample_category(h.rotate_left(21)),
                };
                let size = catalog.size(cat);
                let lo = size / 20;
                let hi = (size / 4).max(lo + 1);
                let rank = lo + below_of(h.rotate_left(43), (hi - lo) as u64) as u32;
                let item = catalog.item_at(cat, rank);
                if !used.contains(&item) {
                    used.push(item);
                    set.push((item, cat));
                }
            }
            if set.len() == k {
                sets.push(set);
            }
        }
        Patterns { sets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::NormalTable;

    #[test]
    fn patterns_are_distinct_pairs_and_triples() {
        let normal = NormalTable::new();
        let catalog = Catalog::new(40_000, 90, 4, &normal);
        let p = Patterns::new(&catalog, 40_000, 4);
        assert_eq!(p.sets.len(), 16);
        let mut all: Vec<u32> = p.sets.iter().flatten().map(|x| x.0).collect();
        let n = all.len();
        assert!(p.sets.iter().all(|s| s.len() == 2 || s.len() == 3));
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        // Tiny catalogs still get patterns.
        let small = Catalog::new(100, 5, 4, &normal);
        assert_eq!(Patterns::new(&small, 100, 4).sets.len(), 4);
    }
}
