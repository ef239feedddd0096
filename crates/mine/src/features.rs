//! Numeric features for clustering: the chosen columns of a typed table as a [`Matrix`], log-
//! transformed and/or standardised on request, with the transform kept so centres can be shown
//! in the table's own units. Standardising is scikit-learn's `StandardScaler` (population
//! standard deviation; a constant column is left unscaled).

use crate::MineError;
use mining::{Column, Dataset, Matrix};
use std::str::FromStr;

/// What is done to each feature before clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    /// The values as they are.
    #[default]
    None,
    /// z-scores.
    Standardize,
    /// `ln(1 + x)` (skewed counts and money); values must be > -1.
    Log,
    /// `ln(1 + x)`, then z-scores.
    LogStandardize,
}

impl Transform {
    /// Every spelling, for help and errors.
    pub const NAMES: [&'static str; 4] = ["none", "standardize", "log", "log-standardize"];

    fn log(self) -> bool {
        matches!(self, Transform::Log | Transform::LogStandardize)
    }

    fn scale(self) -> bool {
        matches!(self, Transform::Standardize | Transform::LogStandardize)
    }
}

impl FromStr for Transform {
    type Err = MineError;
    fn from_str(s: &str) -> Result<Self, MineError> {
        match s {
            "none" => Ok(Transform::None),
            "standardize" | "standardise" | "z" => Ok(Transform::Standardize),
            "log" | "log1p" => Ok(Transform::Log),
            "log-standardize" | "log-standardise" => Ok(Transform::LogStandardize),
            _ => Err(MineError::Usage(format!(
                "unknown transform {s:?}{}; use one of {}",
                model::suggest::hint(s, Transform::NAMES),
                Transform::NAMES.join(", ")
            ))),
        }
    }
}

/// Features ready for an algorithm, and how to undo their transform.
#[derive(Debug, Clone)]
pub struct Features {
    /// The transformed values.
    pub matrix: Matrix,
    /// Feature names, as the matrix's columns.
    pub names: Vec<String>,
    /// The transform applied.
    pub transform: Transform,
    /// Per feature: the mean subtracted (0 without standardising).
    pub means: Vec<f64>,
    /// Per feature: the divisor (1 without standardising).
    pub scales: Vec<f64>,
}

impl Features {
    /// A transformed point back in the table's units.
    pub fn original(&self, point: &[f64]) -> Vec<f64> {
        point
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                let v = v * self.scales[j] + self.means[j];
                if self.transform.log() { v.exp_m1() } else { v }
            })
            .collect()
    }
}

/// The named numeric columns (all numeric ones when `names` is empty) as features.
pub fn numeric_features(
    d: &Dataset,
    names: &[String],
    transform: Transform,
) -> Result<Features, MineError> {
    let picked: Vec<usize> = if names.is_empty() {
        let all: Vec<usize> = (0..d.columns().len())
            .filter(|&i| matches!(d.columns()[i], Column::Numeric { .. }))
            .collect();
        if all.is_empty() {
            return Err(MineError::Usage(
                "the table has no numeric column to cluster on (declare one with --numeric)".into(),
            ));
        }
        all
    } else {
        names
            .iter()
            .map(|n| d.index_of(n).map_err(MineError::from))
            .collect::<Result<_, _>>()?
    };
    let rows = d.rows();
    let cols = picked.len();
    let mut data = vec![0.0; rows * cols];
    let mut out_names = Vec::with_capacity(cols);
    for (j, &c) in picked.iter().enumerate() {
        let col = &d.columns()[c];
        let Column::Numeric { name, values } = col else {
            return Err(MineError::Usage(format!(
                "column {:?} is categorical; clustering needs numbers (pick numeric columns with \
                 --features, or declare it --numeric if it holds numbers)",
                col.name()
            )));
        };
        for (i, v) in values.iter().enumerate() {
            let Some(mut v) = *v else {
                return Err(MineError::Usage(format!(
                    "column {name:?}, row {}: the value is missing; clustering needs every value \
                     (filter the row out or fill it, e.g. SQL coalesce(x, 0))",
                    i + 1
                )));
            };
            if transform.log() {
                if v <= -1.0 {
                    return Err(MineError::Usage(format!(
                        "column {name:?}, row {}: {v} has no logarithm (log needs values > -1)",
                        i + 1
                    )));
                }
                v = v.ln_1p();
            }
            data[i * cols + j] = v;
        }
        out_names.push(name.clone());
    }
    let (mut means, mut scales) = (vec![0.0; cols], vec![1.0; cols]);
    if transform.scale() {
        for j in 0..cols {
            let mean = (0..rows).map(|i| data[i * cols + j]).sum::<f64>() / rows as f64;
            let var = (0..rows)
                .map(|i| (data[i * cols + j] - mean).powi(2))
                .sum::<f64>()
                / rows as f64;
            let sd = var.sqrt();
            // A constant column stays as it is, as StandardScaler leaves it (scale 1).
            let sd = if sd > f64::EPSILON * mean.abs().max(1.0) {
                sd
            } else {
                1.0
            };
            for i in 0..rows {
                data[i * cols + j] = (data[i * cols + j] - mean) / sd;
            }
            means[j] = mean;
            scales[j] = sd;
        }
    }
    Ok(Features {
        matrix: Matrix::new(rows, cols, data)?,
        names: out_names,
        transform,
        means,
        scales,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        Dataset::new(vec![
            Column::Numeric {
                name: "a".into(),
                values: vec![Some(0.0), Some(2.0), Some(4.0)],
            },
            Column::Numeric {
                name: "b".into(),
                values: vec![Some(5.0), Some(5.0), Some(5.0)],
            },
            Column::nominal("c", &[Some("x"), Some("y"), Some("x")], None).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn standardising_round_trips_and_leaves_constant_columns() {
        let f = numeric_features(&data(), &[], Transform::Standardize).unwrap();
        assert_eq!(f.names, ["a", "b"]);
        let sd = (8.0f64 / 3.0).sqrt();
        assert_eq!(f.matrix.row(0), &[-2.0 / sd, 0.0]);
        let back = f.original(f.matrix.row(2));
        assert!((back[0] - 4.0).abs() < 1e-12 && (back[1] - 5.0).abs() < 1e-12);
    }

    #[test]
    fn a_categorical_feature_or_a_missing_value_is_refused_by_name() {
        let e = numeric_features(&data(), &["c".into()], Transform::None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("column \"c\" is categorical"), "{e}");
        let d = Dataset::new(vec![Column::Numeric {
            name: "a".into(),
            values: vec![Some(1.0), None],
        }])
        .unwrap();
        let e = numeric_features(&d, &[], Transform::Log)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column \"a\", row 2: the value is missing"),
            "{e}"
        );
    }
}
