//! Mini-batch k-means ([`MiniBatchKMeans`], scikit-learn 1.9 `MiniBatchKMeans.partial_fit`) and
//! per-point streaming k-means ([`StreamingKMeans`], the same rule one point at a time, with an
//! optional half-life so centres follow customers whose behaviour drifts).
//!
//! `partial_fit` follows `_mini_batch_step` and `_minibatch_update_dense`: label the batch by
//! the current centres, then each centre with batch weight `s` and batch sum `Σ wᵢxᵢ` becomes
//! `(c·W + Σ wᵢxᵢ) / (W + s)`, `W` its accumulated weight (a learning rate of weight/count).
//! Low-count centres are moved to random batch rows as sklearn does (`reassignment_ratio`,
//! every `10·k` rows or while a count is 0); those draws use `rand`, not numpy.
//! `tests/kmeans_minibatch.rs` runs sklearn's `partial_fit` from the same centres on the same
//! batches (`reassignment_ratio=0`) and compares centres and counts after every batch (1e-9).

use super::distance::sq_euclidean;
use super::distance::{assign_nearest, row_sq_norms};
use super::kmeans::{Init, check_weights, draw_init};
use crate::{Matrix, MiningError, Result};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Mini-batch k-means parameters; [`Default`] is sklearn's `MiniBatchKMeans()`.
#[derive(Debug, Clone, PartialEq)]
pub struct MiniBatchParams {
    /// Clusters (default 8).
    pub k: usize,
    /// First centres, drawn from the first batch unless given.
    pub init: Init,
    /// sklearn's `batch_size` (default 1024): the rows counted per step towards reassignment
    /// and, ×3, the rows of the first batch the init looks at.
    pub batch_size: usize,
    /// Centres whose count is below this fraction of the largest are moved (default 0.01; 0
    /// turns it off).
    pub reassignment_ratio: f64,
    /// Seed of the random draws.
    pub seed: u64,
}

impl Default for MiniBatchParams {
    fn default() -> Self {
        MiniBatchParams {
            k: 8,
            init: Init::KMeansPlusPlus,
            batch_size: 1024,
            reassignment_ratio: 0.01,
            seed: 0,
        }
    }
}

/// Mini-batch k-means fed one batch at a time.
#[derive(Debug)]
pub struct MiniBatchKMeans {
    p: MiniBatchParams,
    d: usize,
    centers: Vec<f64>,
    counts: Vec<f64>,
    rng: StdRng,
    batch_size: usize,
    since_reassign: usize,
    steps: usize,
}

impl MiniBatchKMeans {
    /// A model with no centres yet; the first [`partial_fit`](Self::partial_fit) sets them.
    pub fn new(p: MiniBatchParams) -> Result<MiniBatchKMeans> {
        if p.k == 0 {
            return Err(MiningError::param("k", "must be at least 1 cluster"));
        }
        if p.batch_size == 0 {
            return Err(MiningError::param("batch_size", "must be at least 1 row"));
        }
        if !(0.0..=1.0).contains(&p.reassignment_ratio) {
            return Err(MiningError::param(
                "reassignment_ratio",
                format!(
                    "{} is outside 0..=1 (default 0.01, 0 turns reassignment off)",
                    p.reassignment_ratio
                ),
            ));
        }
        if let Init::Given(c) = &p.init
            && c.rows() != p.k
        {
            return Err(MiningError::param(
                "init",
                format!("{} given centres, but k = {}; pass k rows", c.rows(), p.k),
            ));
        }
        let rng = StdRng::seed_from_u64(p.seed);
        Ok(MiniBatchKMeans {
            p,
            d: 0,
            centers: Vec::new(),
            counts: Vec::new(),
            rng,
            batch_size: 0,
            since_reassign: 0,
            steps: 0,
        })
    }

    /// Updates the centres with one batch; returns the batch's weighted inertia before the
    /// update (what sklearn's `_mini_batch_step` returns).
    pub fn partial_fit(&mut self, batch: &Matrix, weights: Option<&[f64]>) -> Result<f64> {
        let (n, d, k) = (batch.rows(), batch.cols(), self.p.k);
        let w = check_weights(weights, n)?;
        let x = batch.values();
        if self.steps == 0 {
            self.first_batch(batch, &w)?;
        } else if d != self.d {
            return Err(MiningError::param(
                "batch",
                format!(
                    "{d} columns, but the model was started with {}; pass the same features",
                    self.d
                ),
            ));
        }
        // sklearn decides on reassignment before the step, from the counts as they were.
        self.since_reassign += self.batch_size;
        let reassign = if self.counts.contains(&0.0) || self.since_reassign >= 10 * k {
            self.since_reassign = 0;
            true
        } else {
            false
        };

        let mut labels = vec![0u32; n];
        assign_nearest(
            x,
            d,
            &self.centers,
            &row_sq_norms(&self.centers, d),
            &mut labels,
        );
        let mut sums = vec![0.0; k * d];
        let mut wsum = vec![0.0; k];
        let mut inertia = 0.0;
        for ((row, &wi), &j) in x.chunks_exact(d).zip(&w).zip(&labels) {
            let j = j as usize;
            inertia += sq_euclidean(row, &self.centers[j * d..(j + 1) * d]) * wi;
            wsum[j] += wi;
            for (s, v) in sums[j * d..(j + 1) * d].iter_mut().zip(row) {
                *s += v * wi;
            }
        }
        for j in 0..k {
            if wsum[j] > 0.0 {
                let c = &mut self.centers[j * d..(j + 1) * d];
                let total = self.counts[j] + wsum[j];
                let a = 1.0 / total;
                for (cv, s) in c.iter_mut().zip(&sums[j * d..(j + 1) * d]) {
                    *cv = (*cv * self.counts[j] + s) * a;
                }
                self.counts[j] = total;
            }
        }
        if reassign && self.p.reassignment_ratio > 0.0 {
            self.reassign(x, n, d);
        }
        self.steps += 1;
        Ok(inertia)
    }

    fn first_batch(&mut self, batch: &Matrix, w: &[f64]) -> Result<()> {
        let (n, d, k) = (batch.rows(), batch.cols(), self.p.k);
        if k > n {
            return Err(MiningError::TooFewRows { k, rows: n });
        }
        self.batch_size = self.p.batch_size.min(n);
        let centers = match &self.p.init {
            Init::Given(c) => {
                if c.cols() != d {
                    return Err(MiningError::param(
                        "init",
                        format!(
                            "the given centres have {} columns, the batch {d}; pass {d} values per centre",
                            c.cols()
                        ),
                    ));
                }
                c.values().to_vec()
            }
            init => {
                // sklearn's init_size: 3 × batch_size (at least 3k), rows drawn with replacement.
                let mut size = 3 * self.batch_size;
                if size < k {
                    size = 3 * k;
                }
                let size = size.min(n);
                let (xs, ws) = if size < n {
                    let mut xs = Vec::with_capacity(size * d);
                    let mut ws = Vec::with_capacity(size);
                    for _ in 0..size {
                        let i = self.rng.random_range(0..n);
                        xs.extend_from_slice(batch.row(i));
                        ws.push(w[i]);
                    }
                    (xs, ws)
                } else {
                    (batch.values().to_vec(), w.to_vec())
                };
                let random = matches!(init, Init::Random);
                if random && ws.iter().filter(|&&v| v > 0.0).count() < k {
                    return Err(MiningError::param(
                        "weights",
                        format!(
                            "fewer than k = {k} rows of the first batch have a positive weight; random init needs k"
                        ),
                    ));
                }
                if ws.iter().sum::<f64>() <= 0.0 {
                    return Err(MiningError::param(
                        "weights",
                        "the rows drawn for the init all have weight 0; give the first batch positive weights",
                    ));
                }
                draw_init(&xs, d, &ws, k, random, &mut self.rng)?
            }
        };
        self.d = d;
        self.centers = centers;
        self.counts = vec![0.0; k];
        Ok(())
    }

    /// sklearn's low-count reassignment to random rows of the batch.
    fn reassign(&mut self, x: &[f64], n: usize, d: usize) {
        let k = self.p.k;
        let max = self.counts.iter().cloned().fold(0.0, f64::max);
        let limit = self.p.reassignment_ratio * max;
        let mut to: Vec<bool> = self.counts.iter().map(|&c| c < limit).collect();
        let half = n / 2;
        if to.iter().filter(|&&t| t).count() as f64 > 0.5 * n as f64 {
            let mut order: Vec<usize> = (0..k).collect();
            order.sort_by(|&a, &b| self.counts[a].total_cmp(&self.counts[b]));
            for &j in order.iter().skip(half) {
                to[j] = false;
            }
        }
        let picks = to.iter().filter(|&&t| t).count();
        if picks == 0 {
            return;
        }
        // Distinct batch rows, uniformly (partial Fisher–Yates).
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..picks {
            let j = self.rng.random_range(i..n);
            idx.swap(i, j);
        }
        let keep_min = (0..k)
            .filter(|&j| !to[j])
            .map(|j| self.counts[j])
            .fold(f64::INFINITY, f64::min);
        let targets = (0..k).filter(|&j| to[j]);
        for (j, &row) in targets.zip(&idx) {
            self.centers[j * d..(j + 1) * d].copy_from_slice(&x[row * d..(row + 1) * d]);
            if keep_min.is_finite() {
                self.counts[j] = keep_min;
            }
        }
    }

    /// The centres, once a batch has been seen.
    pub fn centers(&self) -> Option<Matrix> {
        Matrix::new(self.p.k, self.d, self.centers.clone()).ok()
    }

    /// Accumulated weight of each centre (sklearn's `_counts`); empty before the first batch.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// Batches seen (sklearn `n_steps_`).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Nearest centre of each row.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<u32>> {
        if self.steps == 0 || x.cols() != self.d {
            return Err(MiningError::param(
                "x",
                format!(
                    "{} columns, the model has {} (0 before the first batch)",
                    x.cols(),
                    self.d
                ),
            ));
        }
        let mut labels = vec![0; x.rows()];
        let norms = row_sq_norms(&self.centers, self.d);
        assign_nearest(x.values(), self.d, &self.centers, &norms, &mut labels);
        Ok(labels)
    }
}

/// Per-point k-means: each point moves its nearest centre by `weight / count` of the way.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamingKMeans {
    d: usize,
    centers: Vec<f64>,
    counts: Vec<f64>,
    /// Count multiplier per unit of weight (1 = no decay).
    decay: f64,
    half_life: Option<f64>,
    seen: u64,
}

/// A [`StreamingKMeans`] as it can be stored and restored by a live job. Floats are written as
/// decimal strings (shortest round-trip form), so a restore is bit-exact whatever the JSON
/// reader's float parsing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamingSnapshot {
    /// Columns of a point.
    pub dim: usize,
    /// Centres, row-major.
    #[serde(with = "exact")]
    pub centers: Vec<f64>,
    /// Accumulated (decayed) weight per centre.
    #[serde(with = "exact")]
    pub counts: Vec<f64>,
    /// Half-life in units of weight (points when weights are 1), if any.
    #[serde(with = "exact")]
    pub half_life: Option<f64>,
    /// Points seen.
    pub seen: u64,
}

impl StreamingKMeans {
    /// Starts from `centers` with zero counts (the first point of a centre moves it onto the
    /// point, as in sklearn). With `half_life = Some(h)` a centre's count halves after every
    /// `h` of weight that arrives anywhere, so the learning rate never falls below about
    /// `ln 2 / h` and old customers fade out.
    pub fn new(centers: &Matrix, half_life: Option<f64>) -> Result<StreamingKMeans> {
        let decay = match half_life {
            None => 1.0,
            Some(h) if h.is_finite() && h > 0.0 => 0.5f64.powf(1.0 / h),
            Some(h) => {
                return Err(MiningError::param(
                    "half_life",
                    format!(
                        "{h} is not a positive number of points; use e.g. 10000, or none for no decay"
                    ),
                ));
            }
        };
        Ok(StreamingKMeans {
            d: centers.cols(),
            centers: centers.values().to_vec(),
            counts: vec![0.0; centers.rows()],
            decay,
            half_life,
            seen: 0,
        })
    }

    /// Starts counts at given values (e.g. cluster sizes of a batch fit) so that early points
    /// do not jerk the centres.
    pub fn with_counts(mut self, counts: &[f64]) -> Result<StreamingKMeans> {
        if counts.len() != self.counts.len() || counts.iter().any(|c| !(c.is_finite() && *c >= 0.0))
        {
            return Err(MiningError::param(
                "counts",
                format!(
                    "give {} finite counts >= 0, one per centre",
                    self.counts.len()
                ),
            ));
        }
        self.counts.copy_from_slice(counts);
        Ok(self)
    }

    /// Assigns `point` to its nearest centre, moves that centre, and returns it.
    #[inline]
    pub fn update(&mut self, point: &[f64], weight: f64) -> Result<u32> {
        if point.len() != self.d {
            return Err(self.dim_error(point.len()));
        }
        if !(weight.is_finite() && weight >= 0.0) || point.iter().any(|v| !v.is_finite()) {
            return Err(MiningError::param(
                "point",
                format!(
                    "point {:?} with weight {weight}: values must be finite and the weight >= 0",
                    point
                ),
            ));
        }
        let j = self.nearest_unchecked(point);
        if self.decay != 1.0 {
            let f = if weight == 1.0 {
                self.decay
            } else {
                self.decay.powf(weight)
            };
            for c in &mut self.counts {
                *c *= f;
            }
        }
        self.counts[j] += weight;
        let count = self.counts[j];
        if count > 0.0 && weight > 0.0 {
            let lr = weight / count;
            for (c, x) in self.centers[j * self.d..(j + 1) * self.d]
                .iter_mut()
                .zip(point)
            {
                *c += lr * (x - *c);
            }
        }
        self.seen += 1;
        Ok(j as u32)
    }

    /// The nearest centre of `point`, without moving anything.
    pub fn nearest(&self, point: &[f64]) -> Result<u32> {
        if point.len() != self.d {
            return Err(self.dim_error(point.len()));
        }
        Ok(self.nearest_unchecked(point) as u32)
    }

    #[inline]
    fn nearest_unchecked(&self, point: &[f64]) -> usize {
        let mut best = (0, f64::INFINITY);
        for (j, c) in self.centers.chunks_exact(self.d).enumerate() {
            let v = sq_euclidean(point, c);
            if v < best.1 {
                best = (j, v);
            }
        }
        best.0
    }

    fn dim_error(&self, got: usize) -> MiningError {
        MiningError::param(
            "point",
            format!(
                "{got} values, but the centres have {}; pass the same features",
                self.d
            ),
        )
    }

    /// The current centres, row-major (`k` rows of [`dim`](Self::dim) values).
    pub fn centers(&self) -> &[f64] {
        &self.centers
    }

    /// Columns of a point.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Number of centres.
    pub fn k(&self) -> usize {
        self.counts.len()
    }

    /// Accumulated (decayed) weight per centre.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// Points seen.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The state, for storing.
    pub fn snapshot(&self) -> StreamingSnapshot {
        StreamingSnapshot {
            dim: self.d,
            centers: self.centers.clone(),
            counts: self.counts.clone(),
            half_life: self.half_life,
            seen: self.seen,
        }
    }

    /// Back from a stored state (checked: shapes, finite values).
    pub fn restore(s: &StreamingSnapshot) -> Result<StreamingKMeans> {
        let k = s.counts.len();
        if s.dim == 0 || k == 0 || s.centers.len() != k * s.dim {
            return Err(MiningError::param(
                "snapshot",
                format!(
                    "{} centre values do not make {k} centres of {} columns; the snapshot is damaged",
                    s.centers.len(),
                    s.dim
                ),
            ));
        }
        let c = Matrix::new(k, s.dim, s.centers.clone())?;
        let mut m = StreamingKMeans::new(&c, s.half_life)?.with_counts(&s.counts)?;
        m.seen = s.seen;
        Ok(m)
    }
}

/// Serde for floats as exact decimal strings.
mod exact {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Float containers written as strings.
    pub trait Exact: Sized {
        fn to_strings(&self) -> Vec<String>;
        fn from_strings(v: Vec<String>) -> Result<Self, String>;
    }

    fn parse(s: &str) -> Result<f64, String> {
        s.parse::<f64>()
            .map_err(|e| format!("{s:?} is not a number: {e}"))
    }

    impl Exact for Vec<f64> {
        fn to_strings(&self) -> Vec<String> {
            self.iter().map(f64::to_string).collect()
        }
        fn from_strings(v: Vec<String>) -> Result<Self, String> {
            v.iter().map(|s| parse(s)).collect()
        }
    }

    impl Exact for Option<f64> {
        fn to_strings(&self) -> Vec<String> {
            self.iter().map(f64::to_string).collect()
        }
        fn from_strings(v: Vec<String>) -> Result<Self, String> {
            match v.as_slice() {
                [] => Ok(None),
                [s] => parse(s).map(Some),
                _ => Err("more than one value".into()),
            }
        }
    }

    pub fn serialize<T: Exact, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.to_strings())
    }

    pub fn deserialize<'de, T: Exact, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::from_strings(Vec::<String>::deserialize(d)?).map_err(D::Error::custom)
    }
}
