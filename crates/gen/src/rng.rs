//! Randomness: a portable seeded generator, stateless hashing for per-entity attributes, a
//! standard-normal quantile table and Vose's alias method.
//!
//! Streams use `rand`'s `Xoshiro256PlusPlus`, whose output is guaranteed reproducible across
//! `rand` releases and platforms. Every slot, session and chunk gets its own stream seeded by
//! hashing the run seed with its index, so any piece can be regenerated independently.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng as _, SeedableRng};

/// The SplitMix64 finaliser: a bijection on `u64` with good avalanche.
#[inline]
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of two words.
#[inline]
pub(crate) const fn hash2(a: u64, b: u64) -> u64 {
    mix64(a ^ mix64(b.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// Hash of three words.
#[inline]
pub(crate) const fn hash3(a: u64, b: u64, c: u64) -> u64 {
    hash2(hash2(a, b), c)
}

/// A uniform `[0, 1)` double from a hash.
#[inline]
pub(crate) fn unit_of(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` from a hash (multiply-shift; bias below n / 2^64).
#[inline]
pub(crate) fn below_of(h: u64, n: u64) -> u64 {
    ((h as u128 * n as u128) >> 64) as u64
}

/// `e^x`, portable: plain IEEE arithmetic only (no libm, no fused multiply-add), so every
/// platform computes the same bits and generated output does not depend on the system's math
/// library. Relative error below 1e-15 for |x| < 700; saturates outside.
#[inline]
pub(crate) fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let x = x.clamp(-700.0, 700.0);
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52: adding it rounds to an integer
    let k = (x * std::f64::consts::LOG2_E + SHIFT) - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO; // |r| <= 0.35
    // Taylor series of e^r to r^13 (Horner).
    let mut p = 1.0 / 6_227_020_800.0;
    for d in [
        479_001_600.0,
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / d;
    }
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// Natural logarithm, portable like [`exp`] (for positive finite `x`; else NaN or -inf).
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // x = m · 2^e with m in [sqrt(1/2), sqrt(2)).
    let (mut m, mut e) = (x, 0i32);
    while m >= std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    while m < std::f64::consts::FRAC_1_SQRT_2 {
        m *= 2.0;
        e -= 1;
    }
    // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut sum = 0.0;
    let mut term = s;
    let mut n = 1.0;
    while n < 60.0 {
        sum += term / n;
        term *= s2;
        n += 2.0;
    }
    2.0 * sum + e as f64 * std::f64::consts::LN_2
}

/// A seeded random stream.
pub(crate) struct Rng(Xoshiro256PlusPlus);

impl Rng {
    /// A stream for `seed`.
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// 64 random bits.
    #[inline]
    pub(crate) fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        unit_of(self.u64())
    }

    /// Uniform in `0..n` (0 when n is 0).
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        below_of(self.u64(), n)
    }

    /// True with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Quantiles of the standard normal distribution at `(i + 0.5) / N`, so a uniform index gives
/// a (finely discretised) normal sample without transcendental functions on the hot path.
pub(crate) struct NormalTable {
    q: Vec<f64>,
}

const NORMAL_TABLE_SIZE: usize = 4096;

impl NormalTable {
    /// Builds the table by integrating the normal density on a fine grid (Simpson's rule) and
    /// inverting the resulting CDF; accurate to about 1e-7 in probability.
    pub(crate) fn new() -> NormalTable {
        let (lo, hi, steps) = (-8.0f64, 8.0f64, 160_000usize);
        let h = (hi - lo) / steps as f64;
        let pdf = |x: f64| exp(-0.5 * x * x) / (2.0 * std::f64::consts::PI).sqrt();
        let mut q = Vec::with_capacity(NORMAL_TABLE_SIZE);
        let mut cdf = 0.0;
        let mut x = lo;
        let mut next = 0usize;
        for _ in 0..steps / 2 {
            let (a, m, b) = (x, x + h, x + 2.0 * h);
            let area = (pdf(a) + 4.0 * pdf(m) + pdf(b)) * h / 3.0;
            while next < NORMAL_TABLE_SIZE
                && cdf + area >= (next as f64 + 0.5) / NORMAL_TABLE_SIZE as f64
            {
                let target = (next as f64 + 0.5) / NORMAL_TABLE_SIZE as f64;
                let frac = if area > 0.0 {
                    (target - cdf) / area
                } else {
                    0.0
                };
                q.push(a + frac * 2.0 * h);
                next += 1;
            }
            cdf += area;
            x = b;
        }
        while q.len() < NORMAL_TABLE_SIZE {
            q.push(hi);
        }
        NormalTable { q }
    }

    /// A standard normal sample from 64 random bits.
    #[inline]
    pub(crate) fn sample(&self, bits: u64) -> f64 {
        self.q[(bits >> 52) as usize]
    }
}

/// Vose's alias method: O(1) sampling from a fixed discrete distribution.
pub(crate) struct Alias {
    /// Per slot: acceptance threshold (scaled to 2^32) and the alias index.
    slots: Vec<(u32, u32)>,
}

impl Alias {
    /// Builds the table. Non-finite or negative weights count as 0; if every weight is 0 the
    /// distribution is uniform. `weights` must not be empty and have fewer than 2^32 entries.
    pub(crate) fn new(weights: &[f64]) -> Alias {
        let n = weights.len();
        debug_assert!(n > 0 && n <= u32::MAX as usize);
        let clean = |w: f64| if w.is_finite() && w > 0.0 { w } else { 0.0 };
        let total: f64 = weights.iter().map(|w| clean(*w)).sum();
        let scaled: Vec<f64> = if total > 0.0 {
            weights
                .iter()
                .map(|w| clean(*w) * n as f64 / total)
                .collect()
        } else {
            vec![1.0; n]
        };
        let mut prob = scaled;
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        for (i, p) in prob.iter().enumerate() {
            if *p < 1.0 {
                small.push(i as u32);
            } else {
                large.push(i as u32);
            }
        }
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s as usize] = l;
            prob[l as usize] -= 1.0 - prob[s as usize];
            if prob[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1 up to rounding.
        for i in small.into_iter().chain(large) {
            prob[i as usize] = 1.0;
        }
        let slots = prob
            .iter()
            .zip(&alias)
            .map(|(p, a)| {
                let t = (p.clamp(0.0, 1.0) * 4_294_967_296.0).min(4_294_967_295.0) as u32;
                // A probability of exactly 1 must always accept.
                (if *p >= 1.0 { u32::MAX } else { t }, *a)
            })
            .collect();
        Alias { slots }
    }

    /// Number of outcomes.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// An outcome from 64 random bits.
    #[inline]
    pub(crate) fn sample(&self, bits: u64) -> u32 {
        let i = (((bits >> 32) * self.slots.len() as u64) >> 32) as usize;
        let (t, a) = self.slots[i];
        if (bits as u32) < t || t == u32::MAX {
            i as u32
        } else {
            a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_matches_weights() {
        let w = [1.0, 0.0, 3.0, 6.0];
        let a = Alias::new(&w);
        let mut rng = Rng::new(7);
        let mut c = [0u32; 4];
        let n = 200_000;
        for _ in 0..n {
            c[a.sample(rng.u64()) as usize] += 1;
        }
        assert_eq!(c[1], 0);
        for (i, wi) in w.iter().enumerate() {
            let got = c[i] as f64 / n as f64;
            assert!((got - wi / 10.0).abs() < 0.01, "{i}: {got}");
        }
    }

    #[test]
    fn normal_table_has_normal_moments() {
        let t = NormalTable::new();
        let mut rng = Rng::new(1);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| t.sample(rng.u64())).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        assert!((t.q[2048] - 0.000306).abs() < 1e-3, "{}", t.q[2048]);
        assert!((t.q[4095] - 3.67).abs() < 0.02, "{}", t.q[4095]);
    }

    #[test]
    fn portable_exp_and_ln_match_std() {
        let mut x = -50.0;
        while x < 50.0 {
            let (a, b) = (exp(x), x.exp());
            assert!(((a - b) / b).abs() < 1e-14, "exp {x}: {a} {b}");
            let y = exp(x / 3.0);
            assert!(
                (ln(y) - y.ln()).abs() < 1e-13 * y.ln().abs().max(1.0),
                "ln {y}"
            );
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(-1.0).is_nan() && exp(f64::NAN).is_nan());
        assert!(exp(1000.0).is_finite() && exp(-1000.0) >= 0.0);
    }

    #[test]
    fn streams_are_reproducible() {
        let a: Vec<u64> = {
            let mut r = Rng::new(3);
            (0..4).map(|_| r.u64()).collect()
        };
        let mut r = Rng::new(3);
        assert_eq!(a, (0..4).map(|_| r.u64()).collect::<Vec<_>>());
        assert_ne!(a[0], Rng::new(4).u64());
    }
}
