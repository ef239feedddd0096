//! Decision trees: ID3 as Weka 3.6's `Id3` ([`id3`]) and C4.5 as Weka 3.6's `J48` ([`c45`]),
//! fitted on a [`Dataset`] and giving a [`Tree`] that predicts class distributions, prints
//! itself exactly as Weka prints the tree ([`Tree::to_text`]) and exports JSON.
//!
//! The integration tests (`tests/tree_*.rs`) write each data set as ARFF, run Weka's `Id3` and
//! `J48` (`java -cp /usr/share/java/weka.jar`) on it, and compare the printed trees byte for
//! byte, leaf and node counts, and predicted distributions.

mod c45;
mod dist;
mod id3;
mod input;
mod json;
mod print;

pub use c45::{C45Params, c45};
pub use id3::id3;

use crate::{Column, Dataset};
use dist::{Dist, gr, sm_or_eq};
use input::ColumnInfo;

/// A fitted decision tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    algo: Algo,
    info: Vec<ColumnInfo>,
    target: usize,
    root: Node,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Algo {
    Id3,
    C45 { pruned: bool, binary: bool },
}

/// A node's test on one attribute (a dataset column index).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    /// One branch per declared level.
    Nominal { attr: usize },
    /// Branch 0 for `value`, 1 for the others.
    BinaryNominal { attr: usize, value: u32 },
    /// Branch 0 for `<= point`, 1 for `> point`.
    Numeric { attr: usize, point: f64 },
}

impl Test {
    pub(crate) fn attr(&self) -> usize {
        match self {
            Test::Nominal { attr }
            | Test::BinaryNominal { attr, .. }
            | Test::Numeric { attr, .. } => *attr,
        }
    }

    /// The branch of row `row` of `d`; `None` when the value is missing or the column does
    /// not fit the test (another schema).
    fn branch_of(&self, d: &Dataset, row: usize) -> Option<usize> {
        let col = d.columns().get(self.attr())?;
        match (self, col) {
            (Test::Nominal { .. }, Column::Nominal { values, .. }) => {
                values.get(row).copied().flatten().map(|v| v as usize)
            }
            (Test::BinaryNominal { value, .. }, Column::Nominal { values, .. }) => values
                .get(row)
                .copied()
                .flatten()
                .map(|v| usize::from(v != *value)),
            (Test::Numeric { point, .. }, Column::Numeric { values, .. }) => values
                .get(row)
                .copied()
                .flatten()
                .filter(|v| !v.is_nan())
                .map(|v| usize::from(!sm_or_eq(v, *point))),
            _ => None,
        }
    }
}

/// A node: a test with one child per branch, or a leaf (`test` is `None`). `dist` holds the
/// class weights per branch (one bag at a leaf), as Weka's split model keeps them; `empty`
/// marks a leaf no training weight reached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub test: Option<Test>,
    pub dist: Dist,
    pub children: Vec<Node>,
    pub empty: bool,
}

impl Node {
    pub(crate) fn leaf(dist: Dist, empty: bool) -> Node {
        Node {
            test: None,
            dist,
            children: Vec::new(),
            empty,
        }
    }

    fn leaves(&self) -> usize {
        if self.children.is_empty() {
            1
        } else {
            self.children.iter().map(Node::leaves).sum()
        }
    }

    fn size(&self) -> usize {
        1 + self.children.iter().map(Node::size).sum::<usize>()
    }

    /// Weka's `ClassifierTree.getProbs` for one class: a missing value follows every
    /// non-empty branch with its share of the training weight; an empty branch answers with
    /// this node's counts.
    fn prob(&self, d: &Dataset, row: usize, class: usize, weight: f64) -> f64 {
        let Some(test) = &self.test else {
            return weight * self.dist.prob(class);
        };
        match test.branch_of(d, row) {
            Some(b) if b < self.children.len() => {
                if self.children[b].empty {
                    weight * self.dist.prob_in(class, b)
                } else {
                    self.children[b].prob(d, row, class, weight)
                }
            }
            _ => {
                let mut p = 0.0;
                for (b, child) in self.children.iter().enumerate() {
                    if !child.empty {
                        let share = self.dist.per_bag(b) / self.dist.total();
                        p += child.prob(d, row, class, share * weight);
                    }
                }
                p
            }
        }
    }
}

impl Tree {
    /// The class distribution for row `row` of `d`, which must have the training table's
    /// columns (same order, types and levels). One probability per target level.
    ///
    /// C4.5 spreads a missing value over the branches as J48 does. ID3 (Weka refuses missing
    /// values) answers for a missing value with the training class shares of the node where
    /// it stops; a "null" leaf gives all zeros, as Weka's.
    pub fn predict(&self, d: &Dataset, row: usize) -> Vec<f64> {
        let nc = self.classes().len();
        match self.algo {
            Algo::C45 { .. } => (0..nc).map(|c| self.root.prob(d, row, c, 1.0)).collect(),
            Algo::Id3 => {
                let mut node = &self.root;
                while let Some(test) = &node.test {
                    match test.branch_of(d, row) {
                        Some(b) if b < node.children.len() => node = &node.children[b],
                        _ => {
                            let t = node.dist.total();
                            return (0..nc).map(|c| node.dist.per_class(c) / t).collect();
                        }
                    }
                }
                node.dist.class_weights().to_vec()
            }
        }
    }

    /// The predicted class (an index into the target's levels): J48's first class whose
    /// probability beats the others by more than 1e-6; ID3's first most probable class.
    pub fn classify(&self, d: &Dataset, row: usize) -> u32 {
        let p = self.predict(d, row);
        let mut best = 0;
        match self.algo {
            Algo::C45 { .. } => {
                let mut max = -1.0;
                for (c, &x) in p.iter().enumerate() {
                    if gr(x, max) {
                        max = x;
                        best = c;
                    }
                }
            }
            Algo::Id3 => {
                for (c, &x) in p.iter().enumerate() {
                    if x > p[best] {
                        best = c;
                    }
                }
            }
        }
        best as u32
    }

    /// Number of leaves (Weka's "Number of Leaves").
    pub fn leaves(&self) -> usize {
        self.root.leaves()
    }

    /// Number of nodes, leaves included (Weka's "Size of the tree").
    pub fn size(&self) -> usize {
        self.root.size()
    }

    /// The target's levels; class indices index it.
    pub fn classes(&self) -> &[String] {
        self.info[self.target].levels.as_deref().unwrap_or(&[])
    }

    /// The target column's name.
    pub fn target(&self) -> &str {
        &self.info[self.target].name
    }
}
