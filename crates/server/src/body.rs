//! Request bodies: content type and encoding checks, bounded gzip decompression (a gzip bomb
//! stops at the limit), and cutting a body into rows (a JSON object, the elements of a JSON
//! array, or NDJSON lines) so that each row is parsed — and accepted or rejected — on its own.

use crate::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::value::RawValue;
use std::io::Read;

/// How the rows are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `application/json`: one object or an array of them.
    Json,
    /// `application/x-ndjson`: one object per line.
    Ndjson,
}

/// Reads the content type; 415 for anything but JSON or NDJSON.
pub fn layout(headers: &HeaderMap) -> Result<Layout, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok(Layout::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(Layout::Ndjson),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type `{ct}` is not supported; send application/json (an object or an array) or application/x-ndjson"
            ),
        )),
    }
}

/// Undoes `Content-Encoding: gzip`, refusing to inflate beyond `limit` bytes (413).
pub fn decode(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Option<Vec<u8>>, ApiError> {
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match enc.as_str() {
        "identity" | "" => Ok(None),
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            let mut r = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
            r.read_to_end(&mut out).map_err(|e| {
                ApiError::bad_request(format!("the gzip body could not be decompressed: {e}"))
            })?;
            if out.len() > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "the decompressed body exceeds server.max_body_bytes ({limit} bytes); send smaller batches"
                    ),
                )
                .with_details(serde_json::json!({"limit_bytes": limit})));
            }
            Ok(Some(out))
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Encoding `{other}` is not supported; use gzip or none"),
        )),
    }
}

/// One row of a body: its 0-based index and bytes.
pub type Row<'a> = (usize, &'a [u8]);

/// Cuts a body into rows. A JSON body that is not an object or array of values is a 400;
/// NDJSON lines are judged one by one later (a bad line never sinks its neighbours).
pub fn rows(layout: Layout, body: &[u8]) -> Result<Vec<Row<'_>>, ApiError> {
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
                ApiError::bad_request(format!(
                    "the body is not valid UTF-8 (at byte {})",
                    e.valid_up_to()
                ))
            })?;
            // A leading byte-order mark is no part of the JSON (editors on Windows add one).
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let first = text.trim_start().as_bytes().first().copied();
            match first {
                Some(b'{') => {
                    // Checked as a whole here so that a truncated object is a 400, not a row.
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
                _ => Err(ApiError::bad_request(
                    "a JSON body must be an event object or an array of event objects",
                )),
            }
        }
    }
}

fn json_err(e: serde_json::Error) -> ApiError {
    ApiError::bad_request(format!(
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
        let r = rows(Layout::Ndjson, b"{\"a\":1}\n\n  \n{bad\r\n").unwrap();
        assert_eq!(r, vec![(0, &b"{\"a\":1}"[..]), (3, &b"{bad"[..])]);
        let r = rows(Layout::Json, b" [ {\"a\":1} , 2 ] ").unwrap();
        assert_eq!(r, vec![(0, &b"{\"a\":1}"[..]), (1, &b"2"[..])]);
        assert_eq!(rows(Layout::Json, b"{\"a\":1}").unwrap().len(), 1);
        for bad in [&b"[{\"a\":1}"[..], b"{\"a\":", b"17", b"", b"\xff[]"] {
            assert_eq!(rows(Layout::Json, bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn a_json_body_may_start_with_a_byte_order_mark() {
        let body = "\u{feff}[{\"a\":1},{\"b\":2}]";
        let got = rows(Layout::Json, body.as_bytes()).unwrap();
        assert_eq!(got, vec![(0, &b"{\"a\":1}"[..]), (1, &b"{\"b\":2}"[..])]);
        let one = rows(Layout::Json, "\u{feff} {\"a\":1}".as_bytes()).unwrap();
        assert_eq!(one, vec![(0, &b"{\"a\":1}"[..])]);
    }

    #[test]
    fn gzip_bombs_stop_at_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 10 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 64 << 10);
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(decode(&h, &bomb, 1 << 20).unwrap_err().status, 413);
        assert_eq!(
            decode(&h, &bomb, 11 << 20).unwrap().unwrap().len(),
            10 << 20
        );
        assert_eq!(decode(&h, b"not gzip", 1 << 20).unwrap_err().status, 400);
        h.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(decode(&h, b"x", 10).unwrap_err().status, 415);
    }
}
