//! The plain input tables of the algorithms: a dense numeric [`Matrix`] (clustering), [`Baskets`]
//! of item ids (association rules) and a typed [`Dataset`] of numeric and nominal columns with
//! missing values (decision trees). Callers build them from SQL results or files; these types
//! check shapes, not meanings.

use crate::{MiningError, Result};
use std::collections::HashMap;

/// Rows × columns of `f64`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A matrix from row-major values; every value must be finite.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Matrix> {
        if rows == 0 || cols == 0 {
            return Err(MiningError::Empty(format!("{rows} rows × {cols} columns")));
        }
        if data.len() != rows * cols {
            return Err(MiningError::param(
                "data",
                format!(
                    "{} values do not fill {rows} rows × {cols} columns",
                    data.len()
                ),
            ));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(MiningError::Missing {
                column: format!("#{}", i % cols + 1),
                row: i / cols + 1,
                what: "clustering".into(),
            });
        }
        Ok(Matrix { rows, cols, data })
    }

    /// A matrix from rows of equal length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Matrix> {
        let cols = rows.first().map_or(0, Vec::len);
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != cols) {
            return Err(MiningError::param(
                "data",
                format!("row {} has {} values, the first has {cols}", i + 1, r.len()),
            ));
        }
        Matrix::new(rows.len(), cols, rows.concat())
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f64] {
        &self.data
    }
}

/// Transactions of items: each a sorted, duplicate-free list of item ids, ids indexing `items`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Baskets {
    /// Item names; an item's id is its index.
    pub items: Vec<String>,
    /// The transactions.
    pub transactions: Vec<Vec<u32>>,
}

impl Baskets {
    /// Baskets from transactions of item names (an item twice in one basket counts once; empty
    /// names are dropped). Ids follow first appearance.
    pub fn from_names<I, T, S>(transactions: I) -> Baskets
    where
        I: IntoIterator<Item = T>,
        T: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut b = Baskets::default();
        let mut ids: HashMap<String, u32> = HashMap::new();
        for t in transactions {
            let mut tx: Vec<u32> = Vec::new();
            for name in t {
                let name = name.as_ref().trim();
                if name.is_empty() {
                    continue;
                }
                let id = match ids.get(name) {
                    Some(&id) => id,
                    None => {
                        let id = b.items.len() as u32;
                        ids.insert(name.to_string(), id);
                        b.items.push(name.to_string());
                        id
                    }
                };
                tx.push(id);
            }
            tx.sort_unstable();
            tx.dedup();
            b.transactions.push(tx);
        }
        b
    }

    /// Baskets from a basket file: one transaction per line, items separated by `sep`
    /// (`../shared/datasets/groceries/groceries.csv`). Blank lines are empty transactions only
    /// when `keep_empty`; otherwise skipped.
    pub fn parse(text: &str, sep: char, keep_empty: bool) -> Baskets {
        Baskets::from_names(
            text.lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| keep_empty || !l.trim().is_empty())
                .map(|l| l.split(sep).collect::<Vec<_>>()),
        )
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// No transactions.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }
}

/// One column of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; `None` is a missing value.
    Numeric {
        /// Column name.
        name: String,
        /// Values by row.
        values: Vec<Option<f64>>,
    },
    /// Labels from a fixed list; `None` is a missing value.
    Nominal {
        /// Column name.
        name: String,
        /// The labels in declaration order (an ARFF header's order); values index it.
        levels: Vec<String>,
        /// Values by row.
        values: Vec<Option<u32>>,
    },
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            Column::Numeric { name, .. } | Column::Nominal { name, .. } => name,
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric { values, .. } => values.len(),
            Column::Nominal { values, .. } => values.len(),
        }
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A nominal column from labels; levels in order of first appearance unless given.
    pub fn nominal<S: AsRef<str>>(
        name: &str,
        labels: &[Option<S>],
        levels: Option<Vec<String>>,
    ) -> Result<Column> {
        let mut levels = levels.unwrap_or_default();
        let fixed = !levels.is_empty();
        let mut index: HashMap<String, u32> = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i as u32))
            .collect();
        let mut values = Vec::with_capacity(labels.len());
        for (row, l) in labels.iter().enumerate() {
            let Some(l) = l else {
                values.push(None);
                continue;
            };
            let l = l.as_ref();
            let id = match index.get(l) {
                Some(&id) => id,
                None if fixed => {
                    return Err(MiningError::param(
                        name,
                        format!(
                            "row {}: {l:?} is not one of the declared values {levels:?}",
                            row + 1
                        ),
                    ));
                }
                None => {
                    let id = levels.len() as u32;
                    index.insert(l.to_string(), id);
                    levels.push(l.to_string());
                    id
                }
            };
            values.push(Some(id));
        }
        Ok(Column::Nominal {
            name: name.to_string(),
            levels,
            values,
        })
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    columns: Vec<Column>,
}

impl Dataset {
    /// A dataset; columns must have distinct names and equal lengths.
    pub fn new(columns: Vec<Column>) -> Result<Dataset> {
        let rows = columns.first().map_or(0, Column::len);
        if columns.is_empty() || rows == 0 {
            return Err(MiningError::Empty(format!(
                "{rows} rows × {} columns",
                columns.len()
            )));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.len() != rows {
                return Err(MiningError::param(
                    c.name(),
                    format!("{} rows, the first column has {rows}", c.len()),
                ));
            }
            if columns[..i].iter().any(|o| o.name() == c.name()) {
                return Err(MiningError::param(c.name(), "two columns have this name"));
            }
        }
        Ok(Dataset { columns })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.columns[0].len()
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A column's index by name, or an error listing the names.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name() == name)
            .ok_or_else(|| MiningError::NoColumn {
                name: name.to_string(),
                available: self
                    .columns
                    .iter()
                    .map(Column::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baskets_number_items_by_first_appearance_and_drop_repeats() {
        let b = Baskets::parse("milk,bread\nbread,bread,eggs\n\nmilk\n", ',', false);
        assert_eq!(b.items, ["milk", "bread", "eggs"]);
        assert_eq!(b.transactions, vec![vec![0, 1], vec![1, 2], vec![0]]);
    }

    #[test]
    fn a_matrix_names_the_first_missing_value() {
        let e = Matrix::new(2, 2, vec![1.0, 2.0, f64::NAN, 3.0]).unwrap_err();
        assert_eq!(
            e,
            MiningError::Missing {
                column: "#1".into(),
                row: 2,
                what: "clustering".into()
            }
        );
    }

    #[test]
    fn nominal_columns_refuse_undeclared_labels() {
        let levels = Some(vec!["yes".to_string(), "no".to_string()]);
        let c = Column::nominal("play", &[Some("yes"), None, Some("no")], levels.clone()).unwrap();
        assert_eq!(
            c,
            Column::Nominal {
                name: "play".into(),
                levels: levels.clone().unwrap(),
                values: vec![Some(0), None, Some(1)]
            }
        );
        assert!(Column::nominal("play", &[Some("maybe")], levels).is_err());
    }
}
