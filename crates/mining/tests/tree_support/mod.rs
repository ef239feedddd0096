//! Shared by the `tree_*` tests: ARFF writing, running Weka 3.6 (`Id3`, `J48`) for real and
//! parsing its printed tree and predictions, and real data sets derived from
//! `shared/datasets` (Taobao user features, Online Retail customer RFM) and scikit-learn's
//! bundled iris. Nothing here holds an expected result: every comparison is against a Weka run.
#![allow(dead_code)]

mod data;
pub use data::*;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use storepulse_mining::{Column, Dataset, tree::Tree};

pub const WEKA_JAR: &str = "/usr/share/java/weka.jar";

/// `Ok(())` when the references can run; otherwise panics with what to install, or prints
/// `SKIPPED` and returns `Err` when STOREPULSE_TEST_ALLOW_MISSING_REFS is set.
pub fn require(what: &str, available: bool, install: &str) -> Result<(), ()> {
    if available || crate::refs::missing(&format!("{what} is needed for this test: {install}")) {
        Ok(())
    } else {
        Err(())
    }
}

pub fn require_weka() -> Result<(), ()> {
    let java = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    require(
        "Weka 3.6 (java + /usr/share/java/weka.jar)",
        java && Path::new(WEKA_JAR).exists(),
        "install a JDK and Weka 3.6, e.g. `apt-get install default-jre weka`",
    )
}

pub fn datasets_dir() -> PathBuf {
    crate::refs::datasets()
}

pub fn require_dataset(rel: &str) -> Result<PathBuf, ()> {
    let p = datasets_dir().join(rel);
    require(
        &format!("the data set {}", p.display()),
        p.exists(),
        "provide shared/datasets (or point STOREPULSE_DATASETS at it)",
    )?;
    Ok(p)
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.+".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// The dataset as ARFF, optionally with `{weight}` instance weights.
pub fn arff(d: &Dataset, weights: Option<&[f64]>) -> String {
    let mut s = String::from("@relation storepulse\n\n");
    for c in d.columns() {
        match c {
            Column::Numeric { name, .. } => writeln!(s, "@attribute {} numeric", quote(name)),
            Column::Nominal { name, levels, .. } => {
                let l: Vec<String> = levels.iter().map(|l| quote(l)).collect();
                writeln!(s, "@attribute {} {{{}}}", quote(name), l.join(","))
            }
        }
        .unwrap();
    }
    s.push_str("\n@data\n");
    for r in 0..d.rows() {
        let cells: Vec<String> = d
            .columns()
            .iter()
            .map(|c| match c {
                Column::Numeric { values, .. } => values[r].map_or("?".into(), |v| format!("{v}")),
                Column::Nominal { levels, values, .. } => {
                    values[r].map_or("?".into(), |v| quote(&levels[v as usize]))
                }
            })
            .collect();
        s.push_str(&cells.join(","));
        if let Some(w) = weights {
            write!(s, ",{{{}}}", w[r]).unwrap();
        }
        s.push('\n');
    }
    s
}

/// Runs a Weka classifier with `-t train.arff -no-cv` (and the class column, 1-based) plus
/// `opts`; returns stdout. Panics with stderr when Weka fails.
pub fn run_weka(
    classifier: &str,
    train: &Path,
    target: usize,
    opts: &[&str],
    extra: &[&str],
) -> String {
    let out = Command::new("java")
        .args(["-Xmx1g", "-cp", WEKA_JAR, classifier, "-t"])
        .arg(train)
        .args(["-c", &(target + 1).to_string()])
        .args(extra)
        .args(opts)
        .output()
        .expect("java runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && !stdout.is_empty(),
        "{classifier} {opts:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What Weka printed for the tree.
#[derive(Debug)]
pub struct WekaTree {
    pub body: String,
    pub leaves: Option<usize>,
    pub size: Option<usize>,
}

/// The J48 tree body (between the dashes and "Number of Leaves"), each line ending in `\n`.
pub fn parse_j48(out: &str) -> WekaTree {
    let start = out
        .find("tree\n------------------\n")
        .expect("a J48 tree header")
        + 24;
    let rest = &out[start..];
    let end = rest.find("\n\nNumber of Leaves").expect("Number of Leaves");
    let body = rest[..end].strip_prefix('\n').unwrap_or(&rest[..end]);
    let num = |key: &str| {
        let i = rest.find(key)? + key.len();
        rest[i..]
            .trim_start_matches([' ', ':', '\t'])
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    };
    WekaTree {
        body: format!("{body}\n"),
        leaves: num("Number of Leaves"),
        size: num("Size of the tree"),
    }
}

/// The Id3 tree body (after "Id3\n\n", up to the timing lines).
pub fn parse_id3(out: &str) -> WekaTree {
    let start = out.find("Id3\n\n").expect("an Id3 header") + 5;
    let rest = &out[start..];
    let end = rest.find("\n\nTime taken").expect("Time taken");
    let body = rest[..end].strip_prefix('\n').unwrap_or(&rest[..end]);
    WekaTree {
        body: format!("{body}\n"),
        leaves: None,
        size: None,
    }
}

/// Asserts our text equals Weka's, showing the first differing line.
pub fn assert_same_text(ours: &str, weka: &str, what: &str) {
    if ours == weka {
        return;
    }
    let (a, b): (Vec<_>, Vec<_>) = (ours.lines().collect(), weka.lines().collect());
    let i = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "{what}: trees differ at line {} (ours {} lines, Weka {}):\n ours: {:?}\n weka: {:?}\n--- ours ---\n{}\n--- weka ---\n{}",
        i + 1,
        a.len(),
        b.len(),
        a.get(i),
        b.get(i),
        head(ours),
        head(weka)
    );
}

fn head(s: &str) -> String {
    s.lines().take(60).collect::<Vec<_>>().join("\n")
}

/// Fits with Weka on the same ARFF and compares the whole printed tree and its counts.
pub fn compare_j48(
    tree: &Tree,
    d: &Dataset,
    target: usize,
    weights: Option<&[f64]>,
    opts: &[&str],
    what: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("train.arff");
    std::fs::write(&f, arff(d, weights)).unwrap();
    let out = run_weka("weka.classifiers.trees.J48", &f, target, opts, &["-no-cv"]);
    let w = parse_j48(&out);
    if std::env::var_os("STOREPULSE_TREE_DUMP").is_some() {
        eprintln!(
            "=== {what}: {} leaves, size {}\n{}",
            tree.leaves(),
            tree.size(),
            tree.to_text()
        );
    }
    assert_same_text(&tree.to_text(), &w.body, what);
    assert_eq!(Some(tree.leaves()), w.leaves, "{what}: leaves");
    assert_eq!(Some(tree.size()), w.size, "{what}: size");
    out
}

/// Weka's predictions (`-T data -p 0 -distribution`) for every row: (predicted class index,
/// distribution rounded as Weka prints it).
pub fn weka_predictions(
    classifier: &str,
    d: &Dataset,
    target: usize,
    weights: Option<&[f64]>,
    opts: &[&str],
) -> Vec<(u32, Vec<f64>)> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("train.arff");
    std::fs::write(&f, arff(d, weights)).unwrap();
    let fs = f.to_str().unwrap();
    let out = run_weka(
        classifier,
        &f,
        target,
        opts,
        &["-T", fs, "-p", "0", "-distribution"],
    );
    let mut preds = Vec::new();
    let mut started = false;
    for line in out.lines() {
        if line.trim_start().starts_with("inst#") {
            started = true;
            continue;
        }
        let toks: Vec<&str> = line.split_whitespace().collect();
        if !started || toks.len() < 4 {
            continue;
        }
        let predicted: u32 = toks[2].split(':').next().unwrap().parse().unwrap();
        let dist = toks[toks.len() - 1]
            .split(',')
            .map(|x| x.trim_start_matches('*').parse::<f64>().unwrap())
            .collect();
        preds.push((predicted - 1, dist));
    }
    assert_eq!(preds.len(), d.rows(), "one Weka prediction per row");
    preds
}

/// Our predictions against Weka's for every row: same class, distribution within Weka's
/// printed rounding.
pub fn compare_predictions(tree: &Tree, d: &Dataset, weka: &[(u32, Vec<f64>)], what: &str) {
    for (r, (cls, dist)) in weka.iter().enumerate() {
        let ours = tree.predict(d, r);
        assert_eq!(ours.len(), dist.len(), "{what}: row {}", r + 1);
        for (a, b) in ours.iter().zip(dist) {
            assert!(
                (a - b).abs() <= 0.0005 + 1e-9,
                "{what}: row {} distribution {ours:?} vs Weka {dist:?}",
                r + 1
            );
        }
        assert_eq!(
            tree.classify(d, r),
            *cls,
            "{what}: row {} class ({ours:?} vs {dist:?})",
            r + 1
        );
    }
}
