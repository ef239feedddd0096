//! One Lloyd run as scikit-learn 1.9's `_kmeans_single_lloyd` with `lloyd_iter_chunked_dense`
//! (E-step by `|c|² - 2x·c`, weighted M-step, `_relocate_empty_clusters_dense`,
//! `_average_centers`, strict / tolerance convergence and the final E-step), and the restarts
//! spread over threads. Tested through [`super::fit`] in `tests/kmeans_lloyd.rs` against a plain
//! Lloyd and against sklearn (labels, centres, inertia, `n_iter`).

use super::sweep::{Prepared, stride};
use crate::cluster::distance::sq_euclidean;

/// One Lloyd run's result (centres still centred).
pub(super) struct Run {
    pub labels: Vec<u32>,
    pub inertia: f64,
    pub centers: Vec<f64>,
    pub n_iter: usize,
}

#[allow(clippy::too_many_arguments)]
/// Runs restart `i` for every `i < n_init`, its first centres from `init(i)`; on two threads
/// when that is worth it. Each run is sequential, so results do not depend on the thread count.
pub(super) fn run_all(
    x: &[f64],
    d: usize,
    w: &[f64],
    n_init: usize,
    init: &(dyn Fn(usize) -> Vec<f64> + Sync),
    max_iter: usize,
    tol: f64,
    k: usize,
) -> Vec<Run> {
    let prep = Prepared::new(x, d, w);
    let run = |i: usize| lloyd(&prep, x, d, w, init(i), max_iter, tol);
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n_init);
    // A spawn costs tens of microseconds; a small fit is over before a thread would start.
    let work = w.len() * (d + 1) * k * n_init;
    if threads <= 1 || work < THREAD_WORK {
        return (0..n_init).map(run).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Run>> = (0..n_init).map(|_| None).collect();
    let done: Vec<Vec<(usize, Run)>> = std::thread::scope(|s| {
        let worker = || {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n_init {
                    break;
                }
                out.push((i, run(i)));
            }
            out
        };
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(worker)).collect();
        let mut all = vec![worker()];
        all.extend(handles.into_iter().filter_map(|h| h.join().ok()));
        all
    });
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    // A panicked worker would leave a hole; rerun it here rather than lose the run.
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| run(i)))
        .collect()
}

/// Rows × (columns + 1) × k × restarts below which the restarts run on the calling thread.
const THREAD_WORK: usize = 400_000;

/// One Lloyd run from `centers` (sklearn `_kmeans_single_lloyd`).
fn lloyd(
    prep: &Prepared,
    x: &[f64],
    d: usize,
    w: &[f64],
    mut centers: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> Run {
    let n = w.len();
    let k = centers.len() / d;
    let mut labels = vec![u32::MAX; n];
    let mut acc = vec![0.0; k * stride(d)];
    let mut new = vec![0.0; k * d];
    let mut wsum = vec![0.0; k];
    let mut norms = vec![0.0; k];
    let mut strict = false;
    let mut n_iter = 0;
    for it in 0..max_iter {
        n_iter = it + 1;
        sq_norms(&centers, d, &mut norms);
        acc.fill(0.0);
        let changed = prep.sweep(&centers, &norms, &mut labels, Some(&mut acc));
        for (j, a) in acc.chunks_exact(stride(d)).enumerate() {
            new[j * d..(j + 1) * d].copy_from_slice(&a[..d]);
            wsum[j] = a[d];
        }
        relocate_empty(x, d, w, &centers, &mut new, &mut wsum, &labels);
        average(&mut new, &wsum, d);
        let shift: f64 = centers
            .chunks_exact(d)
            .zip(new.chunks_exact(d))
            .map(|(a, b)| {
                let s = sq_euclidean(b, a).sqrt();
                s * s
            })
            .sum();
        std::mem::swap(&mut centers, &mut new);
        if !changed {
            strict = true;
            break;
        }
        if shift <= tol {
            break;
        }
    }
    if !strict {
        sq_norms(&centers, d, &mut norms);
        prep.sweep(&centers, &norms, &mut labels, None);
    }
    let inertia = x
        .chunks_exact(d)
        .zip(w)
        .zip(&labels)
        .map(|((row, wi), &l)| {
            sq_euclidean(row, &centers[l as usize * d..(l as usize + 1) * d]) * wi
        })
        .sum();
    Run {
        labels,
        inertia,
        centers,
        n_iter,
    }
}

/// `|c_j|²` of each centre, summed over the columns in order.
fn sq_norms(c: &[f64], d: usize, norms: &mut [f64]) {
    for (nj, cj) in norms.iter_mut().zip(c.chunks_exact(d)) {
        *nj = cj.iter().map(|v| v * v).sum();
    }
}

/// sklearn `_relocate_empty_clusters_dense`: each empty cluster takes one of the rows farthest
/// from their centres (farthest first; the lower row first among equal distances).
fn relocate_empty(
    x: &[f64],
    d: usize,
    w: &[f64],
    old: &[f64],
    sums: &mut [f64],
    wsum: &mut [f64],
    labels: &[u32],
) {
    let empty: Vec<usize> = (0..wsum.len()).filter(|&j| wsum[j] == 0.0).collect();
    if empty.is_empty() {
        return;
    }
    let dist: Vec<f64> = x
        .chunks_exact(d)
        .zip(labels)
        .map(|(row, &l)| sq_euclidean(row, &old[l as usize * d..(l as usize + 1) * d]))
        .collect();
    if dist.iter().all(|&v| v == 0.0) {
        return;
    }
    let mut order: Vec<usize> = (0..dist.len()).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    for (&new_j, &far) in empty.iter().zip(&order) {
        let wi = w[far];
        let old_j = labels[far] as usize;
        let row = &x[far * d..(far + 1) * d];
        for t in 0..d {
            sums[old_j * d + t] -= row[t] * wi;
            sums[new_j * d + t] = row[t] * wi;
        }
        wsum[new_j] = wi;
        wsum[old_j] -= wi;
    }
}

/// sklearn `_average_centers`, including its order: a still-empty cluster copies the row of the
/// heaviest cluster as it is at that moment.
fn average(c: &mut [f64], wsum: &[f64], d: usize) {
    let mut heaviest = 0;
    for (j, &v) in wsum.iter().enumerate() {
        if v > wsum[heaviest] {
            heaviest = j;
        }
    }
    for j in 0..wsum.len() {
        if wsum[j] > 0.0 {
            let a = 1.0 / wsum[j];
            for v in &mut c[j * d..(j + 1) * d] {
                *v *= a;
            }
        } else {
            c.copy_within(heaviest * d..(heaviest + 1) * d, j * d);
        }
    }
}
