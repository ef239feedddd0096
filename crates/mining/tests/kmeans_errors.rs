//! Bad input to k-means, the silhouette and mini-batch/streaming k-means: each is refused with
//! a `MiningError` whose whole message (checked here word for word) names the parameter, row or
//! column and says what is allowed. No reference: sklearn's messages differ and are not the spec.

use storepulse_mining::cluster::kmeans::{Init, KMeansParams, fit};
use storepulse_mining::cluster::minibatch::{
    MiniBatchKMeans, MiniBatchParams, StreamingKMeans, StreamingSnapshot,
};
use storepulse_mining::cluster::silhouette::{silhouette_sample, silhouette_score};
use storepulse_mining::{Matrix, MiningError};

fn five_rows() -> Matrix {
    Matrix::from_rows(&[
        vec![0.0, 0.0],
        vec![1.0, 0.0],
        vec![0.0, 1.0],
        vec![5.0, 5.0],
        vec![6.0, 5.0],
    ])
    .unwrap()
}

fn err(x: &Matrix, w: Option<&[f64]>, p: KMeansParams) -> String {
    fit(x, w, &p).unwrap_err().to_string()
}

fn k(k: usize) -> KMeansParams {
    KMeansParams {
        k,
        ..KMeansParams::default()
    }
}

#[test]
fn kmeans_refuses_bad_parameters() {
    let x = five_rows();
    assert_eq!(err(&x, None, k(0)), "k: must be at least 1 cluster");
    assert_eq!(
        fit(&x, None, &k(9)).unwrap_err(),
        MiningError::TooFewRows { k: 9, rows: 5 }
    );
    assert_eq!(
        err(&x, None, k(9)),
        "k = 9 is larger than the 5 rows of the input; ask for at most 5 clusters"
    );
    let p = |f: fn(&mut KMeansParams)| {
        let mut p = k(2);
        f(&mut p);
        p
    };
    assert_eq!(
        err(&x, None, p(|p| p.tol = -0.1)),
        "tol: -0.1 is not allowed; use a finite tolerance >= 0 (default 1e-4)"
    );
    assert_eq!(
        err(&x, None, p(|p| p.tol = f64::NAN)),
        "tol: NaN is not allowed; use a finite tolerance >= 0 (default 1e-4)"
    );
    assert_eq!(
        err(&x, None, p(|p| p.max_iter = 0)),
        "max_iter: must be at least 1 iteration"
    );
    assert_eq!(
        err(&x, None, p(|p| p.n_init = Some(0))),
        "n_init: must be at least 1 restart"
    );
    let three = Matrix::from_rows(&[vec![0.0, 0.0, 0.0], vec![1.0, 1.0, 1.0]]).unwrap();
    assert_eq!(
        err(
            &x,
            None,
            KMeansParams {
                k: 2,
                init: Init::Given(three),
                ..KMeansParams::default()
            }
        ),
        "init: the given centres are 2 × 3, but k = 2 and the data has 2 columns; pass 2 rows of 2 values"
    );
    let two = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 1.0]]).unwrap();
    assert_eq!(
        err(
            &x,
            None,
            KMeansParams {
                k: 3,
                init: Init::Given(two),
                ..KMeansParams::default()
            }
        ),
        "init: the given centres are 2 × 2, but k = 3 and the data has 2 columns; pass 3 rows of 2 values"
    );
}

#[test]
fn kmeans_refuses_bad_weights() {
    let x = five_rows();
    assert_eq!(
        err(&x, Some(&[1.0, 1.0, -1.0, 1.0, 1.0]), k(2)),
        "weights: row 3: weight -1 is not a finite number >= 0"
    );
    assert_eq!(
        err(&x, Some(&[1.0, f64::NAN, 1.0, 1.0, 1.0]), k(2)),
        "weights: row 2: weight NaN is not a finite number >= 0"
    );
    assert_eq!(
        err(&x, Some(&[1.0, 1.0, 1.0, 1.0, f64::INFINITY]), k(2)),
        "weights: row 5: weight inf is not a finite number >= 0"
    );
    assert_eq!(
        err(&x, Some(&[1.0; 4]), k(2)),
        "weights: 4 weights for 5 rows; give one weight per row"
    );
    assert_eq!(
        err(&x, Some(&[0.0; 5]), k(2)),
        "weights: all weights are 0; at least one row needs a positive weight"
    );
    assert_eq!(
        err(
            &x,
            Some(&[1.0, 0.0, 0.0, 0.0, 2.0]),
            KMeansParams {
                k: 3,
                init: Init::Random,
                ..KMeansParams::default()
            }
        ),
        "weights: only 2 rows have a positive weight; random init needs at least k = 3"
    );
}

#[test]
fn a_fitted_model_refuses_other_columns() {
    let m = fit(&five_rows(), None, &k(2)).unwrap();
    let three = Matrix::from_rows(&[vec![0.0, 0.0, 0.0]]).unwrap();
    let msg = "x: 3 columns, but the model was fitted on 2; pass the same features";
    assert_eq!(m.predict(&three).unwrap_err().to_string(), msg);
    assert_eq!(m.transform(&three).unwrap_err().to_string(), msg);
}

#[test]
fn the_silhouette_refuses_bad_labels() {
    let x = five_rows();
    let e = |l: &[u32]| silhouette_score(&x, l).unwrap_err().to_string();
    assert_eq!(
        e(&[0, 0, 0, 0, 0]),
        "labels: 1 distinct labels for 5 rows; the silhouette needs between 2 and 4 clusters"
    );
    assert_eq!(
        e(&[0, 1, 2, 3, 4]),
        "labels: 5 distinct labels for 5 rows; the silhouette needs between 2 and 4 clusters"
    );
    assert_eq!(
        e(&[0, 1]),
        "labels: 2 labels for 5 rows; give one label per row"
    );
    assert_eq!(
        silhouette_sample(&x, &[0, 0, 1, 1], 3, 0)
            .unwrap_err()
            .to_string(),
        "labels: 4 labels for 5 rows; give one label per row"
    );
    let big = Matrix::new(10, 1, (0..10).map(f64::from).collect()).unwrap();
    let l: Vec<u32> = (0..10).map(|i| i % 2).collect();
    assert_eq!(
        silhouette_sample(&big, &l, 2, 0).unwrap_err().to_string(),
        "sample_size: 2 rows are too few; sample at least 3 rows"
    );
}

#[test]
fn minibatch_refuses_bad_parameters_and_batches() {
    let p = |f: fn(&mut MiniBatchParams)| {
        let mut p = MiniBatchParams {
            k: 2,
            ..MiniBatchParams::default()
        };
        f(&mut p);
        MiniBatchKMeans::new(p).unwrap_err().to_string()
    };
    assert_eq!(p(|p| p.k = 0), "k: must be at least 1 cluster");
    assert_eq!(
        p(|p| p.batch_size = 0),
        "batch_size: must be at least 1 row"
    );
    assert_eq!(
        p(|p| p.reassignment_ratio = 1.5),
        "reassignment_ratio: 1.5 is outside 0..=1 (default 0.01, 0 turns reassignment off)"
    );
    let mut m = MiniBatchKMeans::new(MiniBatchParams {
        k: 6,
        ..MiniBatchParams::default()
    })
    .unwrap();
    assert_eq!(
        m.partial_fit(&five_rows(), None).unwrap_err(),
        MiningError::TooFewRows { k: 6, rows: 5 }
    );
    let mut m = MiniBatchKMeans::new(MiniBatchParams {
        k: 2,
        ..MiniBatchParams::default()
    })
    .unwrap();
    m.partial_fit(&five_rows(), None).unwrap();
    let three = Matrix::from_rows(&vec![vec![0.0, 0.0, 0.0]; 3]).unwrap();
    assert_eq!(
        m.partial_fit(&three, None).unwrap_err().to_string(),
        "batch: 3 columns, but the model was started with 2; pass the same features"
    );
    assert_eq!(
        m.partial_fit(&five_rows(), Some(&[1.0, -2.0, 1.0, 1.0, 1.0]))
            .unwrap_err()
            .to_string(),
        "weights: row 2: weight -2 is not a finite number >= 0"
    );
}

#[test]
fn streaming_refuses_bad_points_and_snapshots() {
    let c = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 1.0]]).unwrap();
    assert_eq!(
        StreamingKMeans::new(&c, Some(0.0)).unwrap_err().to_string(),
        "half_life: 0 is not a positive number of points; use e.g. 10000, or none for no decay"
    );
    let mut s = StreamingKMeans::new(&c, None).unwrap();
    assert_eq!(
        s.update(&[1.0, 2.0, 3.0], 1.0).unwrap_err().to_string(),
        "point: 3 values, but the centres have 2; pass the same features"
    );
    assert_eq!(
        s.update(&[1.0, 2.0], -1.0).unwrap_err().to_string(),
        "point: point [1.0, 2.0] with weight -1: values must be finite and the weight >= 0"
    );
    assert_eq!(
        s.update(&[f64::NAN, 2.0], 1.0).unwrap_err().to_string(),
        "point: point [NaN, 2.0] with weight 1: values must be finite and the weight >= 0"
    );
    assert_eq!(
        s.clone().with_counts(&[1.0]).unwrap_err().to_string(),
        "counts: give 2 finite counts >= 0, one per centre"
    );
    let damaged = StreamingSnapshot {
        dim: 2,
        centers: vec![0.0; 3],
        counts: vec![0.0; 2],
        half_life: None,
        seen: 0,
    };
    assert_eq!(
        StreamingKMeans::restore(&damaged).unwrap_err().to_string(),
        "snapshot: 3 centre values do not make 2 centres of 2 columns; the snapshot is damaged"
    );
    // Nothing moved through all of that.
    assert_eq!(s.centers(), c.values());
    assert_eq!(s.seen(), 0);
}
