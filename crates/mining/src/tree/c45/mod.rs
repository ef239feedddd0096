//! C4.5 as Weka 3.6's `J48` (`C45PruneableClassifierTree` with `C45ModelSelection`, or
//! `BinC45ModelSelection` for binary nominal splits): grow, collapse, then pessimistic pruning
//! with subtree raising. This file picks the split at a node (gain ratio among the candidates
//! whose gain reaches the average, less 1e-3) and grows the tree; [`split`] evaluates one
//! attribute, [`prune`] prunes. `tests/tree_j48.rs` and `tests/tree_missing.rs` run Weka's J48
//! on the same ARFF and compare the printed trees byte for byte, and predictions.

mod prune;
mod split;

use super::dist::{Dist, eq, sm};
use super::input::{Attr, Rows, Table};
use super::{Algo, Node, Test, Tree};
use crate::{Dataset, MiningError, Result};
use split::Candidate;

/// J48's options. The default is Weka's `-C 0.25 -M 2` with subtree raising.
#[derive(Debug, Clone, PartialEq)]
pub struct C45Params {
    /// Confidence factor for pruning (`-C`), in (0, 1); smaller prunes more. Kept as `f32`
    /// because Weka does, and its rounding shows in the error estimates. Above 0.5 Weka (and
    /// this) leaves error estimates unmodified.
    pub confidence: f32,
    /// Minimum instances (weight) per branch (`-M`).
    pub min_leaf: usize,
    /// Grow without pruning (`-U`); collapsing still happens, as in Weka.
    pub unpruned: bool,
    /// Consider replacing a node by its largest branch while pruning (on unless `-S`).
    pub subtree_raising: bool,
    /// Binary splits on nominal attributes, `value` vs the rest (`-B`).
    pub binary_splits: bool,
}

impl Default for C45Params {
    fn default() -> C45Params {
        C45Params {
            confidence: 0.25,
            min_leaf: 2,
            unpruned: false,
            subtree_raising: true,
            binary_splits: false,
        }
    }
}

impl C45Params {
    fn validate(&self) -> Result<()> {
        let cf = self.confidence;
        let in_range = cf > 0.0 && cf < 1.0;
        if !self.unpruned && !in_range {
            return Err(MiningError::param(
                "confidence",
                format!("{cf} is outside (0, 1); J48's default is 0.25, smaller values prune more"),
            ));
        }
        Ok(())
    }
}

/// Fits C4.5 (J48) to predict column `target` from every other column. Numeric and nominal
/// attributes may have missing values; `weights` (one per row, >= 0) are instance weights.
/// Rows whose target is missing are left out of training, as Weka does.
pub fn c45(d: &Dataset, target: usize, p: &C45Params, weights: Option<&[f64]>) -> Result<Tree> {
    p.validate()?;
    let tab = Table::new(d, target, "C4.5")?;
    let rows = tab.labelled_rows(weights)?;
    let ctx = Ctx::new(&tab, p);
    // Weka keeps every node's instances only when subtree raising may re-distribute them.
    let keep = p.subtree_raising && !p.unpruned;
    let mut root = grow(&ctx, rows, keep);
    root.collapse();
    if !p.unpruned {
        root.prune(&ctx);
    }
    let root = root.into_node();
    Ok(Tree {
        algo: Algo::C45 {
            pruned: !p.unpruned,
            binary: p.binary_splits,
        },
        info: tab.info,
        target,
        root,
    })
}

/// What every node's model selection shares.
pub(crate) struct Ctx<'a> {
    tab: &'a Table,
    min_obj: f64,
    cf: f32,
    subtree_raising: bool,
    binary: bool,
    /// `m_allData.numInstances()`: all rows, with or without a class.
    all_n: f64,
    /// Weka's `multiVal`: every attribute nominal with at least 0.3 × rows values.
    multi_val: bool,
    /// Per numeric column, its distinct known values over all rows, ascending (for the
    /// printed split point, chosen among all data as Weka's `setSplitPoint` does).
    sorted: Vec<Vec<f64>>,
}

impl<'a> Ctx<'a> {
    fn new(tab: &'a Table, p: &C45Params) -> Ctx<'a> {
        let all_n = tab.class.len() as f64;
        let multi_val = tab.attrs.iter().all(|a| match a {
            Attr::Numeric(_) => false,
            Attr::Nominal { levels, .. } => !sm(*levels as f64, 0.3 * all_n),
            Attr::Target => true,
        });
        let sorted = tab
            .attrs
            .iter()
            .map(|a| match a {
                Attr::Numeric(v) => {
                    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                    s.sort_unstable_by(f64::total_cmp);
                    s.dedup();
                    s
                }
                _ => Vec::new(),
            })
            .collect();
        Ctx {
            tab,
            min_obj: p.min_leaf as f64,
            cf: p.confidence,
            subtree_raising: p.subtree_raising,
            binary: p.binary_splits,
            all_n,
            multi_val,
            sorted,
        }
    }
}

/// A node while growing and pruning: its model (a test, or none for a leaf, with the class
/// weights per branch) and, when subtree raising needs them, its training instances.
#[derive(Debug)]
pub(crate) struct BNode {
    test: Option<Test>,
    dist: Dist,
    sons: Vec<BNode>,
    empty: bool,
    train: Rows,
}

impl BNode {
    fn into_node(self) -> Node {
        Node {
            test: self.test,
            dist: self.dist,
            children: self.sons.into_iter().map(BNode::into_node).collect(),
            empty: self.empty,
        }
    }
}

fn grow(ctx: &Ctx, rows: Rows, keep: bool) -> BNode {
    let (test, dist) = select(ctx, &rows);
    match test {
        Some(test) => {
            let parts = split::split(ctx.tab, &test, &dist, &rows);
            let sons = parts.into_iter().map(|p| grow(ctx, p, keep)).collect();
            BNode {
                test: Some(test),
                dist,
                sons,
                empty: false,
                train: if keep { rows } else { Rows::default() },
            }
        }
        None => BNode {
            test: None,
            dist,
            sons: Vec::new(),
            empty: eq(rows.sum_w(), 0.0),
            train: if keep { rows } else { Rows::default() },
        },
    }
}

/// Weka's `C45ModelSelection.selectModel`: a test and its distribution (unknowns spread in), or
/// no test and the node's class weights.
fn select(ctx: &Ctx, rows: &Rows) -> (Option<Test>, Dist) {
    let tab = ctx.tab;
    let mut check = Dist::new(1, tab.n_classes);
    for (r, w) in rows.iter() {
        check.add(0, tab.class[r] as usize, w);
    }
    if sm(check.total(), 2.0 * ctx.min_obj) || eq(check.total(), check.per_class(check.max_class()))
    {
        return (None, check);
    }
    let sum_w = rows.sum_w();
    let mut buf = Vec::new();
    let mut cands: Vec<Option<Candidate>> = Vec::with_capacity(tab.attrs.len());
    let (mut avg, mut valid) = (0.0, 0usize);
    for (j, a) in tab.attrs.iter().enumerate() {
        let c = match a {
            Attr::Target => None,
            Attr::Nominal { values, levels } if ctx.binary => {
                split::binary_nominal(ctx, rows, j, values, *levels, sum_w)
            }
            Attr::Nominal { values, levels } => {
                split::nominal(ctx, rows, j, values, *levels, sum_w)
            }
            Attr::Numeric(values) => split::numeric(ctx, rows, j, values, sum_w, &mut buf),
        };
        if let Some(c) = &c {
            let counts = match a {
                Attr::Nominal { levels, .. } => {
                    ctx.multi_val || sm(*levels as f64, 0.3 * ctx.all_n)
                }
                _ => true,
            };
            if counts {
                avg += c.gain;
                valid += 1;
            }
        }
        cands.push(c);
    }
    if valid == 0 {
        return (None, check);
    }
    avg /= valid as f64;
    let mut min_result = 0.0;
    let mut best: Option<Candidate> = None;
    for c in cands.into_iter().flatten() {
        if c.gain >= avg - 1e-3 && super::dist::gr(c.ratio, min_result) {
            min_result = c.ratio;
            best = Some(c);
        }
    }
    match best {
        Some(mut b) if !eq(min_result, 0.0) => {
            let attr = b.test.attr();
            b.dist.add_unknown(
                rows.iter()
                    .filter(|&(r, _)| split::is_missing(tab, attr, r))
                    .map(|(r, w)| (tab.class[r] as usize, w)),
            );
            if let Test::Numeric { attr, point } = &mut b.test {
                *point = split::split_point_in_data(ctx, *attr, *point);
            }
            (Some(b.test), b.dist)
        }
        _ => (None, check),
    }
}
