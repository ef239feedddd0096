//! Criterion benches of DBSCAN on 100,000 rows in 2 and 3 dimensions and of FasterPAM (and
//! BUILD) on 2,000 rows. The data are seeded gaussian blobs plus uniform noise; each bench also
//! writes its exact input to the system temp dir (`storepulse_cluster_dense_*.f64`, with a
//! `.json` of parameters) so scikit-learn's `DBSCAN` and the `kmedoids` package can be timed on
//! the very same bits for comparison.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;
use std::io::Write;
use storepulse_mining::Matrix;
use storepulse_mining::cluster::dbscan::{DbscanParams, dbscan};
use storepulse_mining::cluster::distance::Metric;
use storepulse_mining::cluster::kmedoids::{Dissimilarity, build_init, fasterpam};

/// `n` rows in `d` dimensions: 25 blobs of varied spread in a 40-wide box, 5 % uniform noise.
fn blobs(n: usize, d: usize, seed: u64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<(Vec<f64>, f64)> = (0..25)
        .map(|_| {
            let c = (0..d).map(|_| rng.random::<f64>() * 40.0 - 20.0).collect();
            (c, 0.3 + rng.random::<f64>() * 1.2)
        })
        .collect();
    let mut v = Vec::with_capacity(n * d);
    for i in 0..n {
        if i % 20 == 19 {
            v.extend((0..d).map(|_| rng.random::<f64>() * 44.0 - 22.0));
        } else {
            let (c, s) = &centres[rng.random_range(0..centres.len())];
            v.extend(c.iter().map(|m| m + s * gauss(&mut rng)));
        }
    }
    Matrix::new(n, d, v).expect("finite")
}

fn gauss(rng: &mut StdRng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Writes the values for the Python side; a failure only costs the comparison.
fn export(name: &str, values: impl Iterator<Item = f64>, meta: serde_json::Value) {
    let dir = std::env::temp_dir();
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(
            dir.join(format!("storepulse_cluster_dense_{name}.f64")),
        )?);
        for v in values {
            f.write_all(&v.to_le_bytes())?;
        }
        f.flush()?;
        std::fs::write(
            dir.join(format!("storepulse_cluster_dense_{name}.json")),
            meta.to_string(),
        )
    };
    if let Err(e) = write() {
        eprintln!("could not export {name} for the Python comparison: {e}");
    }
}

fn bench_dbscan(c: &mut Criterion) {
    let mut g = c.benchmark_group("dbscan_100k");
    g.sample_size(10);
    for (d, eps, min) in [(2, 0.15, 10), (3, 0.4, 10)] {
        let x = blobs(100_000, d, 7 + d as u64);
        let p = DbscanParams::new(eps, min);
        let r = dbscan(&x, &p, None).expect("valid parameters");
        eprintln!(
            "dbscan {d}-d: {} clusters, {} core, {} noise",
            r.n_clusters,
            r.core.len(),
            r.labels.iter().filter(|&&l| l < 0).count()
        );
        export(
            &format!("dbscan_{d}d"),
            x.values().iter().copied(),
            serde_json::json!({"n": x.rows(), "d": d, "eps": eps, "min_samples": min,
                               "n_clusters": r.n_clusters, "core": r.core.len()}),
        );
        g.bench_function(format!("{d}d_eps{eps}_min{min}"), |b| {
            b.iter(|| dbscan(black_box(&x), &p, None).expect("valid parameters"))
        });
        let l1 = DbscanParams {
            metric: Metric::Manhattan,
            ..p
        };
        g.bench_function(format!("{d}d_manhattan_eps{eps}_min{min}"), |b| {
            b.iter(|| dbscan(black_box(&x), &l1, None).expect("valid parameters"))
        });
    }
    g.finish();
}

fn bench_fasterpam(c: &mut Criterion) {
    let x = blobs(2_000, 3, 11);
    let d = Dissimilarity::from_matrix(&x, Metric::Euclidean).expect("2,000 rows fit");
    let mut rng = StdRng::seed_from_u64(5);
    let k = 10;
    let init: Vec<usize> = rand::seq::index::sample(&mut rng, d.len(), k).into_vec();
    let r = fasterpam(&d, &init, 100).expect("valid medoids");
    eprintln!(
        "fasterpam: loss {} after {} iterations, {} swaps",
        r.loss, r.n_iter, r.n_swaps
    );
    let n = d.len();
    export(
        "fasterpam_2k",
        (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| d.get(i, j)),
        serde_json::json!({"n": n, "init": init, "k": k, "loss": r.loss}),
    );
    let mut g = c.benchmark_group("kmedoids_2k");
    g.sample_size(10);
    g.bench_function("fasterpam_k10_random_init", |b| {
        b.iter(|| fasterpam(black_box(&d), &init, 100).expect("valid medoids"))
    });
    g.bench_function("build_k10", |b| {
        b.iter(|| build_init(black_box(&d), k).expect("valid k"))
    });
    g.bench_function("dissimilarity_euclidean", |b| {
        b.iter(|| Dissimilarity::from_matrix(black_box(&x), Metric::Euclidean).expect("fits"))
    });
    g.finish();
}

criterion_group!(benches, bench_dbscan, bench_fasterpam);
criterion_main!(benches);
