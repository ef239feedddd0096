//! The catalog: categories with skewed sizes, items with Zipf-like popularity, prices, and the
//! mapping from dense indices to Taobao-looking ids.
//!
//! Fitted to Taobao UserBehavior (the full set and the 110k-row sample in `shared/datasets`):
//!
//! - **Category sizes** follow Zipf (exponent 1) times log-normal noise (σ 0.5): a few huge
//!   categories, a median of ~100 items at full scale. Items of a category are contiguous
//!   indices, so the item → category mapping is fixed and needs no table.
//! - **Category traffic** is proportional to size times log-normal noise (σ 0.5); the top 1% of
//!   categories draw about half of all events, as in the data.
//! - **Item popularity within a category** is Zipf-Mandelbrot, weight `1 / (rank + q)` with
//!   `q = 1 + 1e-4 · size`, sampled in O(1) by inverting its continuous CDF (a fixed-point
//!   power of two from two small tables, see [`Catalog::sample_item`]). Taken
//!   together this gives a global Zipf-Mandelbrot-like popularity: at full scale the top 1% of
//!   items take ~40% of the traffic and the top 10% ~70%; a 110k-event window then shows ~84k
//!   distinct items of which ~72k are seen once, close to the real sample (84.8k and 70.6k).

use crate::rng::{Alias, NormalTable, exp, hash2, hash3, ln, unit_of};

const CATEGORY_SIZE_NOISE: f64 = 0.5;
const CATEGORY_TRAFFIC_NOISE: f64 = 0.5;
const Q_PER_ITEM: f64 = 1e-4;

/// A bijection from dense indices `0..n` to ids `1..=m` (`m` a power of two, at least `min_m`),
/// so ids look scattered like real ones but stay unique.
#[derive(Clone, Copy)]
pub(crate) struct IdMap {
    mask: u64,
    mul: u64,
    add: u64,
}

impl IdMap {
    pub(crate) fn new(n: u64, min_m: u64, seed: u64) -> IdMap {
        let m = n.max(min_m).next_power_of_two();
        IdMap {
            mask: m - 1,
            mul: (0x9e37_79b9_7f4a_7c15 & (m - 1)) | 1,
            add: hash2(seed, m) & (m - 1),
        }
    }

    /// The id of index `i`.
    #[inline]
    pub(crate) fn id(&self, i: u32) -> i64 {
        ((i as u64).wrapping_mul(self.mul).wrapping_add(self.add) & self.mask) as i64 + 1
    }
}

/// Categories and items.
pub(crate) struct Catalog {
    /// `offset[c]..offset[c + 1]` are the item indices of category `c`.
    offset: Vec<u32>,
    /// Zipf-Mandelbrot offset `q` per category.
    q: Vec<f64>,
    /// `log2((size + q) / q)` per category, fixed point with 26 fractional bits.
    span_fx: Vec<u64>,
    /// Median price per category.
    base_price: Vec<f64>,
    /// `2^(j / 256)` and `2^(j / 65536)` for `j` in 0..256.
    exp2_hi: Vec<f64>,
    exp2_lo: Vec<f64>,
    traffic: Alias,
    item_ids: IdMap,
    cat_ids: IdMap,
    seed: u64,
}

impl Catalog {
    pub(crate) fn new(items: u32, categories: u32, seed: u64, normal: &NormalTable) -> Catalog {
        let c_n = categories.clamp(1, items) as usize;
        let sizes_w: Vec<f64> = (0..c_n)
            .map(|c| {
                let z = normal.sample(hash3(seed, 0xc5, c as u64));
                exp(CATEGORY_SIZE_NOISE * z) / (c as f64 + 1.0)
            })
            .collect();
        let total_w: f64 = sizes_w.iter().sum();
        // Cumulative rounding: every category gets at least one item, the sizes add up exactly.
        let spare = (items as usize - c_n) as f64;
        let mut offset = Vec::with_capacity(c_n + 1);
        let mut acc = 0.0;
        offset.push(0u32);
        for (c, w) in sizes_w.iter().enumerate() {
            acc += w;
            let o = (c + 1) as f64 + (spare * (acc / total_w)).round();
            offset.push((o as u32).min(items));
        }
        offset[c_n] = items;
        let mut q = Vec::with_capacity(c_n);
        let mut span_fx = Vec::with_capacity(c_n);
        let mut traffic_w = Vec::with_capacity(c_n);
        let mut base_price = Vec::with_capacity(c_n);
        for c in 0..c_n {
            let size = (offset[c + 1] - offset[c]) as f64;
            let qc = 1.0 + Q_PER_ITEM * size;
            q.push(qc);
            let log2_span = ln((size + qc) / qc) / std::f64::consts::LN_2;
            span_fx.push((log2_span * (1u64 << 26) as f64).round() as u64);
            let z = normal.sample(hash3(seed, 0x7f, c as u64));
            traffic_w.push(size * exp(CATEGORY_TRAFFIC_NOISE * z));
            let z = normal.sample(hash3(seed, 0x9c, c as u64));
            base_price.push(60.0 * exp(0.9 * z));
        }
        let exp2 = |x: f64| exp(x * std::f64::consts::LN_2);
        Catalog {
            exp2_hi: (0..256).map(|j| exp2(j as f64 / 256.0)).collect(),
            exp2_lo: (0..256).map(|j| exp2(j as f64 / 65536.0)).collect(),
            offset,
            q,
            span_fx,
            base_price,
            traffic: Alias::new(&traffic_w),
            item_ids: IdMap::new(items as u64, 1 << 22, seed ^ 0x17e3),
            cat_ids: IdMap::new(c_n as u64, 1 << 22, seed ^ 0xca7),
            seed,
        }
    }

    /// Number of categories.
    #[cfg(test)]
    pub(crate) fn categories(&self) -> u32 {
        self.traffic.len() as u32
    }

    /// Number of items in a category.
    pub(crate) fn size(&self, cat: u32) -> u32 {
        self.offset[cat as usize + 1] - self.offset[cat as usize]
    }

    /// A category drawn by traffic.
    #[inline]
    pub(crate) fn sample_category(&self, bits: u64) -> u32 {
        self.traffic.sample(bits)
    }

    /// An item of `cat` drawn by popularity from 64 random bits (the top 32 are used): the
    /// inverse CDF `rank = q · (2^(u · log2((size + q) / q)) - 1)`. The power of two is taken
    /// in fixed point: `t = u · span` splits into an integer part (the exponent), two 8-bit
    /// fraction digits (two 256-entry tables) and a remainder below 2^-16 (a linear term);
    /// relative error below 1e-9, no float-to-int conversions before the last one.
    #[inline(always)]
    pub(crate) fn sample_item(&self, cat: u32, bits: u64) -> u32 {
        let c = cat as usize;
        let p = (bits >> 32) * self.span_fx[c]; // t = p / 2^58, below 2^5
        let k = p >> 58;
        let hi = self.exp2_hi[((p >> 50) & 0xff) as usize];
        let lo = self.exp2_lo[((p >> 42) & 0xff) as usize];
        let rem = ((p >> 10) & 0xffff_ffff) as f64 * (std::f64::consts::LN_2 / (1u64 << 48) as f64);
        let scaled = f64::from_bits(hi.to_bits() + (k << 52));
        let e = scaled * lo * (1.0 + rem);
        let q = self.q[c];
        let r = (q * (e - 1.0)) as u32;
        self.offset[c] + r.min(self.size(cat) - 1)
    }

    /// The item at popularity rank `rank` (0 = most popular) of `cat`.
    pub(crate) fn item_at(&self, cat: u32, rank: u32) -> u32 {
        self.offset[cat as usize] + rank.min(self.size(cat) - 1)
    }

    /// The category of an item index.
    #[cfg(test)]
    pub(crate) fn category_of(&self, item: u32) -> u32 {
        (self.offset.partition_point(|o| *o <= item) - 1) as u32
    }

    /// Public id of an item.
    #[inline]
    pub(crate) fn item_id(&self, item: u32) -> i64 {
        self.item_ids.id(item)
    }

    /// Public id of a category.
    #[inline]
    pub(crate) fn category_id(&self, cat: u32) -> i64 {
        self.cat_ids.id(cat)
    }

    /// Unit price of an item in CNY: the category's level times log-normal spread (σ 0.5),
    /// with shop-style endings (x.90, x.99, x.00).
    pub(crate) fn price(&self, item: u32, cat: u32, normal: &NormalTable) -> f64 {
        let h = hash2(self.seed ^ 0x9e1ce, item as u64);
        let p = self.base_price[cat as usize] * exp(0.5 * normal.sample(h));
        let p = p.clamp(0.5, 50_000.0);
        if p < 10.0 {
            (p * 10.0).floor() / 10.0 + 0.09
        } else {
            let ending = [0.0, 0.9, 0.99][(unit_of(h.rotate_left(17)) * 3.0) as usize % 3];
            p.floor() + ending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn sizes_add_up_and_ids_are_unique() {
        let normal = NormalTable::new();
        let cat = Catalog::new(50_000, 120, 9, &normal);
        let total: u32 = (0..cat.categories()).map(|c| cat.size(c)).sum();
        assert_eq!(total, 50_000);
        assert!((0..cat.categories()).all(|c| cat.size(c) >= 1));
        let mut ids: Vec<i64> = (0..50_000).map(|i| cat.item_id(i)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 50_000);
        assert!(ids[0] >= 1);
        for c in [0, 7, 119] {
            let it = cat.item_at(c, 0);
            assert_eq!(cat.category_of(it), c);
        }
    }

    #[test]
    fn fixed_point_sampling_matches_the_exact_inverse_cdf() {
        let normal = NormalTable::new();
        let cat = Catalog::new(3_000_000, 40, 8, &normal);
        let mut rng = Rng::new(9);
        for c in [0, 1, 17, 39] {
            let size = cat.size(c) as f64;
            let q = cat.q[c as usize];
            for _ in 0..20_000 {
                let bits = rng.u64();
                let u = (bits >> 32) as f64 / 4_294_967_296.0;
                let exact = (q * (((size + q) / q).powf(u) - 1.0)).min(size - 1.0);
                let got = (cat.sample_item(c, bits) - cat.item_at(c, 0)) as f64;
                assert!(
                    (got - exact.floor()).abs() <= 1.0,
                    "cat {c} u {u}: {got} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn items_are_zipf_skewed_within_a_category() {
        let normal = NormalTable::new();
        let cat = Catalog::new(100_000, 10, 3, &normal);
        let mut rng = Rng::new(5);
        let c = 0;
        let n = cat.size(c);
        let mut counts = vec![0u32; n as usize];
        for _ in 0..200_000 {
            let it = cat.sample_item(c, rng.u64());
            assert_eq!(cat.category_of(it), c);
            counts[(it - cat.item_at(c, 0)) as usize] += 1;
        }
        // Rank 0 beats rank 10 by about (10.5 + q) / (0.5 + q) ≈ 3 here; the top 1% hold far more
        // than 1%.
        assert!(counts[0] > 2 * counts[10], "{} {}", counts[0], counts[10]);
        let top: u32 = counts[..n as usize / 100].iter().sum();
        assert!(top > 200_000 / 5, "{top}");
        let p = cat.price(5, 0, &normal);
        assert!(p > 0.0 && p.is_finite());
    }
}
