//! Helpers shared by the k-means test files: running the python3 references (scikit-learn,
//! numpy, pandas) on data written to temp files, and building the Online Retail RFM table.
//! A missing reference fails the test with what to install, unless
//! `STOREPULSE_TEST_ALLOW_MISSING_REFS` is set (then the test prints `SKIPPED: …` and returns).
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use storepulse_mining::Matrix;

/// True when python3 with sklearn, numpy and pandas runs; otherwise fails, or skips when allowed.
pub fn sklearn_available() -> bool {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = OK.get_or_init(|| {
        match Command::new("python3")
            .args(["-c", "import sklearn, numpy, pandas"])
            .output()
        {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(format!("python3 not runnable: {e}")),
        }
    });
    match r {
        Ok(()) => true,
        Err(why) => missing(&format!(
            "the scikit-learn reference is missing ({}); install python3 with `pip install scikit-learn==1.9.* numpy pandas`",
            why.trim()
        )),
    }
}

pub use crate::refs::{datasets, missing};

/// Runs `python3 -c script args…` and parses its stdout as JSON; panics with stderr on failure.
pub fn python(script: &str, args: &[&Path]) -> serde_json::Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python3 printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Writes rows as CSV with round-trip float formatting.
pub fn write_csv(path: &Path, m: &Matrix) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create csv"));
    for i in 0..m.rows() {
        let row: Vec<String> = m.row(i).iter().map(|v| format!("{v:e}")).collect();
        writeln!(f, "{}", row.join(",")).expect("write csv");
    }
}

/// Writes one value a line.
pub fn write_lines<T: std::fmt::Display>(path: &Path, values: &[T]) {
    let text: String = values.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(path, text).expect("write lines");
}

/// Reads a numeric CSV without header.
pub fn read_csv(path: &Path) -> Matrix {
    let text = std::fs::read_to_string(path).expect("read csv");
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse().expect("a number"))
                .collect()
        })
        .collect();
    Matrix::from_rows(&rows).expect("a matrix")
}

/// A JSON array of numbers.
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// A JSON array of arrays of numbers, flattened row-major.
pub fn flat(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .flat_map(floats)
        .collect()
}

/// A JSON array of labels.
pub fn labels(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_u64().expect("a label") as u32)
        .collect()
}

/// Asserts `|a - b| <= tol · max(1, |b|)` element-wise.
pub fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "{what}[{i}]: {x} vs reference {y}"
        );
    }
}

/// The RFM script: customers with an id, Quantity > 0 and UnitPrice > 0; recency = whole days
/// from (last InvoiceDate + 1 day) back to the customer's last invoice, frequency = distinct
/// invoices, monetary = Σ Quantity·UnitPrice; each column log1p-transformed, then z-scored
/// (population standard deviation, as sklearn's StandardScaler). Rows by CustomerID.
pub const RFM_SCRIPT: &str = r#"
import sys, numpy as np, pandas as pd
src, out = sys.argv[1], sys.argv[2]
df = pd.read_csv(src, dtype={"InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])
df = df[df.CustomerID.notna() & (df.Quantity > 0) & (df.UnitPrice > 0)]
snapshot = df.InvoiceDate.max() + pd.Timedelta(days=1)
df = df.assign(amount=df.Quantity * df.UnitPrice)
g = df.groupby("CustomerID")
rfm = pd.DataFrame({
    "recency": (snapshot - g.InvoiceDate.max()).dt.days,
    "frequency": g.InvoiceNo.nunique(),
    "monetary": g.amount.sum(),
}).sort_index()
z = np.log1p(rfm.to_numpy(dtype=float))
z = (z - z.mean(axis=0)) / z.std(axis=0)
np.savetxt(out, z, delimiter=",", fmt="%.17g")
print('{"rows": %d}' % len(z))
"#;

/// The standardised log-RFM table of Online Retail (built once per test binary), or `None` when
/// skipping is allowed and the data or python is missing.
pub fn rfm() -> Option<&'static Matrix> {
    static RFM: OnceLock<Option<Matrix>> = OnceLock::new();
    RFM.get_or_init(|| {
        let src = datasets().join("online_retail/online_retail.csv.gz");
        if !src.exists() {
            missing(&format!(
                "{} is absent; put the shared data sets there or set STOREPULSE_DATASETS",
                src.display()
            ));
            return None;
        }
        if !sklearn_available() {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("rfm.csv");
        let r = python(RFM_SCRIPT, &[&src, &out]);
        let m = read_csv(&out);
        assert_eq!(r["rows"].as_u64(), Some(m.rows() as u64));
        Some(m)
    })
    .as_ref()
}
