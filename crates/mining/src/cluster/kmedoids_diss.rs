//! The precomputed dissimilarities k-medoids works on: a full n × n matrix or scipy's condensed
//! upper triangle (`scipy.spatial.distance.pdist` order), given or built from a [`Matrix`] with a
//! [`Metric`]. Refuses what k-medoids cannot use (not square, not symmetric, a non-zero
//! diagonal, negative or non-finite values) and an n whose matrix would not fit in memory.
//! Tested by the unit tests below and, end to end, by `tests/kmedoids.rs`, which hands the same
//! bits to the `kmedoids` package.

use crate::cluster::distance::Metric;
use crate::{Matrix, MiningError, Result};

/// How the values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// n × n, row-major: fastest (a row is a slice), twice the memory.
    Full,
    /// The n (n - 1) / 2 values above the diagonal, row by row (`pdist` order).
    Condensed,
}

/// Symmetric dissimilarities between n rows, zero on the diagonal.
#[derive(Debug, Clone, PartialEq)]
pub struct Dissimilarity {
    n: usize,
    layout: Layout,
    values: Vec<f64>,
}

impl Dissimilarity {
    /// The most rows a dissimilarity may have: 50,000 rows already take 10 GB condensed.
    pub const MAX_ROWS: usize = 50_000;
    /// [`Dissimilarity::from_matrix`] stores up to this many rows in full (2 GiB), more condensed.
    pub const FULL_ROWS: usize = 16_384;

    /// A full row-major n × n matrix.
    pub fn full(n: usize, values: Vec<f64>) -> Result<Dissimilarity> {
        check_n(n)?;
        if values.len() != n * n {
            return Err(MiningError::param(
                "dissimilarity",
                format!(
                    "{} values do not make a square {n} × {n} matrix ({} values); pass n × n values row by row, or use the condensed form",
                    values.len(),
                    n * n
                ),
            ));
        }
        for i in 0..n {
            for j in i..n {
                let (a, b) = (values[i * n + j], values[j * n + i]);
                check_value(i, j, a)?;
                if i == j && a != 0.0 {
                    return Err(MiningError::param(
                        "dissimilarity",
                        format!("row {i}: the dissimilarity of a row to itself is {a}, not 0"),
                    ));
                }
                if a != b {
                    return Err(MiningError::param(
                        "dissimilarity",
                        format!(
                            "row {i}, column {j} is {a} but row {j}, column {i} is {b}; k-medoids needs a symmetric dissimilarity (average it with its transpose)"
                        ),
                    ));
                }
            }
        }
        Ok(Dissimilarity {
            n,
            layout: Layout::Full,
            values,
        })
    }

    /// A full matrix from its rows; every row must have as many values as there are rows.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Dissimilarity> {
        let n = rows.len();
        check_n(n)?;
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != n) {
            return Err(MiningError::param(
                "dissimilarity",
                format!(
                    "row {i} has {} values but there are {n} rows; a dissimilarity matrix must be square",
                    r.len()
                ),
            ));
        }
        Dissimilarity::full(n, rows.concat())
    }

    /// The condensed upper triangle of n rows (`scipy.spatial.distance.pdist` order).
    pub fn condensed(n: usize, values: Vec<f64>) -> Result<Dissimilarity> {
        check_n(n)?;
        let want = n * (n - 1) / 2;
        if values.len() != want {
            return Err(MiningError::param(
                "dissimilarity",
                format!(
                    "{} values are not the condensed form of {n} rows, which has n (n - 1) / 2 = {want}",
                    values.len()
                ),
            ));
        }
        let d = Dissimilarity {
            n,
            layout: Layout::Condensed,
            values,
        };
        for i in 0..n {
            for j in i + 1..n {
                check_value(i, j, d.values[d.index(i, j)])?;
            }
        }
        Ok(d)
    }

    /// The dissimilarities between the rows of `x` under `metric`, full up to
    /// [`Dissimilarity::FULL_ROWS`] rows and condensed above.
    pub fn from_matrix(x: &Matrix, metric: Metric) -> Result<Dissimilarity> {
        let n = x.rows();
        let layout = if n <= Self::FULL_ROWS {
            Layout::Full
        } else {
            Layout::Condensed
        };
        Dissimilarity::from_matrix_as(x, metric, layout)
    }

    /// As [`Dissimilarity::from_matrix`], in the layout given.
    pub fn from_matrix_as(x: &Matrix, metric: Metric, layout: Layout) -> Result<Dissimilarity> {
        let n = x.rows();
        check_n(n)?;
        let values = match layout {
            Layout::Full => {
                let mut v = vec![0.0; n * n];
                for i in 0..n {
                    for j in i + 1..n {
                        let dij = metric.distance(x.row(i), x.row(j));
                        v[i * n + j] = dij;
                        v[j * n + i] = dij;
                    }
                }
                v
            }
            Layout::Condensed => {
                let mut v = Vec::with_capacity(n * (n - 1) / 2);
                for i in 0..n {
                    for j in i + 1..n {
                        v.push(metric.distance(x.row(i), x.row(j)));
                    }
                }
                v
            }
        };
        Ok(Dissimilarity { n, layout, values })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.n
    }

    /// No rows (never: construction refuses it).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// How the values are stored.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The dissimilarity of rows `i` and `j`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        match self.layout {
            Layout::Full => self.values[i * self.n + j],
            Layout::Condensed if i == j => 0.0,
            Layout::Condensed => self.values[self.index(i.min(j), i.max(j))],
        }
    }

    /// Row `i` as a slice: borrowed when full, gathered into `buf` when condensed.
    #[inline]
    pub fn row<'a>(&'a self, i: usize, buf: &'a mut Vec<f64>) -> &'a [f64] {
        let n = self.n;
        match self.layout {
            Layout::Full => &self.values[i * n..(i + 1) * n],
            Layout::Condensed => {
                buf.clear();
                buf.extend((0..i).map(|j| self.values[self.index(j, i)]));
                buf.push(0.0);
                if i + 1 < n {
                    let start = self.index(i, i + 1);
                    buf.extend_from_slice(&self.values[start..start + (n - i - 1)]);
                }
                buf
            }
        }
    }

    /// Position of (i, j), i < j, in the condensed values.
    #[inline]
    fn index(&self, i: usize, j: usize) -> usize {
        i * (2 * self.n - i - 1) / 2 + (j - i - 1)
    }
}

fn check_n(n: usize) -> Result<()> {
    if n == 0 {
        return Err(MiningError::Empty("a dissimilarity of 0 rows".into()));
    }
    if n > Dissimilarity::MAX_ROWS {
        let gb = (n as f64) * (n as f64 - 1.0) / 2.0 * 8.0 / 1e9;
        return Err(MiningError::param(
            "rows",
            format!(
                "{n} rows would need a {gb:.1} GB dissimilarity matrix; k-medoids over a precomputed dissimilarity takes at most {} rows: cluster a random sample of at most that many and assign the other rows to their nearest medoid",
                Dissimilarity::MAX_ROWS
            ),
        ));
    }
    Ok(())
}

fn check_value(i: usize, j: usize, v: f64) -> Result<()> {
    if !v.is_finite() || v < 0.0 {
        return Err(MiningError::param(
            "dissimilarity",
            format!("row {i}, column {j} is {v}; dissimilarities must be finite and at least 0"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_condensed_agree_and_rows_read_the_same() {
        let x = Matrix::from_rows(&[
            vec![0.0, 1.0],
            vec![3.0, 1.0],
            vec![0.5, -2.0],
            vec![4.0, 4.0],
        ])
        .unwrap();
        let f = Dissimilarity::from_matrix_as(&x, Metric::Manhattan, Layout::Full).unwrap();
        let c = Dissimilarity::from_matrix_as(&x, Metric::Manhattan, Layout::Condensed).unwrap();
        let (mut b1, mut b2) = (Vec::new(), Vec::new());
        for i in 0..4 {
            assert_eq!(f.row(i, &mut b1), c.row(i, &mut b2));
            for j in 0..4 {
                assert_eq!(f.get(i, j), c.get(i, j));
                assert_eq!(f.get(i, j), Metric::Manhattan.distance(x.row(i), x.row(j)));
            }
        }
    }

    #[test]
    fn malformed_matrices_are_refused_naming_the_cell() {
        let e = Dissimilarity::from_rows(&[vec![0.0, 1.0], vec![1.0]]).unwrap_err();
        assert!(e.to_string().contains("row 1 has 1 values"), "{e}");
        let e = Dissimilarity::full(2, vec![0.0, 1.0, 2.0, 0.0]).unwrap_err();
        assert!(e.to_string().contains("symmetric"), "{e}");
        let e = Dissimilarity::full(2, vec![0.0, 1.0, 1.0, 0.5]).unwrap_err();
        assert!(e.to_string().contains("row 1"), "{e}");
        let e = Dissimilarity::condensed(3, vec![1.0, f64::NAN, 2.0]).unwrap_err();
        assert!(e.to_string().contains("row 0, column 2"), "{e}");
        let e = Dissimilarity::condensed(3, vec![1.0]).unwrap_err();
        assert!(e.to_string().contains("n (n - 1) / 2 = 3"), "{e}");
    }

    #[test]
    fn an_n_too_large_for_memory_is_refused_before_allocating() {
        let n = Dissimilarity::MAX_ROWS + 1;
        let e = Dissimilarity::condensed(n, Vec::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sample") && e.contains("50001 rows"), "{e}");
        let x = Matrix::new(n, 1, vec![0.0; n]).unwrap();
        assert!(Dissimilarity::from_matrix(&x, Metric::Euclidean).is_err());
    }
}
