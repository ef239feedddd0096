//! Generic CSV with a header row, mapped onto event fields.
//!
//! Each column feeds the event field the mapping (`field`, `column`) names; an unmapped column
//! whose header is an event field name is used as that field; every other column goes to
//! `props` (as text). A `props` column holding a JSON object is merged into `props`. Empty
//! cells are absent fields. `ts` / `received_at` accept unix s / ms, RFC 3339 and naive local
//! times (`2017-11-26 09:00:00`, read with `naive_offset_secs`). Rows without a `type` take
//! the default type. The column resolution is shared with the Parquet reader.

use super::Parsed;
use super::csv_lines::{CsvLines, RowKind};
use super::records::{RecordOptions, Sink, format_error, io_error};
use crate::options::{CollectError, MAX_LINE_BYTES, ParseOptions};
use model::schema::event_schema;
use model::{Event, EventType, Reason, Reject};
use serde_json::{Map, Value};
use std::io::BufRead;

/// What one input column feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// An event field (envelope or body).
    Field(String),
    /// The `props` field itself: a JSON object (text in CSV).
    Props,
    /// An extra property, under the column's name.
    Extra(String),
}

/// Every event field name: `type`, `shop` and every column of every event table.
pub(crate) fn known_fields() -> Vec<String> {
    let mut v = vec!["type".to_string(), "shop".to_string()];
    for t in EventType::ALL {
        for f in event_schema(t).fields() {
            if !v.contains(f.name()) {
                v.push(f.name().clone());
            }
        }
    }
    v
}

/// The fields an event of type `t` cannot do without.
pub(crate) fn required_fields(t: EventType) -> Vec<String> {
    event_schema(t)
        .fields()
        .iter()
        .filter(|f| !f.is_nullable())
        .map(|f| f.name().clone())
        .collect()
}

fn example(opts: &RecordOptions) -> String {
    match opts.default_type {
        Some(t) => required_fields(t).join(","),
        None => format!("type,{}", required_fields(EventType::Behavior).join(",")),
    }
}

/// Decides what each column feeds, or says why the columns cannot make events.
pub(crate) fn resolve(columns: &[String], opts: &RecordOptions) -> Result<Vec<Target>, String> {
    let known = known_fields();
    let listing = || clip(&columns.join(","));
    for (i, (field, column)) in opts.mapping.iter().enumerate() {
        if !known.contains(field) {
            return Err(format!(
                "the mapping targets {field:?}, which is not an event field; event fields are {}",
                known.join(",")
            ));
        }
        if !columns.contains(column) {
            return Err(format!(
                "the mapping names column {column:?}, but the columns are {}",
                listing()
            ));
        }
        if opts.mapping[..i].iter().any(|(_, c)| c == column) {
            return Err(format!("the mapping names column {column:?} twice"));
        }
    }
    let mut targets = Vec::with_capacity(columns.len());
    let mut covered: Vec<&str> = Vec::new();
    for c in columns {
        let mapped = opts.mapping.iter().find(|(_, col)| col == c);
        let field = match mapped {
            Some((f, _)) => Some(f.as_str()),
            None if known.contains(c) && !opts.mapping.iter().any(|(f, _)| f == c) => {
                Some(c.as_str())
            }
            None => None,
        };
        match field {
            Some(f) if covered.contains(&f) => {
                return Err(format!(
                    "two columns feed the field {f}; the columns are {}",
                    listing()
                ));
            }
            Some(f) => {
                covered.push(f);
                targets.push(if f == "props" {
                    Target::Props
                } else {
                    Target::Field(f.to_string())
                });
            }
            None => targets.push(Target::Extra(c.clone())),
        }
    }
    if !covered.contains(&"ts") {
        return Err(format!(
            "no column feeds the event time ts (the columns are {}); expected a header row \
             naming event fields, e.g. {}, or a mapping field=column",
            listing(),
            example(opts)
        ));
    }
    if !covered.contains(&"type") {
        let Some(t) = opts.default_type else {
            return Err(format!(
                "no type column (the columns are {}) and no default event type; add a type \
                 column or choose the default type",
                listing()
            ));
        };
        let missing: Vec<String> = required_fields(t)
            .into_iter()
            .filter(|f| !covered.contains(&f.as_str()))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{t} events need the columns {}, but none feeds {} (the columns are {})",
                required_fields(t).join(","),
                missing.join(","),
                listing()
            ));
        }
    }
    Ok(targets)
}

pub(crate) fn clip(s: &str) -> String {
    if s.len() <= 300 {
        return s.to_string();
    }
    let mut end = 300;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A time cell: what `parse_ts` reads stays as is; a naive local time becomes RFC 3339.
pub(crate) fn time_value(cell: &str, offset_secs: i32) -> Value {
    if model::time::parse_ts(cell).is_err()
        && let Ok(ms) = model::time::parse_naive(cell, offset_secs)
    {
        return Value::String(model::time::format_ms(ms));
    }
    Value::String(cell.to_string())
}

/// Reads the whole input into `sink`.
pub(crate) fn read(
    reader: impl BufRead,
    opts: &ParseOptions,
    sink: &mut Sink<'_>,
) -> Result<(), CollectError> {
    let (source, format) = (sink.source, sink.format);
    let fail = |m: String| format_error(source, format, m);
    let mut lines = CsvLines::new(reader, sink.base);
    let (columns, targets) = loop {
        let Some(m) = lines.next_row().map_err(|e| io_error(source, e))? else {
            return Err(fail(format!(
                "the input is empty; expected a header row naming the columns, e.g. {}",
                example(&opts.records)
            )));
        };
        let found = match m.kind {
            RowKind::Blank => None,
            RowKind::Oversized => {
                return Err(fail(format!(
                    "the header line is longer than {MAX_LINE_BYTES} bytes"
                )));
            }
            RowKind::Unterminated => {
                return Err(fail(
                    "the header line has a quote that is not closed".into(),
                ));
            }
            RowKind::Fields => {
                let columns: Vec<String> = (0..lines.len())
                    .map(|i| {
                        let f = String::from_utf8_lossy(lines.field(i));
                        f.trim_start_matches('\u{feff}').trim().to_string()
                    })
                    .collect();
                let targets = resolve(&columns, &opts.records).map_err(&fail)?;
                Some((columns, targets))
            }
        };
        if !sink.skipped(m.line) {
            sink.at(m.line).skip(lines.raw().len());
            sink.continuation_lines(m.lines - 1);
            if !sink.end_record() {
                return Ok(());
            }
        }
        if let Some(found) = found {
            break found;
        }
    };
    lines.expected_cols = Some(columns.len());
    while let Some(m) = lines.next_row().map_err(|e| io_error(source, e))? {
        if sink.skipped(m.line) {
            continue;
        }
        let parsed = match m.kind {
            RowKind::Blank => Ok(Parsed::Skip),
            RowKind::Oversized => Err(Reject::row(
                Reason::Malformed,
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            )),
            RowKind::Unterminated => Err(Reject::row(
                Reason::Malformed,
                "a quoted field is not closed (a quote opens it but none ends it)",
            )),
            RowKind::Fields => {
                row(&lines, &columns, &targets, opts).map(|e| Parsed::Event(Box::new(e)))
            }
        };
        sink.at(m.line)
            .record(m.line, Some(m.offset), lines.raw(), parsed);
        sink.continuation_lines(m.lines - 1);
        if !sink.end_record() {
            return Ok(());
        }
    }
    Ok(())
}

fn row<R: BufRead>(
    lines: &CsvLines<R>,
    columns: &[String],
    targets: &[Target],
    opts: &ParseOptions,
) -> Result<Event, Reject> {
    if lines.len() != columns.len() {
        return Err(Reject::row(
            Reason::ColumnCount,
            format!(
                "expected {} columns ({}), found {}",
                columns.len(),
                clip(&columns.join(",")),
                lines.len()
            ),
        ));
    }
    let mut m = Map::new();
    let mut extra = Map::new();
    let mut props: Option<Map<String, Value>> = None;
    for (i, target) in targets.iter().enumerate() {
        let bytes = lines.field(i);
        let cell = std::str::from_utf8(bytes)
            .map_err(|_| {
                Reject::field(
                    Reason::Malformed,
                    &columns[i],
                    &String::from_utf8_lossy(bytes),
                    "must be valid UTF-8",
                )
            })?
            .trim();
        if cell.is_empty() {
            continue;
        }
        match target {
            Target::Field(f) if f == "ts" || f == "received_at" => {
                m.insert(f.clone(), time_value(cell, opts.records.naive_offset_secs));
            }
            Target::Field(f) => {
                m.insert(f.clone(), Value::String(cell.to_string()));
            }
            Target::Props => match serde_json::from_str::<Value>(cell) {
                Ok(Value::Object(o)) => props = Some(o),
                _ => {
                    return Err(Reject::field(
                        Reason::BadValue,
                        "props",
                        cell,
                        "must be a JSON object",
                    ));
                }
            },
            Target::Extra(name) => {
                extra.insert(name.clone(), Value::String(cell.to_string()));
            }
        }
    }
    if props.is_some() || !extra.is_empty() {
        let mut p = props.unwrap_or_default();
        p.extend(extra);
        m.insert("props".into(), Value::Object(p));
    }
    let mut e = Event::from_json(Value::Object(m), opts.records.default_type)?;
    if e.shop.is_none() {
        e.shop = opts.line.shop.clone();
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(mapping: &[(&str, &str)], t: Option<EventType>) -> RecordOptions {
        RecordOptions {
            mapping: mapping
                .iter()
                .map(|(f, c)| (f.to_string(), c.to_string()))
                .collect(),
            default_type: t,
            ..Default::default()
        }
    }

    fn cols(s: &str) -> Vec<String> {
        s.split(',').map(String::from).collect()
    }

    #[test]
    fn mapping_direct_names_and_props() {
        let t = resolve(
            &cols("when,user_id,sku,action,color"),
            &opts(
                &[("ts", "when"), ("item_id", "sku")],
                Some(EventType::Behavior),
            ),
        )
        .unwrap();
        assert_eq!(
            t,
            [
                Target::Field("ts".into()),
                Target::Field("user_id".into()),
                Target::Field("item_id".into()),
                Target::Field("action".into()),
                Target::Extra("color".into()),
            ]
        );
    }

    #[test]
    fn unusable_headers_say_what_is_expected() {
        let behavior = Some(EventType::Behavior);
        let e = resolve(&cols("1,2,3,pv,1511658000"), &opts(&[], behavior)).unwrap_err();
        assert!(
            e.contains("ts") && e.contains("user_id,item_id,action"),
            "{e}"
        );
        let e = resolve(&cols("ts,user_id,action"), &opts(&[], behavior)).unwrap_err();
        assert!(e.contains("item_id"), "{e}");
        let e = resolve(&cols("ts,user_id"), &opts(&[], None)).unwrap_err();
        assert!(e.contains("type"), "{e}");
        let e = resolve(&cols("ts,x"), &opts(&[("ts", "y")], behavior)).unwrap_err();
        assert!(e.contains("\"y\""), "{e}");
        let e = resolve(&cols("ts,x"), &opts(&[("colour", "x")], behavior)).unwrap_err();
        assert!(e.contains("not an event field"), "{e}");
        let e = resolve(
            &cols("ts,x,user_id"),
            &opts(&[("user_id", "x"), ("ts", "x")], None),
        );
        assert!(e.unwrap_err().contains("twice"));
        // A mapped field shadows the column of the same name, which goes to props.
        let t = resolve(
            &cols("ts,type,uid,user_id"),
            &opts(&[("user_id", "uid")], None),
        )
        .unwrap();
        assert_eq!(t[3], Target::Extra("user_id".into()));
    }

    #[test]
    fn naive_times_become_rfc3339() {
        assert_eq!(
            time_value("2017-11-26 09:00:00", 8 * 3600),
            Value::String("2017-11-26T01:00:00.000Z".into())
        );
        assert_eq!(
            time_value("1511658000", 0),
            Value::String("1511658000".into())
        );
    }
}
