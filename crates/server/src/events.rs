//! `POST /v1/events`: HTTP in front of the ingest path (`storepulse-ingest`). Here only what is
//! HTTP's: the key's scope and shop, the content type and encoding, the answer's status and
//! `Retry-After`, request metrics. The answer is sent only once every accepted event is durable.

use crate::auth::Scope;
use crate::body;
use crate::error::{ApiError, body_rejection, from_ingest};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use ingest::{IngestError, IngestReply, Origin};

#[utoipa::path(post, path = "/v1/events", tag = "ingest",
    request_body(content = String, description = "An event object, a JSON array of events (application/json) or NDJSON (application/x-ndjson); optionally Content-Encoding: gzip", content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "Every accepted event is durable", body = IngestReply),
        (status = 400, description = "Unparsable body", body = crate::openapi::ErrorBody),
        (status = 401, description = "No or unknown key", body = crate::openapi::ErrorBody),
        (status = 403, description = "Wrong scope, or an event for another shop", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body too large", body = crate::openapi::ErrorBody),
        (status = 415, description = "Unsupported content type or encoding", body = crate::openapi::ErrorBody),
        (status = 429, description = "Saturated; retry after Retry-After", body = crate::openapi::ErrorBody),
        (status = 503, description = "Shutting down, or the WAL cannot be written (a full disk); nothing was acknowledged, retry after Retry-After", body = crate::openapi::ErrorBody)),
    security(("api_key" = ["ingest"])))]
/// Ingests events.
pub async fn post_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReply>, ApiError> {
    let who = app.auth(&headers, Scope::Ingest)?;
    let raw = body.map_err(body_rejection)?;
    let retry = app.cfg.retry_after_secs;
    let http = |e| from_ingest(e, retry);
    let layout = body::layout(&headers)?;
    let decoded = body::decode(&headers, &raw, app.cfg.max_body_bytes)?;
    let bytes = decoded.as_deref().unwrap_or(&raw);
    let rows = ingest::rows::split(layout, bytes).map_err(http)?;
    let origin = Origin {
        source: "http".into(),
        shop: who.shop.clone(),
    };
    let result = app.ingest.events(&origin, &rows).await;
    app.metrics.wal_queue.set(app.wal().queue_depth() as i64);
    match result {
        Ok(reply) => {
            for e in &reply.errors {
                app.metrics
                    .rejected
                    .with_label_values(&[e.reason.as_str()])
                    .inc();
            }
            app.metrics.duplicates.inc_by(reply.duplicates as u64);
            app.metrics.accepted.inc_by(reply.accepted as u64);
            Ok(Json(reply))
        }
        Err(e) => {
            match &e {
                IngestError::Overloaded => app.metrics.throttled.inc(),
                IngestError::Storage(cause) => {
                    tracing::warn!(error = %cause, "a WAL append failed; answered 503");
                }
                _ => {}
            }
            Err(http(e))
        }
    }
}
