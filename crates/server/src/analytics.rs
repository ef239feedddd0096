//! Offline analytics over HTTP: sandboxed SQL with streamed results, and the built-in analyses.
//! A shop-bound key sees only its shop's rows in every table.

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, body_rejection};
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use query::QueryError;
use query::analysis::{Ctx, run_named};
use query::output::{Encoder, Format};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

/// A query request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One read-only statement (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW).
    pub sql: String,
    /// `ndjson` (default), `json`, `csv` or `arrow` (Arrow IPC stream).
    #[serde(default)]
    pub format: Option<String>,
}

/// Query-string options of `POST /v1/query`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueryOptions {
    /// Output format (overrides the body's).
    pub format: Option<String>,
}

/// The HTTP answer to a query error.
pub fn query_error(e: QueryError) -> ApiError {
    let status = match &e {
        QueryError::Rejected(_) => StatusCode::FORBIDDEN,
        QueryError::Invalid(_) => StatusCode::BAD_REQUEST,
        QueryError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        QueryError::Memory { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        QueryError::Internal(_) => return ApiError::internal(e),
    };
    ApiError::new(status, e.code(), e.to_string())
}

fn scope_of(p: &Principal) -> query::Scope {
    query::Scope {
        shop: p.shop.clone(),
    }
}

/// The format an `Accept` header asks for: its media types by preference (`q`), the first one
/// served; `None` when it names none of ours (and no wildcard).
fn accepted(accept: &str) -> Option<&'static str> {
    let mut wanted: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .map(|(i, part)| {
            let mut bits = part.split(';');
            let media = bits.next().unwrap_or_default().trim();
            let q = bits
                .filter_map(|b| b.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (q, i, media)
        })
        .filter(|(q, _, media)| *q > 0.0 && !media.is_empty())
        .collect();
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    wanted.into_iter().find_map(|(_, _, media)| {
        Some(match media.to_ascii_lowercase().as_str() {
            "application/vnd.apache.arrow.stream" => "arrow",
            "text/csv" => "csv",
            "application/json" => "json",
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => "ndjson",
            "*/*" | "application/*" | "text/*" => "ndjson",
            _ => return None,
        })
    })
}

/// `?format=`, else the body's `format`, else the `Accept` header, else NDJSON.
fn pick_format(
    opts: &QueryOptions,
    body: &Option<String>,
    headers: &HeaderMap,
) -> Result<Format, ApiError> {
    let name = match opts.format.clone().or_else(|| body.clone()) {
        Some(n) => n,
        None => match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
            None => "ndjson".into(),
            Some(a) => accepted(a).map(str::to_string).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    "not_acceptable",
                    format!("Accept: {a} names no format served here; accept application/x-ndjson, application/json, text/csv or application/vnd.apache.arrow.stream (or pass ?format=)"),
                )
            })?,
        },
    };
    match name.parse::<Format>() {
        Ok(f @ (Format::Ndjson | Format::Json | Format::Csv | Format::Arrow)) => Ok(f),
        _ => Err(ApiError::bad_request(format!(
            "format {name:?} is not served here; use ndjson, json, csv or arrow"
        ))),
    }
}

#[utoipa::path(post, path = "/v1/query", tag = "analytics", params(QueryOptions),
    request_body = QueryRequest,
    responses(
        (status = 200, description = "The rows, streamed: NDJSON (one row object a line), a JSON array of row objects, CSV with a header, or an Arrow IPC stream. An error after the first rows ends NDJSON/JSON with an `{\"error\": …}` object.",
            content((Object = "application/x-ndjson"), (Vec<Object> = "application/json"), (String = "text/csv"), (Vec<u8> = "application/vnd.apache.arrow.stream"))),
        (status = 400, description = "Bad SQL, unknown table or column"),
        (status = 403, description = "Not read-only (DDL, DML, COPY, SET) or over the length limit"),
        (status = 408, description = "Time limit hit"),
        (status = 406, description = "The Accept header names no format served"),
        (status = 422, description = "Memory limit hit")),
    security(("api_key" = ["read"])))]
/// Runs read-only SQL over the lake.
pub async fn post_query(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(opts): Query<QueryOptions>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = app.auth(&headers, Scope::Read)?;
    let body = body.map_err(body_rejection)?;
    let req: QueryRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("expected {{\"sql\": \"SELECT …\"}}: {e}")))?;
    let format = pick_format(&opts, &req.format, &headers)?;
    let mut rows = app
        .query
        .sql(&req.sql, scope_of(&principal))
        .await
        .map_err(query_error)?;
    // Wait for the first batch so that errors during execution (limits, bad casts) still get
    // a proper status; most aggregations fail before their first row.
    let first = match rows.next().await {
        Some(Err(e)) => return Err(query_error(e)),
        other => other,
    };
    let (mut enc, head) = Encoder::new(format, &rows.schema).map_err(query_error)?;
    let mut chunks = vec![Ok::<Bytes, std::io::Error>(Bytes::from(head))];
    if let Some(Ok(b)) = first {
        chunks.push(Ok(Bytes::from(enc.batch(&b).map_err(query_error)?)));
    }
    let rest = rows.into_stream();
    let state = std::sync::Arc::new(std::sync::Mutex::new(Some(enc)));
    let tail_state = state.clone();
    let body_stream = futures_util::stream::iter(chunks)
        .chain(rest.map(move |b| {
            let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
            let Some(enc) = guard.as_mut() else {
                return Ok(Bytes::new());
            };
            match b {
                Ok(b) => enc
                    .batch(&b)
                    .map(Bytes::from)
                    .map_err(std::io::Error::other),
                Err(e) => {
                    let text = error_tail(format, &e);
                    *guard = None;
                    text.map(Bytes::from)
                        .ok_or_else(|| std::io::Error::other(e.to_string()))
                }
            }
        }))
        .chain(futures_util::stream::once(async move {
            let enc = tail_state.lock().unwrap_or_else(|p| p.into_inner()).take();
            match enc {
                Some(enc) => enc.finish().map(Bytes::from).map_err(std::io::Error::other),
                None => Ok(Bytes::new()),
            }
        }));
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(body_stream),
    )
        .into_response())
}

/// How a mid-stream error ends a body; `None` = abort the connection (CSV, Arrow).
fn error_tail(format: Format, e: &QueryError) -> Option<Vec<u8>> {
    let obj = json!({"error": {"code": e.code(), "message": e.to_string()}});
    match format {
        Format::Ndjson => Some(format!("{obj}\n").into_bytes()),
        Format::Json => Some(format!(",{obj}]\n").into_bytes()),
        _ => None,
    }
}

/// An analysis in the listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalysisInfo {
    /// Name, as in `POST /v1/analyses/{name}`.
    pub name: &'static str,
    /// What it computes.
    pub description: &'static str,
    /// Its parameters (the common `from`, `to`, `shop` first), each with its meaning.
    pub params: Vec<ParamInfo>,
    /// Key columns of each result table (`*`: any other table).
    pub keys: std::collections::BTreeMap<&'static str, Vec<&'static str>>,
}

/// One parameter of an analysis.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParamInfo {
    /// JSON name.
    pub name: &'static str,
    /// Meaning and default.
    pub help: &'static str,
}

#[utoipa::path(get, path = "/v1/analyses", tag = "analytics",
    responses((status = 200, description = "The built-in analyses", body = [AnalysisInfo])),
    security(("api_key" = ["read"])))]
/// Lists the built-in analyses.
pub async fn list_analyses(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<AnalysisInfo>>, ApiError> {
    app.auth(&headers, Scope::Read)?;
    Ok(Json(
        query::analysis::REGISTRY
            .iter()
            .map(|d| AnalysisInfo {
                name: d.name,
                description: d.help,
                params: query::analysis::RANGE
                    .iter()
                    .chain(d.params)
                    .map(|p| ParamInfo {
                        name: p.name,
                        help: p.help,
                    })
                    .collect(),
                keys: d.keys.iter().map(|(t, k)| (*t, k.to_vec())).collect(),
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/analyses/{name}", tag = "analytics",
    params(("name" = String, Path, description = "An analysis name from GET /v1/analyses")),
    request_body(content = Object, description = "The analysis' parameters, e.g. {\"from\": \"2017-11-25\", \"to\": \"2017-12-03\", \"steps\": [{\"action\": \"pv\"}, {\"action\": \"buy\"}], \"window\": \"1d\"}; an empty body takes the defaults"),
    responses(
        (status = 200, description = "The parameters used, headline figures and the result tables", body = query::analysis::Analysis),
        (status = 400, description = "Unknown analysis or bad parameters"),
        (status = 403, description = "Another shop than the key's"),
        (status = 408, description = "Time limit hit"),
        (status = 422, description = "Memory limit hit")),
    security(("api_key" = ["read"])))]
/// Runs a built-in analysis.
pub async fn post_analysis(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = app.auth(&headers, Scope::Read)?;
    let body = body.map_err(body_rejection)?;
    let params: Value = if body.iter().all(|b| b.is_ascii_whitespace()) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!("the body must be a JSON object of parameters: {e}"))
        })?
    };
    // The analysis' own work (grouping, walking sequences) is CPU-bound: keep it off the
    // request workers; its SQL runs on the engine's runtime.
    let engine = app.query.clone();
    let (scope, zone) = (scope_of(&principal), app.zone);
    let result = tokio::task::spawn_blocking(move || {
        let ctx = Ctx {
            engine: &engine,
            scope,
            zone,
        };
        engine.block_on(run_named(&ctx, &name, params))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(query_error)?;
    Ok(Json(result).into_response())
}

#[cfg(test)]
mod tests {
    use super::accepted;

    #[test]
    fn accept_headers_pick_by_preference() {
        assert_eq!(accepted("text/csv"), Some("csv"));
        assert_eq!(accepted("application/json"), Some("json"));
        assert_eq!(accepted("*/*"), Some("ndjson"));
        assert_eq!(
            accepted("application/vnd.apache.arrow.stream"),
            Some("arrow")
        );
        assert_eq!(accepted("text/csv;q=0.5, application/json"), Some("json"));
        assert_eq!(accepted("text/html, text/csv;q=0.9"), Some("csv"));
        assert_eq!(accepted("text/csv;q=0, */*;q=0.1"), Some("ndjson"));
        assert_eq!(accepted("text/html"), None);
        assert_eq!(accepted("image/png, text/csv;q=0"), None);
    }
}
