//! k-medoids over any dissimilarity: PAM (BUILD + SWAP, Kaufman & Rousseeuw) and FasterPAM
//! (Schubert & Rousseeuw 2021, eager swaps with the O(k) removal-loss trick), on a precomputed
//! [`Dissimilarity`] (full or condensed, from `kmedoids_diss.rs`).
//!
//! Reference: the `kmedoids` PyPI package 0.5.5 (`pam_build`, `pam`, `fasterpam` with `n_cpu=1`),
//! matched from the papers' algorithms and that package's documented results, not its source.
//! Its results depend on details the papers leave open, reproduced here: the order in which
//! sums are added (float rounding decides exact ties, e.g. between the two points of a pair),
//! which medoid wins an equal distance, that k = 1 is solved directly, that an iteration which
//! does not lower the recomputed loss ends the search, and that BUILD stops early once every
//! point sits on a medoid. `tests/kmedoids.rs` runs the package on the same dissimilarity bits
//! (real RFM and Taobao data, tie-heavy grids, random starts) and compares medoids, every label,
//! the loss bit for bit, `n_iter` and `n_swap`.

#[path = "kmedoids_diss.rs"]
mod diss;

pub use diss::{Dissimilarity, Layout};

use crate::{MiningError, Result};

/// A k-medoids clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct KMedoids {
    /// Medoid row indices, by cluster.
    pub medoids: Vec<usize>,
    /// Each row's cluster (index into `medoids`).
    pub labels: Vec<u32>,
    /// Sum of each row's dissimilarity to its medoid.
    pub loss: f64,
    /// SWAP iterations run (counting the last one, which found nothing to improve).
    pub n_iter: usize,
    /// Swaps made.
    pub n_swaps: usize,
}

/// A row's nearest and second-nearest medoid (positions in the medoid list).
#[derive(Debug, Clone, Copy)]
struct Near {
    near: u32,
    sec: u32,
    dn: f64,
    ds: f64,
}

/// PAM's BUILD: the row with the smallest total dissimilarity, then repeatedly the row that
/// lowers the loss most. Stops early (fewer than `k` medoids) when every row is already at
/// dissimilarity 0 from a medoid, i.e. the data has fewer than `k` distinct rows, as `kmedoids`.
pub fn build_init(d: &Dissimilarity, k: usize) -> Result<Vec<usize>> {
    let n = d.len();
    check_k(k, n)?;
    let mut buf = Vec::new();
    let mut first = 0;
    let mut best = f64::INFINITY;
    for i in 0..n {
        let s = seq_sum(d.row(i, &mut buf));
        if s < best {
            best = s;
            first = i;
        }
    }
    let mut medoids = vec![first];
    let mut is_med = vec![false; n];
    is_med[first] = true;
    let mut dn = d.row(first, &mut buf).to_vec();
    while medoids.len() < k {
        let (mut pick, mut gain) = (None, 0.0);
        for i in 0..n {
            if is_med[i] {
                continue;
            }
            let row = d.row(i, &mut buf);
            // The candidate's own term first, then the others in order: the package's rounding.
            let mut g = dn[i];
            for (j, (&dij, &dnj)) in row.iter().zip(&dn).enumerate() {
                if dij < dnj && j != i {
                    g += dnj - dij;
                }
            }
            if g > gain {
                gain = g;
                pick = Some(i);
            }
        }
        let Some(p) = pick else { break };
        medoids.push(p);
        is_med[p] = true;
        for (v, &dp) in dn.iter_mut().zip(d.row(p, &mut buf)) {
            if dp < *v {
                *v = dp;
            }
        }
    }
    Ok(medoids)
}

/// PAM: [`build_init`] then [`pam_swap`].
pub fn pam(d: &Dissimilarity, k: usize, max_iter: usize) -> Result<KMedoids> {
    let init = build_init(d, k)?;
    pam_swap(d, &init, max_iter)
}

/// PAM's SWAP from given medoids: each iteration makes the single best (medoid, row) swap,
/// until none lowers the loss or `max_iter` iterations ran.
pub fn pam_swap(d: &Dissimilarity, init: &[usize], max_iter: usize) -> Result<KMedoids> {
    let n = d.len();
    let mut s = Search::new(d, init)?;
    if init.len() == 1 {
        return Ok(single(d, init[0]));
    }
    let k = s.med.len();
    let mut delta = vec![0.0; k];
    let mut buf = Vec::new();
    let (mut it, mut swaps) = (0, 0);
    while it < max_iter {
        it += 1;
        let mut best: Option<(f64, usize, usize)> = None;
        for h in 0..n {
            if s.is_med[h] {
                continue;
            }
            let row = d.row(h, &mut buf);
            // Per medoid, the candidate's own term first, then the rows in order (adding 0 for
            // rows a swap does not move leaves every sum as the package's).
            delta.fill(-s.st[h].dn);
            for (j, (&djh, p)) in row.iter().zip(&s.st).enumerate() {
                if j == h {
                    continue;
                }
                let own = djh.min(p.ds) - p.dn;
                if djh < p.dn {
                    let gain = djh - p.dn;
                    for (i, t) in delta.iter_mut().enumerate() {
                        *t += if i == p.near as usize { own } else { gain };
                    }
                } else {
                    delta[p.near as usize] += own;
                }
            }
            for (i, &t) in delta.iter().enumerate() {
                if t < best.map_or(0.0, |b| b.0) {
                    best = Some((t, i, h));
                }
            }
        }
        let Some((_, i, h)) = best else { break };
        swaps += 1;
        s.swap(d, i, h, &mut buf);
        let last = s.loss;
        s.loss = s.total();
        if s.loss >= last {
            break;
        }
    }
    Ok(s.finish(it, swaps))
}

/// FasterPAM from given medoids: visits the rows in order and makes every swap that lowers the
/// loss at once, until a full pass finds none (or does not lower the loss) or `max_iter` passes.
pub fn fasterpam(d: &Dissimilarity, init: &[usize], max_iter: usize) -> Result<KMedoids> {
    let n = d.len();
    let mut s = Search::new(d, init)?;
    if init.len() == 1 {
        return Ok(single(d, init[0]));
    }
    let k = s.med.len();
    let mut removal = vec![0.0; k];
    s.removal_loss(&mut removal);
    let mut delta = vec![0.0; k];
    let mut buf = Vec::new();
    let (mut it, mut swaps, mut last_swap) = (0, 0, n);
    while it < max_iter {
        it += 1;
        let (before, last_loss) = (swaps, s.loss);
        for c in 0..n {
            if c == last_swap {
                break;
            }
            if s.is_med[c] {
                continue;
            }
            let row = d.row(c, &mut buf);
            delta.copy_from_slice(&removal);
            let mut acc = 0.0;
            for (&dc, p) in row.iter().zip(&s.st) {
                if dc < p.dn {
                    acc += dc - p.dn;
                    delta[p.near as usize] += p.dn - p.ds;
                } else if dc < p.ds {
                    delta[p.near as usize] += dc - p.ds;
                }
            }
            let mut i = 0;
            for (m, &t) in delta.iter().enumerate().skip(1) {
                if t < delta[i] {
                    i = m;
                }
            }
            if delta[i] + acc < 0.0 {
                swaps += 1;
                last_swap = c;
                s.swap(d, i, c, &mut buf);
                s.removal_loss(&mut removal);
            }
        }
        s.loss = s.total();
        if swaps == before || s.loss >= last_loss {
            break;
        }
    }
    Ok(s.finish(it, swaps))
}

fn check_k(k: usize, n: usize) -> Result<()> {
    if k == 0 {
        return Err(MiningError::param("k", "must be at least 1 medoid"));
    }
    if k > n {
        return Err(MiningError::TooFewRows { k, rows: n });
    }
    Ok(())
}

/// Adds in order (the reference's summation order; `Iterator::sum` is also in order, but say so).
fn seq_sum(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, &b| a + b)
}

/// k = 1: the row with the smallest total, kept when the start ties it (one iteration).
fn single(d: &Dissimilarity, start: usize) -> KMedoids {
    let n = d.len();
    let mut buf = Vec::new();
    let (mut best, mut total) = (start, seq_sum(d.row(start, &mut buf)));
    for h in 0..n {
        let t = seq_sum(d.row(h, &mut buf));
        if t < total {
            best = h;
            total = t;
        }
    }
    KMedoids {
        medoids: vec![best],
        labels: vec![0; n],
        loss: total,
        n_iter: 1,
        n_swaps: usize::from(best != start),
    }
}

/// The medoids and every row's two nearest, kept up to date across swaps.
struct Search {
    med: Vec<usize>,
    is_med: Vec<bool>,
    st: Vec<Near>,
    loss: f64,
}

impl Search {
    fn new(d: &Dissimilarity, init: &[usize]) -> Result<Search> {
        let n = d.len();
        check_k(init.len(), n)?;
        let mut is_med = vec![false; n];
        for (pos, &m) in init.iter().enumerate() {
            if m >= n {
                return Err(MiningError::param(
                    "init",
                    format!(
                        "medoid #{} is row {m}, but there are {n} rows (0-based)",
                        pos + 1
                    ),
                ));
            }
            if is_med[m] {
                return Err(MiningError::param(
                    "init",
                    format!("row {m} is given twice; initial medoids must be distinct rows"),
                ));
            }
            is_med[m] = true;
        }
        let unset = Near {
            near: u32::MAX,
            sec: u32::MAX,
            dn: f64::INFINITY,
            ds: f64::INFINITY,
        };
        let mut st = vec![unset; n];
        let mut buf = Vec::new();
        // Medoid by medoid over all rows: each row still sees the medoids in list order.
        for (a, &m) in init.iter().enumerate() {
            let a = a as u32;
            for (j, (&dj, p)) in d.row(m, &mut buf).iter().zip(st.iter_mut()).enumerate() {
                // A medoid is its own nearest even when a duplicate medoid is as close.
                if dj < p.dn || j == m {
                    p.sec = p.near;
                    p.ds = p.dn;
                    p.near = a;
                    p.dn = dj;
                } else if dj < p.ds {
                    p.sec = a;
                    p.ds = dj;
                }
            }
        }
        let mut s = Search {
            med: init.to_vec(),
            is_med,
            st,
            loss: 0.0,
        };
        s.loss = s.total();
        Ok(s)
    }

    fn total(&self) -> f64 {
        self.st.iter().fold(0.0, |a, p| a + p.dn)
    }

    /// Loss added by removing each medoid (its rows move to their second nearest).
    fn removal_loss(&self, out: &mut [f64]) {
        out.fill(0.0);
        for p in &self.st {
            out[p.near as usize] += p.ds - p.dn;
        }
    }

    /// Medoid at position `i` becomes row `h`; rows' nearest/second are updated in place.
    fn swap(&mut self, d: &Dissimilarity, i: usize, h: usize, buf: &mut Vec<f64>) {
        self.is_med[self.med[i]] = false;
        self.is_med[h] = true;
        self.med[i] = h;
        let iu = i as u32;
        let row = d.row(h, buf);
        for (j, (&djh, p)) in row.iter().zip(self.st.iter_mut()).enumerate() {
            if p.near == iu {
                if djh < p.ds {
                    p.dn = djh;
                } else {
                    p.near = p.sec;
                    p.dn = p.ds;
                    second(d, &self.med, j, iu, djh, p);
                }
            } else if djh < p.dn {
                p.sec = p.near;
                p.ds = p.dn;
                p.near = iu;
                p.dn = djh;
            } else if p.sec == iu {
                second(d, &self.med, j, iu, djh, p);
            } else if djh < p.ds {
                p.sec = iu;
                p.ds = djh;
            }
        }
    }

    fn finish(self, n_iter: usize, n_swaps: usize) -> KMedoids {
        KMedoids {
            labels: self.st.iter().map(|p| p.near).collect(),
            medoids: self.med,
            loss: self.loss,
            n_iter,
            n_swaps,
        }
    }
}

/// A row's second-nearest medoid after a swap: the new medoid `i` (at `di`) unless another,
/// in list order, is strictly closer.
fn second(d: &Dissimilarity, med: &[usize], j: usize, i: u32, di: f64, p: &mut Near) {
    p.sec = i;
    p.ds = di;
    for (a, &m) in med.iter().enumerate() {
        let a = a as u32;
        if a == p.near || a == i {
            continue;
        }
        let v = d.get(j, m);
        if v < p.ds {
            p.sec = a;
            p.ds = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line at 0, 1, 2, 10, 11, 12: two obvious clusters.
    fn line() -> Dissimilarity {
        let x = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        let v: Vec<f64> = x
            .iter()
            .flat_map(|a| x.iter().map(move |b| f64::abs(a - b)))
            .collect();
        Dissimilarity::full(6, v).unwrap()
    }

    #[test]
    fn pam_and_fasterpam_find_the_two_centres() {
        let d = line();
        let p = pam(&d, 2, 10).unwrap();
        assert_eq!(p.medoids, vec![1, 4]);
        assert_eq!(p.labels, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(p.loss, 4.0);
        // Eager swaps move position 0 to the far cluster first, as `kmedoids` does.
        let f = fasterpam(&d, &[0, 2], 10).unwrap();
        assert_eq!(f.medoids, vec![4, 1]);
        assert_eq!(f.labels, vec![1, 1, 1, 0, 0, 0]);
        assert_eq!((f.loss, f.n_iter, f.n_swaps), (4.0, 3, 3));
    }

    #[test]
    fn bad_medoids_and_k_are_refused_with_the_parameter_named() {
        let d = line();
        assert!(matches!(
            pam(&d, 7, 10),
            Err(MiningError::TooFewRows { k: 7, rows: 6 })
        ));
        assert!(pam(&d, 0, 10).unwrap_err().to_string().starts_with("k:"));
        let e = fasterpam(&d, &[1, 1], 10).unwrap_err().to_string();
        assert!(e.contains("init") && e.contains("twice"), "{e}");
        let e = fasterpam(&d, &[1, 9], 10).unwrap_err().to_string();
        assert!(e.contains("row 9"), "{e}");
    }
}
