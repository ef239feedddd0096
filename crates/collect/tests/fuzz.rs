//! Property tests: random bytes and truncated / mutated valid rows, interleaved with known-good
//! rows, fed to every format through `parse`. Nothing panics, every record is accounted for,
//! and a bad row never costs a good neighbour its place.

mod common;

use common::{Outcome, import_bytes, opts};
use model::EventType;
use proptest::prelude::*;
use std::collections::HashSet;
use storepulse_collect::{CollectError, Format, ParseOptions};

/// One input row, before it is rendered for a format.
#[derive(Debug, Clone)]
enum Piece {
    /// A valid row.
    Good,
    /// Random bytes (no newline for line formats).
    Random(Vec<u8>),
    /// A valid row cut after this fraction (per mille) of its bytes.
    Truncate(u16),
    /// A valid row with bytes replaced: (position per mille, new byte).
    Mutate(Vec<(u16, u8)>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => Just(Piece::Good),
        2 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Piece::Random),
        2 => (0u16..1000).prop_map(Piece::Truncate),
        2 => prop::collection::vec((0u16..1000, any::<u8>()), 1..4).prop_map(Piece::Mutate),
    ]
}

fn pieces() -> impl Strategy<Value = Vec<Piece>> {
    prop::collection::vec(piece(), 1..24)
}

/// A valid row with id `i`, and the key that identifies it among the kept events.
fn good(format: Format, i: u64) -> (String, String) {
    let ts = 1_511_658_000 + i;
    let row = match format {
        Format::Taobao => {
            let a = ["pv", "cart", "fav", "buy"][i as usize % 4];
            format!("{i},{},{},{a},{ts}", i + 7, i % 50)
        }
        Format::AccessLog => {
            return (
                format!(
                    "10.0.0.{} - - 17/05/2015:10:05:03 +0000 GET /p/{i}",
                    i % 250
                ),
                format!("/p/{i}"),
            );
        }
        Format::AdClick => format!("{i},{},beijing,beijing,{ts}", i % 9),
        Format::Login => format!("{i},1.2.3.4,{},{ts}", ["success", "fail"][i as usize % 2]),
        Format::Order => match i % 2 {
            0 => format!("{i},create,,{ts}"),
            _ => format!("{i},pay,tx{i},{ts}"),
        },
        Format::Receipt => return (format!("tx{i},wechat,{ts}"), format!("tx{i}")),
        Format::Ndjson => {
            format!(r#"{{"type":"login","ts":{ts},"user_id":{i},"result":"fail"}}"#)
        }
        Format::OnlineRetail => {
            // Every fifth invoice is a cancellation.
            let prefix = match i % 5 {
                0 => "C",
                _ => "",
            };
            let inv = format!("{prefix}{}", 500_000 + i);
            return (
                format!(
                    "{inv},2{:04},\"BOX, NO {i}\",{},2011-01-0{} 10:00:00,{}.25,{}.0,United Kingdom",
                    i % 1000,
                    i % 7 + 1,
                    i % 9 + 1,
                    i % 5,
                    12_000 + i
                ),
                inv,
            );
        }
        Format::Csv => format!("behavior,{ts},{i},SKU-{i},pv,\"red, {i}\""),
        Format::Parquet => unreachable!(),
    };
    (row, i.to_string())
}

/// The keys of the kept events (see [`good`]).
fn kept_keys(format: Format, out: &Outcome) -> HashSet<String> {
    let ints = |t, c| -> HashSet<String> {
        out.ints(t, c)
            .into_iter()
            .flatten()
            .map(|v| v.to_string())
            .collect()
    };
    let strs = |t, c| -> HashSet<String> { out.strs(t, c).into_iter().flatten().collect() };
    match format {
        Format::Taobao | Format::Csv => ints(EventType::Behavior, "user_id"),
        Format::AccessLog => strs(EventType::PageView, "url"),
        Format::AdClick => ints(EventType::AdClick, "user_id"),
        Format::Login | Format::Ndjson => ints(EventType::Login, "user_id"),
        Format::Order | Format::OnlineRetail => strs(EventType::Order, "order_id"),
        Format::Receipt => strs(EventType::Payment, "tx_id"),
        Format::Parquet => unreachable!(),
    }
}

/// Renders a piece from a valid row, never producing `forbidden` bytes.
fn render(p: &Piece, valid: &str, forbidden: &[u8]) -> Vec<u8> {
    let fix = |b: u8| if forbidden.contains(&b) { b'#' } else { b };
    match p {
        Piece::Good => valid.as_bytes().to_vec(),
        Piece::Random(b) => b.iter().map(|&c| fix(c)).collect(),
        Piece::Truncate(f) => valid.as_bytes()[..valid.len() * *f as usize / 1000].to_vec(),
        Piece::Mutate(m) => {
            let mut b = valid.as_bytes().to_vec();
            for &(at, c) in m {
                let k = (b.len() * at as usize / 1000).min(b.len() - 1);
                b[k] = fix(c);
            }
            b
        }
    }
}

fn blank(line: &[u8]) -> bool {
    line.strip_suffix(b"\r")
        .unwrap_or(line)
        .iter()
        .all(|c| c.is_ascii_whitespace())
}

fn run(bytes: &[u8], name: &str, o: ParseOptions) -> Result<Outcome, TestCaseError> {
    let out = import_bytes(bytes, name, o)
        .map_err(|e: CollectError| TestCaseError::fail(format!("import failed: {e}")))?;
    out.assert_consistent();
    Ok(out)
}

/// Line formats (and the CSV formats, whose header is line 1).
fn check_lines(format: Format, pieces: &[Piece]) -> Result<(), TestCaseError> {
    let header = match format {
        Format::OnlineRetail => Some(
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        ),
        Format::Csv => Some("type,ts,user_id,item_id,action,color"),
        _ => None,
    };
    let mut lines: Vec<Vec<u8>> = header.iter().map(|h| h.as_bytes().to_vec()).collect();
    let mut good_lines = Vec::new();
    for (k, p) in pieces.iter().enumerate() {
        // Ndjson input whose first byte is `[` is read as a JSON array: keep line 1 valid.
        let p = if k == 0 && format == Format::Ndjson {
            &Piece::Good
        } else {
            p
        };
        let id = if matches!(p, Piece::Good) {
            k as u64 + 1
        } else {
            1_000_000 + k as u64
        };
        let (valid, key) = good(format, id);
        let mut line = render(p, &valid, b"\n");
        if lines.is_empty() && line.starts_with(&[0x1f, 0x8b]) {
            // Input that starts with the gzip magic bytes is read as gzip (by design; a corrupt
            // stream fails the whole import): keep the first line text.
            line[0] = b'#';
        }
        if matches!(p, Piece::Good) {
            good_lines.push((lines.len() as u64 + 1, key));
        }
        lines.push(line);
    }
    let mut bytes = lines.join(&b'\n');
    let trailing_newline = pieces.len() % 2 != 1;
    if trailing_newline {
        bytes.push(b'\n');
    } else if lines.last().is_some_and(|l| l.is_empty()) {
        // The input ends with the previous line's newline: an empty tail is not a line.
        lines.pop();
    }
    let mut o = opts(format);
    o.chunk_bytes = 64;
    o.records.chunk_rows = 5;
    o.records.default_type = Some(EventType::Behavior);
    let out = run(&bytes, "fuzz.txt", o)?;
    let total = lines.len() as u64;
    prop_assert_eq!(out.records, total, "every line is covered by a chunk");
    let quarantined: HashSet<u64> = out.rejects.iter().map(|r| r.line).collect();
    for (line, _) in &good_lines {
        prop_assert!(
            !quarantined.contains(line),
            "good line {} quarantined: {:?}",
            line,
            out.rejects
        );
    }
    let keys = kept_keys(format, &out);
    for (line, key) in &good_lines {
        prop_assert!(keys.contains(key), "good line {} ({}) not kept", line, key);
    }
    if header.is_none() {
        let blanks = lines.iter().filter(|l| blank(l)).count();
        prop_assert_eq!(out.kept + out.rejects.len() + blanks, total as usize);
    } else {
        // A quoted field may span lines: a rejected record covers the lines its raw text
        // spans; a kept one covers at least one line, more only when some line has a quote.
        let mut covered: HashSet<u64> = HashSet::from([1]);
        for r in &out.rejects {
            let span = r.raw.matches('\n').count() as u64 + 1;
            covered.extend(r.line..r.line + span);
        }
        for (k, l) in lines.iter().enumerate() {
            if blank(l) {
                covered.insert(k as u64 + 1);
            }
        }
        let rest = total as usize - covered.len();
        prop_assert!(out.kept <= rest, "kept {} of {} lines", out.kept, rest);
        if !lines.iter().any(|l| l.contains(&b'"')) {
            prop_assert_eq!(out.kept, rest);
        }
    }
    Ok(())
}

/// A JSON array: elements instead of lines.
fn check_json_array(pieces: &[Piece], closed: bool) -> Result<(), TestCaseError> {
    let mut elems = Vec::new();
    let mut good_ids = Vec::new();
    for (k, p) in pieces.iter().enumerate() {
        let id = if matches!(p, Piece::Good) {
            k as u64 + 1
        } else {
            1_000_000 + k as u64
        };
        let (valid, key) = good(Format::Ndjson, id);
        if matches!(p, Piece::Good) {
            good_ids.push(key);
        }
        elems.push(render(p, &valid, b""));
    }
    let mut bytes = b"[\n".to_vec();
    bytes.extend(elems.join(&b",\n"[..]));
    if closed {
        bytes.extend(b"\n]\n");
    }
    let mut o = opts(Format::Ndjson);
    o.records.chunk_rows = 3;
    let out = run(&bytes, "fuzz.json", o)?;
    prop_assert_eq!(out.kept + out.rejects.len(), out.records as usize);
    prop_assert!(out.records as usize >= good_ids.len());
    let keys = kept_keys(Format::Ndjson, &out);
    for key in &good_ids {
        prop_assert!(
            keys.contains(key),
            "good element {} not kept: {:?}",
            key,
            out.rejects
        );
    }
    Ok(())
}

fn parquet_bytes() -> Vec<u8> {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let n = 40;
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "ts",
            Arc::new(Int64Array::from_iter_values(
                (0..n).map(|i| 1_511_658_000 + i),
            )),
        ),
        ("user_id", Arc::new(Int64Array::from_iter_values(0..n))),
        (
            "item_id",
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| i * 3))),
        ),
        (
            "action",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| ["pv", "buy"][i as usize % 2]),
            )),
        ),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    buf
}

/// Parquet: corrupt files must fail cleanly or import consistently, never panic or hang.
fn check_parquet(pieces: &[Piece]) -> Result<(), TestCaseError> {
    let valid = parquet_bytes();
    let mut bytes = valid.clone();
    for p in pieces.iter().take(3) {
        bytes = match p {
            Piece::Good => bytes,
            Piece::Random(r) => r.clone(),
            Piece::Truncate(f) => bytes[..bytes.len() * *f as usize / 1000].to_vec(),
            Piece::Mutate(m) => {
                let mut b = bytes;
                for &(at, c) in m {
                    if !b.is_empty() {
                        let k = (b.len() * at as usize / 1000).min(b.len() - 1);
                        b[k] = c;
                    }
                }
                b
            }
        };
    }
    let mut o = opts(Format::Parquet);
    o.records.default_type = Some(EventType::Behavior);
    o.records.chunk_rows = 16;
    match import_bytes(&bytes, "fuzz.parquet", o) {
        Ok(out) => {
            out.assert_consistent();
            prop_assert_eq!(out.kept + out.rejects.len(), out.records as usize);
            if bytes == valid {
                prop_assert_eq!(out.kept, 40);
            }
        }
        Err(e) => prop_assert!(matches!(e, CollectError::Format { .. }), "{}", e),
    }
    Ok(())
}

/// 64 cases by default, to keep the suite fast in debug builds; `FUZZ_CASES=5000` for a soak.
fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn taobao(p in pieces()) { check_lines(Format::Taobao, &p)?; }

    #[test]
    fn access_log(p in pieces()) { check_lines(Format::AccessLog, &p)?; }

    #[test]
    fn ad_click(p in pieces()) { check_lines(Format::AdClick, &p)?; }

    #[test]
    fn login(p in pieces()) { check_lines(Format::Login, &p)?; }

    #[test]
    fn order(p in pieces()) { check_lines(Format::Order, &p)?; }

    #[test]
    fn receipt(p in pieces()) { check_lines(Format::Receipt, &p)?; }

    #[test]
    fn ndjson(p in pieces()) { check_lines(Format::Ndjson, &p)?; }

    #[test]
    fn online_retail(p in pieces()) { check_lines(Format::OnlineRetail, &p)?; }

    #[test]
    fn csv_mapped(p in pieces()) { check_lines(Format::Csv, &p)?; }

    #[test]
    fn json_array(p in pieces(), closed in any::<bool>()) { check_json_array(&p, closed)?; }

    #[test]
    fn parquet(p in pieces()) { check_parquet(&p)?; }
}
