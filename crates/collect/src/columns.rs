//! Schema-driven column builders: events are appended straight into columns, so a batch of
//! parsed rows costs a few bytes a row and becomes an Arrow `RecordBatch` without copying.

use arrow_array::builder::StringBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_buffer::NullBufferBuilder;
use arrow_schema::{ArrowError, DataType, SchemaRef};
use std::collections::HashMap;
use std::sync::Arc;

/// One column under construction.
pub(crate) enum Col {
    /// A nullable column that has seen only nulls so far: a counter, no per-row work.
    AllNull(usize, DataType),
    /// Timestamps (ms) and Int64 share the representation.
    I64 {
        v: Vec<i64>,
        nulls: NullBufferBuilder,
        ts: bool,
    },
    F64 {
        v: Vec<f64>,
        nulls: NullBufferBuilder,
    },
    I32 {
        v: Vec<i32>,
        nulls: NullBufferBuilder,
    },
    Str(StringBuilder),
    /// Low-cardinality strings: keys into an interned value list.
    Dict {
        keys: Vec<i32>,
        nulls: NullBufferBuilder,
        values: Vec<String>,
        index: HashMap<String, i32>,
    },
}

impl Col {
    fn new(dt: &DataType, nullable: bool) -> Col {
        if nullable {
            return Col::AllNull(0, dt.clone());
        }
        Col::real(dt)
    }

    fn real(dt: &DataType) -> Col {
        match dt {
            DataType::Timestamp(..) => Col::I64 {
                v: Vec::new(),
                nulls: NullBufferBuilder::new(0),
                ts: true,
            },
            DataType::Int64 => Col::I64 {
                v: Vec::new(),
                nulls: NullBufferBuilder::new(0),
                ts: false,
            },
            DataType::Float64 => Col::F64 {
                v: Vec::new(),
                nulls: NullBufferBuilder::new(0),
            },
            DataType::Int32 => Col::I32 {
                v: Vec::new(),
                nulls: NullBufferBuilder::new(0),
            },
            DataType::Dictionary(..) => Col::Dict {
                keys: Vec::new(),
                nulls: NullBufferBuilder::new(0),
                values: Vec::new(),
                index: HashMap::new(),
            },
            _ => Col::Str(StringBuilder::new()),
        }
    }

    /// Reserves room for `n` more values (all-null columns need none).
    pub(crate) fn reserve(&mut self, n: usize) {
        match self {
            Col::I64 { v, .. } => v.reserve(n),
            Col::F64 { v, .. } => v.reserve(n),
            Col::I32 { v, .. } => v.reserve(n),
            Col::Dict { keys, .. } => keys.reserve(n),
            Col::AllNull(..) | Col::Str(_) => {}
        }
    }

    /// Turns an all-null counter into a real builder holding that many nulls.
    #[cold]
    fn materialize(&mut self) {
        if let Col::AllNull(n, dt) = self {
            let (n, dt) = (*n, dt.clone());
            *self = Col::real(&dt);
            for _ in 0..n {
                self.null();
            }
        }
    }

    /// Appends a null.
    #[inline]
    pub(crate) fn null(&mut self) {
        match self {
            Col::AllNull(n, _) => *n += 1,
            Col::I64 { v, nulls, .. } => {
                v.push(0);
                nulls.append_null();
            }
            Col::F64 { v, nulls } => {
                v.push(0.0);
                nulls.append_null();
            }
            Col::I32 { v, nulls } => {
                v.push(0);
                nulls.append_null();
            }
            Col::Str(b) => b.append_null(),
            Col::Dict { keys, nulls, .. } => {
                keys.push(0);
                nulls.append_null();
            }
        }
    }

    #[inline]
    pub(crate) fn i64(&mut self, x: Option<i64>) {
        if x.is_none() {
            return self.null();
        }
        if matches!(self, Col::AllNull(..)) {
            self.materialize();
        }
        if let Col::I64 { v, nulls, .. } = self {
            v.push(x.unwrap_or(0));
            nulls.append(x.is_some());
        } else {
            debug_assert!(false, "i64 pushed into a non-i64 column");
        }
    }

    #[inline]
    pub(crate) fn f64(&mut self, x: Option<f64>) {
        if x.is_none() {
            return self.null();
        }
        if matches!(self, Col::AllNull(..)) {
            self.materialize();
        }
        if let Col::F64 { v, nulls } = self {
            v.push(x.unwrap_or(0.0));
            nulls.append(x.is_some());
        } else {
            debug_assert!(false, "f64 pushed into a non-f64 column");
        }
    }

    #[inline]
    pub(crate) fn i32(&mut self, x: Option<i32>) {
        if x.is_none() {
            return self.null();
        }
        if matches!(self, Col::AllNull(..)) {
            self.materialize();
        }
        if let Col::I32 { v, nulls } = self {
            v.push(x.unwrap_or(0));
            nulls.append(x.is_some());
        } else {
            debug_assert!(false, "i32 pushed into a non-i32 column");
        }
    }

    #[inline]
    pub(crate) fn str(&mut self, x: Option<&str>) {
        if x.is_none() {
            return self.null();
        }
        if matches!(self, Col::AllNull(..)) {
            self.materialize();
        }
        match self {
            Col::Str(b) => b.append_option(x),
            Col::Dict {
                keys,
                nulls,
                values,
                index,
            } => match x {
                None => {
                    keys.push(0);
                    nulls.append_null();
                }
                Some(s) => {
                    let k = match index.get(s) {
                        Some(k) => *k,
                        None => {
                            let k = values.len() as i32;
                            values.push(s.to_string());
                            index.insert(s.to_string(), k);
                            k
                        }
                    };
                    keys.push(k);
                    nulls.append_non_null();
                }
            },
            _ => debug_assert!(false, "str pushed into a non-string column"),
        }
    }

    /// Pushes a dictionary key whose value was pre-interned with [`Col::intern`].
    #[inline]
    pub(crate) fn dict_key(&mut self, k: i32) {
        if matches!(self, Col::AllNull(..)) {
            self.materialize();
        }
        if let Col::Dict { keys, nulls, .. } = self {
            keys.push(k);
            nulls.append_non_null();
        }
    }

    /// Interns a dictionary value and returns its key (used to pre-seed hot values).
    pub(crate) fn intern(&mut self, s: &str) -> i32 {
        if matches!(self, Col::AllNull(..)) {
            self.materialize();
        }
        if let Col::Dict { values, index, .. } = self {
            if let Some(k) = index.get(s) {
                return *k;
            }
            let k = values.len() as i32;
            values.push(s.to_string());
            index.insert(s.to_string(), k);
            return k;
        }
        0
    }

    fn finish(self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Col::AllNull(n, dt) => arrow_array::new_null_array(&dt, n),
            Col::I64 { v, mut nulls, ts } => {
                let n = nulls.finish();
                if ts {
                    Arc::new(TimestampMillisecondArray::new(v.into(), n).with_timezone("UTC"))
                } else {
                    Arc::new(Int64Array::new(v.into(), n))
                }
            }
            Col::F64 { v, mut nulls } => Arc::new(Float64Array::new(v.into(), nulls.finish())),
            Col::I32 { v, mut nulls } => Arc::new(Int32Array::new(v.into(), nulls.finish())),
            Col::Str(mut b) => Arc::new(b.finish()),
            Col::Dict {
                keys,
                mut nulls,
                values,
                ..
            } => {
                let keys = Int32Array::new(keys.into(), nulls.finish());
                let values: ArrayRef = Arc::new(StringArray::from(values));
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?)
            }
        })
    }
}

/// Builders for every column of one table.
pub(crate) struct Columns {
    pub(crate) schema: SchemaRef,
    pub(crate) cols: Vec<Col>,
    pub(crate) rows: usize,
}

impl Columns {
    pub(crate) fn new(schema: SchemaRef) -> Columns {
        let cols = schema
            .fields()
            .iter()
            .map(|f| Col::new(f.data_type(), f.is_nullable()))
            .collect();
        Columns {
            schema,
            cols,
            rows: 0,
        }
    }

    pub(crate) fn finish(self) -> Result<RecordBatch, ArrowError> {
        let arrays = self
            .cols
            .into_iter()
            .map(Col::finish)
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(self.schema, arrays)
    }
}
