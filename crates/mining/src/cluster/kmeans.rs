//! k-means (Lloyd) with scikit-learn 1.9 `KMeans(algorithm="lloyd")` semantics.
//!
//! Matches `sklearn/cluster/_kmeans.py` and `_k_means_lloyd.pyx`/`_k_means_common.pyx`: the data
//! centred by its mean while fitting; greedy k-means++ (`2 + floor(ln k)` local trials, sample
//! weights), weighted random init or given centres; `n_init` restarts keeping the lowest inertia
//! unless the clustering equals the best one up to a relabelling; `tol` relative to the mean
//! per-feature variance; strict convergence when no label changes, else total squared centre
//! shift `<= tol`, then a final E-step; the empty-cluster relocation to the farthest points.
//! Random draws use `rand` (not numpy), so random inits differ from sklearn's.
//!
//! Tested in `tests/kmeans_lloyd.rs` (against a plain Lloyd and against sklearn run through
//! python3 from the same centres: every label, centres and inertia to 1e-9, `n_iter`),
//! `tests/kmeans_rfm.rs` (k-means++ on the Online Retail RFM table vs sklearn's inertia; given
//! centres vs sklearn's whole result) and `tests/kmeans_errors.rs` (bad-input messages). The
//! Lloyd iterations themselves are in the child module `kmeans/lloyd.rs`, their E-step and
//! M-step sums in `kmeans/sweep.rs`. The k-means++ trials of one centre are scored side by side
//! (one vector lane each), with every addition in the same order as one at a time, so the
//! results are bit-for-bit those of the plain loops.

mod lloyd;
mod sweep;

use super::distance::{assign_nearest, row_sq_norms, sq_euclidean, with_dim};
use crate::{Matrix, MiningError, Result};
use lloyd::{Run, run_all};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// How the first centres are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Greedy k-means++ (sklearn's `"k-means++"`).
    KMeansPlusPlus,
    /// `k` distinct rows drawn with probability proportional to their weight (`"random"`).
    Random,
    /// These centres (`k` rows × the data's columns); `n_init` is then 1, as in sklearn.
    Given(Matrix),
}

/// k-means parameters; [`Default`] is sklearn's `KMeans()`.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    /// Clusters (sklearn `n_clusters`, default 8).
    pub k: usize,
    /// Restarts; `None` is sklearn's `"auto"`: 1 for k-means++ and given centres, 10 for random.
    pub n_init: Option<usize>,
    /// Iterations per run (default 300).
    pub max_iter: usize,
    /// Relative tolerance on the centre shift (default 1e-4), scaled by the mean feature variance.
    pub tol: f64,
    /// First centres.
    pub init: Init,
    /// Seed of the random draws.
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            k: 8,
            n_init: None,
            max_iter: 300,
            tol: 1e-4,
            init: Init::KMeansPlusPlus,
            seed: 0,
        }
    }
}

impl KMeansParams {
    /// The restarts actually run (sklearn's `_n_init`).
    pub fn effective_n_init(&self) -> usize {
        match (&self.init, self.n_init) {
            (Init::Given(_), _) => 1,
            (_, Some(n)) => n,
            (Init::Random, None) => 10,
            (Init::KMeansPlusPlus, None) => 1,
        }
    }
}

/// A fitted k-means.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    /// Centres, `k` rows (sklearn `cluster_centers_`).
    pub centers: Matrix,
    /// Cluster of each training row (`labels_`).
    pub labels: Vec<u32>,
    /// Weighted sum of squared distances to the assigned centres (`inertia_`).
    pub inertia: f64,
    /// Iterations of the kept run (`n_iter_`).
    pub n_iter: usize,
}

impl KMeansModel {
    /// Nearest centre of each row (sklearn `predict`).
    pub fn predict(&self, x: &Matrix) -> Result<Vec<u32>> {
        self.check_cols(x)?;
        let c = self.centers.values();
        let mut labels = vec![0; x.rows()];
        assign_nearest(
            x.values(),
            x.cols(),
            c,
            &row_sq_norms(c, x.cols()),
            &mut labels,
        );
        Ok(labels)
    }

    /// Euclidean distance of each row to each centre, rows × k (sklearn `transform`).
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        self.check_cols(x)?;
        let k = self.centers.rows();
        let mut out = Vec::with_capacity(x.rows() * k);
        for i in 0..x.rows() {
            for j in 0..k {
                out.push(sq_euclidean(x.row(i), self.centers.row(j)).sqrt());
            }
        }
        Matrix::new(x.rows(), k, out)
    }

    fn check_cols(&self, x: &Matrix) -> Result<()> {
        if x.cols() != self.centers.cols() {
            return Err(MiningError::param(
                "x",
                format!(
                    "{} columns, but the model was fitted on {}; pass the same features",
                    x.cols(),
                    self.centers.cols()
                ),
            ));
        }
        Ok(())
    }
}

/// Fits k-means to the rows of `x`, each row weighted by `weights` (all 1 when `None`).
pub fn fit(x: &Matrix, weights: Option<&[f64]>, p: &KMeansParams) -> Result<KMeansModel> {
    let (n, d, k) = (x.rows(), x.cols(), p.k);
    let w = check_input(x, weights, p)?;
    let n_init = p.effective_n_init();

    // Centre the data (sklearn does, for precision); the centres move back at the end.
    let mean = column_means(x);
    let mut xc = x.values().to_vec();
    for row in xc.chunks_exact_mut(d) {
        for (v, m) in row.iter_mut().zip(&mean) {
            *v -= m;
        }
    }
    let tol = if p.tol == 0.0 {
        0.0
    } else {
        xc.iter().map(|v| v * v).sum::<f64>() / (n * d) as f64 * p.tol
    };

    // Every random number is drawn here, in order from one generator, so the inits do not
    // depend on the thread count; the k-means++ inits themselves are computed by the runs.
    let mut rng = StdRng::seed_from_u64(p.seed);
    let runs = match &p.init {
        Init::KMeansPlusPlus => {
            let draws: Vec<Vec<f64>> = (0..n_init).map(|_| plus_plus_draws(k, &mut rng)).collect();
            let cum_w = cumulative(&w);
            let init = |i: usize| plus_plus(&xc, d, &w, &cum_w, k, &draws[i]);
            run_all(&xc, d, &w, n_init, &init, p.max_iter, tol, k)
        }
        Init::Random => {
            let mut inits = Vec::with_capacity(n_init);
            for _ in 0..n_init {
                inits.push(random_rows(&xc, d, &w, k, &mut rng)?);
            }
            let init = |i: usize| inits[i].clone();
            run_all(&xc, d, &w, n_init, &init, p.max_iter, tol, k)
        }
        Init::Given(c) => {
            let mut c = c.values().to_vec();
            for row in c.chunks_exact_mut(d) {
                for (v, m) in row.iter_mut().zip(&mean) {
                    *v -= m;
                }
            }
            let init = |_: usize| c.clone();
            run_all(&xc, d, &w, n_init, &init, p.max_iter, tol, k)
        }
    };
    let mut best: Option<Run> = None;
    for r in runs {
        let better = match &best {
            None => true,
            Some(b) => r.inertia < b.inertia && !same_clustering(&r.labels, &b.labels, k),
        };
        if better {
            best = Some(r);
        }
    }
    let best = best.ok_or_else(|| MiningError::param("n_init", "must be at least 1"))?;
    let mut centers = best.centers;
    for row in centers.chunks_exact_mut(d) {
        for (v, m) in row.iter_mut().zip(&mean) {
            *v += m;
        }
    }
    Ok(KMeansModel {
        centers: Matrix::new(k, d, centers)?,
        labels: best.labels,
        inertia: best.inertia,
        n_iter: best.n_iter,
    })
}

/// Checks the parameters and weights; returns the weights (1 each when not given).
pub(crate) fn check_input(
    x: &Matrix,
    weights: Option<&[f64]>,
    p: &KMeansParams,
) -> Result<Vec<f64>> {
    let (n, d, k) = (x.rows(), x.cols(), p.k);
    if k == 0 {
        return Err(MiningError::param("k", "must be at least 1 cluster"));
    }
    if k > n {
        return Err(MiningError::TooFewRows { k, rows: n });
    }
    if p.n_init == Some(0) {
        return Err(MiningError::param("n_init", "must be at least 1 restart"));
    }
    if p.max_iter == 0 {
        return Err(MiningError::param(
            "max_iter",
            "must be at least 1 iteration",
        ));
    }
    if !(p.tol >= 0.0 && p.tol.is_finite()) {
        return Err(MiningError::param(
            "tol",
            format!(
                "{} is not allowed; use a finite tolerance >= 0 (default 1e-4)",
                p.tol
            ),
        ));
    }
    if let Init::Given(c) = &p.init
        && (c.rows() != k || c.cols() != d)
    {
        return Err(MiningError::param(
            "init",
            format!(
                "the given centres are {} × {}, but k = {k} and the data has {d} columns; pass {k} rows of {d} values",
                c.rows(),
                c.cols()
            ),
        ));
    }
    let w = check_weights(weights, n)?;
    if matches!(p.init, Init::Random) {
        let positive = w.iter().filter(|&&v| v > 0.0).count();
        if positive < k {
            return Err(MiningError::param(
                "weights",
                format!(
                    "only {positive} rows have a positive weight; random init needs at least k = {k}"
                ),
            ));
        }
    }
    Ok(w)
}

/// Weights of `n` rows: finite, >= 0, not all 0 (1 each when not given).
pub(crate) fn check_weights(weights: Option<&[f64]>, n: usize) -> Result<Vec<f64>> {
    let Some(w) = weights else {
        return Ok(vec![1.0; n]);
    };
    if w.len() != n {
        return Err(MiningError::param(
            "weights",
            format!("{} weights for {n} rows; give one weight per row", w.len()),
        ));
    }
    if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(MiningError::param(
            "weights",
            format!("row {}: weight {} is not a finite number >= 0", i + 1, w[i]),
        ));
    }
    if w.iter().sum::<f64>() <= 0.0 {
        return Err(MiningError::param(
            "weights",
            "all weights are 0; at least one row needs a positive weight",
        ));
    }
    Ok(w.to_vec())
}

fn column_means(x: &Matrix) -> Vec<f64> {
    let d = x.cols();
    let mut m = vec![0.0; d];
    for row in x.values().chunks_exact(d) {
        for (s, v) in m.iter_mut().zip(row) {
            *s += v;
        }
    }
    m.iter().map(|s| s / x.rows() as f64).collect()
}

/// First centres by `init` (not `Given`, which the callers handle) from `rng`.
pub(crate) fn draw_init(
    x: &[f64],
    d: usize,
    w: &[f64],
    k: usize,
    random: bool,
    rng: &mut StdRng,
) -> Result<Vec<f64>> {
    if random {
        random_rows(x, d, w, k, rng)
    } else {
        let draws = plus_plus_draws(k, rng);
        Ok(plus_plus(x, d, w, &cumulative(w), k, &draws))
    }
}

/// Local trials of greedy k-means++ per centre after the first.
fn plus_plus_trials(k: usize) -> usize {
    2 + (k as f64).ln().floor() as usize
}

/// The uniform draws one k-means++ init uses, in the order it uses them: they do not depend on
/// the data, so they can be drawn before the init runs.
fn plus_plus_draws(k: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..1 + (k - 1) * plus_plus_trials(k))
        .map(|_| rng.random::<f64>())
        .collect()
}

/// Running sums of `w` (what [`weighted_pick`] adds up, once for all restarts).
fn cumulative(w: &[f64]) -> Vec<f64> {
    let mut s = 0.0;
    w.iter()
        .map(|v| {
            s += v;
            s
        })
        .collect()
}

/// Trials scored in one pass over the rows.
const TRIALS_AT_ONCE: usize = 4;

/// Greedy k-means++ on the (centred) rows from `draws` ([`plus_plus_draws`]); `cum_w` is
/// [`cumulative`] of `w`.
fn plus_plus(x: &[f64], d: usize, w: &[f64], cum_w: &[f64], k: usize, draws: &[f64]) -> Vec<f64> {
    let n = w.len();
    let trials = plus_plus_trials(k);
    let mut draws = draws.iter().copied();
    let mut next = || draws.next().unwrap_or(0.0);
    let mut centers = Vec::with_capacity(k * d);
    // `weighted_pick` on the running sums: the first row whose sum exceeds u × total.
    let r = next() * cum_w[n - 1];
    let first = match cum_w.partition_point(|&s| s <= r) {
        i if i < n => i,
        _ => w.iter().rposition(|&v| v > 0.0).unwrap_or(0),
    };
    centers.extend_from_slice(&x[first * d..(first + 1) * d]);
    let mut closest: Vec<f64> = x
        .chunks_exact(d)
        .map(|r| sq_euclidean(r, &centers[..d]))
        .collect();
    // The potential is the last running sum: the same additions in the same order.
    let mut cum = vec![0.0; n];
    let mut s = 0.0;
    for ((c, dist), wi) in cum.iter_mut().zip(&closest).zip(w) {
        s += wi * dist;
        *c = s;
    }
    let mut ids = vec![0; trials];
    for _ in 1..k {
        let pot = cum[n - 1];
        for id in ids.iter_mut() {
            let r = next() * pot;
            // numpy searchsorted (left), clipped to the last row.
            *id = cum.partition_point(|&c| c < r).min(n - 1);
        }
        let mut best = (0, f64::INFINITY, 0);
        for t0 in (0..trials).step_by(TRIALS_AT_ONCE) {
            let group = &ids[t0..trials.min(t0 + TRIALS_AT_ONCE)];
            let pots = trial_pots(x, d, w, &closest, group);
            for (u, &id) in group.iter().enumerate() {
                if pots[u] < best.1 {
                    best = (t0 + u, pots[u], id);
                }
            }
        }
        // The kept trial's distances and running sums again, by the same operations.
        let xr = &x[ids[best.0] * d..][..d];
        let mut s = 0.0;
        for (i, row) in x.chunks_exact(d).enumerate() {
            let v = sq_euclidean(row, xr).min(closest[i]);
            closest[i] = v;
            s += w[i] * v;
            cum[i] = s;
        }
        centers.extend_from_slice(&x[best.2 * d..(best.2 + 1) * d]);
    }
    centers
}

/// For up to [`TRIALS_AT_ONCE`] candidate rows `ids` (one lane each; the rest repeat the last):
/// the potential if the candidate joined, `Σ w · min(distance to it, closest)` added row after
/// row.
fn trial_pots(
    x: &[f64],
    d: usize,
    w: &[f64],
    closest: &[f64],
    ids: &[usize],
) -> [f64; TRIALS_AT_ONCE] {
    // Candidate coordinates by column, one lane per trial.
    let mut c = vec![[0.0; TRIALS_AT_ONCE]; d];
    for (u, cu) in c.iter_mut().enumerate() {
        for (t, v) in cu.iter_mut().enumerate() {
            *v = x[ids[t.min(ids.len() - 1)] * d + u];
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { trial_pots_avx2(x, d, w, closest, &c) };
    }
    with_dim!(d, D => trial_pots_fixed::<D>(x, d, w, closest, &c))
}

/// [`trial_pots`] compiled for AVX2 (no FMA, so the same rounding).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn trial_pots_avx2(
    x: &[f64],
    d: usize,
    w: &[f64],
    closest: &[f64],
    c: &[[f64; TRIALS_AT_ONCE]],
) -> [f64; TRIALS_AT_ONCE] {
    with_dim!(d, D => trial_pots_fixed::<D>(x, d, w, closest, c))
}

/// [`trial_pots`] for `D` columns (`D = 0`: any).
#[inline(always)]
fn trial_pots_fixed<const D: usize>(
    x: &[f64],
    d: usize,
    w: &[f64],
    closest: &[f64],
    c: &[[f64; TRIALS_AT_ONCE]],
) -> [f64; TRIALS_AT_ONCE] {
    let d = if D == 0 { d } else { D };
    let c = &c[..d];
    let mut s = [0.0; TRIALS_AT_ONCE];
    for ((row, &ci), &wi) in x.chunks_exact(d).zip(closest).zip(w) {
        // `sq_euclidean`'s sum over the columns in order, then `min`, then the running sum.
        let mut a = [0.0; TRIALS_AT_ONCE];
        for u in 0..d {
            for t in 0..TRIALS_AT_ONCE {
                let e = row[u] - c[u][t];
                a[t] += e * e;
            }
        }
        for t in 0..TRIALS_AT_ONCE {
            s[t] += wi * a[t].min(ci);
        }
    }
    s
}

/// Index whose cumulative weight first exceeds `u` × total (numpy `choice` with `p`).
fn weighted_pick(w: &[f64], u: f64) -> usize {
    let total: f64 = w.iter().sum();
    let r = u * total;
    let mut s = 0.0;
    for (i, v) in w.iter().enumerate() {
        s += v;
        if s > r {
            return i;
        }
    }
    w.iter().rposition(|&v| v > 0.0).unwrap_or(0)
}

/// `k` distinct rows, each drawn with probability proportional to its weight among those left.
fn random_rows(x: &[f64], d: usize, w: &[f64], k: usize, rng: &mut StdRng) -> Result<Vec<f64>> {
    let mut left = w.to_vec();
    let mut centers = Vec::with_capacity(k * d);
    for _ in 0..k {
        let i = weighted_pick(&left, rng.random::<f64>());
        if left[i] <= 0.0 {
            return Err(MiningError::param(
                "weights",
                "too few rows with a positive weight for random init",
            ));
        }
        left[i] = 0.0;
        centers.extend_from_slice(&x[i * d..(i + 1) * d]);
    }
    Ok(centers)
}

/// sklearn's `_is_same_clustering`: `a` maps consistently onto `b`.
fn same_clustering(a: &[u32], b: &[u32], k: usize) -> bool {
    let mut map = vec![u32::MAX; k];
    for (&la, &lb) in a.iter().zip(b) {
        let m = &mut map[la as usize];
        if *m == u32::MAX {
            *m = lb;
        } else if *m != lb {
            return false;
        }
    }
    true
}
