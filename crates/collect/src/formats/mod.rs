//! One module per input format. Line formats implement [`parse_line`]; record formats
//! (CSV with header, Online Retail, Parquet) have their own readers.

pub mod access_log;
pub mod course;
mod csv_lines;
mod csv_mapped;
mod json_array;
mod json_scan;
pub mod ndjson;
mod online_retail;
mod parquet_in;
pub mod records;
pub mod taobao;

use crate::format::Format;
pub use crate::options::LineOptions;
use model::{Event, Reason, Reject};

/// What one input line became.
#[derive(Debug)]
pub enum Parsed {
    /// Nothing (a blank line).
    Skip,
    /// A numeric behaviour row for the fast path: ts (ms), user, item, category, action key.
    Fast(i64, i64, i64, i64, i32),
    /// A full event, not yet checked against the rules.
    Event(Box<Event>),
}

/// Parses one line (without its newline) of a line-based format.
pub fn parse_line(format: Format, line: &[u8], opts: &LineOptions) -> Result<Parsed, Reject> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A byte order mark inside a file: where two files with one were concatenated.
    let line = line.strip_prefix(crate::options::BOM).unwrap_or(line);
    if line.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(Parsed::Skip);
    }
    match format {
        Format::Taobao => taobao::parse(line, opts),
        Format::Ndjson => ndjson::parse(line, opts),
        other => {
            let text = std::str::from_utf8(line).map_err(|e| {
                Reject::row(
                    Reason::Malformed,
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                )
            })?;
            let e = match other {
                Format::AccessLog => access_log::parse(text)?,
                Format::AdClick => course::ad_click(text)?,
                Format::Login => course::login(text)?,
                Format::Order => course::order(text)?,
                Format::Receipt => course::receipt(text)?,
                f => {
                    return Err(Reject::row(
                        Reason::Malformed,
                        format!("{f} is not a line format"),
                    ));
                }
            };
            Ok(Parsed::Event(Box::new(Event {
                shop: opts.shop.clone(),
                ..e
            })))
        }
    }
}

/// Splits a CSV line without quoting into exactly `N` fields.
pub(crate) fn split_exact<'a, const N: usize>(
    text: &'a str,
    names: &str,
) -> Result<[&'a str; N], Reject> {
    let mut out = [""; N];
    let mut it = text.split(',');
    for slot in out.iter_mut() {
        *slot = it.next().unwrap_or_default();
    }
    let total = text.split(',').count();
    if total != N {
        return Err(Reject::row(
            Reason::ColumnCount,
            format!("expected {N} columns ({names}), found {total}"),
        ));
    }
    Ok(out)
}

/// Parses an event time column (unix s / ms / RFC 3339).
pub(crate) fn ts_field(field: &str, v: &str) -> Result<i64, Reject> {
    model::time::parse_ts(v).map_err(|e| Reject::field(Reason::BadTimestamp, field, v, e.0))
}

/// A required id column.
pub(crate) fn id_field(field: &str, v: &str) -> Result<model::Id, Reject> {
    model::Id::parse(v).ok_or_else(|| Reject::missing(field))
}

/// An optional text column: empty becomes `None`.
pub(crate) fn opt(v: &str) -> Option<String> {
    let t = v.trim();
    (!t.is_empty()).then(|| t.to_string())
}
