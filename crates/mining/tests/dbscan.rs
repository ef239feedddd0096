//! DBSCAN against scikit-learn 1.9's `DBSCAN`, run for real: every data set is written bit for
//! bit to a tempfile, sklearn clusters it (`DBSCAN(eps, min_samples, metric).fit(X,
//! sample_weight=w)`), and every label (numbering included) and the core set must be equal.
//! Data: an RFM table of the UCI Online Retail customers (built by pandas), Taobao per-user
//! behaviour counts (thousands of duplicate rows), and adversarial sets: duplicated points,
//! all noise, one big cluster, border rows exactly eps from cores of two clusters, min_samples
//! 1, integer / dyadic / negative weights, every metric, grid and brute-force dimensions.
//!
//! Generated sets sit on a lattice of halves with eps² exact, so the many pairs at exactly eps
//! compare identically in both (sklearn's k-d tree also tests squared distance <= eps²). Only
//! the gaussian sets (cosine, squared euclidean, which sklearn computes through a dot-product
//! identity) could differ on a pair within ~1e-15 of eps; their sizes make that improbable.

mod refs;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use storepulse_mining::Matrix;
use storepulse_mining::cluster::dbscan::{DbscanParams, dbscan};
use storepulse_mining::cluster::distance::Metric;

const REFERENCE: &str = r#"
import json, sys
try:
    import numpy as np
    from sklearn.cluster import DBSCAN
except ImportError as e:
    print("MISSING " + str(e)); sys.exit(0)
out = []
for job in json.load(open(sys.argv[1])):
    x = np.fromfile(job["x"], dtype="<f8").reshape(job["n"], job["d"])
    w = np.fromfile(job["w"], dtype="<f8") if job["w"] else None
    m = DBSCAN(eps=job["eps"], min_samples=job["min_samples"], metric=job["metric"]).fit(x, sample_weight=w)
    out.append({"labels": [int(v) for v in m.labels_], "core": [int(v) for v in m.core_sample_indices_]})
print(json.dumps(out))
"#;

/// One clustering to compare.
struct Case {
    name: String,
    x: Matrix,
    p: DbscanParams,
    w: Option<Vec<f64>>,
}

fn missing(why: String, install: &str) {
    refs::missing(&format!("{why}: install the reference with `{install}`"));
}

fn write_f64(path: &Path, v: &[f64]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for x in v {
        f.write_all(&x.to_le_bytes()).unwrap();
    }
    f.flush().unwrap();
}

/// sklearn's labels and core indices for every case, or `None` when it may be missing.
fn reference(cases: &[Case]) -> Option<Vec<Value>> {
    let dir = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let xf = dir.path().join(format!("x{i}.f64"));
        write_f64(&xf, c.x.values());
        let wf = c.w.as_ref().map(|w| {
            let f = dir.path().join(format!("w{i}.f64"));
            write_f64(&f, w);
            f
        });
        jobs.push(json!({"x": xf, "n": c.x.rows(), "d": c.x.cols(), "w": wf,
                         "eps": c.p.eps, "min_samples": c.p.min_samples, "metric": c.p.metric.name()}));
    }
    let spec = dir.path().join("jobs.json");
    std::fs::write(&spec, serde_json::to_vec(&jobs).unwrap()).unwrap();
    let install = "pip install scikit-learn==1.9.* numpy";
    let out = match Command::new("python3")
        .args(["-c", REFERENCE])
        .arg(&spec)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            missing(format!("python3 cannot be run ({e})"), install);
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(why) = text.strip_prefix("MISSING ") {
        missing(format!("python3 lacks {}", why.trim()), install);
        return None;
    }
    assert!(
        out.status.success(),
        "sklearn DBSCAN failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_str(&text).expect("reference output is JSON"))
}

/// Compares every case; returns how many had at least one cluster and one non-core row, to
/// show the sets exercise something.
fn compare(cases: &[Case]) -> usize {
    let Some(want) = reference(cases) else {
        return 0;
    };
    let mut interesting = 0;
    for (c, w) in cases.iter().zip(&want) {
        let got = dbscan(&c.x, &c.p, c.w.as_deref()).unwrap();
        let what = format!(
            "{}: {} rows × {}, eps {} min_samples {} {}{}",
            c.name,
            c.x.rows(),
            c.x.cols(),
            c.p.eps,
            c.p.min_samples,
            c.p.metric,
            if c.w.is_some() { " weighted" } else { "" }
        );
        let labels: Vec<i32> = serde_json::from_value(w["labels"].clone()).unwrap();
        let core: Vec<usize> = serde_json::from_value(w["core"].clone()).unwrap();
        assert_eq!(got.core, core, "{what}: core rows");
        if got.labels != labels {
            let i = (0..labels.len()).find(|&i| got.labels[i] != labels[i]);
            panic!(
                "{what}: first different label at row {i:?}: {:?} vs sklearn's {:?}",
                i.map(|i| got.labels[i]),
                i.map(|i| labels[i])
            );
        }
        let max = labels.iter().copied().max().unwrap_or(-1);
        assert_eq!(got.n_clusters as i32, max + 1, "{what}: n_clusters");
        if max >= 0 && core.len() < labels.len() {
            interesting += 1;
        }
    }
    interesting
}

fn case(name: &str, x: &Matrix, eps: f64, min_samples: usize, metric: Metric) -> Case {
    Case {
        name: name.to_string(),
        x: x.clone(),
        p: DbscanParams {
            eps,
            min_samples,
            metric,
        },
        w: None,
    }
}

/// A standardised log-RFM table of the Online Retail customers and each one's invoice count,
/// built by pandas and read back exactly (Python's `repr` round-trips).
fn rfm(dir: &Path) -> Option<(Matrix, Vec<f64>)> {
    let script = r#"
import sys
try:
    import numpy as np, pandas as pd
except ImportError as e:
    print("MISSING " + str(e)); sys.exit(0)
df = pd.read_csv(sys.argv[1], dtype={"InvoiceNo": str, "StockCode": str}, encoding="latin-1")
df = df[df.CustomerID.notna() & ~df.InvoiceNo.str.startswith("C") & (df.Quantity > 0)]
df["InvoiceDate"] = pd.to_datetime(df.InvoiceDate)
df["amount"] = df.Quantity * df.UnitPrice
end = df.InvoiceDate.max() + pd.Timedelta(days=1)
g = df.groupby("CustomerID").agg(last=("InvoiceDate", "max"), f=("InvoiceNo", "nunique"), m=("amount", "sum"))
g = g[g.m > 0].sort_index()
x = np.column_stack([np.log1p((end - g["last"]).dt.days.to_numpy(float)), np.log1p(g.f.to_numpy(float)), np.log1p(g.m.to_numpy(float))])
x = (x - x.mean(axis=0)) / x.std(axis=0)
for r, f in zip(x, g.f): print(",".join(repr(float(v)) for v in r) + "," + str(int(f)))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(dir.join("online_retail/online_retail.csv.gz"))
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            missing(
                format!("python3 cannot be run ({e})"),
                "pip install pandas numpy",
            );
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if text.starts_with("MISSING") {
        missing(text.trim().to_string(), "pip install pandas numpy");
        return None;
    }
    assert!(
        out.status.success(),
        "RFM build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = Vec::new();
    let mut freq = Vec::new();
    for l in text.lines() {
        let v: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
        rows.push(v[..3].to_vec());
        freq.push(v[3]);
    }
    Some((Matrix::from_rows(&rows).unwrap(), freq))
}

/// log1p of per-user pv, cart, fav and buy counts for the first `users` Taobao user ids.
fn taobao(dir: &Path, users: usize) -> Matrix {
    let text = std::fs::read_to_string(dir.join("taobao_userbehavior/UserBehavior.csv")).unwrap();
    let mut counts: BTreeMap<u64, [f64; 4]> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        let b = ["pv", "cart", "fav", "buy"]
            .iter()
            .position(|b| *b == f[3])
            .unwrap_or_else(|| panic!("unknown behaviour in {line:?}"));
        counts.entry(f[0].parse().unwrap()).or_default()[b] += 1.0;
    }
    let rows: Vec<Vec<f64>> = counts
        .values()
        .take(users)
        .map(|c| c.iter().map(|v| v.ln_1p()).collect())
        .collect();
    Matrix::from_rows(&rows).unwrap()
}

#[test]
fn online_retail_rfm_customers_match_sklearn() {
    let Some(dir) = refs::datasets_or_skip() else {
        return;
    };
    let Some((x, freq)) = rfm(&dir) else { return };
    assert!(x.rows() > 4000, "{} customers", x.rows());
    let mut cases = Vec::new();
    for (eps, min) in [(0.15, 5), (0.25, 10), (0.4, 20), (0.6, 50), (0.05, 2)] {
        cases.push(case("RFM", &x, eps, min, Metric::Euclidean));
    }
    cases.push(case("RFM", &x, 0.4, 10, Metric::Manhattan));
    cases.push(case("RFM", &x, 0.06, 10, Metric::SqEuclidean));
    cases.push(case("RFM", &x, 0.002, 10, Metric::Cosine));
    let mut weighted = case("RFM by invoices", &x, 0.3, 40, Metric::Euclidean);
    weighted.w = Some(freq);
    cases.push(weighted);
    assert!(
        compare(&cases) >= 6 || std::env::var_os("STOREPULSE_TEST_ALLOW_MISSING_REFS").is_some()
    );
}

#[test]
fn taobao_users_with_many_duplicates_match_sklearn() {
    let Some(dir) = refs::datasets_or_skip() else {
        return;
    };
    let x = taobao(&dir, 5000);
    let cases = vec![
        case("Taobao", &x, 0.3, 5, Metric::Euclidean),
        case("Taobao", &x, 0.8, 30, Metric::Euclidean),
        case("Taobao", &x, 0.7, 4, Metric::Manhattan),
        case("Taobao", &x, 0.05, 3, Metric::Cosine),
    ];
    compare(&cases);
}

/// A lattice of halves (offset far from 0, so the grid keys see big coordinates): exact
/// squared distances, many pairs at exactly eps, many duplicates.
fn lattice(rng: &mut StdRng, n: usize, d: usize, side: i64) -> Matrix {
    let v = (0..n * d)
        .map(|_| rng.random_range(0..side) as f64 * 0.5 - 1000.0)
        .collect();
    Matrix::new(n, d, v).unwrap()
}

#[test]
fn random_lattices_with_exact_eps_ties_match_sklearn() {
    let mut rng = StdRng::seed_from_u64(2024);
    let mut cases = Vec::new();
    for t in 0..120 {
        let d = [1, 2, 2, 3, 3, 4, 5, 7][t % 8];
        let n = rng.random_range(64..400usize);
        let side = [30, 12, 8, 6, 5, 4, 3, 3][t % 8];
        let x = lattice(&mut rng, n, d, side);
        let metric = [Metric::Euclidean, Metric::Manhattan, Metric::SqEuclidean][t % 3];
        let eps = [0.5, 1.0, 1.5, 2.0][rng.random_range(0..4usize)];
        let eps = if metric == Metric::SqEuclidean {
            eps * eps
        } else {
            eps
        };
        // min_samples at a quantile of the neighbourhood sizes (counted plainly here), so that
        // each set has core rows and border or noise rows.
        let mut sizes: Vec<usize> = (0..n)
            .map(|i| {
                (0..n)
                    .filter(|&j| plain(metric, x.row(i), x.row(j)) <= eps)
                    .count()
            })
            .collect();
        sizes.sort_unstable();
        let min = [1, sizes[n * 3 / 10], sizes[n / 2], sizes[n * 7 / 10]][t % 4];
        let mut c = case(&format!("lattice #{t}"), &x, eps, min, metric);
        if t % 5 == 4 {
            // Integer, dyadic, zero and negative weights: exact sums in any order.
            c.w = Some(
                (0..n)
                    .map(|_| rng.random_range(-2..7) as f64 * 0.25)
                    .collect(),
            );
        }
        cases.push(c);
    }
    let interesting = compare(&cases);
    assert!(
        interesting >= 60 || std::env::var_os("STOREPULSE_TEST_ALLOW_MISSING_REFS").is_some(),
        "only {interesting} sets had both clusters and non-core rows"
    );
}

#[test]
fn adversarial_sets_match_sklearn() {
    let mut rng = StdRng::seed_from_u64(99);
    let mut cases = Vec::new();
    // Duplicates: 40 copies each of 5 points plus scattered rows.
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for k in 0..200 {
        rows.push(vec![(k % 5) as f64 * 3.0, 1.0]);
    }
    for _ in 0..100 {
        rows.push(vec![rng.random::<f64>() * 15.0, rng.random::<f64>() * 4.0]);
    }
    let dup = Matrix::from_rows(&rows).unwrap();
    cases.push(case("duplicates", &dup, 0.5, 40, Metric::Euclidean));
    cases.push(case("duplicates", &dup, 0.5, 41, Metric::Euclidean));
    cases.push(case("all noise", &dup, 1e-9, 41, Metric::Euclidean));
    cases.push(case("one big cluster", &dup, 100.0, 5, Metric::Euclidean));
    cases.push(case("min_samples 1", &dup, 0.3, 1, Metric::Manhattan));
    // Borders exactly eps from cores of two clusters, in both numbering orders: cluster A
    // around x = 0, cluster B around x = 4, borders on x = 2 (no core of their own).
    for flip in [false, true] {
        let mut rows = Vec::new();
        // A blob's core (c, 0) is exactly eps = 2 from the border (2, 0); its other rows
        // extend away from the border.
        let blob = |c: f64| {
            let s = if c > 2.0 { 1.0 } else { -1.0 };
            [
                (c, 0.0),
                (c, 1.0),
                (c, -1.0),
                (c + s, 0.0),
                (c + s, 1.0),
                (c + s, -1.0),
            ]
            .map(|(a, b)| vec![a, b])
        };
        let (first, second) = if flip { (4.0, 0.0) } else { (0.0, 4.0) };
        rows.extend(blob(first));
        rows.push(vec![2.0, 0.0]);
        rows.extend(blob(second));
        rows.push(vec![2.0, 0.0]);
        for k in 0..60 {
            rows.push(vec![20.0 + k as f64, 50.0]);
        }
        let x = Matrix::from_rows(&rows).unwrap();
        cases.push(case(
            &format!("equidistant border, flip {flip}"),
            &x,
            2.0,
            5,
            Metric::Euclidean,
        ));
        cases.push(case(
            &format!("equidistant border, flip {flip}"),
            &x,
            2.0,
            5,
            Metric::Manhattan,
        ));
    }
    // Weights: a heavy row is core alone; negative weights stop rows being core.
    let mut wc = case("weights", &dup, 0.6, 3, Metric::Euclidean);
    wc.w = Some(
        (0..dup.rows())
            .map(|i| [1.0, 3.0, -2.0, 0.5, 0.0][i % 5])
            .collect(),
    );
    cases.push(wc);
    // Gaussian data in 8 dimensions (brute force here, a k-d tree in sklearn) and for cosine.
    let g: Vec<f64> = (0..600 * 8).map(|_| gauss(&mut rng)).collect();
    let g8 = Matrix::new(600, 8, g).unwrap();
    cases.push(case("gaussian 8-d", &g8, 2.2, 5, Metric::Euclidean));
    cases.push(case("gaussian 8-d", &g8, 0.2, 4, Metric::Cosine));
    cases.push(case("gaussian 8-d", &g8, 5.0, 5, Metric::SqEuclidean));
    compare(&cases);
}

/// The metric written out, to choose parameters (not to check results).
fn plain(metric: Metric, a: &[f64], b: &[f64]) -> f64 {
    let d = a.iter().zip(b).map(|(x, y)| x - y);
    match metric {
        Metric::Manhattan => d.map(f64::abs).sum(),
        Metric::SqEuclidean => d.map(|v| v * v).sum(),
        _ => d.map(|v| v * v).sum::<f64>().sqrt(),
    }
}

fn gauss(rng: &mut StdRng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[test]
fn bad_parameters_are_refused_naming_them() {
    let x = Matrix::from_rows(&[vec![0.0], vec![1.0]]).unwrap();
    for eps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = dbscan(&x, &DbscanParams::new(eps, 2), None).unwrap_err();
        assert!(e.to_string().starts_with("eps:"), "{e}");
    }
    let e = dbscan(&x, &DbscanParams::new(1.0, 0), None).unwrap_err();
    assert!(e.to_string().starts_with("min_samples:"), "{e}");
    let e = dbscan(&x, &DbscanParams::new(1.0, 2), Some(&[1.0])).unwrap_err();
    assert!(e.to_string().contains("1 weights for 2 rows"), "{e}");
    let e = dbscan(&x, &DbscanParams::new(1.0, 2), Some(&[1.0, f64::NAN])).unwrap_err();
    assert!(e.to_string().contains("row 2"), "{e}");
}
