//! Eclat (Zaki 2000): depth-first over equivalence classes of itemsets sharing a prefix, each
//! itemset carrying the set of transactions that contain it; a class's extensions intersect
//! their sets pairwise and keep those still frequent.
//!
//! Transaction sets are bitsets (`u64` words, one flat buffer per depth, reused), so an
//! intersection and its count are a word-wise AND and popcount. Items go least frequent first,
//! which keeps classes small. Same itemsets as mlxtend's `fpgrowth`/`apriori`
//! (`tests/rules_mlxtend.rs`) and as the other miners and a brute-force count
//! (`tests/rules_prop.rs`).

use super::itemset::{Prepared, Sink};

/// One equivalence class: its members' last items, counts and bitsets (flat, `words` each).
#[derive(Default)]
struct Class {
    item: Vec<u32>,
    count: Vec<u64>,
    bits: Vec<u64>,
}

impl Class {
    fn clear(&mut self) {
        self.item.clear();
        self.count.clear();
        self.bits.clear();
    }
}

/// Mines `prep` into `sink`.
pub(crate) fn mine(prep: &Prepared, sink: &mut Sink<'_>) {
    let f = prep.n_frequent();
    if f == 0 {
        return;
    }
    let n_tx = prep.tx_end.len();
    let words = n_tx.div_ceil(64);
    // Least frequent first: ranks are most frequent first, so reverse them.
    let mut top = Class {
        item: (0..f as u32).rev().collect(),
        count: (0..f).rev().map(|r| prep.rank_count[r]).collect(),
        bits: vec![0u64; f * words],
    };
    for (ti, t) in prep.transactions().enumerate() {
        for &r in t {
            let slot = f - 1 - r as usize;
            top.bits[slot * words + ti / 64] |= 1u64 << (ti % 64);
        }
    }
    let depth = prep.max_len.min(f);
    let mut pool: Vec<Class> = (0..depth).map(|_| Class::default()).collect();
    pool[0] = top;
    let mut prefix = Vec::new();
    grow(&mut pool, words, prep, &mut prefix, sink);
}

/// Emits every member of `pool[0]` after `prefix`, then mines each member's class.
fn grow(
    pool: &mut [Class],
    words: usize,
    prep: &Prepared,
    prefix: &mut Vec<u32>,
    sink: &mut Sink<'_>,
) {
    let Some((class, deeper)) = pool.split_first_mut() else {
        return;
    };
    let m = class.item.len();
    let can_extend = prefix.len() + 1 < prep.max_len;
    for i in 0..m {
        prefix.push(class.item[i]);
        sink.emit(prefix, class.count[i]);
        if can_extend
            && i + 1 < m
            && let Some(next) = deeper.first_mut()
        {
            next.clear();
            let a = &class.bits[i * words..(i + 1) * words];
            for j in i + 1..m {
                let b = &class.bits[j * words..(j + 1) * words];
                let start = next.bits.len();
                let mut c = 0u64;
                next.bits.extend(a.iter().zip(b).map(|(x, y)| {
                    let w = x & y;
                    c += u64::from(w.count_ones());
                    w
                }));
                if c >= prep.min_count {
                    next.item.push(class.item[j]);
                    next.count.push(c);
                } else {
                    next.bits.truncate(start);
                }
            }
            if !next.item.is_empty() {
                grow(deeper, words, prep, prefix, sink);
            }
        }
        prefix.pop();
    }
}
