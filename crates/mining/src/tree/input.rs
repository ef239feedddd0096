//! The training view of a [`Dataset`]: the target's class per row, numeric attributes as flat
//! `f64` (NaN = missing), nominal ones as `u32` (`MISSING`), and instance lists with weights.
//! Checks what both learners refuse (Weka's `Capabilities` plus the project's own: a numeric or
//! one-class target, values outside the declared levels) with errors naming column and row;
//! the error paths are tested in `tests/tree_id3.rs`.

use crate::{Column, Dataset, MiningError, Result};

/// A missing nominal value or class.
pub(crate) const MISSING: u32 = u32::MAX;

/// One column as the learners read it.
#[derive(Debug)]
pub(crate) enum Attr {
    Numeric(Vec<f64>),
    Nominal { values: Vec<u32>, levels: usize },
    Target,
}

/// Names and levels for printing, kept in the fitted tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnInfo {
    pub name: String,
    /// `None` for a numeric column.
    pub levels: Option<Vec<String>>,
}

#[derive(Debug)]
pub(crate) struct Table {
    pub attrs: Vec<Attr>,
    /// Class per dataset row, `MISSING` when the target is missing.
    pub class: Vec<u32>,
    pub n_classes: usize,
    pub info: Vec<ColumnInfo>,
}

/// The instances at a node: dataset rows with their (possibly fractional) weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rows {
    pub idx: Vec<u32>,
    pub w: Vec<f64>,
}

impl Rows {
    pub(crate) fn with_capacity(n: usize) -> Rows {
        Rows {
            idx: Vec::with_capacity(n),
            w: Vec::with_capacity(n),
        }
    }
    pub(crate) fn push(&mut self, row: u32, w: f64) {
        self.idx.push(row);
        self.w.push(w);
    }
    pub(crate) fn len(&self) -> usize {
        self.idx.len()
    }
    /// Sum in instance order, as Weka's `sumOfWeights`.
    pub(crate) fn sum_w(&self) -> f64 {
        let mut s = 0.0;
        for w in &self.w {
            s += w;
        }
        s
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.idx
            .iter()
            .map(|&r| r as usize)
            .zip(self.w.iter().copied())
    }
}

impl Table {
    /// Validates `d` for `what` (the learner's name, for messages) and converts it.
    pub(crate) fn new(d: &Dataset, target: usize, what: &str) -> Result<Table> {
        let cols = d.columns();
        if d.rows() == 0 || cols.is_empty() {
            return Err(MiningError::Empty(format!(
                "{} rows × {} columns",
                d.rows(),
                cols.len()
            )));
        }
        let Some(tcol) = cols.get(target) else {
            return Err(MiningError::param(
                "target",
                format!(
                    "column index {target} is out of range: the table has {} columns (0..={})",
                    cols.len(),
                    cols.len() - 1
                ),
            ));
        };
        let (class, levels) = match tcol {
            Column::Numeric { name, .. } => {
                return Err(MiningError::param(
                    name,
                    format!(
                        "the target of {what} must be categorical, but {name:?} is numeric; declare it as a nominal column (bucket it first if it is a quantity)"
                    ),
                ));
            }
            Column::Nominal {
                name,
                levels,
                values,
            } => {
                let mut class = Vec::with_capacity(values.len());
                for (row, v) in values.iter().enumerate() {
                    class.push(nominal_value(name, levels, row, *v)?);
                }
                (class, levels)
            }
        };
        let mut seen = vec![false; levels.len()];
        for &c in &class {
            if c != MISSING {
                seen[c as usize] = true;
            }
        }
        let observed: Vec<usize> = (0..levels.len()).filter(|&c| seen[c]).collect();
        match observed.as_slice() {
            [] => {
                return Err(MiningError::Empty(format!(
                    "every row's target {:?} is missing; {what} needs labelled rows",
                    tcol.name()
                )));
            }
            [only] => {
                return Err(MiningError::OneClass {
                    column: tcol.name().to_string(),
                    class: levels[*only].clone(),
                });
            }
            _ => {}
        }
        let mut attrs = Vec::with_capacity(cols.len());
        let mut info = Vec::with_capacity(cols.len());
        for (j, col) in cols.iter().enumerate() {
            info.push(ColumnInfo {
                name: col.name().to_string(),
                levels: match col {
                    Column::Numeric { .. } => None,
                    Column::Nominal { levels, .. } => Some(levels.clone()),
                },
            });
            if j == target {
                attrs.push(Attr::Target);
                continue;
            }
            attrs.push(match col {
                Column::Numeric { name, values } => {
                    let mut out = Vec::with_capacity(values.len());
                    for (row, v) in values.iter().enumerate() {
                        out.push(match v {
                            None => f64::NAN,
                            Some(x) if x.is_finite() => *x,
                            Some(x) => {
                                return Err(MiningError::param(
                                    name,
                                    format!(
                                        "row {}: {x} is not a finite number; give a missing value as None",
                                        row + 1
                                    ),
                                ));
                            }
                        });
                    }
                    Attr::Numeric(out)
                }
                Column::Nominal {
                    name,
                    levels,
                    values,
                } => {
                    let mut out = Vec::with_capacity(values.len());
                    for (row, v) in values.iter().enumerate() {
                        out.push(nominal_value(name, levels, row, *v)?);
                    }
                    Attr::Nominal {
                        values: out,
                        levels: levels.len(),
                    }
                }
            });
        }
        Ok(Table {
            attrs,
            class,
            n_classes: levels.len(),
            info,
        })
    }

    /// Rows with a known class, each with its weight (1 without `weights`).
    pub(crate) fn labelled_rows(&self, weights: Option<&[f64]>) -> Result<Rows> {
        if let Some(w) = weights {
            if w.len() != self.class.len() {
                return Err(MiningError::param(
                    "weights",
                    format!(
                        "{} weights for {} rows; give one weight per row",
                        w.len(),
                        self.class.len()
                    ),
                ));
            }
            if let Some(i) = w.iter().position(|x| !x.is_finite() || *x < 0.0) {
                return Err(MiningError::param(
                    "weights",
                    format!(
                        "row {}: weight {} must be a finite number >= 0",
                        i + 1,
                        w[i]
                    ),
                ));
            }
        }
        let mut rows = Rows::with_capacity(self.class.len());
        for (i, &c) in self.class.iter().enumerate() {
            if c != MISSING {
                rows.push(i as u32, weights.map_or(1.0, |w| w[i]));
            }
        }
        Ok(rows)
    }
}

fn nominal_value(name: &str, levels: &[String], row: usize, v: Option<u32>) -> Result<u32> {
    match v {
        None => Ok(MISSING),
        Some(k) if (k as usize) < levels.len() => Ok(k),
        Some(k) => Err(MiningError::param(
            name,
            format!(
                "row {}: value index {k} is not one of the {} declared levels {levels:?}",
                row + 1,
                levels.len()
            ),
        )),
    }
}
