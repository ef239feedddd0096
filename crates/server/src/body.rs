//! What HTTP says about a body: its content type (the row layout) and encoding. Cutting it
//! into rows and bounded gunzip are the ingest path's (`ingest::rows`), shared with brokers.

use crate::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
pub use ingest::rows::Layout;

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
        // Not retryable, so no Retry-After.
        "gzip" | "x-gzip" => ingest::rows::gunzip(body, limit)
            .map(Some)
            .map_err(|e| crate::error::from_ingest(e, 0)),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Encoding `{other}` is not supported; use gzip or none"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_map_to_their_statuses() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 10 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
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
        assert!(decode(&HeaderMap::new(), b"x", 10).unwrap().is_none());
    }
}
