//! DBSCAN with scikit-learn 1.9's `DBSCAN` semantics: a neighbourhood is every row at distance
//! <= eps (the row itself included), a row is core when its neighbourhood holds at least
//! `min_samples` rows (or, with sample weights, weighs at least that), clusters are the
//! connected components of core rows numbered in order of their lowest row, a border row takes
//! the lowest-numbered cluster among its core neighbours (what sklearn's depth-first labelling
//! in `_dbscan_inner.pyx` gives it), and the rest is noise (-1).
//!
//! Nothing stores neighbourhoods: three passes over a grid of eps-wide cells (euclidean,
//! squared euclidean and manhattan in up to five dimensions; one cell, i.e. brute force,
//! otherwise) find the core rows, union them into components, then label border rows, in
//! O(n) memory. Distances are compared as sklearn's k-d tree does (squared euclidean against
//! eps²), so results agree bit for bit away from rounding ties. `tests/dbscan.rs` runs
//! sklearn on the same rows (RFM customers, Taobao users, adversarial sets) and compares every
//! label and the core set.

use crate::cluster::distance::{Metric, cosine, manhattan, sq_euclidean};
use crate::{Matrix, MiningError, Result};

/// DBSCAN's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbscanParams {
    /// Neighbourhood radius (inclusive), in the metric's units (squared for `SqEuclidean`).
    pub eps: f64,
    /// Rows (or weight) a neighbourhood needs, the row itself included, for its row to be core.
    pub min_samples: usize,
    /// The distance.
    pub metric: Metric,
}

impl DbscanParams {
    /// Euclidean DBSCAN.
    pub fn new(eps: f64, min_samples: usize) -> DbscanParams {
        DbscanParams {
            eps,
            min_samples,
            metric: Metric::Euclidean,
        }
    }
}

/// A DBSCAN clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct DbscanResult {
    /// Each row's cluster, numbered from 0 as sklearn numbers them; -1 is noise.
    pub labels: Vec<i32>,
    /// Indices of the core rows, ascending (sklearn's `core_sample_indices_`).
    pub core: Vec<usize>,
    /// Clusters found.
    pub n_clusters: usize,
}

/// Most dimensions the grid is used for: a cell has 3^d neighbours, fewer strips of them.
const GRID_MAX_DIMS: usize = 5;

/// Clusters the rows of `x`. `weights` (one per row, may be negative as in sklearn) replace the
/// count of a neighbourhood by its weight sum.
pub fn dbscan(x: &Matrix, p: &DbscanParams, weights: Option<&[f64]>) -> Result<DbscanResult> {
    if !(p.eps > 0.0 && p.eps.is_finite()) {
        return Err(MiningError::param(
            "eps",
            format!(
                "must be a positive, finite distance, got {}; try a value near the distance to each row's min_samples-th neighbour",
                p.eps
            ),
        ));
    }
    if p.min_samples == 0 {
        return Err(MiningError::param(
            "min_samples",
            "must be at least 1 (it counts the row itself)",
        ));
    }
    let n = x.rows();
    if n > i32::MAX as usize {
        return Err(MiningError::param(
            "rows",
            format!("{n} rows is more than DBSCAN's labels can number; sample the rows"),
        ));
    }
    if let Some(w) = weights {
        if w.len() != n {
            return Err(MiningError::param(
                "sample_weight",
                format!("{} weights for {n} rows; give one weight per row", w.len()),
            ));
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(MiningError::param(
                "sample_weight",
                format!("row {}: weight {} is not a finite number", i + 1, w[i]),
            ));
        }
    }
    let eps = p.eps;
    // sklearn's k-d tree compares the reduced distance (squared) with eps * eps.
    let r2 = eps * eps;
    let euclid = |a: &[f64], b: &[f64]| sq_euclidean(a, b) <= r2;
    let sq = |a: &[f64], b: &[f64]| sq_euclidean(a, b) <= eps;
    let l1 = |a: &[f64], b: &[f64]| manhattan(a, b) <= eps;
    match p.metric {
        Metric::Euclidean => by_dim(x, eps, p, weights, euclid),
        Metric::SqEuclidean => by_dim(x, eps.sqrt(), p, weights, sq),
        Metric::Manhattan => by_dim(x, eps, p, weights, l1),
        Metric::Cosine => run::<0, _>(x, f64::INFINITY, p, weights, |a, b| cosine(a, b) <= eps),
    }
}

/// [`run`] with the row length known at compile time for the grid's dimensions, so distance
/// loops unroll.
fn by_dim<F>(
    x: &Matrix,
    reach: f64,
    p: &DbscanParams,
    weights: Option<&[f64]>,
    near: F,
) -> Result<DbscanResult>
where
    F: Fn(&[f64], &[f64]) -> bool,
{
    match x.cols() {
        1 => run::<1, F>(x, reach, p, weights, near),
        2 => run::<2, F>(x, reach, p, weights, near),
        3 => run::<3, F>(x, reach, p, weights, near),
        4 => run::<4, F>(x, reach, p, weights, near),
        5 => run::<5, F>(x, reach, p, weights, near),
        _ => run::<0, F>(x, reach, p, weights, near),
    }
}

/// The three passes; `reach` bounds each coordinate difference of two neighbours (infinite: no
/// grid). `D` is the row length, or 0 when only known at run time.
fn run<const D: usize, F>(
    x: &Matrix,
    reach: f64,
    p: &DbscanParams,
    weights: Option<&[f64]>,
    near: F,
) -> Result<DbscanResult>
where
    F: Fn(&[f64], &[f64]) -> bool,
{
    let n = x.rows();
    let g = Grid::new(x, reach);
    let dim = if D > 0 { D } else { g.dim };
    let pts = &g.points;
    let at = |i: usize| &pts[i * dim..(i + 1) * dim];
    let w_sorted: Option<Vec<f64>> =
        weights.map(|w| g.ids.iter().map(|&i| w[i as usize]).collect());
    let min = p.min_samples;
    let monotone = w_sorted
        .as_ref()
        .is_none_or(|w| w.iter().all(|&v| v >= 0.0));

    // Pass 1: core rows (stop counting once enough, unless negative weights could undo it).
    let mut core = vec![false; n];
    g.visit(
        |_| true,
        |i, strips| {
            let (a, mut count, mut weight) = (at(i), 0usize, 0.0f64);
            for j in rows(strips) {
                if near(a, at(j)) {
                    match &w_sorted {
                        None => count += 1,
                        Some(w) => weight += w[j],
                    }
                    let enough = match &w_sorted {
                        None => count >= min,
                        Some(_) => weight >= min as f64,
                    };
                    if enough && monotone {
                        core[i] = true;
                        return;
                    }
                }
            }
            if w_sorted.is_some() {
                core[i] = weight >= min as f64;
            }
        },
    );

    // Pass 2: connected components of core rows.
    let mut uf = UnionFind::new(n);
    g.visit(
        |i| core[i],
        |i, strips| {
            let a = at(i);
            let mut ri = uf.find(i);
            for j in rows(strips) {
                // Rows already joined need no distance.
                if j > i && core[j] && uf.find(j) != ri && near(a, at(j)) {
                    uf.union(i, j);
                    ri = uf.find(i);
                }
            }
        },
    );

    // Number components by their lowest original row, as sklearn's scan does.
    let mut pos = vec![0u32; n];
    for (s, &i) in g.ids.iter().enumerate() {
        pos[i as usize] = s as u32;
    }
    let mut comp = vec![-1i32; n];
    let mut label = vec![-1i32; n];
    let mut clusters = 0i32;
    let mut core_rows = Vec::new();
    for (i, &s) in pos.iter().enumerate() {
        let s = s as usize;
        if core[s] {
            let r = uf.find(s);
            if comp[r] < 0 {
                comp[r] = clusters;
                clusters += 1;
            }
            label[s] = comp[r];
            core_rows.push(i);
        }
    }

    // Pass 3: a border row joins the lowest-numbered cluster among its core neighbours.
    g.visit(
        |i| !core[i],
        |i, strips| {
            let a = at(i);
            let mut best = -1;
            for j in rows(strips) {
                if core[j] && (best < 0 || label[j] < best) && near(a, at(j)) {
                    best = label[j];
                }
            }
            label[i] = best;
        },
    );

    Ok(DbscanResult {
        labels: pos.iter().map(|&s| label[s as usize]).collect(),
        core: core_rows,
        n_clusters: clusters as usize,
    })
}

/// Rows sorted by grid cell, each cell's neighbours as a few contiguous strips of rows.
struct Grid {
    dim: usize,
    /// Coordinates in cell order.
    points: Vec<f64>,
    /// Original row of each sorted row.
    ids: Vec<u32>,
    /// Row range of each cell: `cell_start[c]..cell_start[c + 1]`.
    cell_start: Vec<u32>,
    /// Strips of cell `c`: `strips[strip_start[c]..strip_start[c + 1]]`, each a row range.
    strip_start: Vec<u32>,
    strips: Vec<(u32, u32)>,
}

impl Grid {
    /// Cells of width `reach` (a little more, so rounding cannot hide a neighbour two cells
    /// away); one cell when there is no usable grid.
    fn new(x: &Matrix, reach: f64) -> Grid {
        let n = x.rows();
        match Grid::keys(x, reach) {
            Some((keys, bits)) => {
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.sort_unstable_by_key(|&i| keys[i as usize]);
                let mut cell_keys = Vec::new();
                let mut cell_start = Vec::new();
                for (s, &i) in order.iter().enumerate() {
                    let k = keys[i as usize];
                    if cell_keys.last() != Some(&k) {
                        cell_keys.push(k);
                        cell_start.push(s as u32);
                    }
                }
                cell_start.push(n as u32);
                let mut g = Grid::sorted(x, order, cell_start);
                g.link(&cell_keys, bits);
                g
            }
            None => {
                let mut g = Grid::sorted(x, (0..n as u32).collect(), vec![0, n as u32]);
                g.strip_start = vec![0, 1];
                g.strips = vec![(0, n as u32)];
                g
            }
        }
    }

    fn sorted(x: &Matrix, ids: Vec<u32>, cell_start: Vec<u32>) -> Grid {
        let dim = x.cols();
        let mut points = Vec::with_capacity(x.values().len());
        for &i in &ids {
            points.extend_from_slice(x.row(i as usize));
        }
        Grid {
            dim,
            points,
            ids,
            cell_start,
            strip_start: Vec::new(),
            strips: Vec::new(),
        }
    }

    /// Each row's cell packed into a u128 (coordinates + 1, so a neighbour at -1 still packs,
    /// most significant first so key order is lexicographic), or `None` when the grid would be
    /// unusable (no finite reach, too many dimensions, cells too small to index).
    fn keys(x: &Matrix, reach: f64) -> Option<(Vec<u128>, u32)> {
        let (n, dim) = (x.rows(), x.cols());
        if !reach.is_finite() || dim > GRID_MAX_DIMS || n < 64 {
            return None;
        }
        let width = reach * 1.001;
        let bits = (128 / dim).min(62) as u32;
        let mut lo = vec![f64::INFINITY; dim];
        let mut hi = vec![f64::NEG_INFINITY; dim];
        for i in 0..n {
            for (c, &v) in x.row(i).iter().enumerate() {
                lo[c] = lo[c].min(v);
                hi[c] = hi[c].max(v);
            }
        }
        // Span in cells must stay far below 2^52 (exact floors) and fit the packed key.
        let limit = ((1u64 << (bits - 1)) as f64).min(1e12);
        if lo
            .iter()
            .zip(&hi)
            .any(|(l, h)| (h - l) / width + 2.0 >= limit)
        {
            return None;
        }
        let keys = (0..n)
            .map(|i| {
                x.row(i).iter().zip(&lo).fold(0u128, |k, (&v, &l)| {
                    (k << bits) | (((v - l) / width).floor() as u128 + 1)
                })
            })
            .collect();
        Some((keys, bits))
    }

    /// For each cell, the strips of rows in its 3^d neighbourhood: for each offset of the
    /// leading d - 1 coordinates, the cells whose last coordinate is within one are adjacent
    /// in key order, so one binary search finds a whole strip.
    fn link(&mut self, cell_keys: &[u128], bits: u32) {
        let d = self.dim;
        let mask = (1u128 << bits) - 1;
        let mut coords = vec![0u128; d];
        let offsets = 3usize.pow(d as u32 - 1);
        self.strip_start.push(0);
        for &key in cell_keys {
            for (c, v) in coords.iter_mut().enumerate() {
                *v = (key >> (bits * (d - 1 - c) as u32)) & mask;
            }
            for o in 0..offsets {
                let (mut k, mut rest) = (0u128, o);
                for &v in &coords[..d - 1] {
                    // Offsets -1, 0, +1 per leading coordinate; coordinates are >= 1.
                    k = (k << bits) | (v + (rest % 3) as u128 - 1);
                    rest /= 3;
                }
                let last = coords[d - 1];
                let from = (k << bits) | (last - 1);
                let to = (k << bits) | (last + 1);
                let a = cell_keys.partition_point(|&c| c < from);
                let b = cell_keys.partition_point(|&c| c <= to);
                if a < b {
                    self.strips.push((self.cell_start[a], self.cell_start[b]));
                }
            }
            self.strip_start.push(self.strips.len() as u32);
        }
    }

    /// Calls `f(row, strips)` for each sorted row that `want`s it, with the row ranges of its
    /// cell's neighbourhood (the row itself included).
    fn visit<W, F>(&self, want: W, mut f: F)
    where
        W: Fn(usize) -> bool,
        F: FnMut(usize, &[(u32, u32)]),
    {
        for c in 0..self.cell_start.len() - 1 {
            let strips =
                &self.strips[self.strip_start[c] as usize..self.strip_start[c + 1] as usize];
            for i in self.cell_start[c] as usize..self.cell_start[c + 1] as usize {
                if want(i) {
                    f(i, strips);
                }
            }
        }
    }
}

/// The rows of some strips.
#[inline]
fn rows(strips: &[(u32, u32)]) -> impl Iterator<Item = usize> + '_ {
    strips.iter().flat_map(|&(a, b)| a as usize..b as usize)
}

/// Disjoint sets over sorted rows, with path halving.
struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    #[inline]
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] as usize != i {
            let g = self.parent[self.parent[i] as usize];
            self.parent[i] = g;
            i = g as usize;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.parent[hi] = lo as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_blobs_and_a_straggler() {
        let x = Matrix::from_rows(&[
            vec![0.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![10.0, 10.0],
            vec![10.0, 11.0],
            vec![11.0, 10.0],
            vec![5.0, 5.0],
        ])
        .unwrap();
        let r = dbscan(&x, &DbscanParams::new(1.0, 3), None).unwrap();
        assert_eq!(r.labels, vec![0, 0, 0, 1, 1, 1, -1]);
        assert_eq!(r.core, vec![0, 3]);
        assert_eq!(r.n_clusters, 2);
    }

    #[test]
    fn the_grid_finds_what_brute_force_finds() {
        // 300 rows on a coarse lattice: many exact-eps pairs, duplicates, strips across cells.
        let mut v = Vec::new();
        let mut s = 7u64;
        for _ in 0..600 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.push(((s >> 33) % 40) as f64 * 0.25);
        }
        let x = Matrix::new(300, 2, v).unwrap();
        for (eps, min) in [(0.25, 2), (0.5, 4), (1.0, 9), (0.3, 1)] {
            for metric in [Metric::Euclidean, Metric::Manhattan, Metric::SqEuclidean] {
                let p = DbscanParams {
                    eps,
                    min_samples: min,
                    metric,
                };
                let grid = dbscan(&x, &p, None).unwrap();
                let near = |a: &[f64], b: &[f64]| match metric {
                    Metric::Euclidean => sq_euclidean(a, b) <= eps * eps,
                    Metric::SqEuclidean => sq_euclidean(a, b) <= eps,
                    _ => manhattan(a, b) <= eps,
                };
                let brute = run::<0, _>(&x, f64::INFINITY, &p, None, near).unwrap();
                assert_eq!(grid, brute, "eps {eps} min {min} {metric}");
            }
        }
    }
}
