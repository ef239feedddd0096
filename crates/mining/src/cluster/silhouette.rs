//! Silhouette coefficient with scikit-learn 1.9 `silhouette_score(metric="euclidean")` semantics.
//!
//! Per row: `a` = mean distance to the other rows of its cluster, `b` = the lowest mean distance
//! to the rows of another cluster, `s = (b - a) / max(a, b)`; a row alone in its cluster scores
//! 0 (sklearn's 0/0 turned to 0 by `nan_to_num`), as does `a = b = 0`. Labels are used as they
//! are, like sklearn's `LabelEncoder`: gaps in the numbering do not count as clusters. The
//! number of distinct labels must be in `2..=rows-1`.
//!
//! Exact O(n² d) over all pairs (distances by differences, not sklearn's `|x|² - 2x·y + |y|²`,
//! which is off by up to ~6e-8 for equal rows), split across threads by rows; each row's score
//! is computed alone and the scores summed in row order, so the result does not depend on the
//! thread count.
//! `tests/kmeans_rfm.rs` checks it against sklearn on the Online Retail RFM table (1e-12).

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
    // Rows grouped by cluster, column-major: the distance loop then vectorises and each
    // cluster's sum is over a contiguous range.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| ids[i]);
    let mut cols = vec![0.0; n * d];
    for (p, &i) in order.iter().enumerate() {
        for (t, &v) in x.row(i).iter().enumerate() {
            cols[t * n + p] = v;
        }
    }
    let mut start = vec![0usize; m + 1];
    for c in 0..m {
        start[c + 1] = start[c] + freq[c];
    }

    let mut out = vec![0.0; n];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n / 512)
        .max(1);
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        for (ci, part) in out.chunks_mut(chunk).enumerate() {
            let (ids, cols, start) = (&ids, &cols, &start);
            s.spawn(move || {
                let mut dist = vec![0.0; n];
                let mut mean = vec![0.0; m];
                for (off, o) in part.iter_mut().enumerate() {
                    let i = ci * chunk + off;
                    *o = row_score(x.row(i), cols, start, ids[i], &mut dist, &mut mean);
                }
            });
        }
    });
    Ok(out)
}

/// One row's coefficient. `cols`: the rows grouped by cluster, column-major; cluster `c` is
/// `start[c]..start[c + 1]`; `dist` and `mean` are scratch of one slot per row / cluster.
fn row_score(
    xi: &[f64],
    cols: &[f64],
    start: &[usize],
    own: usize,
    dist: &mut [f64],
    mean: &mut [f64],
) -> f64 {
    distances(xi, cols, dist);
    for (c, m) in mean.iter_mut().enumerate() {
        *m = sum4(&dist[start[c]..start[c + 1]]);
    }
    let size = start[own + 1] - start[own];
    if size <= 1 {
        return 0.0;
    }
    let a = mean[own] / (size - 1) as f64;
    let mut b = f64::INFINITY;
    for c in 0..mean.len() {
        if c != own {
            b = b.min(mean[c] / (start[c + 1] - start[c]) as f64);
        }
    }
    let den = a.max(b);
    if den > 0.0 { (b - a) / den } else { 0.0 }
}

/// Euclidean distance of `xi` to every row of the column-major `cols` (`dist.len()` rows).
fn distances(xi: &[f64], cols: &[f64], dist: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { distances_avx2(xi, cols, dist) };
        return;
    }
    distances_plain(xi, cols, dist);
}

/// [`distances_plain`] compiled for AVX2: `sqrt` 4 lanes at a time, which is most of the cost.
/// Same operations (no FMA), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn distances_avx2(xi: &[f64], cols: &[f64], dist: &mut [f64]) {
    distances_plain(xi, cols, dist);
}

#[inline(always)]
fn distances_plain(xi: &[f64], cols: &[f64], dist: &mut [f64]) {
    let n = dist.len();
    dist.fill(0.0);
    // Squares added column by column: the same order as a per-pair sum from 0.
    for (t, &v) in xi.iter().enumerate() {
        for (o, &c) in dist.iter_mut().zip(&cols[t * n..(t + 1) * n]) {
            let e = v - c;
            *o += e * e;
        }
    }
    for o in dist.iter_mut() {
        *o = o.sqrt();
    }
}

/// A sum in four lanes (vectorises; rounding differs from a sequential sum by ~1e-16 relative).
fn sum4(v: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let mut chunks = v.chunks_exact(4);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let tail: f64 = chunks.remainder().iter().sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
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
