//! Mini-batch and streaming k-means. Against scikit-learn's `MiniBatchKMeans.partial_fit` run
//! through python3 from the same centres on the same batches (`reassignment_ratio=0`, since
//! its reassignment draws from numpy's generator): centres and counts after every batch to
//! 1e-9, with and without weights; per-point streaming equals sklearn on one-row batches.
//! Then properties: reassignment moves a starved centre, k-means++ mini-batch gets close to
//! batch k-means, the half-life follows drifting data, a snapshot restores exactly.

mod kmeans_support;
mod refs;

use kmeans_support::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use storepulse_mining::Matrix;
use storepulse_mining::cluster::kmeans::{Init, KMeansParams, fit};
use storepulse_mining::cluster::minibatch::{
    MiniBatchKMeans, MiniBatchParams, StreamingKMeans, StreamingSnapshot,
};

/// Gaussian-ish blobs around `centres` (sum of uniforms), rows interleaved.
fn blobs(seed: u64, n: usize, centres: &[Vec<f64>], spread: f64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let c = &centres[(i + rng.random_range(0..centres.len())) % centres.len()];
            c.iter()
                .map(|v| v + spread * ((0..4).map(|_| rng.random::<f64>()).sum::<f64>() - 2.0))
                .collect()
        })
        .collect();
    Matrix::from_rows(&rows).unwrap()
}

fn slice(x: &Matrix, from: usize, to: usize) -> Matrix {
    Matrix::from_rows(&(from..to).map(|i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
}

const SKLEARN_PARTIAL: &str = r#"
import sys, json, numpy as np
from sklearn.cluster import MiniBatchKMeans
X = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
C = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)
W = np.loadtxt(sys.argv[3], ndmin=1) if sys.argv[3] != "-" else None
bs, first = int(sys.argv[4]), int(sys.argv[5])
m = MiniBatchKMeans(n_clusters=len(C), init=C, n_init=1, batch_size=bs, reassignment_ratio=0.0,
                    compute_labels=False)
out = []
for s, e in [(0, first)] + [(s, s + bs) for s in range(first, len(X), bs)]:
    m.partial_fit(X[s:e], sample_weight=None if W is None else W[s:e])
    out.append({"centers": m.cluster_centers_.tolist(), "counts": m._counts.tolist()})
print(json.dumps(out))
"#;

/// sklearn's state after each batch: the first of `first` rows, then of `bs` rows.
fn sklearn_partial(
    x: &Matrix,
    init: &Matrix,
    w: Option<&[f64]>,
    first: usize,
    bs: usize,
) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let (xp, cp, wp) = (
        dir.path().join("x.csv"),
        dir.path().join("c.csv"),
        dir.path().join("w.txt"),
    );
    write_csv(&xp, x);
    write_csv(&cp, init);
    let wp = match w {
        Some(w) => {
            write_lines(&wp, &w.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>());
            wp
        }
        None => "-".into(),
    };
    let bs = std::path::PathBuf::from(bs.to_string());
    let first = std::path::PathBuf::from(first.to_string());
    python(SKLEARN_PARTIAL, &[&xp, &cp, &wp, &bs, &first])
        .as_array()
        .unwrap()
        .clone()
}

fn init_rows(x: &Matrix, rows: &[usize]) -> Matrix {
    Matrix::from_rows(&rows.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn partial_fit_equals_sklearn_batch_by_batch() {
    if !sklearn_available() {
        return;
    }
    let centres = vec![
        vec![0.0, 0.0, 0.0],
        vec![5.0, 5.0, 0.0],
        vec![0.0, 6.0, 3.0],
        vec![-4.0, 2.0, 8.0],
    ];
    let x = blobs(1, 2000, &centres, 2.0);
    let mut rng = StdRng::seed_from_u64(2);
    let w: Vec<f64> = (0..x.rows()).map(|_| rng.random_range(0.2..2.5)).collect();
    let init = init_rows(&x, &[0, 1, 2, 3, 4]);
    for (weights, bs) in [(None, 100), (Some(w.as_slice()), 128)] {
        let refs = sklearn_partial(&x, &init, weights, bs, bs);
        let mut m = MiniBatchKMeans::new(MiniBatchParams {
            k: 5,
            init: Init::Given(init.clone()),
            batch_size: bs,
            reassignment_ratio: 0.0,
            seed: 0,
        })
        .unwrap();
        assert_eq!(refs.len(), x.rows().div_ceil(bs));
        for (b, r) in refs.iter().enumerate() {
            let to = ((b + 1) * bs).min(x.rows());
            let wb = weights.map(|w| &w[b * bs..to]);
            m.partial_fit(&slice(&x, b * bs, to), wb).unwrap();
            let what = format!("weights {}, batch {b}", weights.is_some());
            assert_close(
                &format!("{what}: centres"),
                m.centers().unwrap().values(),
                &flat(&r["centers"]),
                1e-9,
            );
            assert_close(
                &format!("{what}: counts"),
                m.counts(),
                &floats(&r["counts"]),
                1e-9,
            );
        }
    }
}

#[test]
fn streaming_equals_sklearn_on_one_row_batches() {
    if !sklearn_available() {
        return;
    }
    let centres = vec![
        vec![0.0, 0.0, 0.0, 1.0],
        vec![4.0, 4.0, 0.0, 0.0],
        vec![0.0, 5.0, 3.0, -2.0],
    ];
    let x = blobs(3, 400, &centres, 1.5);
    let mut rng = StdRng::seed_from_u64(4);
    let w: Vec<f64> = (0..x.rows()).map(|_| rng.random_range(0.5..2.0)).collect();
    let init = init_rows(&x, &[0, 1, 2, 3]);
    // sklearn's first batch must hold k rows: the 4 initial rows, each landing on its own
    // centre, which is what 4 single updates do too.
    let refs = sklearn_partial(&x, &init, Some(&w), 4, 1);
    let mut s = StreamingKMeans::new(&init, None).unwrap();
    for (i, &wi) in w.iter().enumerate().take(3) {
        assert_eq!(s.update(x.row(i), wi).unwrap(), i as u32);
    }
    for (r, i) in refs.iter().zip(3..) {
        s.update(x.row(i), w[i]).unwrap();
        assert_close(
            &format!("point {i}: centres"),
            s.centers(),
            &flat(&r["centers"]),
            1e-9,
        );
        assert_close(
            &format!("point {i}: counts"),
            s.counts(),
            &floats(&r["counts"]),
            1e-9,
        );
    }
}

#[test]
fn reassignment_moves_a_starved_centre_onto_a_batch_row() {
    let centres = vec![vec![0.0, 0.0], vec![6.0, 0.0]];
    let x = blobs(5, 500, &centres, 1.0);
    let init = Matrix::from_rows(&[vec![0.0, 0.0], vec![6.0, 0.0], vec![1e4, 1e4]]).unwrap();
    let mut m = MiniBatchKMeans::new(MiniBatchParams {
        k: 3,
        init: Init::Given(init),
        batch_size: 100,
        ..MiniBatchParams::default()
    })
    .unwrap();
    let batch = slice(&x, 0, 100);
    m.partial_fit(&batch, None).unwrap();
    let c = m.centers().unwrap();
    // The far centre got nothing, so sklearn's rule puts it on a batch row with the smallest
    // count of the others.
    assert!((0..100).any(|i| batch.row(i) == c.row(2)), "{:?}", c.row(2));
    let counts = m.counts();
    assert_eq!(counts[2], counts[0].min(counts[1]));
    assert_eq!(counts[0] + counts[1], 100.0);
}

#[test]
fn minibatch_kmeans_plus_plus_gets_close_to_batch_kmeans() {
    let centres = vec![
        vec![0.0, 0.0, 0.0],
        vec![8.0, 0.0, 0.0],
        vec![0.0, 8.0, 0.0],
        vec![0.0, 0.0, 8.0],
    ];
    let x = blobs(6, 20_000, &centres, 1.5);
    let full = fit(
        &x,
        None,
        &KMeansParams {
            k: 4,
            n_init: Some(4),
            ..KMeansParams::default()
        },
    )
    .unwrap();
    let mut m = MiniBatchKMeans::new(MiniBatchParams {
        k: 4,
        batch_size: 256,
        seed: 3,
        ..MiniBatchParams::default()
    })
    .unwrap();
    for b in (0..x.rows()).step_by(256) {
        m.partial_fit(&slice(&x, b, (b + 256).min(x.rows())), None)
            .unwrap();
    }
    let labels = m.predict(&x).unwrap();
    let c = m.centers().unwrap();
    let inertia: f64 = (0..x.rows())
        .map(|i| {
            storepulse_mining::cluster::distance::sq_euclidean(x.row(i), c.row(labels[i] as usize))
        })
        .sum();
    assert!(
        inertia <= full.inertia * 1.02,
        "mini-batch {inertia} vs batch {}",
        full.inertia
    );
}

#[test]
fn a_half_life_follows_drifting_customers() {
    // Two segments that walk from x = 0 / 10 to x = 20 / 30 over the stream.
    let n = 50_000;
    let mut rng = StdRng::seed_from_u64(7);
    let init = Matrix::from_rows(&[vec![0.0, 0.0], vec![10.0, 0.0]]).unwrap();
    let mut fixed = StreamingKMeans::new(&init, None).unwrap();
    let mut decayed = StreamingKMeans::new(&init, Some(500.0)).unwrap();
    for i in 0..n {
        let shift = 20.0 * i as f64 / n as f64;
        let base = if rng.random::<bool>() { 0.0 } else { 10.0 };
        let p = [
            base + shift + rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
        ];
        fixed.update(&p, 1.0).unwrap();
        decayed.update(&p, 1.0).unwrap();
    }
    let err = |s: &StreamingKMeans| {
        (s.centers()[0] - 20.0)
            .abs()
            .max((s.centers()[2] - 30.0).abs())
    };
    assert!(
        err(&decayed) < 0.5,
        "decayed centres {:?}",
        decayed.centers()
    );
    assert!(
        err(&fixed) > 5.0,
        "without decay the centres lag: {:?}",
        fixed.centers()
    );
    // The count settles near h / ln 2 split across the two segments.
    let total: f64 = decayed.counts().iter().sum();
    assert!(
        (total - 500.0 / std::f64::consts::LN_2).abs() < 1.0,
        "{total}"
    );
}

#[test]
fn a_snapshot_restores_the_stream_exactly() {
    let x = blobs(8, 4000, &[vec![0.0, 0.0, 0.0], vec![3.0, 3.0, 3.0]], 1.0);
    let init = init_rows(&x, &[0, 1, 2]);
    let mut a = StreamingKMeans::new(&init, Some(300.0)).unwrap();
    for i in 0..2000 {
        a.update(x.row(i), 1.0).unwrap();
    }
    let json = serde_json::to_string(&a.snapshot()).unwrap();
    let snap: StreamingSnapshot = serde_json::from_str(&json).unwrap();
    let mut b = StreamingKMeans::restore(&snap).unwrap();
    assert_eq!(a, b);
    for i in 2000..4000 {
        assert_eq!(
            a.update(x.row(i), 0.5).unwrap(),
            b.update(x.row(i), 0.5).unwrap()
        );
    }
    assert_eq!(a, b);
    assert_eq!(b.seen(), 4000);
}
