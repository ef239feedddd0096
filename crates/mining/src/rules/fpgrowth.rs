//! FP-growth (Han, Pei & Yin 2000): each item's conditional pattern base (the items before it,
//! in frequency-rank order, of every basket holding it) goes into a prefix tree keeping only
//! the items frequent there; each tree is mined the same way, recursively, and a tree that is
//! one path yields all its subsets directly.
//!
//! The top level reads the pattern bases straight from the recoded baskets (an occurrence
//! index per item) instead of building a first tree: on sparse baskets that tree hardly
//! shares prefixes and walking it is all cache misses. Trees are flat arrays with a hashed
//! child index, one reused tree per recursion depth. Same itemsets as mlxtend's `fpgrowth`
//! (`tests/rules_mlxtend.rs`) and as [`super::apriori`], [`super::eclat`] and a brute-force
//! count (`tests/rules_prop.rs`).

use super::itemset::{Prepared, Sink};

const NONE: u32 = u32::MAX;

/// A node's parent and item, read together on every step up a path.
#[derive(Clone, Copy)]
struct Node {
    parent: u32,
    item: u32,
}

/// One FP-tree; node 0 is the root. Per-rank arrays are indexed by the global rank.
#[derive(Default)]
struct Tree {
    node: Vec<Node>,
    count: Vec<u64>,
    /// Next node of the same item.
    link: Vec<u32>,
    has_child: Vec<bool>,
    /// Per rank: first node of the item, or `NONE`.
    head: Vec<u32>,
    /// Per rank: the item's count in this tree.
    total: Vec<u64>,
    /// Ranks present, ascending.
    items: Vec<u32>,
    single_path: bool,
    /// Child lookup while building: nodes by hash of `(parent, item)`, linear probing.
    slots: Vec<u32>,
}

impl Tree {
    /// Empties the tree for at most `max_nodes` nodes besides the root.
    fn reset(&mut self, n_ranks: usize, max_nodes: usize) {
        if self.head.len() < n_ranks {
            self.head.resize(n_ranks, NONE);
            self.total.resize(n_ranks, 0);
        }
        for &r in &self.items {
            self.head[r as usize] = NONE;
            self.total[r as usize] = 0;
        }
        self.items.clear();
        self.node.clear();
        self.count.clear();
        self.link.clear();
        self.has_child.clear();
        self.node.reserve(max_nodes + 1);
        self.count.reserve(max_nodes + 1);
        self.link.reserve(max_nodes + 1);
        self.has_child.reserve(max_nodes + 1);
        self.node.push(Node {
            parent: NONE,
            item: NONE,
        });
        self.count.push(0);
        self.link.push(NONE);
        self.has_child.push(false);
        self.single_path = true;
        // Load at most 2/3, so probes stay short; sized once, never rehashed.
        let cap = (max_nodes + max_nodes / 2 + 1).next_power_of_two().max(8);
        self.slots.clear();
        self.slots.resize(cap, NONE);
    }

    /// Adds a path of ranks ascending (most frequent nearest the root) seen `c` times.
    fn insert(&mut self, path: &[u32], c: u64) {
        let bits = self.slots.len().trailing_zeros();
        let mut at = 0u32;
        for &r in path {
            at = self.child(at, r, c, bits);
            self.total[r as usize] += c;
        }
    }

    /// Ends a build: the items present in rank order.
    fn finish(&mut self) {
        self.items.sort_unstable();
    }

    /// The child of `at` for item `r` with `c` added to its count, made if missing.
    #[inline]
    fn child(&mut self, at: u32, r: u32, c: u64, bits: u32) -> u32 {
        let key = (u64::from(at) << 32) | u64::from(r);
        let mask = self.slots.len() - 1;
        let mut h = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
        loop {
            let node = self.slots[h];
            if node == NONE {
                break;
            }
            let n = self.node[node as usize];
            if n.parent == at && n.item == r {
                self.count[node as usize] += c;
                return node;
            }
            h = (h + 1) & mask;
        }
        let new = self.node.len() as u32;
        self.slots[h] = new;
        self.node.push(Node {
            parent: at,
            item: r,
        });
        self.count.push(c);
        let first = &mut self.head[r as usize];
        if *first == NONE {
            self.items.push(r);
        }
        self.link.push(*first);
        *first = new;
        self.has_child.push(false);
        if std::mem::replace(&mut self.has_child[at as usize], true) {
            self.single_path = false;
        }
        new
    }
}

/// Buffers reused by every conditional-tree build.
#[derive(Default)]
struct Scratch {
    buf: Vec<u32>,
    paths: Vec<(u32, u32, u64)>,
    cond: Vec<u64>,
    touched: Vec<u32>,
    kept: Vec<u32>,
}

struct Miner<'a, 'b> {
    min_count: u64,
    max_len: usize,
    n_ranks: usize,
    sink: &'a mut Sink<'b>,
    prefix: Vec<u32>,
    scratch: Scratch,
}

/// Mines `prep` into `sink`.
pub(crate) fn mine(prep: &Prepared, sink: &mut Sink<'_>) {
    let n_ranks = prep.n_frequent();
    // No first FP-tree: item x's pattern base is the part before x of each basket holding
    // it, read in order from `prep.tx`. `occ[occ_start[x]..cursor[x]]` lists, for each such
    // basket, (its start, x's offset).
    let mut occ_start = Vec::with_capacity(n_ranks);
    let mut acc = 0usize;
    for &c in &prep.rank_count {
        occ_start.push(acc);
        acc += c as usize;
    }
    let mut cursor = occ_start.clone();
    let mut occ = vec![(0u32, 0u32); prep.tx.len()];
    let starts = std::iter::once(0).chain(prep.tx_end.iter().copied());
    for (b, e) in starts.zip(prep.tx_end.iter().copied()) {
        for o in b..e {
            let r = prep.tx[o] as usize;
            occ[cursor[r]] = (b as u32, o as u32);
            cursor[r] += 1;
        }
    }
    let depth = prep.max_len.min(n_ranks).saturating_sub(1);
    let mut pool: Vec<Tree> = (0..depth).map(|_| Tree::default()).collect();
    let mut m = Miner {
        min_count: prep.min_count,
        max_len: prep.max_len,
        n_ranks,
        sink,
        prefix: Vec::new(),
        scratch: Scratch {
            cond: vec![0; n_ranks],
            ..Scratch::default()
        },
    };
    let mut path = Vec::new();
    for x in 0..n_ranks {
        m.prefix.clear();
        m.prefix.push(x as u32);
        m.sink.emit(&m.prefix, prep.rank_count[x]);
        let Some(child) = pool.first_mut() else {
            continue;
        };
        let bases = &occ[occ_start[x]..cursor[x]];
        let s = &mut m.scratch;
        for &r in &s.touched {
            s.cond[r as usize] = 0;
        }
        s.touched.clear();
        for &(b, o) in bases {
            for &r in &prep.tx[b as usize..o as usize] {
                let slot = &mut s.cond[r as usize];
                if *slot == 0 {
                    s.touched.push(r);
                }
                *slot += 1;
            }
        }
        let keep = |r: u32| s.cond[r as usize] >= prep.min_count;
        let kept: u64 = s
            .touched
            .iter()
            .filter(|&&r| keep(r))
            .map(|&r| s.cond[r as usize])
            .sum();
        if kept == 0 {
            continue;
        }
        child.reset(n_ranks, kept as usize);
        for &(b, o) in bases {
            path.clear();
            path.extend(
                prep.tx[b as usize..o as usize]
                    .iter()
                    .copied()
                    .filter(|&r| keep(r)),
            );
            if !path.is_empty() {
                child.insert(&path, 1);
            }
        }
        child.finish();
        m.grow(&mut pool);
    }
}

impl Miner<'_, '_> {
    /// Mines `pool[0]`, whose itemsets all extend `self.prefix`.
    fn grow(&mut self, pool: &mut [Tree]) {
        let Some((tree, deeper)) = pool.split_first_mut() else {
            return;
        };
        if tree.single_path {
            let path: Vec<(u32, u64)> = (1..tree.node.len())
                .map(|i| (tree.node[i].item, tree.count[i]))
                .collect();
            let room = self.max_len - self.prefix.len();
            self.subsets(&path, room);
            return;
        }
        let can_extend = self.prefix.len() + 1 < self.max_len;
        for &x in &tree.items {
            self.prefix.push(x);
            self.sink.emit(&self.prefix, tree.total[x as usize]);
            if can_extend && let Some(child) = deeper.first_mut() {
                self.conditional(tree, x, child);
                if child.node.len() > 1 {
                    self.grow(deeper);
                }
            }
            self.prefix.pop();
        }
    }

    /// Every non-empty subset of a single path of at most `room` items; a subset's count is
    /// that of its deepest node, counts falling along a path.
    fn subsets(&mut self, path: &[(u32, u64)], room: usize) {
        if room == 0 {
            return;
        }
        for (i, &(r, c)) in path.iter().enumerate() {
            self.prefix.push(r);
            self.sink.emit(&self.prefix, c);
            self.subsets(&path[i + 1..], room - 1);
            self.prefix.pop();
        }
    }

    /// Builds into `child` the tree of `x`'s conditional pattern base, keeping the items
    /// frequent in it.
    fn conditional(&mut self, tree: &Tree, x: u32, child: &mut Tree) {
        let s = &mut self.scratch;
        let Scratch {
            buf,
            paths,
            cond,
            touched,
            kept,
        } = s;
        buf.clear();
        paths.clear();
        for &r in touched.iter() {
            cond[r as usize] = 0;
        }
        touched.clear();
        let (nodes, counts, links) = (&tree.node[..], &tree.count[..], &tree.link[..]);
        let mut node = tree.head[x as usize];
        while node != NONE {
            let c = counts[node as usize];
            let start = buf.len();
            let mut p = nodes[node as usize].parent;
            while p != 0 {
                let Node { parent, item: r } = nodes[p as usize];
                let slot = &mut cond[r as usize];
                if *slot == 0 {
                    touched.push(r);
                }
                *slot += c;
                buf.push(r);
                p = parent;
            }
            if buf.len() > start {
                buf[start..].reverse();
                paths.push((start as u32, (buf.len() - start) as u32, c));
            }
            node = links[node as usize];
        }
        // Keep the items frequent here; identical kept paths merge in the tree.
        let n_kept: u64 = touched
            .iter()
            .filter(|&&r| cond[r as usize] >= self.min_count)
            .map(|&r| cond[r as usize])
            .sum();
        child.reset(self.n_ranks, n_kept as usize);
        for &(start, len, c) in paths.iter() {
            kept.clear();
            kept.extend(
                buf[start as usize..(start + len) as usize]
                    .iter()
                    .copied()
                    .filter(|&r| cond[r as usize] >= self.min_count),
            );
            if !kept.is_empty() {
                child.insert(kept, c);
            }
        }
        child.finish();
    }
}
