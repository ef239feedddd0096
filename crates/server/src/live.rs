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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use stream::live::{HistoryQuery, Live};
use stream::{Emission, Kind};
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};

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
    responses((status = 200, description = "Running jobs with their counters, watermarks, help and result key columns", body = LiveJobs)),
    security(("api_key" = ["read"])))]
/// The running live jobs.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<LiveJobs>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let live = engine(&app)?;
    let jobs = live
        .jobs()
        .iter()
        .filter_map(|j| live.status(j))
        .map(|s| {
            let s = match &who.shop {
                Some(own) => s.only_shop(own),
                None => s,
            };
            let def = stream::job_registry::find(&s.job).ok();
            LiveJob {
                help: def.map(|d| d.help.to_string()).unwrap_or_default(),
                keys: def
                    .map(|d| d.keys.iter().map(|k| k.to_string()).collect())
                    .unwrap_or_default(),
                job: s.job,
                counters: s.counters,
                watermarks: s.watermarks,
                shops: s.shops,
            }
        })
        .collect();
    Ok(Json(LiveJobs {
        jobs,
        queued_events: live.queued(),
    }))
}

/// `GET /v1/live`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveJobs {
    /// Each running job.
    pub jobs: Vec<LiveJob>,
    /// Events submitted to the engine and not yet processed by every job.
    pub queued_events: u64,
}

/// One running job.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveJob {
    /// Its name.
    pub job: String,
    /// What it computes.
    pub help: String,
    /// Key columns of its result rows.
    pub keys: Vec<String>,
    /// Totals over the shops shown: events, late, results, updates…
    #[schema(value_type = Object)]
    pub counters: stream::Counters,
    /// Watermark per shop, UTC ms.
    pub watermarks: std::collections::BTreeMap<String, i64>,
    /// Each shop's watermark and totals.
    #[schema(value_type = Object)]
    pub shops: std::collections::BTreeMap<String, stream::ShopStatus>,
}

/// `?shop=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestParams {
    /// Only this shop (a shop-bound key always sees its own).
    pub shop: Option<String>,
}

#[utoipa::path(get, path = "/v1/live/{job}", tag = "live", params(("job" = String, Path, description = "kpis, hot-items, …"), LatestParams),
    responses((status = 200, description = "The latest result per shop and window length, and the job's status", body = LatestDoc), (status = 404, description = "No such job")),
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
    responses((status = 200, description = "Recent emissions, oldest first", body = HistoryDoc), (status = 400, description = "Bad filter"), (status = 404, description = "No such job")),
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

#[utoipa::path(get, path = "/v1/live/stream", tag = "live", params(StreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "The `id:` of the last event received: the stream starts with what came after it (browsers send it when they reconnect)")),
    responses((status = 200, description = "Server-sent events, each with an `id:`: `emission` (JSON) per result, update, late event or alert as it fires; `gap` when what was missed cannot be replayed (`reason`: restarted, too_old, bad_id) — fill it from GET /v1/live/{job}/history", content_type = "text/event-stream"),
        (status = 400, description = "Unknown job or kind", body = crate::openapi::ErrorBody)),
    security(("api_key" = ["read"])))]
/// Every new emission as a server-sent event; resumable with `Last-Event-ID`.
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
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let log = app.live_log.clone();
    let filter = Filter {
        job: q.job,
        shop,
        kind,
    };
    let (resume, rx, latest) = log.resume(last.as_deref());
    let mut st = Tail {
        log,
        rx,
        closing: app.shutdown.subscribe(),
        filter,
        pending: VecDeque::new(),
        last_seq: 0,
    };
    st.absorb(resume, latest);
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            if *st.closing.borrow() {
                return None;
            }
            tokio::select! {
                _ = st.closing.changed() => return None,
                msg = st.rx.recv() => match msg {
                    Ok(n) => st.push(n),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the broadcast: refill from the ring, exactly after the
                        // last event sent (a gap only if the ring moved past it too).
                        let after = st.log.id(st.last_seq);
                        let (resume, rx, latest) = st.log.resume(Some(&after));
                        st.rx = rx;
                        st.absorb(resume, latest);
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What a subscriber asked for.
struct Filter {
    job: Option<String>,
    shop: Option<String>,
    kind: Option<stream::Kind>,
}

/// One subscriber's position in the numbered live log.
struct Tail {
    log: Arc<crate::live_log::LiveLog>,
    rx: broadcast::Receiver<crate::live_log::Numbered>,
    closing: tokio::sync::watch::Receiver<bool>,
    filter: Filter,
    pending: VecDeque<Event>,
    /// The last sequence number seen (sent or filtered out).
    last_seq: u64,
}

impl Tail {
    fn push(&mut self, (seq, e): crate::live_log::Numbered) {
        if seq <= self.last_seq {
            return;
        }
        self.last_seq = seq;
        let f = &self.filter;
        if f.job.as_deref().is_some_and(|j| j != e.job)
            || f.shop.as_deref().is_some_and(|s| s != e.shop)
            || f.kind.is_some_and(|k| k != e.kind)
        {
            return;
        }
        self.pending.push_back(
            Event::default()
                .id(self.log.id(seq))
                .event("emission")
                .data(e.to_json_line()),
        );
    }

    /// Takes a resume's replay (or gap); from then on everything after `latest` is new.
    fn absorb(&mut self, r: crate::live_log::Resume, latest: u64) {
        use crate::live_log::Resume;
        match r {
            Resume::Fresh => {}
            Resume::Replay(v) => v.into_iter().for_each(|n| self.push(n)),
            Resume::Gap { reason, oldest } => {
                let data = json!({
                    "reason": reason,
                    "oldest_id": oldest,
                    "message": "emissions were missed and cannot be replayed; fetch them from GET /v1/live/{job}/history (since_ms = the end of the last window received)",
                });
                self.pending
                    .push_back(Event::default().event("gap").data(data.to_string()));
            }
        }
        self.last_seq = self.last_seq.max(latest);
    }
}

/// One emission as the API and the event stream send it (`stream::Emission`'s serializer; a
/// test keeps the two in step).
#[derive(utoipa::ToSchema)]
pub struct EmissionDoc {
    /// The job.
    pub job: String,
    /// `result`, `update`, `late`, `blacklist` or `session`.
    pub kind: String,
    /// The shop.
    pub shop: String,
    /// Window start, RFC 3339 UTC.
    pub start: String,
    /// Window end (exclusive), RFC 3339 UTC.
    pub end: String,
    /// Window start, UTC ms.
    pub start_ms: i64,
    /// Window end, UTC ms.
    pub end_ms: i64,
    /// 0 for a window's first result, then 1, 2, … per update.
    pub revision: u32,
    /// The watermark when it fired, UTC ms (null before the first event).
    pub watermark_ms: Option<i64>,
    /// Rows: `rank` (top-N), the key fields (`item_id`, `window`, …) and the metrics.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
}

/// `GET /v1/live/{job}/history`.
#[derive(utoipa::ToSchema)]
pub struct HistoryDoc {
    /// The job.
    pub job: String,
    /// Emissions, oldest first.
    pub emissions: Vec<EmissionDoc>,
}

/// `GET /v1/live/{job}`.
#[derive(utoipa::ToSchema)]
pub struct LatestDoc {
    /// The job.
    pub job: String,
    /// Counters and watermarks (per shop).
    #[schema(value_type = Object)]
    pub status: Value,
    /// The latest emission per shop and window length.
    pub results: Vec<EmissionDoc>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_emission_schema_names_exactly_what_an_emission_serializes_to() {
        use utoipa::PartialSchema;
        let e = stream::Emission {
            job: "kpis".into(),
            kind: stream::Kind::Result,
            shop: "s".into(),
            start: 0,
            end: 60_000,
            revision: 0,
            watermark: 60_000,
            rows: vec![],
        };
        let sent = serde_json::to_value(&e).unwrap();
        let mut sent: Vec<String> = sent.as_object().unwrap().keys().cloned().collect();
        sent.sort();
        let schema = serde_json::to_value(super::EmissionDoc::schema()).unwrap();
        let mut doc: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        doc.sort();
        assert_eq!(sent, doc);
    }
}
