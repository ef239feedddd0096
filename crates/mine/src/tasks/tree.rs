//! `mine tree`: a decision tree (C4.5 as Weka's J48 by default, or ID3) predicting a target
//! column from the others, printed as Weka prints it, with its size, leaves, accuracy on the
//! training rows and — with `test_share` — on held-out rows (a seeded random split).

use super::parse;
use crate::MineError;
use crate::source::{Ctx, Source};
use crate::typing::typed;
use mining::tree::{C45Params, Tree, c45, id3};
use mining::{Column, Dataset};
use query::analysis::{Analysis, Table};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Parameters of `mine tree`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeParams {
    /// The input table.
    #[serde(flatten)]
    pub source: Source,
    /// The column to predict (categorical).
    pub target: String,
    /// `c45` (default, Weka J48) or `id3`.
    #[serde(default = "c45_name")]
    pub algo: String,
    /// Attribute columns (default: every other column).
    #[serde(default)]
    pub features: Vec<String>,
    /// Pruning confidence factor (J48 -C).
    #[serde(default = "quarter")]
    pub confidence: f32,
    /// Smallest leaf (J48 -M).
    #[serde(default = "two")]
    pub min_leaf: usize,
    /// No pruning (J48 -U).
    #[serde(default)]
    pub unpruned: bool,
    /// No subtree raising (J48 -S).
    #[serde(default)]
    pub no_subtree_raising: bool,
    /// Share of rows held out to measure accuracy (0 = none).
    #[serde(default)]
    pub test_share: f64,
    /// Seed of the held-out split.
    #[serde(default)]
    pub seed: u64,
}

fn c45_name() -> String {
    "c45".into()
}
fn quarter() -> f32 {
    0.25
}
fn two() -> usize {
    2
}

/// The chosen columns of the chosen rows, target last.
pub fn subset(d: &Dataset, cols: &[usize], rows: &[usize]) -> Result<Dataset, MineError> {
    let picked = cols
        .iter()
        .map(|&c| match &d.columns()[c] {
            Column::Numeric { name, values } => Column::Numeric {
                name: name.clone(),
                values: rows.iter().map(|&r| values[r]).collect(),
            },
            Column::Nominal {
                name,
                levels,
                values,
            } => Column::Nominal {
                name: name.clone(),
                levels: levels.clone(),
                values: rows.iter().map(|&r| values[r]).collect(),
            },
        })
        .collect();
    Ok(Dataset::new(picked)?)
}

/// A seeded shuffle's split of `0..n` into (train, test) with `share` held out.
pub fn split(n: usize, share: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>), MineError> {
    if !(0.0..1.0).contains(&share) {
        return Err(MineError::Usage(format!(
            "test_share {share} must be in [0, 1), e.g. 0.3"
        )));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    // SplitMix64 keeps the split the same on every platform and version.
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    let test = (n as f64 * share).round() as usize;
    let test_rows = idx[..test].to_vec();
    let mut train = idx[test..].to_vec();
    train.sort_unstable();
    let mut test_rows = test_rows;
    test_rows.sort_unstable();
    Ok((train, test_rows))
}

/// Fits the tree the parameters ask for on `d` (target last).
pub fn fit(p: &TreeParams, d: &Dataset) -> Result<Tree, MineError> {
    let target = d.columns().len() - 1;
    match p.algo.as_str() {
        "c45" | "j48" => Ok(c45(
            d,
            target,
            &C45Params {
                confidence: p.confidence,
                min_leaf: p.min_leaf,
                unpruned: p.unpruned,
                subtree_raising: !p.no_subtree_raising,
                binary_splits: false,
            },
            None,
        )?),
        "id3" => Ok(id3(d, target)?),
        other => Err(MineError::Usage(format!(
            "unknown algo {other:?}{}; use c45 or id3",
            model::suggest::hint(other, ["c45", "id3"])
        ))),
    }
}

/// Rows per (actual class, predicted class).
pub type Confusion = Vec<((u32, u32), u64)>;

/// Accuracy of `t` on `d`'s rows, and the confusion counts.
pub fn evaluate(t: &Tree, d: &Dataset) -> (f64, Confusion) {
    let target = d.columns().len() - 1;
    let Column::Nominal { values, .. } = &d.columns()[target] else {
        return (0.0, Vec::new());
    };
    let mut confusion = std::collections::BTreeMap::new();
    let (mut right, mut n) = (0u64, 0u64);
    for (row, actual) in values.iter().enumerate() {
        let Some(actual) = *actual else { continue };
        let predicted = t.classify(d, row);
        *confusion.entry((actual, predicted)).or_insert(0u64) += 1;
        n += 1;
        right += u64::from(actual == predicted);
    }
    let acc = if n > 0 { right as f64 / n as f64 } else { 0.0 };
    (acc, confusion.into_iter().collect())
}

/// The tree's figures and tables, evaluated on `train` (and `test` when some rows are held out).
pub fn result(
    name: &str,
    params: Value,
    t: &Tree,
    train: &Dataset,
    test: Option<&Dataset>,
) -> Analysis {
    let (train_acc, train_conf) = evaluate(t, train);
    let mut summary = Map::new();
    summary.insert("target".into(), json!(t.target()));
    summary.insert("size".into(), json!(t.size()));
    summary.insert("leaves".into(), json!(t.leaves()));
    summary.insert("train_rows".into(), json!(train.rows()));
    summary.insert("train_accuracy".into(), super::num(train_acc, 4));
    let mut conf = train_conf;
    if let Some(test) = test {
        let (acc, c) = evaluate(t, test);
        summary.insert("test_rows".into(), json!(test.rows()));
        summary.insert("test_accuracy".into(), super::num(acc, 4));
        conf = c;
    }
    let classes = t.classes();
    let mut confusion = Table::new("confusion", &["actual", "predicted", "rows"]);
    for ((a, p), n) in conf {
        let name = |c: u32| json!(classes.get(c as usize).cloned().unwrap_or_default());
        confusion.push(vec![name(a), name(p), json!(n)]);
    }
    let mut text = Table::new("tree", &["line"]);
    for line in t.to_text().lines() {
        text.push(vec![json!(line)]);
    }
    summary.insert("tree".into(), t.to_json());
    Analysis {
        analysis: name.into(),
        params,
        summary,
        tables: vec![text, confusion],
    }
}

/// Runs `mine tree`.
pub async fn run(ctx: &Ctx<'_>, params: Value) -> Result<Analysis, MineError> {
    let mut p: TreeParams = parse("tree", params)?;
    // The target is a label even when it holds numbers (0/1 flags).
    if !p.source.categorical.contains(&p.target) && !p.source.numeric.contains(&p.target) {
        p.source.categorical.push(p.target.clone());
    }
    let raw = p.source.table(ctx).await?;
    let d = typed(&raw, &p.source.types())?;
    let target = d.index_of(&p.target)?;
    let mut cols: Vec<usize> = if p.features.is_empty() {
        (0..d.columns().len()).filter(|&c| c != target).collect()
    } else {
        p.features
            .iter()
            .map(|f| d.index_of(f).map_err(MineError::from))
            .collect::<Result<_, _>>()?
    };
    cols.retain(|&c| c != target);
    cols.push(target);
    let (train_rows, test_rows) = split(d.rows(), p.test_share, p.seed)?;
    let train = subset(&d, &cols, &train_rows)?;
    let tree = fit(&p, &train)?;
    let test = if test_rows.is_empty() {
        None
    } else {
        Some(subset(&d, &cols, &test_rows)?)
    };
    let params = serde_json::to_value(&p).unwrap_or(Value::Null);
    Ok(result("tree", params, &tree, &train, test.as_ref()))
}
