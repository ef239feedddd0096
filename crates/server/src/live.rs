//! Live job results over HTTP: the latest result per shop, recent history (results, updates,
//! late events, blacklist alerts, sessions) and a server-sent-event stream of every emission as
//! it fires. Shop-bound keys see only their shop.

use crate::auth::Scope;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use stream::live::{HistoryQuery, Live};
use stream::{Emission, Kind};
use tokio::sync::broadcast;
use utoipa::IntoParams;

fn engine(app: &AppState) -> Result<&Arc<Live>, ApiError> {
    app.live.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "live_disabled",
            "the live engine is off; set live.enabled = true in storepulse.toml",
        )
    })
}

fn unknown_job(live: &Live, job: &str) -> ApiError {
    ApiError::not_found(format!(
        "no live job {job:?}; running: {}",
        live.jobs().join(", ")
    ))
}

fn kind_of(s: &str) -> Result<Kind, ApiError> {
    Ok(match s {
        "result" => Kind::Result,
        "update" => Kind::Update,
        "late" => Kind::Late,
        "blacklist" => Kind::Blacklist,
        "session" => Kind::Session,
        _ => {
            return Err(ApiError::bad_request(format!(
                "kind {s:?}: expected result, update, late, blacklist or session"
            )));
        }
    })
}

#[utoipa::path(get, path = "/v1/live", tag = "live", operation_id = "list_live_jobs",
    responses((status = 200, description = "Running jobs with their counters and watermarks")),
    security(("api_key" = ["read"])))]
/// The running live jobs.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let live = engine(&app)?;
    let jobs: Vec<Value> = live
        .jobs()
        .iter()
        .filter_map(|j| live.status(j))
        .map(|s| match &who.shop {
            Some(own) => json!(s.only_shop(own)),
            None => json!(s),
        })
        .collect();
    Ok(Json(
        json!({ "jobs": jobs, "queued_events": live.queued() }),
    ))
}

/// `?shop=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestParams {
    /// Only this shop (a shop-bound key always sees its own).
    pub shop: Option<String>,
}

#[utoipa::path(get, path = "/v1/live/{job}", tag = "live", params(("job" = String, Path, description = "kpis, hot-items, …"), LatestParams),
    responses((status = 200, description = "The latest result per shop and window length"), (status = 404, description = "No such job")),
    security(("api_key" = ["read"])))]
/// A job's latest results.
pub async fn latest(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(job): Path<String>,
    Query(q): Query<LatestParams>,
) -> Result<Json<Value>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let shop = who.shop_for(q.shop.as_deref())?;
    let live = engine(&app)?;
    let results = live
        .latest(&job, shop.as_deref())
        .ok_or_else(|| unknown_job(live, &job))?;
    let mut status = live.status(&job).unwrap_or_default();
    if let Some(own) = &shop {
        status = status.only_shop(own);
    }
    Ok(Json(json!({
        "job": job,
        "status": status,
        "results": results.iter().map(|e| e.as_ref()).collect::<Vec<&Emission>>(),
    })))
}

/// `?shop=&kind=&since=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only this shop.
    pub shop: Option<String>,
    /// Only this kind: result, update, late, blacklist, session.
    pub kind: Option<String>,
    /// Only windows ending at or after this time (RFC 3339 or unix ms/s).
    pub since: Option<String>,
    /// Newest N (default 100, at most the kept history).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/live/{job}/history", tag = "live", params(("job" = String, Path, description = "kpis, hot-items, …"), HistoryParams),
    responses((status = 200, description = "Recent emissions, oldest first"), (status = 400, description = "Bad filter"), (status = 404, description = "No such job")),
    security(("api_key" = ["read"])))]
/// A job's recent emissions; `kind=late` gives the late-data output.
pub async fn history(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(job): Path<String>,
    Query(q): Query<HistoryParams>,
) -> Result<Json<Value>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let shop = who.shop_for(q.shop.as_deref())?;
    let live = engine(&app)?;
    let since_ms = q
        .since
        .as_deref()
        .map(|s| {
            model::time::parse_ts(s).map_err(|e| ApiError::bad_request(format!("since: {}", e.0)))
        })
        .transpose()?;
    let query = HistoryQuery {
        shop,
        kind: q.kind.as_deref().map(kind_of).transpose()?,
        since_ms,
        limit: q.limit.unwrap_or(100),
    };
    let items = live
        .history(&job, &query)
        .ok_or_else(|| unknown_job(live, &job))?;
    Ok(Json(json!({
        "job": job,
        "emissions": items.iter().map(|e| e.as_ref()).collect::<Vec<&Emission>>(),
    })))
}

/// `?job=&shop=&kind=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Only this job (default: all).
    pub job: Option<String>,
    /// Only this shop.
    pub shop: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
}

#[utoipa::path(get, path = "/v1/live/stream", tag = "live", params(StreamParams),
    responses((status = 200, description = "Server-sent events: one `emission` event (JSON) per result, update, late event or alert as it fires", content_type = "text/event-stream")),
    security(("api_key" = ["read"])))]
/// Every new emission as a server-sent event.
pub async fn sse(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let shop = who.shop_for(q.shop.as_deref())?;
    let live = engine(&app)?;
    if let Some(j) = &q.job
        && !live.jobs().contains(j)
    {
        return Err(unknown_job(live, j));
    }
    let kind = q.kind.as_deref().map(kind_of).transpose()?;
    let rx = app.live_tx.subscribe();
    let closing = app.shutdown.subscribe();
    let job = q.job;
    let state = (rx, closing, job, shop, kind);
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            let (rx, closing, job, shop, kind) = &mut st;
            if *closing.borrow() {
                return None;
            }
            tokio::select! {
                _ = closing.changed() => return None,
                msg = rx.recv() => match msg {
                    Ok(e) => {
                        if job.as_deref().is_some_and(|j| j != e.job)
                            || shop.as_deref().is_some_and(|s| s != e.shop)
                            || kind.is_some_and(|k| k != e.kind)
                        {
                            continue;
                        }
                        let ev = Event::default().event("emission").data(e.to_json_line());
                        return Some((Ok(ev), st));
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        let ev = Event::default()
                            .event("lagged")
                            .data(json!({ "skipped": n }).to_string());
                        return Some((Ok(ev), st));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
