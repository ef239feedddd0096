//! Parquet files whose columns are event fields (written by our lake, DuckDB, pandas, ...).
//!
//! Columns resolve onto fields exactly as in the generic CSV reader (mapping, then same-named
//! fields, then `props`); a `type` column overrides the default type, a `props` column holding
//! a JSON object is merged into `props`. Rows are read batch-wise, so memory stays constant.
//!
//! Values: integers, floats and decimals become JSON numbers; strings (plain, large, view or
//! dictionary-encoded) become strings; booleans booleans; timestamps of any unit and dates are
//! normalised to UTC ms — zone-less ones are local times shifted by `naive_offset_secs` — and
//! feed `ts` / `received_at` as RFC 3339 text (so no seconds-or-ms guess is involved) and
//! `props` as ms numbers. Nulls are absent fields. Other types (lists, structs, binary) are
//! refused with a message naming the column.
//!
//! Parquet needs random access: the reader opens `RecordOptions::path` when it is a plain
//! Parquet file, and otherwise (stdin, gzip-compressed file) spools the decompressed input to
//! an anonymous temporary file, deleted when the import ends.

use super::Parsed;
use super::csv_mapped::{Target, resolve, time_value};
use super::records::{Sink, format_error, io_error};
use crate::options::{CollectError, ParseOptions};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use model::{Event, Reason, Reject};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Number, Value};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

type Getter<'a> = Box<dyn Fn(usize) -> Option<Value> + 'a>;

fn open(mut reader: impl Read, opts: &ParseOptions) -> Result<File, std::io::Error> {
    if let Some(p) = &opts.records.path {
        let mut f = File::open(p)?;
        let mut magic = [0u8; 4];
        let plain = f.read_exact(&mut magic).is_ok() && &magic == b"PAR1";
        if plain {
            f.seek(SeekFrom::Start(0))?;
            return Ok(f);
        }
    }
    let mut tmp = tempfile::tempfile()?;
    std::io::copy(&mut reader, &mut tmp)?;
    tmp.seek(SeekFrom::Start(0))?;
    Ok(tmp)
}

/// Reads the whole input into `sink`. A panic inside the Parquet decoder (a corrupt file can
/// trigger one) becomes a format error instead of silently ending the import early.
pub(crate) fn read(
    reader: impl Read,
    opts: &ParseOptions,
    sink: &mut Sink<'_>,
) -> Result<(), CollectError> {
    let (source, format) = (sink.source, sink.format);
    let run = std::panic::AssertUnwindSafe(|| read_file(reader, opts, sink));
    std::panic::catch_unwind(run).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        Err(format_error(
            source,
            format,
            format!("the Parquet decoder failed (corrupt file?): {why}"),
        ))
    })
}

fn read_file(
    reader: impl Read,
    opts: &ParseOptions,
    sink: &mut Sink<'_>,
) -> Result<(), CollectError> {
    let (source, format) = (sink.source, sink.format);
    let fail = |m: String| format_error(source, format, m);
    let file = open(reader, opts).map_err(|e| io_error(source, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| fail(format!("not a readable Parquet file: {e}")))?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let targets = resolve(&names, &opts.records).map_err(&fail)?;
    let batch_rows = opts.records.chunk_rows.clamp(1, 8192);
    let batches = builder
        .with_batch_size(batch_rows)
        .with_offset(usize::try_from(opts.skip_records).unwrap_or(usize::MAX))
        .build()
        .map_err(|e| fail(format!("cannot read the Parquet file: {e}")))?;
    let mut n = opts.skip_records;
    let mut raw = Vec::new();
    for batch in batches {
        let batch = batch.map_err(|e| fail(format!("cannot read the Parquet file: {e}")))?;
        let getters =
            getters(&batch, &names, &targets, opts.records.naive_offset_secs).map_err(&fail)?;
        for i in 0..batch.num_rows() {
            n += 1;
            let (value, bad_props) = row(&getters, &targets, i);
            raw.clear();
            let _ = serde_json::to_writer(&mut raw, &value);
            let parsed = match bad_props {
                Some(r) => Err(r),
                None => Event::from_json(value, opts.records.default_type).map(|mut e| {
                    if e.shop.is_none() {
                        e.shop = opts.line.shop.clone();
                    }
                    Parsed::Event(Box::new(e))
                }),
            };
            sink.at(n).record(n, None, &raw, parsed);
            if !sink.end_record() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn getters<'a>(
    batch: &'a RecordBatch,
    names: &[String],
    targets: &[Target],
    offset_secs: i32,
) -> Result<Vec<Getter<'a>>, String> {
    let mut v = Vec::with_capacity(targets.len());
    for (k, t) in targets.iter().enumerate() {
        let time_text = matches!(t, Target::Field(f) if f == "ts" || f == "received_at");
        let col = batch.column(k).as_ref();
        v.push(getter(col, time_text, offset_secs).ok_or_else(|| {
            format!(
                "column {} has type {}, which cannot feed an event; supported: integers, \
                 floats, decimals, strings, booleans, timestamps and dates",
                names[k],
                col.data_type()
            )
        })?);
    }
    Ok(v)
}

fn num(f: f64) -> Value {
    // Non-finite numbers stay text, so the event parser refuses them with a reason.
    Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

/// Reads cell `i` of a column as JSON (`None` for null); `None` for an unsupported type.
fn getter<'a>(a: &'a dyn Array, time_text: bool, offset_secs: i32) -> Option<Getter<'a>> {
    let nn = move |i: usize| a.is_valid(i);
    let time = move |ms: i64, zoned: bool| {
        let ms = if zoned {
            ms
        } else {
            ms - offset_secs as i64 * 1000
        };
        if time_text {
            Value::String(model::time::format_ms(ms))
        } else {
            Value::from(ms)
        }
    };
    macro_rules! prim {
        ($t:ty, $f:expr) => {{
            let p = a.as_primitive::<$t>();
            Box::new(move |i| nn(i).then(|| $f(p.value(i))))
        }};
    }
    let g: Getter<'a> = match a.data_type() {
        DataType::Null => Box::new(|_| None),
        DataType::Boolean => {
            let b = a.as_boolean();
            Box::new(move |i| nn(i).then(|| Value::Bool(b.value(i))))
        }
        DataType::Int8 => prim!(Int8Type, |v: i8| Value::from(v)),
        DataType::Int16 => prim!(Int16Type, |v: i16| Value::from(v)),
        DataType::Int32 => prim!(Int32Type, |v: i32| Value::from(v)),
        DataType::Int64 => prim!(Int64Type, |v: i64| Value::from(v)),
        DataType::UInt8 => prim!(UInt8Type, |v: u8| Value::from(v)),
        DataType::UInt16 => prim!(UInt16Type, |v: u16| Value::from(v)),
        DataType::UInt32 => prim!(UInt32Type, |v: u32| Value::from(v)),
        DataType::UInt64 => prim!(UInt64Type, |v: u64| Value::from(v)),
        DataType::Float32 => prim!(Float32Type, |v: f32| num(v as f64)),
        DataType::Float64 => prim!(Float64Type, num),
        DataType::Decimal128(_, scale) => {
            let div = 10f64.powi(*scale as i32);
            prim!(Decimal128Type, |v: i128| num(v as f64 / div))
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Box::new(move |i| nn(i).then(|| text(s.value(i), time_text, offset_secs)))
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            Box::new(move |i| nn(i).then(|| text(s.value(i), time_text, offset_secs)))
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            Box::new(move |i| nn(i).then(|| text(s.value(i), time_text, offset_secs)))
        }
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            let values = getter(d.values().as_ref(), time_text, offset_secs)?;
            let keys = d.normalized_keys();
            Box::new(move |i| if nn(i) { values(keys[i]) } else { None })
        }
        DataType::Timestamp(unit, tz) => {
            let zoned = tz.is_some();
            let (mul, div) = match unit {
                TimeUnit::Second => (1000, 1),
                TimeUnit::Millisecond => (1, 1),
                TimeUnit::Microsecond => (1, 1000),
                TimeUnit::Nanosecond => (1, 1_000_000),
            };
            let to_ms = move |v: i64| time(v.saturating_mul(mul).div_euclid(div), zoned);
            match unit {
                TimeUnit::Second => prim!(TimestampSecondType, to_ms),
                TimeUnit::Millisecond => prim!(TimestampMillisecondType, to_ms),
                TimeUnit::Microsecond => prim!(TimestampMicrosecondType, to_ms),
                TimeUnit::Nanosecond => prim!(TimestampNanosecondType, to_ms),
            }
        }
        DataType::Date32 => prim!(Date32Type, move |d: i32| time(d as i64 * 86_400_000, false)),
        DataType::Date64 => prim!(Date64Type, move |ms: i64| time(ms, false)),
        _ => return None,
    };
    Some(g)
}

fn text(s: &str, time_text: bool, offset_secs: i32) -> Value {
    if time_text {
        time_value(s, offset_secs)
    } else {
        Value::String(s.to_string())
    }
}

/// One row as a flat event object, and the rejection of a `props` cell that is not a JSON
/// object (kept in the object as text, so the quarantined row shows it).
fn row(getters: &[Getter<'_>], targets: &[Target], i: usize) -> (Value, Option<Reject>) {
    let mut m = Map::new();
    let mut extra = Map::new();
    let mut props: Option<Map<String, Value>> = None;
    let mut bad = None;
    for (g, t) in getters.iter().zip(targets) {
        let Some(v) = g(i) else { continue };
        match t {
            Target::Field(f) => {
                m.insert(f.clone(), v);
            }
            Target::Props => {
                let parsed = match &v {
                    Value::String(s) if s.trim().is_empty() => continue,
                    Value::String(s) => serde_json::from_str::<Value>(s).ok(),
                    _ => None,
                };
                match parsed {
                    Some(Value::Object(o)) => props = Some(o),
                    _ => {
                        let text = match &v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        bad = Some(Reject::field(
                            Reason::BadValue,
                            "props",
                            &text,
                            "must be a JSON object",
                        ));
                        m.insert("props".into(), v);
                    }
                }
            }
            Target::Extra(name) => {
                extra.insert(name.clone(), v);
            }
        }
    }
    if bad.is_none() && (props.is_some() || !extra.is_empty()) {
        let mut p = props.unwrap_or_default();
        p.extend(extra);
        m.insert("props".into(), Value::Object(p));
    }
    (Value::Object(m), bad)
}
