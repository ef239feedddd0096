//! `POST /v1/events`: durable ingest. Each row of the body is parsed and validated on its own;
//! rows from another shop than the key's make the whole request a 403; known `event_id`s are
//! answered as duplicates (exactly: a 128-bit key per shop, remembered for the dedup horizon);
//! the rest is appended to the WAL with the rejected rows (which reach the quarantine under the
//! shop they name, once however often their batch is retried: `store::dedup::reject_key`) and
//! the answer is sent only after the group fsync. A full WAL queue is a 429, never unbounded
//! memory.
//!
//! A duplicate of an event whose first request is still being written is not acknowledged at
//! once: the first request may yet fail (or the server die before its fsync), and the retry
//! would then hold a 200 for an event that was never stored. It waits for that request's
//! outcome and is answered 200 only once the event is durable, 503 (retry) if it failed.

use crate::app::{App, AppState};
use crate::auth::{Principal, Scope};
use crate::body;
use crate::error::{ApiError, body_rejection};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use collect::formats::{LineOptions, ndjson};
use collect::{ChunkBuilder, TableBatch};
use model::{DEFAULT_SHOP, Reason, Reject};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use store::dedup::{day_of_ms, id_key};
use store::{WalExtras, is_queue_full};
use tokio::sync::watch;
use utoipa::ToSchema;

/// Largest single event accepted, in bytes.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Longest `event_id` accepted.
pub const MAX_EVENT_ID_CHARS: usize = 256;
pub use store::dedup::GENERATED_PREFIX;

/// One rejected row.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct RowError {
    /// 0-based index of the row (array element or NDJSON line).
    pub index: usize,
    /// Reason code (`bad_number`, `missing_field`, ...).
    pub reason: String,
    /// The field at fault.
    pub field: Option<String>,
    /// The offending value as written.
    pub value: Option<String>,
    /// The rule broken.
    pub message: String,
}

/// The answer to an ingest request.
#[derive(Debug, Serialize, ToSchema, Default)]
pub struct IngestReply {
    /// Events stored durably by this request.
    pub accepted: usize,
    /// Events whose `event_id` was already accepted (not stored again).
    pub duplicates: usize,
    /// Rows rejected (kept in the quarantine with their reason).
    pub rejected: usize,
    /// Each rejected row.
    pub errors: Vec<RowError>,
    /// Indices of the duplicate rows.
    pub duplicate_indices: Vec<usize>,
}

/// What a request will append.
struct Planned {
    tables: Vec<TableBatch>,
    extras: WalExtras,
    reserved: Vec<u128>,
    reply: IngestReply,
    /// This request's outcome, for later duplicates of its events.
    outcome: Outcome,
    /// Outcomes of earlier requests still writing events this one repeats.
    waits: Vec<Awaited>,
}

/// `Some(true)` once a request's events are durable, `Some(false)` if its append failed.
type Outcome = watch::Sender<Option<bool>>;
/// The other end of an [`Outcome`].
type Awaited = watch::Receiver<Option<bool>>;

/// Reserved ids whose append has not finished, each with its request's outcome.
pub type InFlight = HashMap<u128, Awaited>;

/// Settles a request's reservations once its append finished (or could not be queued): the
/// ids leave the in-flight map, a failed request's ids are released, and waiting duplicates
/// learn the outcome. Runs on the WAL writer thread, so it happens even if the client left.
fn settle(app: &App, reserved: &[u128], outcome: &Outcome, durable: bool) {
    let mine = outcome.subscribe();
    let mut index = (!durable).then(|| app.ids());
    {
        let mut inflight = app.inflight();
        for k in reserved {
            if inflight.get(k).is_some_and(|rx| rx.same_channel(&mine)) {
                inflight.remove(k);
            }
        }
    }
    if let Some(index) = index.as_mut() {
        index.release(reserved);
    }
    drop(index);
    outcome.send_replace(Some(durable));
}

/// A retryable error with the configured `Retry-After`.
fn retryable(
    app: &App,
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> ApiError {
    let mut err = ApiError::new(status, code, message);
    err.retry_after = Some(app.cfg.retry_after_secs.max(1));
    err
}

/// Waits for the requests this one repeats events of; an error if any of them failed.
async fn await_originals(app: &App, waits: Vec<Awaited>) -> Result<(), ApiError> {
    for mut rx in waits {
        let ok = matches!(
            rx.wait_for(|v| v.is_some()).await.map(|v| *v),
            Ok(Some(true))
        );
        if !ok {
            return Err(retryable(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                "retry",
                "an earlier request carrying some of these event_ids failed to be stored; they are not acknowledged — send this request again (the events stored by it are recognised as duplicates)",
            ));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/events", tag = "ingest",
    request_body(content = String, description = "An event object, a JSON array of events (application/json) or NDJSON (application/x-ndjson); optionally Content-Encoding: gzip", content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "Every accepted event is durable", body = IngestReply),
        (status = 400, description = "Unparsable body"), (status = 401, description = "No or unknown key"),
        (status = 403, description = "Wrong scope, or an event for another shop"),
        (status = 413, description = "Body too large"), (status = 415, description = "Unsupported content type or encoding"),
        (status = 429, description = "Saturated; retry after Retry-After"), (status = 503, description = "Shutting down, or the WAL cannot be written (a full disk); nothing was acknowledged, retry after Retry-After")),
    security(("api_key" = ["ingest"])))]
/// Ingests events.
pub async fn post_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReply>, ApiError> {
    let who = app.auth(&headers, Scope::Ingest)?;
    let layout = body::layout(&headers)?;
    let raw = body.map_err(body_rejection)?;
    let decoded = body::decode(&headers, &raw, app.cfg.max_body_bytes)?;
    let bytes = decoded.as_deref().unwrap_or(&raw);
    let rows = body::rows(layout, bytes)?;
    let planned = plan(&app, &who, &rows)?;
    let Planned {
        tables,
        extras,
        reserved,
        mut reply,
        outcome,
        waits,
    } = planned;
    for e in &reply.errors {
        app.metrics
            .rejected
            .with_label_values(&[e.reason.as_str()])
            .inc();
    }
    app.metrics.duplicates.inc_by(reply.duplicates as u64);
    if tables.is_empty() && extras.rejects.is_empty() {
        await_originals(&app, waits).await?;
        return Ok(Json(reply));
    }
    let accepted: usize = tables.iter().map(|t| t.batch.num_rows()).sum();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let t = Instant::now();
    // Live jobs see a batch once it is durable, in WAL order (the callback runs on the writer).
    let for_live = app.live.clone().map(|l| (l, tables.clone()));
    let outcome = Arc::new(outcome);
    let (app2, reserved2, outcome2) = (app.clone(), reserved.clone(), outcome.clone());
    if let Err(e) = app.wal.submit_tables(
        tables,
        extras,
        Box::new(move |r| {
            if let (Ok(_), Some((live, tables))) = (&r, for_live) {
                live.submit(tables);
            }
            settle(&app2, &reserved2, &outcome2, r.is_ok());
            let _ = tx.send(r);
        }),
    ) {
        // Never queued, so the callback will not run.
        settle(&app, &reserved, &outcome, false);
        if is_queue_full(&e) {
            app.metrics.throttled.inc();
            return Err(retryable(
                &app,
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded",
                "the write-ahead log is saturated; nothing from this request was stored, retry after Retry-After seconds",
            ));
        }
        return Err(ApiError::internal(e));
    }
    app.metrics.wal_queue.set(app.wal.queue_depth() as i64);
    match rx.await {
        Ok(Ok(_)) => {
            app.metrics
                .wal_append
                .with_label_values(&["ok"])
                .observe(t.elapsed().as_secs_f64());
            reply.accepted = accepted;
            app.metrics.accepted.inc_by(reply.accepted as u64);
            await_originals(&app, waits).await?;
            Ok(Json(reply))
        }
        Ok(Err(e)) => {
            app.metrics
                .wal_append
                .with_label_values(&["error"])
                .observe(t.elapsed().as_secs_f64());
            tracing::warn!(error = %e, "a WAL append failed; answered 503");
            Err(retryable(
                &app,
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                format!(
                    "the write-ahead log could not be written ({e}); nothing from this request was acknowledged, retry after Retry-After seconds (GET /health says when the server is ready again)"
                ),
            ))
        }
        Err(_) => Err(ApiError::internal("the WAL writer stopped")),
    }
}

/// The shop a rejected row is quarantined under: a shop-bound key's own (a row naming another
/// shop cannot be trusted with it), else the valid shop the row names, else `default`.
fn reject_shop(who: &Principal, raw: &str) -> String {
    if let Some(own) = &who.shop {
        return own.clone();
    }
    store::dedup::named(raw)
        .shop
        .filter(|s| model::check_shop(s).is_ok())
        .unwrap_or_else(|| DEFAULT_SHOP.to_string())
}

/// Parses and validates every row, checks shops, and reserves fresh event ids and the keys of
/// rejected rows.
fn plan(app: &AppState, who: &Principal, rows: &[body::Row<'_>]) -> Result<Planned, ApiError> {
    let now = collect::now_ms();
    let opts = LineOptions {
        shop: who.shop.clone(),
        rules: app.rules.clone(),
    };
    let default_shop = who.shop.as_deref().unwrap_or(DEFAULT_SHOP);
    let mut b = ChunkBuilder::new("http", "ndjson", default_shop, &app.rules, 1).keep_id_raw(false);
    let mut forbidden = Vec::new();
    let mut gen_seq = 0u64;
    let gen_base: u64 = rand::random();
    for &(index, raw) in rows {
        let line = index as u64 + 1;
        let parsed = if raw.len() > MAX_EVENT_BYTES {
            Err(Reject::row(
                Reason::BadValue,
                format!("an event may be at most {MAX_EVENT_BYTES} bytes"),
            ))
        } else {
            ndjson::parse_event(raw, &opts)
        };
        let mut e = match parsed {
            Ok(e) => e,
            Err(r) => {
                b.reject(line, None, raw, r);
                continue;
            }
        };
        if !who.may_use_shop(e.shop()) {
            forbidden.push(index);
            continue;
        }
        e.received_at = Some(now);
        match &e.event_id {
            None => {
                gen_seq += 1;
                e.event_id = Some(format!(
                    "{GENERATED_PREFIX}{now:x}-{gen_base:016x}-{gen_seq}"
                ));
            }
            Some(id)
                if id.starts_with(GENERATED_PREFIX)
                    || id.chars().count() > MAX_EVENT_ID_CHARS
                    || id.is_empty() =>
            {
                let r = Reject::field(
                    Reason::BadValue,
                    "event_id",
                    id,
                    format!(
                        "must be 1 to {MAX_EVENT_ID_CHARS} characters and not start with `{GENERATED_PREFIX}`"
                    ),
                );
                b.reject(line, None, raw, r);
                continue;
            }
            Some(_) => {}
        }
        b.event(line, None, raw, &e);
    }
    if !forbidden.is_empty() {
        return Err(ApiError::forbidden(format!(
            "this key is bound to shop `{default_shop}`; {} event(s) name another shop and nothing was stored",
            forbidden.len()
        ))
        .with_details(serde_json::json!({ "indices": forbidden })));
    }
    let mut chunk = b.finish();
    for q in &mut chunk.rejects {
        q.shop = reject_shop(who, &q.raw);
    }
    // Hashed before the index is locked (a key may parse its row).
    let reject_keys: Vec<u128> = chunk
        .rejects
        .iter()
        .map(|q| store::dedup::reject_key(&q.shop, &q.raw))
        .collect();
    let keys = std::mem::take(&mut chunk.batch.keys);
    let mut tables = chunk.batch.finish().map_err(ApiError::internal)?;
    let mut reply = IngestReply::default();
    let mut reserved = Vec::with_capacity(chunk.ids.len());
    let mut dropped = Vec::new();
    let (outcome, mine) = watch::channel(None);
    let mut waits: Vec<Awaited> = Vec::new();
    let mut quarantine = Vec::with_capacity(reject_keys.len());
    {
        let today = day_of_ms(now);
        let mut index = app.ids();
        let mut inflight = app.inflight();
        for id in &chunk.ids {
            if id.event_id.starts_with(GENERATED_PREFIX) {
                continue;
            }
            let k = id_key(&id.shop, &id.event_id);
            if index.reserve(k, today) {
                reserved.push(k);
                inflight.insert(k, mine.clone());
            } else {
                if let Some(rx) = inflight.get(&k)
                    && !rx.same_channel(&mine)
                    && !waits.iter().any(|w| w.same_channel(rx))
                {
                    waits.push(rx.clone());
                }
                dropped.push((id.slot, id.row));
                reply.duplicate_indices.push(id.line as usize - 1);
            }
        }
        // A bad row already quarantined (by an earlier try of this batch, or earlier in it) is
        // answered as rejected again but not stored again; one still being written is waited
        // for like a duplicate event, so that the 200 means it is in the quarantine.
        for &k in &reject_keys {
            let fresh = index.reserve(k, today);
            if fresh {
                reserved.push(k);
                inflight.insert(k, mine.clone());
            } else if let Some(rx) = inflight.get(&k)
                && !rx.same_channel(&mine)
                && !waits.iter().any(|w| w.same_channel(rx))
            {
                waits.push(rx.clone());
            }
            quarantine.push(fresh);
        }
    }
    if let Err(e) = store::drop_rows(&mut tables, &dropped) {
        settle(app, &reserved, &outcome, false);
        return Err(ApiError::internal(e));
    }
    reply.duplicate_indices.sort_unstable();
    reply.duplicates = reply.duplicate_indices.len();
    reply.errors = chunk
        .rejects
        .iter()
        .map(|q| RowError {
            index: q.line as usize - 1,
            reason: q.reason.code().to_string(),
            field: q.field.clone(),
            value: q.value.clone(),
            message: q.rule.clone(),
        })
        .collect();
    reply.rejected = reply.errors.len();
    let mut fresh = quarantine.into_iter();
    chunk.rejects.retain(|_| fresh.next().unwrap_or(true));
    let extras = WalExtras {
        rejects: chunk.rejects,
        keys: keys
            .into_iter()
            .map(|(shop, kind, key)| (shop, kind.to_string(), key))
            .collect(),
    };
    Ok(Planned {
        tables,
        extras,
        reserved,
        reply,
        outcome,
        waits,
    })
}
