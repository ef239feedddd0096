//! The result shape every analysis shares: named tables of JSON values, so the CLI prints them,
//! the API returns them, and reports render them to HTML, CSV and charts.

use crate::error::QueryError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::writer::{JsonArray, WriterBuilder};
use serde::Serialize;
use serde_json::{Map, Value};

/// One table of an analysis result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Table {
    /// Short name (`steps`, `cohorts`, ...), also the CSV file stem in reports.
    pub name: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, one value per column.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<Object>>))]
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(name: &str, columns: &[&str]) -> Table {
        Table {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (must have one value per column).
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// Position of a column.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The values of one column.
    pub fn column(&self, name: &str) -> Vec<&Value> {
        match self.col(name) {
            Some(i) => self.rows.iter().map(|r| &r[i]).collect(),
            None => Vec::new(),
        }
    }

    /// A table from query results, columns in schema order.
    pub fn from_batches(
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<Table, QueryError> {
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(Table {
                name: name.to_string(),
                columns,
                rows: Vec::new(),
            });
        }
        let mut w = WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, JsonArray>(Vec::new());
        for b in batches {
            w.write(b)
                .map_err(|e| QueryError::Internal(format!("reading a result: {e}")))?;
        }
        w.finish()
            .map_err(|e| QueryError::Internal(format!("reading a result: {e}")))?;
        let objects: Vec<Map<String, Value>> = serde_json::from_slice(&w.into_inner())
            .map_err(|e| QueryError::Internal(format!("reading a result: {e}")))?;
        let rows = objects
            .into_iter()
            .map(|mut o| {
                columns
                    .iter()
                    .map(|c| o.remove(c).unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        Ok(Table {
            name: name.to_string(),
            columns,
            rows,
        })
    }

    /// CSV text with a header.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let line = |cells: Vec<String>| -> String {
            let quoted: Vec<String> = cells
                .into_iter()
                .map(|c| {
                    if c.contains([',', '"', '\n', '\r']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c
                    }
                })
                .collect();
            quoted.join(",") + "\n"
        };
        out.push_str(&line(self.columns.clone()));
        for r in &self.rows {
            out.push_str(&line(r.iter().map(cell_text).collect()));
        }
        out
    }
}

/// A value as plain text (strings unquoted, null empty).
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A finished analysis: what was asked, headline figures and its tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Analysis {
    /// Which analysis (`kpis`, `funnel`, ...).
    pub analysis: String,
    /// The parameters it ran with, defaults filled in.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Value,
    /// Headline figures (`spans_shops` when the figures mix several shops).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub summary: Map<String, Value>,
    /// The result tables.
    pub tables: Vec<Table>,
}

impl Analysis {
    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// A float rounded to `digits` decimals, as JSON (NaN and infinities become null).
pub fn num(x: f64, digits: i32) -> Value {
    let p = 10f64.powi(digits);
    serde_json::Number::from_f64((x * p).round() / p)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// `a / b`, or 0 when `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
