//! PAM, BUILD and FasterPAM against the `kmedoids` PyPI package 0.5.5, run for real: every
//! dissimilarity is computed here, its exact bits written to a tempfile and handed to
//! `kmedoids.pam_build` / `kmedoids.pam` / `kmedoids.fasterpam(..., n_cpu=1)` (sequential, so
//! deterministic), and the whole results are compared: medoids, every label, the loss bit for
//! bit, `n_iter` and `n_swap`. Data: an RFM table of the UCI Online Retail customers (built by
//! pandas), Taobao per-user behaviour counts (many exact ties and duplicates) and generated
//! tie-heavy grids and near-duplicate pairs, from BUILD and from random starts, full and
//! condensed layouts.

mod refs;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use storepulse_mining::Matrix;
use storepulse_mining::cluster::distance::Metric;
use storepulse_mining::cluster::kmedoids::{
    Dissimilarity, KMedoids, Layout, build_init, fasterpam, pam, pam_swap,
};

const REFERENCE: &str = r#"
import json, struct, sys
try:
    import numpy as np, kmedoids
except ImportError as e:
    print("MISSING " + str(e)); sys.exit(0)
out = []
for job in json.load(open(sys.argv[1])):
    n = job["n"]
    d = np.fromfile(job["file"], dtype="<f8").reshape(n, n)
    init = job.get("init")
    if job["algo"] == "build":
        r = kmedoids.pam_build(d, job["k"])
    elif job["algo"] == "pam":
        m = np.array(init, dtype=np.uint64) if init is not None else job["k"]
        r = kmedoids.pam(d, m, max_iter=job["max_iter"], init="build")
    else:
        r = kmedoids.fasterpam(d, np.array(init, dtype=np.uint64), max_iter=job["max_iter"], n_cpu=1)
    out.append({"medoids": [int(v) for v in r.medoids], "labels": [int(v) for v in r.labels],
                "loss": struct.unpack("<Q", struct.pack("<d", float(r.loss)))[0],
                "n_iter": r.n_iter, "n_swap": r.n_swap})
print(json.dumps(out))
"#;

/// One run to compare.
#[derive(Clone)]
struct Job {
    data: usize,
    algo: &'static str,
    k: usize,
    init: Option<Vec<usize>>,
    max_iter: usize,
}

/// Runs the reference on every job; `None` (after printing why) when it may be missing.
fn reference(dir: &Path, data: &[Dissimilarity], jobs: &[Job]) -> Option<Vec<Value>> {
    let mut files = Vec::new();
    for (i, d) in data.iter().enumerate() {
        let f = dir.join(format!("d{i}.f64"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
        let n = d.len();
        for a in 0..n {
            for b in 0..n {
                w.write_all(&d.get(a, b).to_le_bytes()).unwrap();
            }
        }
        w.flush().unwrap();
        files.push(f);
    }
    let spec: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({"file": files[j.data], "n": data[j.data].len(), "algo": j.algo, "k": j.k,
                   "init": j.init, "max_iter": j.max_iter})
        })
        .collect();
    let spec_file = dir.join("jobs.json");
    std::fs::write(&spec_file, serde_json::to_vec(&spec).unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-c", REFERENCE])
        .arg(&spec_file)
        .output();
    let missing = |why: String| {
        refs::missing(&format!(
            "{why}: install the reference with `pip install kmedoids==0.5.5 numpy`"
        ))
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            missing(format!("python3 cannot be run ({e})"));
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(why) = text.strip_prefix("MISSING ") {
        missing(format!("python3 lacks {}", why.trim()));
        return None;
    }
    assert!(
        out.status.success(),
        "kmedoids failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_str(&text).expect("reference output is JSON"))
}

fn run(d: &Dissimilarity, j: &Job) -> KMedoids {
    match (j.algo, &j.init) {
        ("pam", None) => pam(d, j.k, j.max_iter).unwrap(),
        ("pam", Some(init)) => pam_swap(d, init, j.max_iter).unwrap(),
        ("fasterpam", Some(init)) => fasterpam(d, init, j.max_iter).unwrap(),
        _ => unreachable!("job {}", j.algo),
    }
}

/// Checks every job, on the full and the condensed layout; returns how many were compared.
fn compare(name: &str, data: &[Dissimilarity], jobs: &[Job]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let Some(want) = reference(dir.path(), data, jobs) else {
        return 0;
    };
    let condensed: Vec<Dissimilarity> = data.iter().map(to_condensed).collect();
    for (j, w) in jobs.iter().zip(&want) {
        let what = format!(
            "{name}: {} k={} init={:?} max_iter={} on data #{}",
            j.algo, j.k, j.init, j.max_iter, j.data
        );
        if j.algo == "build" {
            let got = build_init(&data[j.data], j.k).unwrap();
            assert_eq!(json!(got), w["medoids"], "{what}: BUILD medoids");
            continue;
        }
        for d in [&data[j.data], &condensed[j.data]] {
            let got = run(d, j);
            let got = json!({"medoids": got.medoids, "labels": got.labels,
                             "loss": got.loss.to_bits(), "n_iter": got.n_iter, "n_swap": got.n_swaps});
            if &got != w {
                for key in ["medoids", "n_iter", "n_swap", "loss", "labels"] {
                    assert_eq!(got[key], w[key], "{what} ({:?}): {key}", d.layout());
                }
            }
        }
    }
    jobs.len()
}

fn to_condensed(d: &Dissimilarity) -> Dissimilarity {
    let n = d.len();
    let v = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| d.get(i, j))
        .collect();
    Dissimilarity::condensed(n, v).unwrap()
}

/// For each data set: BUILD and PAM for a few k, then PAM SWAP and FasterPAM from random
/// starts (and FasterPAM from BUILD), with an unlimited and a short `max_iter`.
fn jobs_for(data: &[Dissimilarity], ks: &[usize], seed: u64, pam_too: bool) -> Vec<Job> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut jobs = Vec::new();
    for (i, d) in data.iter().enumerate() {
        let n = d.len();
        for &k in ks.iter().filter(|&&k| k <= n) {
            jobs.push(Job {
                data: i,
                algo: "build",
                k,
                init: None,
                max_iter: 0,
            });
            let random: Vec<usize> = rand::seq::index::sample(&mut rng, n, k).into_vec();
            let built = build_init(d, k).unwrap();
            let max_iter = [100, 1, 2][rng.random_range(0..3usize)];
            if pam_too {
                jobs.push(Job {
                    data: i,
                    algo: "pam",
                    k,
                    init: None,
                    max_iter: 100,
                });
                jobs.push(Job {
                    data: i,
                    algo: "pam",
                    k,
                    init: Some(random.clone()),
                    max_iter,
                });
            }
            for init in [random, built] {
                for mi in [100, max_iter] {
                    jobs.push(Job {
                        data: i,
                        algo: "fasterpam",
                        k,
                        init: Some(init.clone()),
                        max_iter: mi,
                    });
                }
            }
        }
    }
    jobs
}

/// Per-user counts of pv, cart, fav and buy for the first `users` user ids of the Taobao sample.
fn taobao_counts(dir: &Path, users: usize) -> Matrix {
    let text = std::fs::read_to_string(dir.join("taobao_userbehavior/UserBehavior.csv")).unwrap();
    let mut counts: BTreeMap<u64, [f64; 4]> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        let Some(b) = ["pv", "cart", "fav", "buy"].iter().position(|b| *b == f[3]) else {
            panic!("unknown behaviour in {line:?}");
        };
        counts.entry(f[0].parse().unwrap()).or_default()[b] += 1.0;
    }
    let rows: Vec<Vec<f64>> = counts.values().take(users).map(|c| c.to_vec()).collect();
    Matrix::from_rows(&rows).unwrap()
}

/// A standardised RFM table (log recency, log frequency, log monetary) of Online Retail
/// customers, built by pandas and read back exactly (Python's `repr` round-trips).
fn rfm(dir: &Path, customers: usize) -> Option<Matrix> {
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
g = g[g.m > 0].sort_index().head(int(sys.argv[2]))
x = np.column_stack([np.log1p((end - g["last"]).dt.days.to_numpy(float)), np.log1p(g.f.to_numpy(float)), np.log1p(g.m.to_numpy(float))])
x = (x - x.mean(axis=0)) / x.std(axis=0)
for r in x: print(",".join(repr(float(v)) for v in r))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(dir.join("online_retail/online_retail.csv.gz"))
        .arg(customers.to_string())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("STOREPULSE_TEST_ALLOW_MISSING_REFS").is_some(),
                "python3 cannot be run ({e}): install python3 with pandas and numpy (or set STOREPULSE_TEST_ALLOW_MISSING_REFS)"
            );
            eprintln!("SKIPPED: python3 cannot be run ({e})");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if text.starts_with("MISSING") {
        assert!(
            std::env::var_os("STOREPULSE_TEST_ALLOW_MISSING_REFS").is_some(),
            "{text}: pip install pandas numpy (or set STOREPULSE_TEST_ALLOW_MISSING_REFS)"
        );
        eprintln!("SKIPPED: {text}");
        return None;
    }
    assert!(
        out.status.success(),
        "RFM build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    Some(Matrix::from_rows(&rows).unwrap())
}

#[test]
fn online_retail_rfm_customers_match_kmedoids() {
    let Some(dir) = refs::datasets_or_skip() else {
        return;
    };
    let Some(x) = rfm(&dir, 1500) else { return };
    assert_eq!(x.rows(), 1500);
    let small = Matrix::new(400, 3, x.values()[..1200].to_vec()).unwrap();
    let data = vec![
        Dissimilarity::from_matrix(&small, Metric::Euclidean).unwrap(),
        Dissimilarity::from_matrix(&small, Metric::Manhattan).unwrap(),
    ];
    let n = compare("RFM 400", &data, &jobs_for(&data, &[1, 2, 5, 9], 7, true));
    let big = vec![Dissimilarity::from_matrix(&x, Metric::Euclidean).unwrap()];
    let m = compare("RFM 1500", &big, &jobs_for(&big, &[3, 8, 20], 8, false));
    eprintln!("compared {} runs", n + m);
}

#[test]
fn taobao_behaviour_counts_with_their_ties_match_kmedoids() {
    let Some(dir) = refs::datasets_or_skip() else {
        return;
    };
    let x = taobao_counts(&dir, 600);
    let data = vec![
        Dissimilarity::from_matrix(&x, Metric::Manhattan).unwrap(),
        Dissimilarity::from_matrix(&x, Metric::Euclidean).unwrap(),
        Dissimilarity::from_matrix(&x, Metric::Cosine).unwrap(),
    ];
    compare("Taobao", &data, &jobs_for(&data, &[2, 4, 7], 11, true));
}

/// Small generated sets built to tie: integer grids (many equal sums and duplicate rows),
/// 1-d values on a 0.1 lattice (ties broken only by rounding), near-duplicate pairs (each pair
/// gives two swaps of equal exact gain) and plain gaussian noise.
fn generated(seed: u64, count: usize) -> Vec<Dissimilarity> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|t| {
            let n = rng.random_range(8..60usize);
            let (rows, metric): (Vec<Vec<f64>>, Metric) = match t % 4 {
                0 => (
                    (0..n)
                        .map(|_| (0..3).map(|_| rng.random_range(0..3) as f64).collect())
                        .collect(),
                    Metric::Manhattan,
                ),
                1 => (
                    (0..n)
                        .map(|_| vec![rng.random_range(0..6) as f64 * 0.1])
                        .collect(),
                    Metric::Euclidean,
                ),
                2 => {
                    let centres: Vec<[f64; 2]> = (0..n / 2)
                        .map(|_| [rng.random::<f64>() * 6.0, rng.random::<f64>() * 6.0])
                        .collect();
                    (
                        (0..2)
                            .flat_map(|_| centres.clone())
                            .map(|c| {
                                c.iter()
                                    .map(|v| v + (rng.random::<f64>() - 0.5) * 0.2)
                                    .collect()
                            })
                            .collect(),
                        Metric::Euclidean,
                    )
                }
                _ => (
                    (0..n)
                        .map(|_| (0..4).map(|_| rng.random::<f64>()).collect())
                        .collect(),
                    Metric::SqEuclidean,
                ),
            };
            Dissimilarity::from_matrix(&Matrix::from_rows(&rows).unwrap(), metric).unwrap()
        })
        .collect()
}

#[test]
fn tie_heavy_generated_data_matches_kmedoids() {
    let data = generated(42, 60);
    let jobs = jobs_for(&data, &[1, 2, 3, 6], 43, true);
    let n = compare("generated", &data, &jobs);
    eprintln!("compared {n} runs");
}

#[test]
fn bad_input_is_refused_naming_what_to_fix() {
    let d = Dissimilarity::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.0]]).unwrap();
    let e = pam(&d, 3, 10).unwrap_err().to_string();
    assert!(e.contains("k = 3") && e.contains("2 rows"), "{e}");
    let e = fasterpam(&d, &[], 10).unwrap_err().to_string();
    assert!(e.starts_with("k:"), "{e}");
    let e = Dissimilarity::from_rows(&[vec![0.0, 1.0, 2.0], vec![1.0, 0.0, 3.0]]).unwrap_err();
    assert!(e.to_string().contains("square"), "{e}");
    let e = Dissimilarity::full(3, vec![0.0; 8]).unwrap_err();
    assert!(e.to_string().contains("square 3 × 3"), "{e}");
    let n = Dissimilarity::MAX_ROWS + 1;
    let x = Matrix::new(n, 1, vec![1.0; n]).unwrap();
    let e = Dissimilarity::from_matrix_as(&x, Metric::Euclidean, Layout::Condensed).unwrap_err();
    assert!(e.to_string().contains("random sample"), "{e}");
}
