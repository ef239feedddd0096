//! Weighted class counts per branch ("bags") and the numbers C4.5 derives from them: entropies,
//! information gain, gain ratio and the pessimistic error estimate. Matches the arithmetic of
//! Weka 3.6's `j48.Distribution`, `InfoGainSplitCrit`, `GainRatioSplitCrit` and `Stats.addErrs`
//! operation for operation (same tolerances, same summation order), because J48's choices
//! hinge on tie-breaks within 1e-6; `tests/tree_j48.rs` checks the resulting trees against Weka.

/// Weka's `Utils.SMALL`: every comparison below treats closer values as equal.
pub(crate) const SMALL: f64 = 1e-6;

pub(crate) fn gr(a: f64, b: f64) -> bool {
    a - b > SMALL
}
pub(crate) fn gr_or_eq(a: f64, b: f64) -> bool {
    b - a < SMALL || a >= b
}
pub(crate) fn sm(a: f64, b: f64) -> bool {
    b - a > SMALL
}
pub(crate) fn sm_or_eq(a: f64, b: f64) -> bool {
    a - b < SMALL || a <= b
}
pub(crate) fn eq(a: f64, b: f64) -> bool {
    a == b || (a - b < SMALL && b - a < SMALL)
}

/// `ln(a) / ln(2)`, in that order (not `log2`), as Weka computes it.
pub(crate) fn log2(a: f64) -> f64 {
    a.ln() / std::f64::consts::LN_2
}

/// Class weights per bag, per bag, per class and in total (kept separately, as Weka does,
/// so rounding drifts the same way).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dist {
    nc: usize,
    pcb: Vec<f64>,
    per_bag: Vec<f64>,
    per_class: Vec<f64>,
    total: f64,
}

impl Dist {
    pub(crate) fn new(bags: usize, nc: usize) -> Dist {
        Dist {
            nc,
            pcb: vec![0.0; bags * nc],
            per_bag: vec![0.0; bags],
            per_class: vec![0.0; nc],
            total: 0.0,
        }
    }

    /// One bag holding the given class weights (Id3 leaves).
    pub(crate) fn from_class_weights(w: Vec<f64>) -> Dist {
        let total = w.iter().sum();
        Dist {
            nc: w.len(),
            pcb: w.clone(),
            per_bag: vec![total],
            per_class: w,
            total,
        }
    }

    pub(crate) fn bags(&self) -> usize {
        self.per_bag.len()
    }
    pub(crate) fn total(&self) -> f64 {
        self.total
    }
    pub(crate) fn per_bag(&self, b: usize) -> f64 {
        self.per_bag[b]
    }
    pub(crate) fn per_class(&self, c: usize) -> f64 {
        self.per_class[c]
    }
    pub(crate) fn pcb(&self, b: usize, c: usize) -> f64 {
        self.pcb[b * self.nc + c]
    }
    pub(crate) fn class_weights(&self) -> &[f64] {
        &self.per_class
    }

    pub(crate) fn add(&mut self, bag: usize, class: usize, w: f64) {
        let k = bag * self.nc + class;
        self.pcb[k] += w;
        self.per_bag[bag] += w;
        self.per_class[class] += w;
        self.total += w;
    }

    /// Weka's `addRange`: the bag and total grow by the range's sum, not weight by weight.
    pub(crate) fn add_range(&mut self, bag: usize, items: impl Iterator<Item = (usize, f64)>) {
        let mut sum = 0.0;
        for (c, w) in items {
            sum += w;
            self.pcb[bag * self.nc + c] += w;
            self.per_class[c] += w;
        }
        self.per_bag[bag] += sum;
        self.total += sum;
    }

    /// Moves weight between bags; class and grand totals are unchanged.
    pub(crate) fn shift(&mut self, from: usize, to: usize, class: usize, w: f64) {
        self.pcb[from * self.nc + class] -= w;
        self.pcb[to * self.nc + class] += w;
        self.per_bag[from] -= w;
        self.per_bag[to] += w;
    }

    /// Weka's `addInstWithUnknown`: instances missing the split attribute join every bag in
    /// proportion to the known weights (evenly when there are none).
    pub(crate) fn add_unknown(&mut self, missing: impl Iterator<Item = (usize, f64)>) {
        let n = self.per_bag.len();
        let probs: Vec<f64> = (0..n)
            .map(|j| {
                if eq(self.total, 0.0) {
                    1.0 / n as f64
                } else {
                    self.per_bag[j] / self.total
                }
            })
            .collect();
        for (c, w) in missing {
            self.per_class[c] += w;
            self.total += w;
            for (j, p) in probs.iter().enumerate() {
                let x = p * w;
                self.pcb[j * self.nc + c] += x;
                self.per_bag[j] += x;
            }
        }
    }

    /// All bags merged into one (Weka's `new Distribution(Distribution)`, a leaf's counts).
    pub(crate) fn merged(&self) -> Dist {
        Dist {
            nc: self.nc,
            pcb: self.per_class.clone(),
            per_bag: vec![self.total],
            per_class: self.per_class.clone(),
            total: self.total,
        }
    }

    /// Bag `b` against the rest, the rest by subtraction (Weka's `new Distribution(d, b)`).
    pub(crate) fn one_vs_rest(&self, b: usize) -> Dist {
        let nc = self.nc;
        let mut pcb = self.pcb[b * nc..(b + 1) * nc].to_vec();
        for c in 0..nc {
            pcb.push(self.per_class[c] - self.pcb[b * nc + c]);
        }
        Dist {
            nc,
            pcb,
            per_bag: vec![self.per_bag[b], self.total - self.per_bag[b]],
            per_class: self.per_class.clone(),
            total: self.total,
        }
    }

    /// At least two bags hold `min` weight.
    pub(crate) fn check(&self, min: f64) -> bool {
        self.per_bag.iter().filter(|&&b| gr_or_eq(b, min)).count() > 1
    }

    /// The heaviest bag; ties go to the last (Weka's `maxBag`).
    pub(crate) fn max_bag(&self) -> usize {
        let mut max = 0.0;
        let mut idx = 0;
        for (i, &b) in self.per_bag.iter().enumerate() {
            if gr_or_eq(b, max) {
                max = b;
                idx = i;
            }
        }
        idx
    }

    /// The majority class; ties within 1e-6 go to the first.
    pub(crate) fn max_class(&self) -> usize {
        first_max(&self.per_class)
    }

    /// The majority class of a bag, or of the whole when the bag is empty.
    pub(crate) fn max_class_in(&self, bag: usize) -> usize {
        if gr(self.per_bag[bag], 0.0) {
            first_max(&self.pcb[bag * self.nc..(bag + 1) * self.nc])
        } else {
            self.max_class()
        }
    }

    pub(crate) fn num_incorrect(&self) -> f64 {
        self.total - self.per_class[self.max_class()]
    }

    pub(crate) fn num_incorrect_in(&self, bag: usize) -> f64 {
        self.per_bag[bag] - self.pcb(bag, self.max_class_in(bag))
    }

    pub(crate) fn prob(&self, c: usize) -> f64 {
        if eq(self.total, 0.0) {
            0.0
        } else {
            self.per_class[c] / self.total
        }
    }

    pub(crate) fn prob_in(&self, c: usize, bag: usize) -> f64 {
        if gr(self.per_bag[bag], 0.0) {
            self.pcb(bag, c) / self.per_bag[bag]
        } else {
            self.prob(c)
        }
    }
}

fn first_max(v: &[f64]) -> usize {
    let mut max = 0.0;
    let mut idx = 0;
    for (i, &x) in v.iter().enumerate() {
        if gr(x, max) {
            max = x;
            idx = i;
        }
    }
    idx
}

/// `x log2 x` in Weka's operation order, 0 below 1e-6.
fn log_func(x: f64) -> f64 {
    if x < 1e-6 {
        0.0
    } else {
        x * x.ln() / std::f64::consts::LN_2
    }
}

/// Entropy of the class totals, times the total weight.
pub(crate) fn old_ent(d: &Dist) -> f64 {
    let mut s = 0.0;
    for c in 0..d.nc {
        s += log_func(d.per_class[c]);
    }
    log_func(d.total) - s
}

/// Class entropy after the split, times the total weight.
fn new_ent(d: &Dist) -> f64 {
    let mut s = 0.0;
    for b in 0..d.bags() {
        for c in 0..d.nc {
            s += log_func(d.pcb(b, c));
        }
        s -= log_func(d.per_bag[b]);
    }
    -s
}

/// Information gain per known-valued weight, scaled down by the fraction with unknown values
/// (`total_w` includes them). `old` is the entropy term before the split.
pub(crate) fn info_gain_with(d: &Dist, total_w: f64, old: f64) -> f64 {
    let unknown_rate = (total_w - d.total) / total_w;
    let num = (1.0 - unknown_rate) * (old - new_ent(d));
    if eq(num, 0.0) { 0.0 } else { num / d.total }
}

pub(crate) fn info_gain(d: &Dist, total_w: f64) -> f64 {
    info_gain_with(d, total_w, old_ent(d))
}

/// Gain ratio; the split information counts instances with unknown values as a bag of their own.
pub(crate) fn gain_ratio(d: &Dist, total_w: f64, gain: f64) -> f64 {
    let mut den = 0.0;
    if gr(d.total, 0.0) {
        for b in 0..d.bags() {
            den -= log_func(d.per_bag[b]);
        }
        den -= log_func(total_w - d.total);
        den += log_func(total_w);
    }
    if eq(den, 0.0) {
        return 0.0;
    }
    gain / (den / total_w)
}

/// The estimated errors C4.5 pruning adds to `e` observed errors among `n` (upper confidence
/// limit of the binomial at `cf`, normal approximation). `cf` is an `f32` because Weka keeps it
/// as a Java `float` and the rounding shows in the estimate.
pub(crate) fn add_errs(n: f64, e: f64, cf: f32) -> f64 {
    if cf > 0.5 {
        // Weka warns and leaves the estimate unmodified.
        return 0.0;
    }
    if e < 1.0 {
        let base = n * (1.0 - (cf as f64).powf(1.0 / n));
        if e == 0.0 {
            return base;
        }
        return base + e * (add_errs(n, 1.0, cf) - base);
    }
    if e + 0.5 >= n {
        return (n - e).max(0.0);
    }
    // `1 - CF` is float arithmetic in Weka.
    let z = normal_inverse((1.0f32 - cf) as f64);
    let f = (e + 0.5) / n;
    let r =
        (f + (z * z) / (2.0 * n) + z * ((f / n) - (f * f / n) + (z * z / (4.0 * n * n))).sqrt())
            / (1.0 + (z * z) / n);
    r * n - e
}

/// The standard normal density.
fn phi(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Upper tail `P(Z > x)` for `x >= 0`: a positive-term series below 3 (no cancellation),
/// the Laplace continued fraction above.
fn upper_tail(x: f64) -> f64 {
    if x < 3.0 {
        let (mut term, mut sum, mut k) = (x, x, 1.0);
        while term > sum * 1e-17 {
            k += 2.0;
            term *= x * x / k;
            sum += term;
        }
        0.5 - phi(x) * sum
    } else {
        let mut cf = x;
        for k in (1..=120).rev() {
            cf = x + k as f64 / cf;
        }
        phi(x) / cf
    }
}

/// The `p` quantile of the standard normal, to about full double precision: a rough rational
/// start (Abramowitz & Stegun 26.2.23) polished by Newton steps on the tail.
pub(crate) fn normal_inverse(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < 0.5 {
        return -normal_inverse(1.0 - p);
    }
    let q = 1.0 - p;
    let t = (-2.0 * q.ln()).sqrt();
    let mut z = t
        - (2.515517 + 0.802853 * t + 0.010328 * t * t)
            / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
    z = z.max(0.0);
    for _ in 0..8 {
        let step = (upper_tail(z) - q) / phi(z);
        z += step;
        if step.abs() < 1e-17 * z.max(1.0) {
            break;
        }
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_invert_the_tail() {
        // Φ(0.6744897501960817) = 0.75 is the textbook value J48's default CF uses.
        assert!((normal_inverse(0.75) - 0.674_489_750_196_081_7).abs() < 1e-15);
        assert!((normal_inverse(0.975) - 1.959_963_984_540_054).abs() < 1e-14);
        assert!((normal_inverse(0.999) - 3.090_232_306_167_813_5).abs() < 1e-13);
        assert_eq!(normal_inverse(0.5), 0.0);
        for p in [0.6, 0.8, 0.9, 0.99, 0.9999] {
            let z = normal_inverse(p);
            assert!((upper_tail(z) - (1.0 - p)).abs() < 1e-15, "p = {p}");
        }
    }

    #[test]
    fn add_errs_covers_its_branches() {
        // No errors: N (1 - CF^(1/N)); errors close to N: what is left.
        assert!((add_errs(4.0, 0.0, 0.25) - 4.0 * (1.0 - 0.25f64.powf(0.25))).abs() < 1e-15);
        assert_eq!(add_errs(2.0, 1.6, 0.25), 2.0 - 1.6);
        assert_eq!(add_errs(10.0, 2.0, 0.75), 0.0);
        assert!(add_errs(14.0, 5.0, 0.25) > 0.0);
    }
}
