//! UCI Online Retail invoice lines: a CSV with the header
//! `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country`
//! (any column order; extra columns go to `props`).
//!
//! Every line becomes an `order` event (`status` = `cancel` for invoices starting with `C`,
//! else `create`; negative quantities are kept) and teaches the item dimension the stock code's
//! description and latest positive unit price. `amount` = quantity × unit price, rounded to
//! 10⁻⁶ to drop binary floating-point noise (6 × 2.55 is 15.3, not 15.299999999999999).

use super::Parsed;
use super::csv_lines::{CsvLines, RowKind};
use super::records::{Sink, format_error, io_error};
use crate::chunk::ItemRecord;
use crate::options::{CollectError, MAX_LINE_BYTES, ParseOptions};
use model::{Event, EventBody, Id, Order, Reason, Reject};
use serde_json::{Map, Value};
use std::io::BufRead;

/// The columns, in the original file's order.
pub const COLUMNS: [&str; 8] = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
];
const INVOICE: usize = 0;
const STOCK: usize = 1;
const DESCRIPTION: usize = 2;
const QUANTITY: usize = 3;
const DATE: usize = 4;
const PRICE: usize = 5;
const CUSTOMER: usize = 6;
const COUNTRY: usize = 7;

/// Where each column sits in the file.
struct Layout {
    /// Position of each of [`COLUMNS`].
    pos: [usize; 8],
    /// Extra columns: (position, name).
    extra: Vec<(usize, String)>,
    ncols: usize,
}

fn layout<R: BufRead>(lines: &CsvLines<R>) -> Result<Layout, String> {
    let names: Vec<String> = (0..lines.len())
        .map(|i| {
            let f = String::from_utf8_lossy(lines.field(i));
            f.trim_start_matches('\u{feff}').trim().to_string()
        })
        .collect();
    let mut pos = [usize::MAX; 8];
    let mut extra = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            Some(k) if pos[k] != usize::MAX => {
                return Err(format!("the header names column {name} twice"));
            }
            Some(k) => pos[k] = i,
            None => extra.push((i, name.clone())),
        }
    }
    let missing: Vec<&str> = (0..8)
        .filter(|&k| pos[k] == usize::MAX)
        .map(|k| COLUMNS[k])
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "expected a header naming the columns {}; missing {} (found: {})",
            COLUMNS.join(","),
            missing.join(","),
            clip(&names.join(","))
        ));
    }
    Ok(Layout {
        pos,
        extra,
        ncols: names.len(),
    })
}

fn clip(s: &str) -> String {
    if s.len() <= 200 {
        return s.to_string();
    }
    let mut end = 200;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Reads the whole input into `sink`.
pub(crate) fn read(
    reader: impl BufRead,
    opts: &ParseOptions,
    sink: &mut Sink<'_>,
) -> Result<(), CollectError> {
    let (source, format) = (sink.source, sink.format);
    let mut lines = CsvLines::new(reader, sink.base);
    let layout = loop {
        let Some(m) = lines.next_row().map_err(|e| io_error(source, e))? else {
            return Err(format_error(
                source,
                format,
                format!(
                    "the input is empty; expected the header {}",
                    COLUMNS.join(",")
                ),
            ));
        };
        let found = match m.kind {
            RowKind::Blank => None,
            RowKind::Oversized => {
                return Err(format_error(
                    source,
                    format,
                    format!("the header line is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            _ => Some(layout(&lines).map_err(|e| format_error(source, format, e))?),
        };
        if !sink.skipped(m.line) {
            sink.at(m.line).skip(lines.raw().len());
            sink.continuation_lines(m.lines - 1);
            if !sink.end_record() {
                return Ok(());
            }
        }
        if let Some(l) = found {
            break l;
        }
    };
    lines.expected_cols = Some(layout.ncols);
    while let Some(m) = lines.next_row().map_err(|e| io_error(source, e))? {
        if sink.skipped(m.line) {
            continue;
        }
        let parsed = match m.kind {
            RowKind::Blank => Ok(None),
            RowKind::Oversized => Err(Reject::row(
                Reason::Malformed,
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            )),
            RowKind::Unterminated => Err(Reject::row(
                Reason::Malformed,
                "a quoted field is not closed (a quote opens it but none ends it)",
            )),
            RowKind::Fields => row(&lines, &layout, opts).map(Some),
        };
        let b = sink.at(m.line);
        let (line, offset, raw) = (m.line, Some(m.offset), lines.raw());
        match parsed {
            Ok(None) => b.record(line, offset, raw, Ok(Parsed::Skip)),
            Err(r) => b.record(line, offset, raw, Err(r)),
            Ok(Some((event, item))) => {
                let kept = b.rows();
                b.record(line, offset, raw, Ok(Parsed::Event(Box::new(event))));
                if b.rows() > kept {
                    sink.item(item);
                }
            }
        }
        sink.continuation_lines(m.lines - 1);
        if !sink.end_record() {
            return Ok(());
        }
    }
    Ok(())
}

/// One invoice line → its order event and item fact.
fn row<R: BufRead>(
    lines: &CsvLines<R>,
    layout: &Layout,
    opts: &ParseOptions,
) -> Result<(Event, ItemRecord), Reject> {
    if lines.len() != layout.ncols {
        return Err(Reject::row(
            Reason::ColumnCount,
            format!(
                "expected {} columns ({}), found {}",
                layout.ncols,
                COLUMNS.join(","),
                lines.len()
            ),
        ));
    }
    let text = |i: usize, name: &str| {
        std::str::from_utf8(lines.field(i)).map_err(|_| {
            Reject::field(
                Reason::Malformed,
                name,
                &String::from_utf8_lossy(lines.field(i)),
                "must be valid UTF-8",
            )
        })
    };
    let col = |k: usize| text(layout.pos[k], COLUMNS[k]).map(str::trim);
    let required = |k: usize| {
        col(k).and_then(|v| {
            if v.is_empty() {
                Err(Reject::missing(COLUMNS[k]))
            } else {
                Ok(v)
            }
        })
    };
    let invoice = required(INVOICE)?;
    let stock = required(STOCK)?;
    let description = col(DESCRIPTION)?;
    let qty = parse_qty(required(QUANTITY)?)?;
    let date = required(DATE)?;
    let ts = model::time::parse_naive(date, opts.records.naive_offset_secs)
        .map_err(|e| Reject::field(Reason::BadTimestamp, COLUMNS[DATE], date, e.0))?;
    let price_text = required(PRICE)?;
    let price = price_text
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite())
        .ok_or_else(|| {
            Reject::field(
                Reason::BadNumber,
                COLUMNS[PRICE],
                price_text,
                "must be a finite number",
            )
        })?;
    let user_id = parse_customer(col(CUSTOMER)?)?;
    let country = col(COUNTRY)?;
    let mut props = Map::new();
    for (i, name) in &layout.extra {
        let v = text(*i, name)?.trim();
        if !v.is_empty() {
            props.insert(name.clone(), Value::String(v.to_string()));
        }
    }
    let status = if invoice.starts_with(['C', 'c']) {
        "cancel"
    } else {
        "create"
    };
    let item_id = Id::parse(stock).ok_or_else(|| Reject::missing(COLUMNS[STOCK]))?;
    let title = (!description.is_empty()).then(|| description.to_string());
    let item = ItemRecord {
        item_id: item_id.clone(),
        category_id: None,
        title,
        price: (price > 0.0).then_some(price),
        updated_at: ts,
    };
    let event = Event {
        event_id: None,
        shop: opts.line.shop.clone(),
        ts,
        received_at: None,
        body: EventBody::Order(Order {
            order_id: invoice.to_string(),
            user_id,
            status: status.to_string(),
            amount: Some(round6(qty as f64 * price)),
            tx_id: None,
            item_id: Some(item_id),
            qty: Some(qty),
            price: Some(price),
            country: (!country.is_empty()).then(|| country.to_string()),
        }),
        props: (!props.is_empty()).then_some(props),
    };
    Ok((event, item))
}

fn round6(x: f64) -> f64 {
    let r = (x * 1e6).round() / 1e6;
    if r.is_finite() { r } else { x }
}

/// A whole quantity; float-formatted whole numbers (`6.0`, as spreadsheets export) are accepted.
fn parse_qty(v: &str) -> Result<i64, Reject> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9e15 => Ok(f as i64),
        _ => Err(Reject::field(
            Reason::BadNumber,
            COLUMNS[QUANTITY],
            v,
            "must be a whole number",
        )),
    }
}

/// `17850.0` → 17850; empty → none; a non-numeric id is kept as a string key.
fn parse_customer(v: &str) -> Result<Option<Id>, Reject> {
    if v.is_empty() {
        return Ok(None);
    }
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(int) && (frac.is_empty() || digits(frac)) {
        if frac.bytes().any(|c| c != b'0') {
            return Err(Reject::field(
                Reason::BadNumber,
                COLUMNS[CUSTOMER],
                v,
                "a customer id must be a whole number",
            ));
        }
        return Ok(Id::parse(int));
    }
    if v.contains('.') && v.parse::<f64>().is_ok() {
        return Err(Reject::field(
            Reason::BadNumber,
            COLUMNS[CUSTOMER],
            v,
            "a customer id must be a whole number",
        ));
    }
    Ok(Id::parse(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_quantities_and_amounts() {
        assert_eq!(parse_customer("17850.0").unwrap(), Some(Id::Num(17850)));
        assert_eq!(parse_customer("17850").unwrap(), Some(Id::Num(17850)));
        assert_eq!(parse_customer("").unwrap(), None);
        assert_eq!(
            parse_customer("17850.5").unwrap_err().reason,
            Reason::BadNumber
        );
        assert_eq!(
            parse_customer("-1.5").unwrap_err().reason,
            Reason::BadNumber
        );
        assert_eq!(
            parse_customer("C-17").unwrap(),
            Some(Id::Key("C-17".into()))
        );
        assert_eq!(parse_qty("-12").unwrap(), -12);
        assert_eq!(parse_qty("6.0").unwrap(), 6);
        assert_eq!(parse_qty("6.5").unwrap_err().reason, Reason::BadNumber);
        assert_eq!(
            parse_qty("x").unwrap_err().field.as_deref(),
            Some("Quantity")
        );
        assert_eq!(round6(6.0 * 2.55), 15.3);
    }
}
