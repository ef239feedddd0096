//! Column types: inferred (a text column whose every present value is a number is numeric;
//! numeric Arrow columns are numeric) and overridden by the user (`--categorical a,b`,
//! `--numeric c`). A value that does not fit the declared type is an error naming the column,
//! the row and the value.

use crate::MineError;
use crate::input::{RawTable, RawValues};
use mining::{Column, Dataset};

/// The user's type overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeSpec {
    /// Columns to treat as labels even when they hold numbers (ids, codes, hours).
    pub categorical: Vec<String>,
    /// Columns that must be numbers.
    pub numeric: Vec<String>,
}

/// Which kind a column became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Numbers.
    Numeric,
    /// Labels.
    Categorical,
}

/// The table typed: a [`Dataset`] in the table's column order.
pub fn typed(t: &RawTable, spec: &TypeSpec) -> Result<Dataset, MineError> {
    for name in spec.categorical.iter().chain(&spec.numeric) {
        t.index_of(name)?;
    }
    if let Some(both) = spec.categorical.iter().find(|c| spec.numeric.contains(c)) {
        return Err(MineError::Usage(format!(
            "column {both:?} is declared both categorical and numeric"
        )));
    }
    if t.rows() == 0 {
        return Err(MineError::Usage(format!("{}: no rows", t.source)));
    }
    let mut cols = Vec::with_capacity(t.names.len());
    for (name, values) in t.names.iter().zip(&t.columns) {
        let kind = if spec.categorical.contains(name) {
            Kind::Categorical
        } else if spec.numeric.contains(name) {
            Kind::Numeric
        } else {
            infer(values)
        };
        cols.push(column(name, values, kind, &t.source)?);
    }
    Dataset::new(cols).map_err(MineError::from)
}

/// Numeric when every present value reads as a finite number (and at least one is present).
pub fn infer(values: &RawValues) -> Kind {
    match values {
        RawValues::Num(_) => Kind::Numeric,
        RawValues::Text(v) => {
            let mut any = false;
            for s in v.iter().flatten() {
                if number(s).is_none() {
                    return Kind::Categorical;
                }
                any = true;
            }
            if any {
                Kind::Numeric
            } else {
                Kind::Categorical
            }
        }
    }
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A number as a label: `3` rather than `3.0`.
pub fn label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn column(name: &str, values: &RawValues, kind: Kind, source: &str) -> Result<Column, MineError> {
    Ok(match (kind, values) {
        (Kind::Numeric, RawValues::Num(v)) => Column::Numeric {
            name: name.to_string(),
            values: v.iter().map(|x| x.filter(|f| f.is_finite())).collect(),
        },
        (Kind::Numeric, RawValues::Text(v)) => {
            let mut out = Vec::with_capacity(v.len());
            for (row, s) in v.iter().enumerate() {
                out.push(match s {
                    None => None,
                    Some(s) => Some(number(s).ok_or_else(|| {
                        MineError::Usage(format!(
                            "{source}: column {name:?}, row {}: {s:?} is not a number (a numeric \
                             feature; declare it with --categorical {name} if it is a label)",
                            row + 1
                        ))
                    })?),
                });
            }
            Column::Numeric {
                name: name.to_string(),
                values: out,
            }
        }
        (Kind::Categorical, RawValues::Num(v)) => {
            let labels: Vec<Option<String>> = v.iter().map(|x| x.map(label)).collect();
            Column::nominal(name, &labels, None)?
        }
        (Kind::Categorical, RawValues::Text(v)) => Column::nominal(name, v, None)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RawTable {
        RawTable {
            names: vec!["hour".into(), "city".into(), "spend".into()],
            columns: vec![
                RawValues::Text(vec![Some("9".into()), Some("21".into())]),
                RawValues::Text(vec![Some("Paris".into()), None]),
                RawValues::Text(vec![Some("1.5".into()), Some("abc".into())]),
            ],
            source: "t.csv".into(),
        }
    }

    #[test]
    fn numbers_infer_numeric_and_overrides_win() {
        let mut t = table();
        t.columns[2] = RawValues::Text(vec![Some("1.5".into()), None]);
        let d = typed(&t, &TypeSpec::default()).unwrap();
        assert!(matches!(d.columns()[0], Column::Numeric { .. }));
        assert!(matches!(d.columns()[1], Column::Nominal { .. }));
        let spec = TypeSpec {
            categorical: vec!["hour".into()],
            numeric: vec![],
        };
        let d = typed(&t, &spec).unwrap();
        let Column::Nominal { levels, .. } = &d.columns()[0] else {
            panic!("hour should be categorical")
        };
        assert_eq!(levels, &["9", "21"]);
    }

    #[test]
    fn a_text_in_a_numeric_column_names_column_and_row() {
        let spec = TypeSpec {
            categorical: vec![],
            numeric: vec!["spend".into()],
        };
        let e = typed(&table(), &spec).unwrap_err().to_string();
        assert!(
            e.contains("column \"spend\", row 2: \"abc\" is not a number"),
            "{e}"
        );
        let spec = TypeSpec {
            categorical: vec!["hours".into()],
            numeric: vec![],
        };
        let e = typed(&table(), &spec).unwrap_err().to_string();
        assert!(e.contains("did you mean hour?"), "{e}");
    }
}
