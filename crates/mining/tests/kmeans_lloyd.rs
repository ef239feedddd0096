//! Lloyd from fixed centres: against a plain Lloyd written here (proptest over random shapes)
//! and against scikit-learn's `KMeans(init=centres, n_init=1)` run through python3 on the same
//! data: every label, centres and inertia to 1e-9 (relative), `n_iter` equal. The cases cover
//! strict and tolerance convergence, hitting `max_iter`, sample weights, one and two empty
//! clusters relocated, and weight 2 == the row twice.

mod kmeans_support;
mod refs;

use kmeans_support::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use storepulse_mining::Matrix;
use storepulse_mining::cluster::distance::sq_euclidean;
use storepulse_mining::cluster::kmeans::{Init, KMeansModel, KMeansParams, fit};

/// Gaussian blobs: `blobs` centres in [-10, 10]^d, unit noise (Box–Muller).
fn blobs(seed: u64, n: usize, d: usize, blobs: usize, spread: f64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f64> = (0..blobs * d)
        .map(|_| rng.random_range(-10.0..10.0))
        .collect();
    let mut v = Vec::with_capacity(n * d);
    for i in 0..n {
        let b = i % blobs;
        for t in 0..d {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            let g = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            v.push(centres[b * d + t] + spread * g);
        }
    }
    Matrix::new(n, d, v).unwrap()
}

/// `k` distinct rows chosen at random, as initial centres.
fn some_rows(x: &Matrix, k: usize, seed: u64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37);
    let mut idx: Vec<usize> = (0..x.rows()).collect();
    for i in 0..k {
        let j = rng.random_range(i..x.rows());
        idx.swap(i, j);
    }
    Matrix::from_rows(
        &idx[..k]
            .iter()
            .map(|&i| x.row(i).to_vec())
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

/// Lloyd as in a textbook: assign to the nearest centre, move centres to their members' mean,
/// stop when no label changes. `None` if a cluster empties (the plain rule has no answer).
fn plain_lloyd(x: &Matrix, init: &Matrix, max_iter: usize) -> Option<(Vec<u32>, Vec<f64>)> {
    let (n, d, k) = (x.rows(), x.cols(), init.rows());
    let mut c = init.values().to_vec();
    let mut labels: Vec<u32> = vec![u32::MAX; n];
    for _ in 0..max_iter {
        let mut changed = false;
        for (i, l) in labels.iter_mut().enumerate() {
            let mut best = 0;
            for j in 1..k {
                if sq_euclidean(x.row(i), &c[j * d..(j + 1) * d])
                    < sq_euclidean(x.row(i), &c[best * d..(best + 1) * d])
                {
                    best = j;
                }
            }
            changed |= *l != best as u32;
            *l = best as u32;
        }
        let mut sum = vec![0.0; k * d];
        let mut cnt = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            let j = l as usize;
            cnt[j] += 1;
            for t in 0..d {
                sum[j * d + t] += x.row(i)[t];
            }
        }
        if cnt.contains(&0) {
            return None;
        }
        for j in 0..k {
            for t in 0..d {
                c[j * d + t] = sum[j * d + t] / cnt[j] as f64;
            }
        }
        if !changed {
            break;
        }
    }
    Some((labels, c))
}

fn given(k: usize, init: &Matrix, tol: f64, max_iter: usize) -> KMeansParams {
    KMeansParams {
        k,
        init: Init::Given(init.clone()),
        tol,
        max_iter,
        ..KMeansParams::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn lloyd_equals_a_plain_lloyd(
        seed in 0u64..1_000_000,
        n in 8usize..300,
        d in 1usize..12,
        k in 1usize..7,
        nb in 1usize..6,
    ) {
        prop_assume!(k <= n);
        let x = blobs(seed, n, d, nb, 1.5);
        let init = some_rows(&x, k, seed);
        let plain = plain_lloyd(&x, &init, 1000);
        prop_assume!(plain.is_some());
        let (labels, centres) = plain.unwrap();
        let m = fit(&x, None, &given(k, &init, 0.0, 1000)).unwrap();
        prop_assert_eq!(&m.labels, &labels);
        for (a, b) in m.centers.values().iter().zip(&centres) {
            prop_assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{} vs {}", a, b);
        }
        let inertia: f64 = (0..n).map(|i| {
            let j = labels[i] as usize;
            sq_euclidean(x.row(i), &centres[j * d..(j + 1) * d])
        }).sum();
        prop_assert!((m.inertia - inertia).abs() <= 1e-9 * inertia.max(1.0));
    }
}

/// One sklearn comparison: data, initial centres, weights, tol, max_iter.
struct Case {
    name: &'static str,
    x: Matrix,
    init: Matrix,
    weights: Option<Vec<f64>>,
    tol: f64,
    max_iter: usize,
}

const SKLEARN_GIVEN: &str = r#"
import sys, json, numpy as np
from sklearn.cluster import KMeans
out = []
for c in json.load(open(sys.argv[1])):
    X = np.loadtxt(c["x"], delimiter=",", ndmin=2)
    C = np.loadtxt(c["init"], delimiter=",", ndmin=2)
    w = np.loadtxt(c["w"], ndmin=1) if c["w"] else None
    m = KMeans(n_clusters=len(C), init=C, n_init=1, max_iter=c["max_iter"], tol=c["tol"],
               algorithm="lloyd").fit(X, sample_weight=w)
    out.append({"labels": m.labels_.tolist(), "centers": m.cluster_centers_.tolist(),
                "inertia": float(m.inertia_), "n_iter": int(m.n_iter_)})
print(json.dumps(out))
"#;

/// Runs every case through sklearn in one python3 call.
fn sklearn_given(cases: &[Case]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let x = dir.path().join(format!("x{i}.csv"));
        let init = dir.path().join(format!("c{i}.csv"));
        write_csv(&x, &c.x);
        write_csv(&init, &c.init);
        let w = c.weights.as_ref().map(|w| {
            let p = dir.path().join(format!("w{i}.txt"));
            write_lines(&p, &w.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>());
            p
        });
        spec.push(
            serde_json::json!({"x": x, "init": init, "w": w, "tol": c.tol, "max_iter": c.max_iter}),
        );
    }
    let spec_path = dir.path().join("cases.json");
    std::fs::write(&spec_path, serde_json::to_string(&spec).unwrap()).unwrap();
    let out = python(SKLEARN_GIVEN, &[&spec_path]);
    out.as_array().unwrap().clone()
}

fn assert_same_as_sklearn(name: &str, m: &KMeansModel, r: &serde_json::Value) {
    assert_eq!(m.labels, labels(&r["labels"]), "{name}: labels");
    assert_close(
        &format!("{name}: centres"),
        m.centers.values(),
        &flat(&r["centers"]),
        1e-9,
    );
    let inertia = r["inertia"].as_f64().unwrap();
    assert!(
        (m.inertia - inertia).abs() <= 1e-9 * inertia.abs().max(1e-300),
        "{name}: inertia {} vs sklearn {inertia}",
        m.inertia
    );
    assert_eq!(
        m.n_iter as u64,
        r["n_iter"].as_u64().unwrap(),
        "{name}: n_iter"
    );
}

/// Row `i` repeated `w[i]` times.
fn duplicated(x: &Matrix, w: &[f64]) -> Matrix {
    let rows: Vec<Vec<f64>> = (0..x.rows())
        .flat_map(|i| std::iter::repeat_n(x.row(i).to_vec(), w[i] as usize))
        .collect();
    Matrix::from_rows(&rows).unwrap()
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let x = blobs(1, 600, 3, 4, 2.0);
    v.push(Case {
        name: "blobs d3 k4",
        init: some_rows(&x, 4, 1),
        x,
        weights: None,
        tol: 1e-4,
        max_iter: 300,
    });
    let x = blobs(2, 1000, 5, 3, 4.0);
    v.push(Case {
        name: "overlapping d5 k6",
        init: some_rows(&x, 6, 2),
        x,
        weights: None,
        tol: 1e-4,
        max_iter: 300,
    });
    let x = blobs(3, 400, 2, 1, 1.0);
    let mut rng = StdRng::seed_from_u64(3);
    let w: Vec<f64> = (0..400).map(|_| rng.random_range(0.1..3.0)).collect();
    v.push(Case {
        name: "weighted uniform d2 k3",
        init: some_rows(&x, 3, 3),
        x,
        weights: Some(w),
        tol: 1e-4,
        max_iter: 300,
    });
    let x = blobs(4, 500, 4, 5, 3.0);
    v.push(Case {
        name: "loose tol d4 k5",
        init: some_rows(&x, 5, 4),
        x,
        weights: None,
        tol: 0.1,
        max_iter: 300,
    });
    // More columns than the unrolled kernels cover (1..=8): the general path.
    let x = blobs(10, 500, 11, 4, 3.0);
    v.push(Case {
        name: "d11 k4",
        init: some_rows(&x, 4, 10),
        x,
        weights: None,
        tol: 1e-4,
        max_iter: 300,
    });
    let x = blobs(5, 200, 1, 2, 3.0);
    v.push(Case {
        name: "max_iter 2 d1 k3",
        init: some_rows(&x, 3, 5),
        x,
        weights: None,
        tol: 0.0,
        max_iter: 2,
    });
    // Far centres get no rows on the first step: one and then two empty clusters relocated.
    for (name, far) in [("one empty", 1usize), ("two empty", 2)] {
        let x = blobs(6 + far as u64, 300, 3, 3, 1.0);
        let mut c: Vec<Vec<f64>> = (0..3).map(|i| x.row(i * 7).to_vec()).collect();
        for f in 0..far {
            c.push(vec![1e3 * (f as f64 + 1.0); 3]);
        }
        v.push(Case {
            name,
            init: Matrix::from_rows(&c).unwrap(),
            x,
            weights: None,
            tol: 1e-4,
            max_iter: 300,
        });
    }
    // Integer weights and the same data with rows repeated.
    let x = blobs(9, 300, 3, 4, 2.5);
    let mut rng = StdRng::seed_from_u64(9);
    let w: Vec<f64> = (0..300).map(|_| rng.random_range(1..4) as f64).collect();
    let init = some_rows(&x, 4, 9);
    v.push(Case {
        name: "repeated rows",
        x: duplicated(&x, &w),
        init: init.clone(),
        weights: None,
        tol: 1e-4,
        max_iter: 300,
    });
    v.push(Case {
        name: "integer weights",
        x,
        init,
        weights: Some(w),
        tol: 1e-4,
        max_iter: 300,
    });
    v
}

#[test]
fn lloyd_from_given_centres_equals_sklearn() {
    if !sklearn_available() {
        return;
    }
    let cases = cases();
    let refs = sklearn_given(&cases);
    for (c, r) in cases.iter().zip(&refs) {
        let m = fit(
            &c.x,
            c.weights.as_deref(),
            &given(c.init.rows(), &c.init, c.tol, c.max_iter),
        )
        .unwrap();
        assert_same_as_sklearn(c.name, &m, r);
    }
}

#[test]
fn weight_two_is_the_row_twice() {
    let x = blobs(11, 400, 3, 4, 2.5);
    let mut rng = StdRng::seed_from_u64(11);
    let w: Vec<f64> = (0..400).map(|_| rng.random_range(1..4) as f64).collect();
    let init = some_rows(&x, 4, 11);
    let p = given(4, &init, 1e-4, 300);
    let weighted = fit(&x, Some(&w), &p).unwrap();
    let dup = fit(&duplicated(&x, &w), None, &p).unwrap();
    let expanded: Vec<u32> = (0..x.rows())
        .flat_map(|i| std::iter::repeat_n(weighted.labels[i], w[i] as usize))
        .collect();
    assert_eq!(expanded, dup.labels);
    assert_close(
        "centres",
        weighted.centers.values(),
        dup.centers.values(),
        1e-9,
    );
    assert!((weighted.inertia - dup.inertia).abs() <= 1e-9 * dup.inertia);
    assert_eq!(weighted.n_iter, dup.n_iter);
}

#[test]
fn predict_and_transform_agree_with_the_fit() {
    let x = blobs(12, 300, 4, 3, 1.0);
    let m = fit(
        &x,
        None,
        &KMeansParams {
            k: 3,
            n_init: Some(3),
            ..KMeansParams::default()
        },
    )
    .unwrap();
    assert_eq!(m.predict(&x).unwrap(), m.labels);
    let t = m.transform(&x).unwrap();
    for i in 0..x.rows() {
        let row = t.row(i);
        let j = m.labels[i] as usize;
        assert!(row.iter().all(|&v| v >= row[j] - 1e-12));
        assert!((row[j] - sq_euclidean(x.row(i), m.centers.row(j)).sqrt()).abs() < 1e-12);
    }
    let inertia: f64 = (0..x.rows())
        .map(|i| t.row(i)[m.labels[i] as usize].powi(2))
        .sum();
    assert!((inertia - m.inertia).abs() <= 1e-9 * m.inertia);
}
