//! Apriori (Agrawal & Srikant 1994): level by level, candidates of length k are joined from
//! frequent (k-1)-itemsets sharing their first k-2 items, pruned unless every (k-1)-subset is
//! frequent, and counted in one pass over the baskets.
//!
//! Pairs are counted in a triangular array; longer candidates in a prefix trie (the modern
//! form of the hash tree) that each basket walks by merging its sorted items with a node's
//! sorted children. Same itemsets as mlxtend's `apriori` (`tests/rules_mlxtend.rs`) and as
//! [`super::eclat`], [`super::fpgrowth`] and a brute-force count (`tests/rules_prop.rs`).

use super::itemset::{Prepared, Sink};

/// Mines `prep` into `sink`.
pub(crate) fn mine(prep: &Prepared, sink: &mut Sink<'_>) {
    let f = prep.n_frequent();
    for r in 0..f {
        sink.emit(&[r as u32], prep.rank_count[r]);
    }
    if prep.max_len < 2 || f < 2 {
        return;
    }
    let mut freq = pairs(prep, sink);
    let mut k = 3;
    while k <= prep.max_len && !freq.is_empty() {
        let cands = candidates(&freq, k - 1);
        if cands.is_empty() {
            break;
        }
        let trie = Trie::new(&cands, k);
        let mut counts = vec![0u64; cands.len() / k];
        for t in prep.transactions().filter(|t| t.len() >= k) {
            trie.count(0, 0, trie.level_len(0), t, &mut counts);
        }
        freq.clear();
        for (ci, &c) in counts.iter().enumerate() {
            if c >= prep.min_count {
                let items = &cands[ci * k..(ci + 1) * k];
                sink.emit(items, c);
                freq.extend_from_slice(items);
            }
        }
        k += 1;
    }
}

/// Counts every pair of frequent items; returns the frequent pairs, flat and sorted.
fn pairs(prep: &Prepared, sink: &mut Sink<'_>) -> Vec<u32> {
    let f = prep.n_frequent();
    // Row i holds pairs (i, j > i).
    let row = |i: usize| i * (2 * f - i - 1) / 2;
    let mut tri = vec![0u64; f * (f - 1) / 2];
    for t in prep.transactions() {
        for (a, &i) in t.iter().enumerate() {
            let (i, base) = (i as usize, row(i as usize));
            for &j in &t[a + 1..] {
                tri[base + (j as usize - i - 1)] += 1;
            }
        }
    }
    let mut freq = Vec::new();
    for i in 0..f {
        for j in i + 1..f {
            let c = tri[row(i) + j - i - 1];
            if c >= prep.min_count {
                sink.emit(&[i as u32, j as u32], c);
                freq.extend_from_slice(&[i as u32, j as u32]);
            }
        }
    }
    freq
}

/// Candidates of length `m + 1` from the sorted frequent `m`-itemsets `freq` (flat), sorted.
fn candidates(freq: &[u32], m: usize) -> Vec<u32> {
    let n = freq.len() / m;
    let set = |i: usize| &freq[i * m..(i + 1) * m];
    let mut out = Vec::new();
    let mut sub = vec![0u32; m];
    let mut block = 0;
    while block < n {
        // Itemsets sharing their first m-1 items are consecutive.
        let mut end = block + 1;
        while end < n && set(end)[..m - 1] == set(block)[..m - 1] {
            end += 1;
        }
        for a in block..end {
            for b in a + 1..end {
                let last = set(b)[m - 1];
                // Subsets dropping one of the shared items must be frequent too.
                let ok = (0..m - 1).all(|drop| {
                    let mut w = 0;
                    for (i, &x) in set(a).iter().enumerate() {
                        if i != drop {
                            sub[w] = x;
                            w += 1;
                        }
                    }
                    sub[m - 1] = last;
                    contains(freq, m, &sub)
                });
                if ok {
                    out.extend_from_slice(set(a));
                    out.push(last);
                }
            }
        }
        block = end;
    }
    out
}

/// Binary search of `x` among the sorted `m`-itemsets of `freq`.
fn contains(freq: &[u32], m: usize, x: &[u32]) -> bool {
    let (mut lo, mut hi) = (0, freq.len() / m);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match freq[mid * m..(mid + 1) * m].cmp(x) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Sorted candidates of length `k` as a trie, level by level: the node for position `d` of a
/// candidate lives in `item[d]`, its children at level `d + 1` are
/// `child[d][j]..child[d][j + 1]`; the last level's nodes are the candidates, in order.
struct Trie {
    k: usize,
    item: Vec<Vec<u32>>,
    child: Vec<Vec<u32>>,
}

impl Trie {
    fn new(cands: &[u32], k: usize) -> Trie {
        let mut item: Vec<Vec<u32>> = vec![Vec::new(); k];
        let mut child: Vec<Vec<u32>> = vec![Vec::new(); k];
        let mut prev: &[u32] = &[];
        for c in cands.chunks_exact(k) {
            let d0 = c.iter().zip(prev).take_while(|(a, b)| a == b).count();
            for d in d0..k {
                item[d].push(c[d]);
                if d + 1 < k {
                    child[d].push(item[d + 1].len() as u32);
                }
            }
            prev = c;
        }
        for d in 0..k - 1 {
            child[d].push(item[d + 1].len() as u32);
        }
        Trie { k, item, child }
    }

    fn level_len(&self, d: usize) -> usize {
        self.item[d].len()
    }

    /// Adds 1 to every candidate of `lo..hi` (nodes at level `d`) that `t` contains.
    fn count(&self, d: usize, lo: usize, hi: usize, t: &[u32], counts: &mut [u64]) {
        let need = self.k - d - 1;
        if t.len() <= need {
            return;
        }
        // An item here must leave `need` items after it for the deeper levels.
        let limit = t.len() - need;
        let items = &self.item[d];
        let (mut i, mut j) = (0, lo);
        while i < limit && j < hi {
            let (a, b) = (t[i], items[j]);
            if a < b {
                i += 1;
            } else if a > b {
                j += 1;
            } else {
                if need == 0 {
                    counts[j] += 1;
                } else {
                    let ch = &self.child[d];
                    self.count(
                        d + 1,
                        ch[j] as usize,
                        ch[j + 1] as usize,
                        &t[i + 1..],
                        counts,
                    );
                }
                i += 1;
                j += 1;
            }
        }
    }
}
