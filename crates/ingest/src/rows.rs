//! Cutting a batch into rows — a JSON object, the elements of a JSON array, or NDJSON lines — so
//! that each row is parsed, and accepted or rejected, on its own; and undoing gzip without
//! letting a small bomb inflate past the limit.

use crate::IngestError;
use serde_json::value::RawValue;
use std::io::Read;

/// How the rows are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One JSON object or an array of them.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// One row of a batch: its 0-based index and bytes.
pub type Row<'a> = (usize, &'a [u8]);

/// Inflates gzip (members one after another), refusing to go beyond `limit` bytes.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut r = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    r.read_to_end(&mut out).map_err(|e| {
        IngestError::BadBody(format!("the gzip body could not be decompressed: {e}"))
    })?;
    if out.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    Ok(out)
}

/// Cuts a batch into rows. A JSON batch that is not an object or an array is refused whole;
/// NDJSON lines are judged one by one later (a bad line never sinks its neighbours).
pub fn split(layout: Layout, body: &[u8]) -> Result<Vec<Row<'_>>, IngestError> {
    match layout {
        Layout::Ndjson => {
            let mut out = Vec::new();
            for (i, line) in body.split(|&c| c == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.iter().all(u8::is_ascii_whitespace) {
                    out.push((i, line));
                }
            }
            Ok(out)
        }
        Layout::Json => {
            let text = std::str::from_utf8(body).map_err(|e| {
                IngestError::BadBody(format!(
                    "the body is not valid UTF-8 (at byte {})",
                    e.valid_up_to()
                ))
            })?;
            // A leading byte-order mark is no part of the JSON (editors on Windows add one).
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            match text.trim_start().as_bytes().first() {
                Some(b'{') => {
                    // Checked as a whole so that a truncated object refuses the batch.
                    serde_json::from_str::<&RawValue>(text).map_err(json_err)?;
                    Ok(vec![(0, text.trim().as_bytes())])
                }
                Some(b'[') => {
                    let items: Vec<&RawValue> = serde_json::from_str(text).map_err(json_err)?;
                    Ok(items
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| (i, r.get().as_bytes()))
                        .collect())
                }
                _ => Err(IngestError::BadBody(
                    "a JSON body must be an object or an array of objects".into(),
                )),
            }
        }
    }
}

fn json_err(e: serde_json::Error) -> IngestError {
    IngestError::BadBody(format!(
        "the body is not valid JSON (line {}, column {}): {e}",
        e.line(),
        e.column()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_each_layout() {
        let r = split(Layout::Ndjson, b"{\"a\":1}\n\n  \n{bad\r\n").unwrap();
        assert_eq!(r, vec![(0, &b"{\"a\":1}"[..]), (3, &b"{bad"[..])]);
        let r = split(Layout::Json, b" [ {\"a\":1} , 2 ] ").unwrap();
        assert_eq!(r, vec![(0, &b"{\"a\":1}"[..]), (1, &b"2"[..])]);
        assert_eq!(split(Layout::Json, b"{\"a\":1}").unwrap().len(), 1);
        for bad in [&b"[{\"a\":1}"[..], b"{\"a\":", b"17", b"", b"\xff[]"] {
            assert!(
                matches!(split(Layout::Json, bad), Err(IngestError::BadBody(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_json_body_may_start_with_a_byte_order_mark() {
        let body = "\u{feff}[{\"a\":1},{\"b\":2}]";
        let got = split(Layout::Json, body.as_bytes()).unwrap();
        assert_eq!(got, vec![(0, &b"{\"a\":1}"[..]), (1, &b"{\"b\":2}"[..])]);
        let one = split(Layout::Json, "\u{feff} {\"a\":1}".as_bytes()).unwrap();
        assert_eq!(one, vec![(0, &b"{\"a\":1}"[..])]);
    }

    #[test]
    fn gzip_bombs_stop_at_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 10 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 64 << 10);
        assert_eq!(
            gunzip(&bomb, 1 << 20),
            Err(IngestError::TooLarge { limit: 1 << 20 })
        );
        assert_eq!(gunzip(&bomb, 11 << 20).unwrap().len(), 10 << 20);
        assert!(matches!(
            gunzip(b"not gzip", 1 << 20),
            Err(IngestError::BadBody(_))
        ));
    }
}
