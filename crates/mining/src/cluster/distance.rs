//! Distances shared by the clustering modules (k-means, silhouette, k-medoids, DBSCAN).
//!
//! Semantics follow scipy/scikit-learn's `euclidean`, `sqeuclidean`, `cityblock` (manhattan) and
//! `cosine` (`1 - a·b / (|a| |b|)`, with a zero vector at distance 1 from everything, as
//! `sklearn.metrics.pairwise.cosine_distances` treats it after normalising it to zero). The unit
//! tests below check them against plainly written formulas; the k-means and silhouette tests
//! check them end to end against scikit-learn. Also the nearest-centre kernels of k-means
//! ([`nearest_center`], [`assign_nearest`]: sklearn's `|c|² - 2x·c` E-step), unrolled for 1..=8
//! columns and checked against a plain Lloyd and sklearn in `tests/kmeans_lloyd.rs`.

use crate::MiningError;
use std::fmt;
use std::str::FromStr;

/// Squared euclidean distance. Slices must have equal length (only the shorter is read).
#[inline]
pub fn sq_euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = x - y;
            d * d
        })
        .sum()
}

/// Euclidean distance.
#[inline]
pub fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    sq_euclidean(a, b).sqrt()
}

/// Manhattan (cityblock, L1) distance.
#[inline]
pub fn manhattan(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// Cosine distance `1 - cos(a, b)`, clipped to `[0, 2]`; 1 when either vector is zero.
#[inline]
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 1.0;
    }
    (1.0 - dot / (na.sqrt() * nb.sqrt())).clamp(0.0, 2.0)
}

/// A distance by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// [`euclidean`].
    Euclidean,
    /// [`sq_euclidean`].
    SqEuclidean,
    /// [`manhattan`].
    Manhattan,
    /// [`cosine`].
    Cosine,
}

impl Metric {
    /// The distance between two points.
    #[inline]
    pub fn distance(self, a: &[f64], b: &[f64]) -> f64 {
        match self {
            Metric::Euclidean => euclidean(a, b),
            Metric::SqEuclidean => sq_euclidean(a, b),
            Metric::Manhattan => manhattan(a, b),
            Metric::Cosine => cosine(a, b),
        }
    }

    /// The name [`FromStr`] reads and [`fmt::Display`] writes (scipy's spelling).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Euclidean => "euclidean",
            Metric::SqEuclidean => "sqeuclidean",
            Metric::Manhattan => "manhattan",
            Metric::Cosine => "cosine",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = MiningError;

    /// Case-insensitive; also accepts scipy/sklearn's aliases `l2`, `cityblock` and `l1`.
    fn from_str(s: &str) -> Result<Metric, MiningError> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_', ' '], "")
            .as_str()
        {
            "euclidean" | "l2" => Ok(Metric::Euclidean),
            "sqeuclidean" | "squaredeuclidean" => Ok(Metric::SqEuclidean),
            "manhattan" | "cityblock" | "l1" => Ok(Metric::Manhattan),
            "cosine" => Ok(Metric::Cosine),
            _ => Err(MiningError::param(
                "metric",
                format!(
                    "unknown metric {s:?}; use one of euclidean, sqeuclidean, manhattan, cosine"
                ),
            )),
        }
    }
}

/// Squared norm of each of the rows of `c` (`d` columns each).
pub fn row_sq_norms(c: &[f64], d: usize) -> Vec<f64> {
    c.chunks_exact(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect()
}

/// Runs `$body` with `$D` a constant equal to `$d` for 1..=8 columns, else `$D = 0` (any):
/// kernels written for `const D` unroll for the small dimensions of customer features.
macro_rules! with_dim {
    ($d:expr, $D:ident => $body:expr) => {
        match $d {
            1 => {
                const $D: usize = 1;
                $body
            }
            2 => {
                const $D: usize = 2;
                $body
            }
            3 => {
                const $D: usize = 3;
                $body
            }
            4 => {
                const $D: usize = 4;
                $body
            }
            5 => {
                const $D: usize = 5;
                $body
            }
            6 => {
                const $D: usize = 6;
                $body
            }
            7 => {
                const $D: usize = 7;
                $body
            }
            8 => {
                const $D: usize = 8;
                $body
            }
            _ => {
                const $D: usize = 0;
                $body
            }
        }
    };
}
pub(crate) use with_dim;

/// The centre (row of `c`) nearest to `x` by `|c|² - 2 x·c`, `norms` holding each `|c|²`:
/// scikit-learn's k-means E-step expression (the same order as the squared distance, up to
/// rounding); the lowest index wins ties.
pub fn nearest_center(x: &[f64], c: &[f64], norms: &[f64]) -> usize {
    with_dim!(x.len(), D => nearest_fixed::<D>(x, c, norms))
}

/// [`nearest_center`] of every row of `x` (`d` columns), into `labels`.
pub fn assign_nearest(x: &[f64], d: usize, c: &[f64], norms: &[f64], labels: &mut [u32]) {
    with_dim!(d, D => {
        for (row, l) in x.chunks_exact(d).zip(labels.iter_mut()) {
            *l = nearest_fixed::<D>(row, c, norms) as u32;
        }
    })
}

/// [`nearest_center`] for `D` columns (`D = 0`: any, read from `x`).
#[inline(always)]
pub(crate) fn nearest_fixed<const D: usize>(x: &[f64], c: &[f64], norms: &[f64]) -> usize {
    let d = if D == 0 { x.len() } else { D };
    let x = &x[..d];
    let mut best = 0;
    let mut best_v = f64::INFINITY;
    for (j, nj) in norms.iter().enumerate() {
        let cj = &c[j * d..][..d];
        let mut dot = 0.0;
        for t in 0..d {
            dot += x[t] * cj[t];
        }
        let v = nj - 2.0 * dot;
        // Branch-free select: which centre wins is data-dependent and mispredicts.
        let better = v < best_v;
        best = if better { j } else { best };
        best_v = if better { v } else { best_v };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_their_formulas() {
        let a = [1.0, -2.0, 3.0];
        let b = [4.0, 0.0, -1.0];
        assert_eq!(sq_euclidean(&a, &b), 9.0 + 4.0 + 16.0);
        assert_eq!(euclidean(&a, &b), 29f64.sqrt());
        assert_eq!(manhattan(&a, &b), 3.0 + 2.0 + 4.0);
        let cos = (4.0 - 3.0) / (14f64.sqrt() * 17f64.sqrt());
        assert!((cosine(&a, &b) - (1.0 - cos)).abs() < 1e-15);
        assert_eq!(cosine(&a, &a), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &a[..2]), 1.0);
    }

    #[test]
    fn metrics_parse_by_name_and_alias_and_refuse_others() {
        for m in [
            Metric::Euclidean,
            Metric::SqEuclidean,
            Metric::Manhattan,
            Metric::Cosine,
        ] {
            assert_eq!(m.name().parse::<Metric>(), Ok(m));
            assert_eq!(m.to_string().to_uppercase().parse::<Metric>(), Ok(m));
        }
        assert_eq!("cityblock".parse::<Metric>(), Ok(Metric::Manhattan));
        assert_eq!("L2".parse::<Metric>(), Ok(Metric::Euclidean));
        let e = "hamming".parse::<Metric>().unwrap_err().to_string();
        assert!(e.contains("metric") && e.contains("hamming") && e.contains("euclidean"));
    }
}
