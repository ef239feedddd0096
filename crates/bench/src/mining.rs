//! `storepulse bench mining`: each mining algorithm timed on real or seeded data, with its
//! reference (mlxtend, scikit-learn, Weka) timed in the same run on the very same input written
//! to a scratch file — so the ratio is measured, not quoted. Ours is the best of `runs`
//! in-process fits; a reference's time is its own fit (best of `runs` inside one Python
//! process; Weka's "Time taken to build model"), without interpreter or JVM start-up.

use anyhow::{Context, Result, anyhow};
use mining::cluster::{dbscan, kmeans, minibatch};
use mining::rules::{self, ItemsetParams, Metric, RuleParams};
use mining::tree::{C45Params, c45};
use mining::{Baskets, Column, Dataset, Matrix};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One line of the report.
#[derive(Debug, Serialize)]
pub struct Line {
    /// What was timed.
    pub task: String,
    /// Our best time, ms.
    pub ours_ms: f64,
    /// The reference's best time, ms (`None` when it could not run).
    pub reference_ms: Option<f64>,
    /// Which reference.
    pub reference: String,
    /// Reference time / ours.
    pub speedup: Option<f64>,
    /// A figure to compare besides time (inertia, rules, leaves…).
    pub note: String,
}

fn best_ms(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(best)
}

fn python(script: &str) -> Result<String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .context("running python3")?;
    if !out.status.success() {
        return Err(anyhow!("{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn line(task: &str, ours: f64, reference: &str, r: Option<Result<f64>>, note: String) -> Line {
    let reference_ms = match r {
        Some(Ok(ms)) => Some(ms),
        Some(Err(e)) => {
            eprintln!("{task}: the reference did not run: {e}");
            None
        }
        None => None,
    };
    Line {
        task: task.into(),
        ours_ms: ours,
        speedup: reference_ms.map(|r| r / ours),
        reference_ms,
        reference: reference.into(),
        note,
    }
}

/// FP-growth + rules on Groceries (s = 0.006, c = 0.25) against mlxtend.
fn groceries(datasets: &Path, runs: usize) -> Result<Line> {
    let file = datasets.join("groceries/groceries.csv");
    let text = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
    let b = Baskets::parse(&text, ',', false);
    let mut n_rules = 0;
    let ours = best_ms(runs, || {
        let sets = rules::frequent_itemsets(&b, &ItemsetParams::new(0.006))?;
        n_rules = rules::rules(
            &sets,
            b.len() as u64,
            &RuleParams::new(Metric::Confidence, 0.25),
        )?
        .len();
        Ok(())
    })?;
    let script = format!(
        "import time, pandas as pd\n\
         from mlxtend.preprocessing import TransactionEncoder\n\
         from mlxtend.frequent_patterns import fpgrowth, association_rules\n\
         tx = [[i for i in l.strip().split(',') if i] for l in open({path:?}) if l.strip()]\n\
         te = TransactionEncoder(); df = pd.DataFrame(te.fit(tx).transform(tx), columns=te.columns_)\n\
         best = 1e9\n\
         for _ in range({runs}):\n\
         \x20   t = time.perf_counter(); f = fpgrowth(df, min_support=0.006, use_colnames=True)\n\
         \x20   r = association_rules(f, len(df), metric='confidence', min_threshold=0.25)\n\
         \x20   best = min(best, time.perf_counter() - t)\n\
         print(best * 1e3, len(r))",
        path = file.display().to_string()
    );
    let r = python(&script).and_then(|s| {
        let mut it = s.split_whitespace();
        let ms: f64 = it.next().unwrap_or("").parse()?;
        let theirs: usize = it.next().unwrap_or("").parse()?;
        if theirs != n_rules {
            return Err(anyhow!("mlxtend found {theirs} rules, we {n_rules}"));
        }
        Ok(ms)
    });
    Ok(line(
        "FP-growth + rules, Groceries s=0.006 c=0.25",
        ours,
        "mlxtend fpgrowth + association_rules",
        Some(r),
        format!("{n_rules} rules, equal counts"),
    ))
}

/// FP-growth on Online Retail's invoices at s = 0.01 (ours only: the target is under 1 s).
fn invoices(datasets: &Path, runs: usize) -> Result<Line> {
    let file = datasets.join("online_retail/online_retail.csv.gz");
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&file)?);
    let mut rd = csv::ReaderBuilder::new().from_reader(gz);
    let mut by_invoice: std::collections::HashMap<String, Vec<String>> = Default::default();
    for rec in rd.byte_records() {
        let rec = rec?;
        let inv = String::from_utf8_lossy(&rec[0]).into_owned();
        if inv.starts_with('C') {
            continue;
        }
        by_invoice
            .entry(inv)
            .or_default()
            .push(String::from_utf8_lossy(&rec[1]).into_owned());
    }
    let b = Baskets::from_names(by_invoice.into_values());
    let mut sets = 0;
    let ours = best_ms(runs, || {
        sets = rules::frequent_itemsets(&b, &ItemsetParams::new(0.01))?.len();
        Ok(())
    })?;
    Ok(line(
        &format!("FP-growth, Online Retail {} invoices s=0.01", b.len()),
        ours,
        "(target < 1 s)",
        None,
        format!("{sets} itemsets"),
    ))
}

/// Writes a matrix as CSV without a header.
fn write_matrix(x: &Matrix, path: &Path) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..x.rows() {
        let row: Vec<String> = x.row(i).iter().map(|v| format!("{v:?}")).collect();
        writeln!(f, "{}", row.join(","))?;
    }
    Ok(f.flush()?)
}

/// The Online Retail RFM table, log1p + z-scored (as `mine segments` clusters it).
fn rfm(datasets: &Path) -> Result<Matrix> {
    use std::collections::{BTreeMap, HashSet};
    let file = datasets.join("online_retail/online_retail.csv.gz");
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&file)?);
    let mut rd = csv::ReaderBuilder::new().from_reader(gz);
    // customer → (last day, invoices, spend)
    let mut c: BTreeMap<String, (chrono::NaiveDate, HashSet<String>, f64)> = BTreeMap::new();
    let mut last_day = chrono::NaiveDate::MIN;
    for rec in rd.byte_records() {
        let rec = rec?;
        let text = |i: usize| String::from_utf8_lossy(&rec[i]).into_owned();
        let (Ok(q), Ok(p)) = (text(3).parse::<f64>(), text(5).parse::<f64>()) else {
            continue;
        };
        let cust = text(6);
        if cust.is_empty() || q <= 0.0 || p <= 0.0 {
            continue;
        }
        // "2010-12-01 08:26:00" (the UCI original writes "12/1/2010 8:26").
        let date = text(4);
        let day_text = date.split(' ').next().unwrap_or("");
        let Some(day) = ["%Y-%m-%d", "%m/%d/%Y"]
            .iter()
            .find_map(|f| chrono::NaiveDate::parse_from_str(day_text, f).ok())
        else {
            continue;
        };
        last_day = last_day.max(day);
        let e = c.entry(cust).or_insert((day, HashSet::new(), 0.0));
        e.0 = e.0.max(day);
        e.1.insert(text(0));
        e.2 += q * p;
    }
    let raw: Vec<[f64; 3]> = c
        .values()
        .map(|(l, inv, m)| {
            let recency = (last_day - *l).num_days() + 1;
            [
                (recency as f64).ln_1p(),
                (inv.len() as f64).ln_1p(),
                m.ln_1p(),
            ]
        })
        .collect();
    let n = raw.len() as f64;
    let mut data = Vec::with_capacity(raw.len() * 3);
    let mean: Vec<f64> = (0..3)
        .map(|j| raw.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let sd: Vec<f64> = (0..3)
        .map(|j| (raw.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    for r in &raw {
        for j in 0..3 {
            data.push((r[j] - mean[j]) / sd[j]);
        }
    }
    Ok(Matrix::new(raw.len(), 3, data)?)
}

/// k-means k = 4, n_init = 10 on the RFM table against scikit-learn.
fn kmeans_rfm(datasets: &Path, scratch: &Path, runs: usize) -> Result<Line> {
    let x = rfm(datasets)?;
    let path = scratch.join("rfm.csv");
    write_matrix(&x, &path)?;
    let p = kmeans::KMeansParams {
        k: 4,
        n_init: Some(10),
        ..Default::default()
    };
    let mut inertia = 0.0;
    let ours = best_ms(runs, || {
        inertia = kmeans::fit(&x, None, &p)?.inertia;
        Ok(())
    })?;
    let script = format!(
        "import time, numpy as np\nfrom sklearn.cluster import KMeans\n\
         X = np.loadtxt({path:?}, delimiter=',')\nbest = 1e9\n\
         for _ in range({runs}):\n\
         \x20   t = time.perf_counter(); m = KMeans(n_clusters=4, n_init=10, random_state=0).fit(X)\n\
         \x20   best = min(best, time.perf_counter() - t)\n\
         print(best * 1e3, m.inertia_)",
        path = path.display().to_string()
    );
    let mut theirs = f64::NAN;
    let r = python(&script).and_then(|s| {
        let mut it = s.split_whitespace();
        let ms: f64 = it.next().unwrap_or("").parse()?;
        theirs = it.next().unwrap_or("").parse()?;
        Ok(ms)
    });
    Ok(line(
        &format!(
            "k-means k=4 n_init=10, Online Retail RFM ({} rows)",
            x.rows()
        ),
        ours,
        "scikit-learn KMeans",
        Some(r),
        format!(
            "inertia {inertia:.4} vs {theirs:.4} (ratio {:.5})",
            inertia / theirs
        ),
    ))
}

/// Seeded blobs: `n` points in `d` dimensions around 25 centres, 5 % uniform noise.
fn blobs(n: usize, d: usize, seed: u64) -> Result<Matrix> {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let centres: Vec<f64> = (0..25 * d).map(|_| next() * 20.0).collect();
    let mut data = Vec::with_capacity(n * d);
    for i in 0..n {
        let noise = i % 20 == 0;
        let c = (next() * 25.0) as usize % 25;
        for j in 0..d {
            data.push(if noise {
                next() * 20.0
            } else {
                // A sum of uniforms: roughly normal, σ ≈ 0.3.
                centres[c * d + j] + (next() + next() + next() - 1.5) * 0.6
            });
        }
    }
    Ok(Matrix::new(n, d, data)?)
}

/// DBSCAN on 100K 2-d rows against scikit-learn.
fn dbscan_100k(scratch: &Path, runs: usize) -> Result<Line> {
    let x = blobs(100_000, 2, 7)?;
    let path = scratch.join("blobs.csv");
    write_matrix(&x, &path)?;
    let p = dbscan::DbscanParams::new(0.15, 10);
    let mut clusters = 0;
    let ours = best_ms(runs, || {
        clusters = dbscan::dbscan(&x, &p, None)?.n_clusters;
        Ok(())
    })?;
    let script = format!(
        "import time, numpy as np\nfrom sklearn.cluster import DBSCAN\n\
         X = np.loadtxt({path:?}, delimiter=',')\nbest = 1e9\n\
         for _ in range({runs}):\n\
         \x20   t = time.perf_counter(); m = DBSCAN(eps=0.15, min_samples=10).fit(X)\n\
         \x20   best = min(best, time.perf_counter() - t)\n\
         print(best * 1e3, len(set(m.labels_) - {{-1}}))",
        path = path.display().to_string()
    );
    let r = python(&script).and_then(|s| {
        let mut it = s.split_whitespace();
        let ms: f64 = it.next().unwrap_or("").parse()?;
        let theirs: usize = it.next().unwrap_or("").parse()?;
        if theirs != clusters {
            return Err(anyhow!("sklearn found {theirs} clusters, we {clusters}"));
        }
        Ok(ms)
    });
    Ok(line(
        "DBSCAN eps=0.15 min_samples=10, 100K 2-d rows",
        ours,
        "scikit-learn DBSCAN",
        Some(r),
        format!("{clusters} clusters, equal counts"),
    ))
}

/// J48 on 100K generated rows (3 numeric, 2 nominal attributes, 3 classes) against Weka.
fn j48_100k(scratch: &Path, runs: usize) -> Result<Line> {
    let x = blobs(100_000, 3, 11)?;
    let n = x.rows();
    let colour = ["red", "green", "blue", "grey"];
    let size = ["s", "m", "l"];
    let nominal = |i: usize, j: usize, len: usize| ((i * 7 + j * 13 + i / 3) % len) as u32;
    let cls: Vec<Option<u32>> = (0..n)
        .map(|i| {
            let r = x.row(i);
            Some(if r[0] + 0.5 * r[1] > 15.0 {
                0
            } else if r[2] > 10.0 {
                1
            } else {
                2
            })
        })
        .collect();
    let mut cols: Vec<Column> = (0..3)
        .map(|j| Column::Numeric {
            name: format!("x{j}"),
            values: (0..n).map(|i| Some(x.row(i)[j])).collect(),
        })
        .collect();
    cols.push(Column::Nominal {
        name: "colour".into(),
        levels: colour.iter().map(|s| s.to_string()).collect(),
        values: (0..n).map(|i| Some(nominal(i, 1, 4))).collect(),
    });
    cols.push(Column::Nominal {
        name: "size".into(),
        levels: size.iter().map(|s| s.to_string()).collect(),
        values: (0..n).map(|i| Some(nominal(i, 2, 3))).collect(),
    });
    cols.push(Column::Nominal {
        name: "class".into(),
        levels: vec!["a".into(), "b".into(), "c".into()],
        values: cls,
    });
    let d = Dataset::new(cols)?;
    let arff = scratch.join("j48.arff");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&arff)?);
        writeln!(f, "@relation bench")?;
        for j in 0..3 {
            writeln!(f, "@attribute x{j} numeric")?;
        }
        writeln!(f, "@attribute colour {{red,green,blue,grey}}")?;
        writeln!(f, "@attribute size {{s,m,l}}")?;
        writeln!(f, "@attribute class {{a,b,c}}\n@data")?;
        for i in 0..n {
            let r = x.row(i);
            let cell = |c: usize| match &d.columns()[c] {
                Column::Nominal { levels, values, .. } => {
                    levels[values[i].unwrap_or(0) as usize].clone()
                }
                Column::Numeric { .. } => String::new(),
            };
            writeln!(
                f,
                "{:?},{:?},{:?},{},{},{}",
                r[0],
                r[1],
                r[2],
                cell(3),
                cell(4),
                cell(5)
            )?;
        }
        f.flush()?;
    }
    let mut leaves = 0;
    let ours = best_ms(runs, || {
        leaves = c45(&d, 5, &C45Params::default(), None)?.leaves();
        Ok(())
    })?;
    let weka = (|| -> Result<f64> {
        let mut best = f64::INFINITY;
        for _ in 0..runs.min(3) {
            let out = Command::new("java")
                .args([
                    "-cp",
                    "/usr/share/java/weka.jar",
                    "weka.classifiers.trees.J48",
                    "-no-cv",
                    "-t",
                ])
                .arg(&arff)
                .output()
                .context("running java (Weka: apt-get install weka)")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let secs: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("Time taken to build model: "))
                .and_then(|l| l.split_whitespace().next())
                .ok_or_else(|| {
                    anyhow!(
                        "Weka printed no build time: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                })?
                .parse()?;
            let theirs: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("Number of Leaves  : "))
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            if theirs != leaves {
                return Err(anyhow!("Weka's tree has {theirs} leaves, ours {leaves}"));
            }
            best = best.min(secs * 1e3);
        }
        Ok(best)
    })();
    Ok(line(
        "J48 (C4.5) -C 0.25 -M 2, 100K rows",
        ours,
        "Weka 3.6 J48 (build time)",
        Some(weka),
        format!("{leaves} leaves, equal counts"),
    ))
}

/// Streaming k-means updates per second (d = 3, k = 8).
fn streaming(runs: usize) -> Result<Line> {
    let x = blobs(1_000_000, 3, 5)?;
    let init = Matrix::new(8, 3, x.values()[..24].to_vec())?;
    let ours = best_ms(runs, || {
        let mut s = minibatch::StreamingKMeans::new(&init, None)?;
        for i in 0..x.rows() {
            s.update(x.row(i), 1.0)?;
        }
        Ok(())
    })?;
    Ok(line(
        "streaming k-means, 1M updates (d=3, k=8)",
        ours,
        "(target ≥ 1M points/s)",
        None,
        format!("{:.1}M points/s", 1e3 / ours),
    ))
}

/// Runs every line.
pub fn run(datasets: &Path, runs: usize) -> Result<Vec<Line>> {
    let scratch = tempfile_dir()?;
    let out = vec![
        groceries(datasets, runs)?,
        invoices(datasets, runs)?,
        kmeans_rfm(datasets, &scratch, runs)?,
        dbscan_100k(&scratch, runs)?,
        j48_100k(&scratch, runs)?,
        streaming(runs)?,
    ];
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(out)
}

fn tempfile_dir() -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("storepulse-bench-mining-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rfm_table_has_every_customer_with_a_valid_purchase() {
        let datasets =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
        if !datasets.join("online_retail").is_dir() {
            eprintln!(
                "SKIPPED: no Online Retail data set at {}",
                datasets.display()
            );
            return;
        }
        let x = super::rfm(&datasets).unwrap();
        assert_eq!(x.rows(), 4338);
    }
}
