//! Typed access to the columns of a lake-schema batch. Jobs read Arrow columns directly (no
//! per-event structs), and dictionary columns are decided once per dictionary value, not per row.

use crate::StreamError;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, StreamError> {
    b.column_by_name(name)
        .ok_or_else(|| StreamError::Input(format!("the batch has no column {name:?}")))
}

/// Event times (`ts`), ms.
pub fn ts(b: &RecordBatch) -> Result<&[i64], StreamError> {
    let c = column(b, "ts")?;
    match c.data_type() {
        DataType::Timestamp(..) => Ok(c.as_primitive::<TimestampMillisecondType>().values()),
        DataType::Int64 => Ok(c.as_primitive::<Int64Type>().values()),
        t => Err(StreamError::Input(format!(
            "ts has type {t}, expected a timestamp"
        ))),
    }
}

/// An `Int64` id column: values and validity.
pub struct Ints<'a> {
    /// Values (garbage where null).
    pub values: &'a [i64],
    array: &'a ArrayRef,
}

impl Ints<'_> {
    /// The value of row `i`, if not null.
    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        self.array.is_valid(i).then(|| self.values[i])
    }
}

/// An `Int64` column.
pub fn ints<'a>(b: &'a RecordBatch, name: &str) -> Result<Ints<'a>, StreamError> {
    let c = column(b, name)?;
    if c.data_type() != &DataType::Int64 {
        return Err(StreamError::Input(format!(
            "{name} has type {}, expected Int64",
            c.data_type()
        )));
    }
    Ok(Ints {
        values: c.as_primitive::<Int64Type>().values(),
        array: c,
    })
}

/// An optional `Float64` column as values per row (`None` for null or missing).
pub fn floats(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    match b.column_by_name(name) {
        Some(c) if c.data_type() == &DataType::Float64 => {
            let a = c.as_primitive::<arrow_array::types::Float64Type>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect()
        }
        _ => vec![None; b.num_rows()],
    }
}

/// Maps a string column (dictionary or plain) through `f`, once per distinct dictionary value;
/// nulls (and a missing column) give `null`.
pub fn map_strs<T: Copy>(
    b: &RecordBatch,
    name: &str,
    null: T,
    mut f: impl FnMut(&str) -> T,
) -> Result<Vec<T>, StreamError> {
    let Some(c) = b.column_by_name(name) else {
        return Ok(vec![null; b.num_rows()]);
    };
    match c.data_type() {
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
            let d = c.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let mapped: Vec<T> = (0..values.len())
                .map(|i| {
                    if values.is_valid(i) {
                        f(values.value(i))
                    } else {
                        null
                    }
                })
                .collect();
            let keys = d.keys();
            Ok((0..keys.len())
                .map(|i| {
                    if keys.is_valid(i) {
                        mapped.get(keys.value(i) as usize).copied().unwrap_or(null)
                    } else {
                        null
                    }
                })
                .collect())
        }
        DataType::Utf8 => {
            let a = c.as_string::<i32>();
            Ok((0..a.len())
                .map(|i| if a.is_valid(i) { f(a.value(i)) } else { null })
                .collect())
        }
        t => Err(StreamError::Input(format!(
            "{name} has type {t}, expected text"
        ))),
    }
}

/// A plain or dictionary string column read row by row.
pub fn strs<'a>(b: &'a RecordBatch, name: &str) -> Result<Vec<Option<&'a str>>, StreamError> {
    let Some(c) = b.column_by_name(name) else {
        return Ok(vec![None; b.num_rows()]);
    };
    match c.data_type() {
        DataType::Dictionary(..) => {
            let d = c.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let keys = d.keys();
            Ok((0..keys.len())
                .map(|i| {
                    keys.is_valid(i)
                        .then(|| values.value(keys.value(i) as usize))
                })
                .collect())
        }
        DataType::Utf8 => {
            let a = c.as_string::<i32>();
            Ok((0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect())
        }
        t => Err(StreamError::Input(format!(
            "{name} has type {t}, expected text"
        ))),
    }
}
