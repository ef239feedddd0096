//! Sealed generations of the id index: a sorted, immutable array of 16-byte entries — the top
//! 112 bits of the id key and, in the low 16 bits, the day it was accepted — with a blocked
//! Bloom filter (one cache line per lookup, about 10 bits per id) in front of the binary search.
//! About 17 bytes per id instead of the hash map's 40–70, and no rehash ever.

use super::Day;

/// Bits of an entry that identify the id (the rest is the day).
const DAY_BITS: u32 = 16;
const DAY_MASK: u128 = (1 << DAY_BITS) - 1;
/// Bloom bits per id.
const BITS_PER_ID: usize = 10;
/// Bit positions set per id, all inside one 512-bit block.
const PROBES: u32 = 6;

/// One entry: the key's identity and its accept day.
#[inline]
pub fn pack(key: u128, day: Day) -> u128 {
    (ident(key) << DAY_BITS) | u128::from(day.min(DAY_MASK as Day))
}

/// The identity part of a key (what equality means here: 112 bits).
#[inline]
pub fn ident(key: u128) -> u128 {
    key >> DAY_BITS
}

/// A sealed, sorted generation of ids.
pub struct SortedRun {
    /// `ident << 16 | day`, sorted, unique by ident.
    entries: Vec<u128>,
    bloom: Vec<[u64; 8]>,
    newest: Day,
    oldest: Day,
}

impl SortedRun {
    /// Builds a run from (key, day) pairs (any order; duplicates keep one entry).
    pub fn from_pairs(pairs: impl Iterator<Item = (u128, Day)>, len_hint: usize) -> SortedRun {
        let mut entries: Vec<u128> = Vec::with_capacity(len_hint);
        entries.extend(pairs.map(|(k, d)| pack(k, d)));
        SortedRun::from_packed(entries)
    }

    /// Builds a run from [`pack`]ed entries in any order.
    pub fn from_packed(mut entries: Vec<u128>) -> SortedRun {
        entries.sort_unstable();
        entries.dedup_by(|a, b| ident_of(*a) == ident_of(*b));
        SortedRun::from_sorted(entries)
    }

    fn from_sorted(entries: Vec<u128>) -> SortedRun {
        let blocks = (entries.len() * BITS_PER_ID).div_ceil(512).max(1);
        let mut bloom = vec![[0u64; 8]; blocks];
        let (mut newest, mut oldest) = (0, Day::MAX);
        for &e in &entries {
            let (b, bits) = probe(ident_of(e), blocks);
            for p in bits {
                bloom[b][(p >> 6) as usize] |= 1 << (p & 63);
            }
            let day = (e & DAY_MASK) as Day;
            newest = newest.max(day);
            oldest = oldest.min(day);
        }
        SortedRun {
            entries,
            bloom,
            newest,
            oldest,
        }
    }

    /// Ids held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest accept day held.
    pub fn newest(&self) -> Day {
        self.newest
    }

    /// The oldest accept day held.
    pub fn oldest(&self) -> Day {
        self.oldest
    }

    /// Whether the id is in the run (exact: the Bloom filter only skips the search).
    #[inline]
    pub fn contains(&self, key: u128) -> bool {
        let id = ident(key);
        let (b, bits) = probe(id, self.bloom.len());
        let block = &self.bloom[b];
        if !bits
            .into_iter()
            .all(|p| block[(p >> 6) as usize] & (1 << (p & 63)) != 0)
        {
            return false;
        }
        let i = self.entries.partition_point(|e| ident_of(*e) < id);
        self.entries.get(i).is_some_and(|e| ident_of(*e) == id)
    }

    /// Merges two runs into one.
    pub fn merge(a: &SortedRun, b: &SortedRun) -> SortedRun {
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        let (x, y) = (&a.entries, &b.entries);
        while i < x.len() && j < y.len() {
            let (ia, ib) = (ident_of(x[i]), ident_of(y[j]));
            if ia < ib {
                out.push(x[i]);
                i += 1;
            } else if ib < ia {
                out.push(y[j]);
                j += 1;
            } else {
                out.push(x[i].max(y[j]));
                i += 1;
                j += 1;
            }
        }
        out.extend_from_slice(&x[i..]);
        out.extend_from_slice(&y[j..]);
        SortedRun::from_sorted(out)
    }

    /// The run without ids accepted before `cutoff`; `None` if that is all of them.
    pub fn without_before(&self, cutoff: Day) -> Option<SortedRun> {
        let kept: Vec<u128> = self
            .entries
            .iter()
            .copied()
            .filter(|e| (e & DAY_MASK) as Day >= cutoff)
            .collect();
        (!kept.is_empty()).then(|| SortedRun::from_sorted(kept))
    }
}

#[inline]
fn ident_of(entry: u128) -> u128 {
    entry >> DAY_BITS
}

/// The block and the bit positions of an identity.
#[inline]
fn probe(id: u128, blocks: usize) -> (usize, [u32; PROBES as usize]) {
    let lo = id as u64;
    let hi = (id >> 64) as u64;
    let b = ((u128::from(lo) * blocks as u128) >> 64) as usize;
    let mut bits = [0u32; PROBES as usize];
    for (i, p) in bits.iter_mut().enumerate() {
        *p = ((hi >> (i as u32 * 9)) & 511) as u32;
    }
    (b, bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> u128 {
        super::super::id_key("s", &i.to_string())
    }

    #[test]
    fn runs_find_exactly_their_ids() {
        let a = SortedRun::from_pairs((0..50_000).map(|i| (key(i), 100 + (i % 3) as Day)), 0);
        let b = SortedRun::from_pairs((40_000..90_000).map(|i| (key(i), 105)), 0);
        assert_eq!(a.len(), 50_000);
        assert_eq!(a.newest(), 102);
        for i in 0..50_000 {
            assert!(a.contains(key(i)));
        }
        let false_hits = (100_000..200_000).filter(|&i| a.contains(key(i))).count();
        assert_eq!(false_hits, 0, "the search behind the filter is exact");
        let m = SortedRun::merge(&a, &b);
        assert_eq!(m.len(), 90_000);
        assert_eq!(m.newest(), 105);
        assert!((0..90_000).all(|i| m.contains(key(i))));
        assert!(!m.contains(key(90_000)));
        // Pruning keeps ids accepted on or after the cutoff (merged duplicates keep the newest day).
        let p = m.without_before(104).unwrap();
        assert_eq!(p.len(), 50_000);
        assert!(p.contains(key(45_000)) && !p.contains(key(1)));
        assert!(m.without_before(106).is_none());
    }
}
