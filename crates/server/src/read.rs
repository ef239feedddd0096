//! Operational and read endpoints: health, metrics, lake stats, the quarantine (paged,
//! filterable) and its replay, and the audit log.

use crate::audit::AuditEntry;
use crate::auth::Scope;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use collect::QuarantineRecord;
use model::Reason;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use utoipa::{IntoParams, ToSchema};

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Live and ready", body = Health),
        (status = 503, description = "Shutting down, or the WAL or the lake cannot be written (e.g. a full disk): the same body, saying which", body = Health)))]
/// Liveness and readiness (no key needed). Not ready while shutting down, while the WAL's last
/// write failed (ingest answers 503 then) or while folding into the lake fails; both clear by
/// themselves once the disk takes writes again.
pub async fn health(State(app): State<AppState>) -> Response {
    let closing = app.closing.load(Ordering::Relaxed);
    let wal_error = app.wal().state().error();
    let fold_error = app
        .fold_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let ready = !closing && wal_error.is_none() && fold_error.is_none();
    let status = match (closing, ready) {
        (true, _) => "shutting_down",
        (false, true) => "ok",
        (false, false) => "degraded",
    };
    let body = Health {
        status,
        live: true,
        ready,
        wal_queue_depth: app.wal().queue_depth() as u64,
        wal_error,
        fold_error,
        disk_free_bytes: store::free_bytes(&app.wal_dir),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `degraded` (the WAL or the lake cannot be written) or `shutting_down`.
    pub status: &'static str,
    /// Always true: the process answers.
    pub live: bool,
    /// Ingest and folding work: send traffic here.
    pub ready: bool,
    /// Batches waiting for the WAL writer.
    pub wal_queue_depth: u64,
    /// The WAL's last write error, while it lasts.
    pub wal_error: Option<String>,
    /// The last error folding the WAL into the lake, while it lasts.
    pub fold_error: Option<String>,
    /// Free bytes on the WAL's disk.
    pub disk_free_bytes: Option<u64>,
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")),
    security(("api_key" = ["read"])))]
/// Prometheus metrics.
pub async fn metrics(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.auth(&headers, Scope::Read)?;
    app.metrics.wal_queue.set(app.wal().queue_depth() as i64);
    {
        let st = app.store();
        let files = &st.manifest().files;
        app.metrics.lake_files.set(files.len() as i64);
        app.metrics
            .lake_bytes
            .set(files.iter().map(|f| f.bytes).sum::<u64>() as i64);
        app.metrics
            .lake_rows
            .set(files.iter().map(|f| f.rows).sum::<u64>() as i64);
    }
    app.metrics.dedup_ids.set(app.ingest.ids().len() as i64);
    let text = app.metrics.render(app.wal().fsync_stats());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// `?shop=&exact=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Only this shop (a shop-bound key always sees its own).
    pub shop: Option<String>,
    /// Count distinct users and items exactly (reads every id) instead of from sketches.
    #[serde(default)]
    pub exact: bool,
}

#[utoipa::path(get, path = "/v1/stats", tag = "read", params(StatsParams),
    responses((status = 200, description = "Rows per table, day, kind and shop; distinct users and items; time range", body = store::LakeStats)),
    security(("api_key" = ["read"])))]
/// Lake statistics (what `storepulse stats` prints).
pub async fn stats(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StatsParams>,
) -> Result<Json<store::LakeStats>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let shop = who.shop_for(q.shop.as_deref())?;
    let distinct = if q.exact {
        store::Distinct::Exact
    } else {
        store::Distinct::Estimate
    };
    let app2 = app.clone();
    let s = tokio::task::spawn_blocking(move || {
        let st = app2.store();
        store::stats_of(&st, distinct, shop.as_deref())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(s))
}

/// `?reason=&shop=&source=&offset=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuarantineParams {
    /// Only this reason code.
    pub reason: Option<String>,
    /// Only this shop.
    pub shop: Option<String>,
    /// Only sources containing this text.
    pub source: Option<String>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: usize,
    /// Rows to return (at most 1000; default 100).
    pub limit: Option<usize>,
}

/// A page of quarantined rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinePage {
    /// Matching rows in all.
    pub total: usize,
    /// Offset of the first row returned.
    pub offset: usize,
    /// The rows.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<QuarantineRecord>,
}

fn selector(
    reason: Option<&str>,
    shop: Option<String>,
    source: Option<String>,
) -> Result<impl Fn(&QuarantineRecord) -> bool + Send + 'static, ApiError> {
    let reason = match reason {
        Some(r) => Some(Reason::from_code(r).ok_or_else(|| {
            let all: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
            ApiError::bad_request(format!(
                "unknown reason `{r}`; expected one of {}",
                all.join(", ")
            ))
        })?),
        None => None,
    };
    Ok(move |r: &QuarantineRecord| {
        reason.is_none_or(|x| r.reason == x)
            && shop.as_ref().is_none_or(|s| &r.shop == s)
            && source
                .as_ref()
                .is_none_or(|s| r.source.contains(s.as_str()))
    })
}

#[utoipa::path(get, path = "/v1/quarantine", tag = "read", params(QuarantineParams),
    responses((status = 200, body = QuarantinePage)), security(("api_key" = ["read"])))]
/// Quarantined rows, paged and filtered.
pub async fn quarantine(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<QuarantineParams>,
) -> Result<Json<QuarantinePage>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let shop = who.shop_for(q.shop.as_deref())?;
    let sel = selector(q.reason.as_deref(), shop, q.source.clone())?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let app2 = app.clone();
    let all = tokio::task::spawn_blocking(move || app2.store().quarantine_rows())
        .await
        .map_err(ApiError::internal)??;
    let matching: Vec<QuarantineRecord> = all.into_iter().filter(|r| sel(r)).collect();
    let total = matching.len();
    let rows = matching.into_iter().skip(q.offset).take(limit).collect();
    Ok(Json(QuarantinePage {
        total,
        offset: q.offset,
        rows,
    }))
}

/// `POST /v1/quarantine/replay` body (all optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReplayRequest {
    /// Only this reason code.
    pub reason: Option<String>,
    /// Only this shop.
    pub shop: Option<String>,
    /// Only sources containing this text.
    pub source: Option<String>,
}

#[utoipa::path(post, path = "/v1/quarantine/replay", tag = "read", request_body = ReplayRequest,
    responses((status = 200, description = "Rows imported and rows still quarantined", body = ReplayResult)),
    security(("api_key" = ["admin"])))]
/// Parses quarantined rows again with the current rules; those that pass are stored.
pub async fn replay(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<ReplayResult>, ApiError> {
    let who = app.auth(&headers, Scope::Admin)?;
    let req: ReplayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReplayRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid replay request: {e}")))?
    };
    let shop = who.shop_for(req.shop.as_deref())?;
    let sel = selector(req.reason.as_deref(), shop.clone(), req.source.clone())?;
    let app2 = app.clone();
    let (stored, still) = tokio::task::spawn_blocking(move || {
        store::fold::fold_shared(&app2.store, &app2.wal_dir, Some(&app2.wal().state()))?;
        let base = app2.parse_base.clone();
        app2.store()
            .replay_quarantine(&sel, &|format| collect::ParseOptions {
                format,
                ..base.clone()
            })
    })
    .await
    .map_err(ApiError::internal)??;
    let result = ReplayResult {
        imported: stored,
        still_quarantined: still,
        filter: ReplayFilter {
            reason: req.reason,
            shop: shop.clone(),
            source: req.source,
        },
    };
    app.audit
        .record(&AuditEntry {
            at_ms: collect::now_ms(),
            actor: who.name,
            action: "replay_quarantine".into(),
            shop,
            details: serde_json::to_value(&result).map_err(ApiError::internal)?,
        })
        .map_err(ApiError::internal)?;
    Ok(Json(result))
}

/// What a quarantine replay did (also the audit entry's details).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResult {
    /// Rows that passed this time and were stored.
    pub imported: u64,
    /// Rows of the selection that still fail.
    pub still_quarantined: u64,
    /// The selection replayed.
    pub filter: ReplayFilter,
}

/// Which quarantined rows a replay took.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayFilter {
    /// Only rows rejected for this reason.
    pub reason: Option<String>,
    /// Only this shop's rows.
    pub shop: Option<String>,
    /// Only rows from this source.
    pub source: Option<String>,
}

/// `?action=&offset=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this action (`erase_user`, `create_key`, `replay_quarantine`, ...).
    pub action: Option<String>,
    /// Entries to skip.
    #[serde(default)]
    pub offset: usize,
    /// Entries to return (at most 1000; default 100).
    pub limit: Option<usize>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries matching the filter (and the key's shop) in all.
    pub total: usize,
    /// The offset of this page.
    pub offset: usize,
    /// The offset of the next page, if there is one.
    pub next_offset: Option<usize>,
    /// This page, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditEntry>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "read", params(AuditParams),
    responses((status = 200, description = "A page of audit entries, oldest first", body = AuditPage)), security(("api_key" = ["admin"])))]
/// The audit log of admin actions, paged.
pub async fn audit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let who = app.auth(&headers, Scope::Admin)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 1000"));
    }
    let app2 = app.clone();
    let (entries, total) = tokio::task::spawn_blocking(move || {
        app2.audit.page(q.offset, limit, |e| {
            (who.shop.is_none() || e.shop == who.shop)
                && q.action.as_deref().is_none_or(|a| a == e.action)
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let next = q.offset.saturating_add(entries.len());
    Ok(Json(AuditPage {
        total,
        offset: q.offset,
        next_offset: (next < total).then_some(next),
        entries,
    }))
}
