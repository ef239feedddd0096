//! k-means and the silhouette on real data: the Online Retail RFM table (built here by
//! python/pandas from `online_retail.csv.gz`, log1p then z-scored; see `kmeans_support`).
//! Against scikit-learn run through python3 on the same table: k-means++ with `n_init=10`
//! reaches sklearn's inertia (× 1.001; random draws differ, numpy vs `rand`), Lloyd from given
//! centres equals sklearn's whole result, and `silhouette_score` equals sklearn's to 1e-12 on
//! sklearn's labels, on ours, and on labels with singletons and gaps in their numbering.

mod kmeans_support;
mod refs;

use kmeans_support::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use storepulse_mining::Matrix;
use storepulse_mining::cluster::kmeans::{Init, KMeansParams, fit};
use storepulse_mining::cluster::silhouette::{silhouette_sample, silhouette_score};

const SKLEARN_RFM: &str = r#"
import sys, json, numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
X = np.loadtxt(sys.argv[1], delimiter=",")
C = np.loadtxt(sys.argv[2], delimiter=",")
ours = np.loadtxt(sys.argv[3], dtype=np.int64)
pp = KMeans(n_clusters=4, n_init=10, random_state=0).fit(X)
g = KMeans(n_clusters=len(C), init=C, n_init=1).fit(X)
print(json.dumps({
    "pp_inertia": float(pp.inertia_), "pp_labels": pp.labels_.tolist(),
    "sil_pp": float(silhouette_score(X, pp.labels_)), "sil_ours": float(silhouette_score(X, ours)),
    "given": {"labels": g.labels_.tolist(), "centers": g.cluster_centers_.tolist(),
              "inertia": float(g.inertia_), "n_iter": int(g.n_iter_)},
}))
"#;

#[test]
fn rfm_kmeans_and_silhouette_match_sklearn() {
    let Some(x) = rfm() else { return };
    assert!(x.rows() > 4000, "the RFM table has {} customers", x.rows());
    let ours = fit(
        x,
        None,
        &KMeansParams {
            k: 4,
            n_init: Some(10),
            seed: 0,
            ..KMeansParams::default()
        },
    )
    .unwrap();
    // Given centres: rows spread through the table.
    let init = Matrix::from_rows(&[0, 1000, 2000, 3000, 4000].map(|i| x.row(i).to_vec())).unwrap();
    let given = fit(
        x,
        None,
        &KMeansParams {
            k: 5,
            init: Init::Given(init.clone()),
            ..KMeansParams::default()
        },
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (xp, cp, lp) = (
        dir.path().join("x.csv"),
        dir.path().join("c.csv"),
        dir.path().join("l.txt"),
    );
    write_csv(&xp, x);
    write_csv(&cp, &init);
    write_lines(&lp, &ours.labels);
    let r = python(SKLEARN_RFM, &[&xp, &cp, &lp]);

    let sk_inertia = r["pp_inertia"].as_f64().unwrap();
    assert!(
        ours.inertia <= sk_inertia * 1.001,
        "k-means++ n_init=10: inertia {} vs sklearn {sk_inertia}",
        ours.inertia
    );
    let g = &r["given"];
    assert_eq!(given.labels, labels(&g["labels"]), "given centres: labels");
    assert_close(
        "given centres",
        given.centers.values(),
        &flat(&g["centers"]),
        1e-9,
    );
    let gi = g["inertia"].as_f64().unwrap();
    assert!(
        (given.inertia - gi).abs() <= 1e-9 * gi,
        "{} vs {gi}",
        given.inertia
    );
    assert_eq!(given.n_iter as u64, g["n_iter"].as_u64().unwrap());

    let sil = silhouette_score(x, &labels(&r["pp_labels"])).unwrap();
    let sk = r["sil_pp"].as_f64().unwrap();
    assert!(
        (sil - sk).abs() <= 1e-12,
        "silhouette of sklearn's labels {sil} vs {sk}"
    );
    let sil = silhouette_score(x, &ours.labels).unwrap();
    let sk = r["sil_ours"].as_f64().unwrap();
    assert!(
        (sil - sk).abs() <= 1e-12,
        "silhouette of our labels {sil} vs {sk}"
    );

    // The sample estimate is an estimate: near the full value, and the full one when n >= rows.
    let est = silhouette_sample(x, &ours.labels, 1500, 7).unwrap();
    assert!((est - sil).abs() < 0.05, "sampled {est} vs full {sil}");
    assert_eq!(
        silhouette_sample(x, &ours.labels, x.rows(), 7).unwrap(),
        sil
    );
}

#[test]
fn more_restarts_never_raise_the_inertia() {
    let Some(x) = rfm() else { return };
    for init in [Init::KMeansPlusPlus, Init::Random] {
        let p = |n| KMeansParams {
            k: 5,
            n_init: Some(n),
            init: init.clone(),
            seed: 42,
            ..KMeansParams::default()
        };
        // Restart 1 of 10 is the single run (inits come from one generator in order).
        let one = fit(x, None, &p(1)).unwrap();
        let ten = fit(x, None, &p(10)).unwrap();
        assert!(
            ten.inertia <= one.inertia,
            "{init:?}: {} > {}",
            ten.inertia,
            one.inertia
        );
        assert_eq!(
            fit(x, None, &p(10)).unwrap(),
            ten,
            "{init:?}: not deterministic"
        );
    }
}

const SKLEARN_SIL: &str = r#"
import sys, json, numpy as np
from scipy.spatial.distance import cdist
from sklearn.metrics import silhouette_score
X = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
D = cdist(X, X)
out = []
for p in sys.argv[2:]:
    l = np.loadtxt(p, dtype=np.int64)
    out.append([float(silhouette_score(X, l)), float(silhouette_score(D, l, metric="precomputed"))])
print(json.dumps(out))
"#;

/// sklearn's euclidean distances are `sqrt(|x|² - 2x·y + |y|²)`: for two equal rows that is
/// up to ~6e-8 instead of 0, which moves its score by ~1e-12. So with duplicated rows our exact
/// distances are compared with sklearn on exact (scipy `cdist`) distances to 1e-12, and with its
/// own euclidean to 1e-9; without duplicates, with its euclidean to 1e-12.
#[test]
fn silhouette_with_singletons_gaps_and_duplicates_matches_sklearn() {
    if !sklearn_available() {
        return;
    }
    for dups in [false, true] {
        let mut rng = StdRng::seed_from_u64(5);
        let n = 300;
        let mut rows: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..3).map(|_| rng.random_range(-3.0..3.0)).collect())
            .collect();
        if dups {
            for i in 0..20 {
                rows[n - 1 - i] = rows[i].clone();
            }
        }
        let x = Matrix::from_rows(&rows).unwrap();
        let mut sets: Vec<Vec<u32>> = Vec::new();
        // Labels 0, 3, 9 (gaps), with rows 0 and 1 alone in clusters 7 and 11.
        let mut l: Vec<u32> = (0..n).map(|i| [0, 3, 9][i % 3]).collect();
        l[0] = 7;
        l[1] = 11;
        sets.push(l);
        // By the sign of the first coordinate (separated on one axis).
        sets.push((0..n).map(|i| u32::from(x.row(i)[0] > 0.0)).collect());
        // Many small clusters.
        sets.push((0..n).map(|i| (i % 37) as u32).collect());
        // Two rows in one cluster, the rest in another.
        sets.push((0..n).map(|i| u32::from(i < 2)).collect());

        let dir = tempfile::tempdir().unwrap();
        let xp = dir.path().join("x.csv");
        write_csv(&xp, &x);
        let paths: Vec<_> = sets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let p = dir.path().join(format!("l{i}.txt"));
                write_lines(&p, s);
                p
            })
            .collect();
        let mut args = vec![xp.as_path()];
        args.extend(paths.iter().map(|p| p.as_path()));
        let r = python(SKLEARN_SIL, &args);
        for (i, (s, sk)) in sets.iter().zip(r.as_array().unwrap()).enumerate() {
            let (euc, exact) = (sk[0].as_f64().unwrap(), sk[1].as_f64().unwrap());
            let ours = silhouette_score(&x, s).unwrap();
            let tol = if dups { 1e-9 } else { 1e-12 };
            assert!(
                (ours - euc).abs() <= tol,
                "dups {dups}, set {i}: {ours} vs sklearn {euc}"
            );
            assert!(
                (ours - exact).abs() <= 1e-12,
                "dups {dups}, set {i}: {ours} vs exact {exact}"
            );
        }
    }
}
