//! Criterion benches of the clustering module. k-means, silhouette, mini-batch and streaming
//! k-means are here; the DBSCAN and k-medoids benches belong in this same file too, in
//! [`other_benches`] (a hook for the lead to merge them into).
//!
//! The k-means input is an RFM-like table (4,338 rows × 3, log1p then z-scored like the test's
//! Online Retail table), generated here; set `STOREPULSE_RFM_CSV` to a headerless CSV (such as
//! the table the RFM test builds) to bench on that instead. The reference figure is sklearn
//! 1.9's `KMeans(4, n_init=10, random_state=0).fit` on the real table, timed with
//! `time.perf_counter`, best of 5.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;
use storepulse_mining::Matrix;
use storepulse_mining::cluster::kmeans::{Init, KMeansParams, fit};
use storepulse_mining::cluster::minibatch::{MiniBatchKMeans, MiniBatchParams, StreamingKMeans};
use storepulse_mining::cluster::silhouette::silhouette_score;

/// Recency, frequency and monetary drawn with long tails, log1p'd and z-scored.
fn rfm_like(n: usize) -> Matrix {
    if let Some(p) = std::env::var_os("STOREPULSE_RFM_CSV") {
        let text = std::fs::read_to_string(&p).expect("read STOREPULSE_RFM_CSV");
        let rows: Vec<Vec<f64>> = text
            .lines()
            .map(|l| {
                l.split(',')
                    .map(|v| v.trim().parse().expect("a number"))
                    .collect()
            })
            .collect();
        return Matrix::from_rows(&rows).expect("an RFM matrix");
    }
    let mut rng = StdRng::seed_from_u64(1);
    let mut v = Vec::with_capacity(n * 3);
    for _ in 0..n {
        let u: f64 = rng.random();
        let recency = (1.0 + 373.0 * u * u).floor();
        let frequency = (1.0 / (1.0 - 0.97 * rng.random::<f64>())).floor();
        let monetary = (frequency * 20.0 * (1.0 + 30.0 * rng.random::<f64>().powi(3))).max(1.0);
        v.extend([recency.ln_1p(), frequency.ln_1p(), monetary.ln_1p()]);
    }
    for t in 0..3 {
        let col: Vec<f64> = v.iter().skip(t).step_by(3).copied().collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        let sd = (col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        for x in v.iter_mut().skip(t).step_by(3) {
            *x = (*x - mean) / sd;
        }
    }
    Matrix::new(n, 3, v).expect("an RFM matrix")
}

fn kmeans_benches(c: &mut Criterion) {
    let x = rfm_like(4338);
    let p = KMeansParams {
        k: 4,
        n_init: Some(10),
        seed: 0,
        ..KMeansParams::default()
    };
    c.bench_function("kmeans rfm 4338x3 k4 n_init10", |b| {
        b.iter(|| fit(black_box(&x), None, &p).expect("fit"))
    });
    let one = KMeansParams {
        n_init: Some(1),
        ..p.clone()
    };
    c.bench_function("kmeans rfm 4338x3 k4 n_init1", |b| {
        b.iter(|| fit(black_box(&x), None, &one).expect("fit"))
    });
    let labels = fit(&x, None, &p).expect("fit").labels;
    c.bench_function("silhouette rfm 4338x3 k4", |b| {
        b.iter(|| silhouette_score(black_box(&x), &labels).expect("silhouette"))
    });
}

fn streaming_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("streaming");
    for (d, k) in [(3usize, 4usize), (8, 10)] {
        let n = 200_000;
        let mut rng = StdRng::seed_from_u64(2);
        let pts: Vec<f64> = (0..n * d).map(|_| rng.random_range(-3.0..3.0)).collect();
        let init = Matrix::new(k, d, pts[..k * d].to_vec()).expect("centres");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("update d{d} k{k} half-life 1e4"), |b| {
            b.iter(|| {
                let mut s = StreamingKMeans::new(&init, Some(1e4)).expect("streaming");
                for p in pts.chunks_exact(d) {
                    black_box(s.update(p, 1.0).expect("update"));
                }
                s
            })
        });
        let batches: Vec<Matrix> = (0..n / 1024)
            .map(|b| {
                Matrix::new(1024, d, pts[b * 1024 * d..(b + 1) * 1024 * d].to_vec()).expect("batch")
            })
            .collect();
        g.throughput(Throughput::Elements((batches.len() * 1024) as u64));
        g.bench_function(format!("minibatch partial_fit 1024 d{d} k{k}"), |b| {
            b.iter(|| {
                let mut m = MiniBatchKMeans::new(MiniBatchParams {
                    k,
                    init: Init::Given(init.clone()),
                    ..MiniBatchParams::default()
                })
                .expect("minibatch");
                for batch in &batches {
                    black_box(m.partial_fit(batch, None).expect("partial_fit"));
                }
                m.counts().to_vec()
            })
        });
    }
    g.finish();
}

/// Hook for the DBSCAN / k-medoids benches (the lead merges them here).
fn other_benches(_c: &mut Criterion) {}

fn benches(c: &mut Criterion) {
    kmeans_benches(c);
    streaming_benches(c);
    other_benches(c);
}

criterion_group! {
    name = all;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(all);
