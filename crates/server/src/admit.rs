//! Admission of each request before its handler runs: refused with 503 once shutdown has begun,
//! and its body read here with an idle timeout (`server.body_timeout_ms`, 408) and the size limit
//! (413). A client that sends headers and then stalls would otherwise hold its connection, and
//! graceful shutdown, for as long as it likes. Once shutdown begins a body that has been idle
//! for [`SHUTDOWN_IDLE`] is answered 503, while uploads that keep sending finish normally.
//!
//! Every handler buffers its whole body anyway, so reading it here costs nothing extra.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::HttpBody as _;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

/// How long a body may stay idle once shutdown has begun.
pub const SHUTDOWN_IDLE: Duration = Duration::from_secs(1);

/// The middleware: see the module documentation.
pub async fn admit(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let mut closing = app.shutdown.subscribe();
    if *closing.borrow() {
        return ApiError::shutting_down().into_response();
    }
    let (parts, body) = req.into_parts();
    let limit = app.cfg.max_body_bytes;
    let idle = Duration::from_millis(app.cfg.body_timeout_ms.max(1));
    match read_body(body, limit, idle, &mut closing).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => {
            let mut r = e.into_response();
            // The rest of the body is never read: the connection cannot be reused.
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            r
        }
    }
}

async fn read_body(
    body: Body,
    limit: usize,
    idle: Duration,
    closing: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<Bytes, ApiError> {
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut last = Instant::now();
    loop {
        let shutting = *closing.borrow();
        let allowed = if shutting {
            idle.min(SHUTDOWN_IDLE)
        } else {
            idle
        };
        tokio::select! {
            next = stream.next() => match next {
                Some(Ok(chunk)) => {
                    if buf.len() + chunk.len() > limit {
                        drain(&mut stream, allowed).await;
                        return Err(too_large(limit));
                    }
                    buf.extend_from_slice(&chunk);
                    last = Instant::now();
                }
                Some(Err(e)) => {
                    return Err(ApiError::bad_request(format!(
                        "could not read the request body: {e}"
                    )));
                }
                None => return Ok(Bytes::from(buf)),
            },
            () = tokio::time::sleep_until(last + allowed) => {
                return Err(if shutting {
                    ApiError::shutting_down()
                } else {
                    stalled(idle, buf.len())
                });
            }
            // Shutdown began: loop to apply the shorter allowance.
            Ok(()) = closing.changed(), if !shutting => {}
        }
    }
}

/// How much of an oversized body is read and thrown away before answering 413.
const DRAIN_MAX: usize = 64 << 20;
/// How long an oversized body is drained at most.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads and discards what is left of an oversized body (bounded in bytes and time), so a client
/// still writing it reads our 413 instead of a broken pipe: a server that answers early and
/// closes makes the client's write fail before it ever sees the answer.
async fn drain(stream: &mut axum::body::BodyDataStream, idle: Duration) {
    let deadline = Instant::now() + DRAIN_TIME;
    let mut thrown = 0usize;
    while thrown < DRAIN_MAX {
        let wait = (Instant::now() + idle).min(deadline);
        match tokio::time::timeout_at(wait, stream.next()).await {
            Ok(Some(Ok(chunk))) => thrown += chunk.len(),
            _ => return,
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "request body is larger than server.max_body_bytes; send smaller batches",
    )
    .with_details(serde_json::json!({ "limit_bytes": limit }))
}

fn stalled(idle: Duration, received: usize) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body stalled: no bytes for {} ms (server.body_timeout_ms) after {received} bytes; nothing of this request was stored, send it again in full",
            idle.as_millis()
        ),
    )
    .with_details(serde_json::json!({
        "timeout_ms": idle.as_millis() as u64,
        "received_bytes": received,
    }))
}
