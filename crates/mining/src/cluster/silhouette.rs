//! Silhouette coefficient with scikit-learn 1.9 `silhouette_score(metric="euclidean")` semantics.
//!
//! Per row: `a` = mean distance to the other rows of its cluster, `b` = the lowest mean distance
//! to the rows of another cluster, `s = (b - a) / max(a, b)`; a row alone in its cluster scores
//! 0 (sklearn's 0/0 turned to 0 by `nan_to_num`), as does `a = b = 0`. Labels are used as they
//! are, like sklearn's `LabelEncoder`: gaps in the numbering do not count as clusters. The
//! number of distinct labels must be in `2..=rows-1`.
//!
//! Exact O(n² d) over all pairs, split across threads by rows; each row's score is computed
//! alone and the scores summed in row order, so the result does not depend on the thread count.
//! `tests/kmeans_rfm.rs` checks it against sklearn on the Online Retail RFM table (1e-12).

use super::distance::with_dim;
use crate::{Matrix, MiningError, Result};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Mean silhouette coefficient of all rows.
pub fn silhouette_score(x: &Matrix, labels: &[u32]) -> Result<f64> {
    let s = silhouette_samples(x, labels)?;
    Ok(s.iter().sum::<f64>() / s.len() as f64)
}

/// Silhouette coefficient of each row (sklearn `silhouette_samples`).
pub fn silhouette_samples(x: &Matrix, labels: &[u32]) -> Result<Vec<f64>> {
    let (n, d) = (x.rows(), x.cols());
    if labels.len() != n {
        return Err(MiningError::param(
            "labels",
            format!(
                "{} labels for {n} rows; give one label per row",
                labels.len()
            ),
        ));
    }
    // Dense ids 0..m in label order, as sklearn's LabelEncoder.
    let mut distinct: Vec<u32> = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let m = distinct.len();
    if m < 2 || m > n - 1 {
        return Err(MiningError::param(
            "labels",
            format!(
                "{m} distinct labels for {n} rows; the silhouette needs between 2 and {} clusters",
                n.saturating_sub(1)
            ),
        ));
    }
    let ids: Vec<usize> = labels
        .iter()
        .map(|l| distinct.binary_search(l).unwrap_or(0))
        .collect();
    let mut freq = vec![0usize; m];
    for &c in &ids {
        freq[c] += 1;
    }

    let v = x.values();
    let mut out = vec![0.0; n];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n / 512)
        .max(1);
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        for (ci, part) in out.chunks_mut(chunk).enumerate() {
            let (ids, freq) = (&ids, &freq);
            s.spawn(move || {
                let mut sums = vec![0.0; m];
                let mut dist = vec![0.0; n];
                for (off, o) in part.iter_mut().enumerate() {
                    let i = ci * chunk + off;
                    *o = row_score(v, d, i, ids, freq, &mut sums, &mut dist);
                }
            });
        }
    });
    Ok(out)
}

/// One row's coefficient; `sums` is scratch of one slot per cluster, `dist` of one per row.
fn row_score(
    v: &[f64],
    d: usize,
    i: usize,
    ids: &[usize],
    freq: &[usize],
    sums: &mut [f64],
    dist: &mut [f64],
) -> f64 {
    // Distances first, in a loop that vectorises; then summed per cluster in row order (as
    // sklearn's bincount does).
    with_dim!(d, D => distances_fixed::<D>(v, d, i, dist));
    sums.fill(0.0);
    for (&dj, &c) in dist.iter().zip(ids) {
        sums[c] += dj;
    }
    let own = ids[i];
    if freq[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (freq[own] - 1) as f64;
    let b = sums
        .iter()
        .zip(freq)
        .enumerate()
        .filter(|&(c, _)| c != own)
        .map(|(_, (s, &f))| s / f as f64)
        .fold(f64::INFINITY, f64::min);
    let den = a.max(b);
    if den > 0.0 { (b - a) / den } else { 0.0 }
}

/// Euclidean distance of row `i` to every row, for `D` columns (`D = 0`: any, from `d`).
#[inline(always)]
fn distances_fixed<const D: usize>(v: &[f64], d: usize, i: usize, dist: &mut [f64]) {
    let d = if D == 0 { d } else { D };
    let xi = &v[i * d..][..d];
    for (row, o) in v.chunks_exact(d).zip(dist.iter_mut()) {
        let row = &row[..d];
        let mut s = 0.0;
        for t in 0..d {
            let e = xi[t] - row[t];
            s += e * e;
        }
        *o = s.sqrt();
    }
}

/// The silhouette of `n` rows drawn at random without replacement (all rows when `n >= rows`),
/// as sklearn's `silhouette_score(sample_size=n)`; the draw uses `rand`, not numpy.
pub fn silhouette_sample(x: &Matrix, labels: &[u32], n: usize, seed: u64) -> Result<f64> {
    let rows = x.rows();
    if labels.len() != rows {
        return Err(MiningError::param(
            "labels",
            format!(
                "{} labels for {rows} rows; give one label per row",
                labels.len()
            ),
        ));
    }
    if n >= rows {
        return silhouette_score(x, labels);
    }
    if n < 3 {
        return Err(MiningError::param(
            "sample_size",
            format!("{n} rows are too few; sample at least 3 rows"),
        ));
    }
    // Partial Fisher–Yates: the first n of a random permutation.
    let mut rng = StdRng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..rows).collect();
    for i in 0..n {
        let j = rng.random_range(i..rows);
        idx.swap(i, j);
    }
    idx.truncate(n);
    let d = x.cols();
    let mut data = Vec::with_capacity(n * d);
    let mut lab = Vec::with_capacity(n);
    for &i in &idx {
        data.extend_from_slice(x.row(i));
        lab.push(labels[i]);
    }
    silhouette_score(&Matrix::new(n, d, data)?, &lab)
}
