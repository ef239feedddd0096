//! The mining tasks, one module each, run by name through [`crate::registry`].

pub mod baskets;
pub mod cluster;
pub mod drivers;
pub mod hour_category;
pub mod rules;
pub mod segments;
pub mod tree;

use crate::MineError;
use crate::input::RawTable;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A task's JSON parameters (`{}` when none), with serde's message for a wrong field.
pub fn parse<T: DeserializeOwned>(task: &str, params: Value) -> Result<T, MineError> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params)
        .map_err(|e| MineError::Usage(format!("{task}: {e} (storepulse mine --list shows them)")))
}

/// A float rounded to `digits` decimals as JSON (null when not finite).
pub fn num(x: f64, digits: i32) -> Value {
    query::analysis::num(x, digits)
}

/// Each row's name: the `id` column's values, or row numbers from 1.
pub fn id_column(t: &RawTable, id: Option<&str>) -> Result<Vec<Value>, MineError> {
    let Some(id) = id else {
        return Ok((1..=t.rows()).map(|i| json!(i)).collect());
    };
    let c = t.index_of(id)?;
    Ok((0..t.rows())
        .map(|i| t.columns[c].text(i).map_or(Value::Null, Value::from))
        .collect())
}
