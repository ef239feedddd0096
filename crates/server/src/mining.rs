//! `/v1/mining`: the mining tasks over HTTP (read scope; a shop-bound key mines its shop only),
//! the same tasks and parameters as `storepulse mine` (the API reads the lake only: `sql`, not
//! files), optionally saved into the results table, and a run log (`state/mining-runs.jsonl`,
//! the last 1,000 kept in memory) for `GET /v1/mining/runs`.

use crate::analytics::query_error;
use crate::auth::Scope;
use crate::error::{ApiError, body_rejection};
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use mine::MineError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use utoipa::{IntoParams, ToSchema};

const KEPT: usize = 1000;

/// One run of a mining task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MiningRun {
    /// Run number (1, 2, … since the log began).
    pub id: u64,
    /// The task.
    pub task: String,
    /// The key that ran it.
    pub actor: String,
    /// The shop it was bound to, if any.
    pub shop: Option<String>,
    /// Start, UTC ms.
    pub started_ms: i64,
    /// Duration, ms.
    pub duration_ms: u64,
    /// `ok` or `failed`.
    pub status: String,
    /// The error of a failed run.
    pub error: Option<String>,
    /// The parameters, as sent.
    #[schema(value_type = Object)]
    pub params: Value,
    /// The headline figures of a successful run (nested objects left out).
    #[schema(value_type = Object)]
    pub summary: Map<String, Value>,
    /// Result rows written to the results table (`save`).
    pub saved_rows: Option<u64>,
}

/// The run log.
pub struct Runs {
    file: PathBuf,
    recent: Mutex<VecDeque<MiningRun>>,
    /// Runs going now: mining is CPU-heavy, so only [`AT_ONCE`] run together.
    running: std::sync::atomic::AtomicUsize,
}

/// Mining runs at once; more get 503 with Retry-After.
pub const AT_ONCE: usize = 2;

/// Holds one of the [`AT_ONCE`] places while a run goes.
struct Place<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Runs {
    /// The log of `data_dir`, its last runs read back.
    pub fn open(data_dir: &std::path::Path) -> Runs {
        let file = data_dir.join("state/mining-runs.jsonl");
        let mut recent = VecDeque::new();
        if let Ok(text) = std::fs::read_to_string(&file) {
            for line in text.lines() {
                if let Ok(r) = serde_json::from_str::<MiningRun>(line) {
                    if recent.len() == KEPT {
                        recent.pop_front();
                    }
                    recent.push_back(r);
                }
            }
        }
        Runs {
            file,
            recent: Mutex::new(recent),
            running: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn record(&self, mut run: MiningRun) -> MiningRun {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        run.id = recent.back().map_or(1, |r| r.id + 1);
        // The log is a record, not the result: failing to append it must not fail the run.
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            && let Ok(line) = serde_json::to_string(&run)
        {
            let _ = writeln!(f, "{line}");
        }
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(run.clone());
        run
    }
}

/// One task as the API lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskInfo {
    /// Its name.
    pub name: String,
    /// What it finds.
    pub help: String,
    /// Its parameters: name and help.
    #[schema(value_type = Vec<Object>)]
    pub params: Vec<Value>,
}

#[utoipa::path(get, path = "/v1/mining", tag = "mining", operation_id = "list_mining_tasks",
    responses((status = 200, description = "The mining tasks with their parameters", body = [TaskInfo])),
    security(("api_key" = ["read"])))]
/// The mining tasks.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<TaskInfo>>, ApiError> {
    app.auth(&headers, Scope::Read)?;
    Ok(Json(
        mine::registry::REGISTRY
            .iter()
            .map(|d| TaskInfo {
                name: d.name.into(),
                help: d.help.into(),
                // Files are the CLI's; the API reads the lake only.
                params: d
                    .all_params()
                    .filter(|p| !matches!(p.name, "data" | "baskets"))
                    .map(|p| json!({"name": p.name, "help": p.help}))
                    .collect(),
            })
            .collect(),
    ))
}

fn mine_error(e: MineError) -> ApiError {
    match e {
        MineError::Usage(m) => ApiError::bad_request(m),
        MineError::Query(q) => query_error(q),
        other => ApiError::internal(other),
    }
}

#[utoipa::path(post, path = "/v1/mining/{task}", tag = "mining", operation_id = "run_mining_task",
    params(("task" = String, Path, description = "A task from GET /v1/mining")),
    request_body(content = Object, description = "The task's parameters, e.g. {\"sql\": \"SELECT order_id, item_id FROM orders\", \"min_support\": 0.01} for rules or {\"k\": 4} for segments; add \"save\": true to write the result to the results table, \"sink\": true to upsert its tables into the [sink] database"),
    responses(
        (status = 200, description = "The parameters used, headline figures and the result tables", body = query::analysis::Analysis),
        (status = 400, description = "Unknown task or bad parameters (naming the column, row or value)"),
        (status = 403, description = "Another shop than the key's"),
        (status = 408, description = "Time limit hit"),
        (status = 422, description = "Memory limit hit")),
    security(("api_key" = ["read"])))]
/// Runs a mining task.
pub async fn run(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(task): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<query::analysis::Analysis>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let body = body.map_err(body_rejection)?;
    let mut params: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!("the body must be a JSON object of parameters: {e}"))
        })?
    };
    let save = take_flag(&mut params, "save")?;
    let to_sink = take_flag(&mut params, "sink")?;
    if to_sink && app.sink.is_none() {
        return Err(ApiError::bad_request(
            "sink needs a database: set [sink] url in the server's config",
        ));
    }
    let def = mine::registry::find(&task).map_err(mine_error)?;
    let running = &app.mining_runs.running;
    if running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= AT_ONCE {
        running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        let mut e = ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "mining_busy",
            format!("{AT_ONCE} mining runs are going; retry when one has finished"),
        );
        e.retry_after = Some(5);
        return Err(e);
    }
    let _place = Place(running);
    let sent = Value::Object(params.clone());
    let started_ms = model::time::now_ms();
    let clock = std::time::Instant::now();
    let (engine, zone, shop) = (app.query.clone(), app.zone, who.shop.clone());
    let app2 = app.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let ctx = mine::source::Ctx {
            query: query::analysis::Ctx {
                engine: &engine,
                scope: query::Scope { shop: shop.clone() },
                zone,
            },
            files: false,
        };
        let r = engine.block_on(mine::registry::run_named(
            &ctx,
            def.name,
            Value::Object(params),
        ))?;
        let saved = if save {
            let at = model::time::now_ms();
            let own = shop
                .as_deref()
                .or(r.summary.get("shop").and_then(Value::as_str));
            Some(mine::results::save(&mut app2.store(), def, &r, own, at)?)
        } else {
            None
        };
        Ok::<_, MineError>((r, saved))
    })
    .await
    .map_err(ApiError::internal)?;
    let mut run = MiningRun {
        id: 0,
        task: def.name.into(),
        actor: who.name.clone(),
        shop: who.shop.clone(),
        started_ms,
        duration_ms: clock.elapsed().as_millis() as u64,
        status: "ok".into(),
        error: None,
        params: sent,
        summary: Map::new(),
        saved_rows: None,
    };
    match outcome {
        Ok((r, saved)) => {
            run.summary = r
                .summary
                .iter()
                .filter(|(_, v)| !v.is_object() && !v.is_array())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            run.saved_rows = saved;
            if to_sink && let Some((sink, _)) = &app.sink {
                for t in crate::sinks::mining_tables(def, &r) {
                    if let Err(e) = sink.write(&t).await {
                        run.status = "failed".into();
                        run.error = Some(format!("writing {} to the sink: {e}", t.name));
                        app.mining_runs.record(run);
                        return Err(ApiError::new(
                            axum::http::StatusCode::BAD_GATEWAY,
                            "sink_failed",
                            format!(
                                "the result was computed but writing {} to the sink failed: {e}",
                                t.name
                            ),
                        ));
                    }
                }
            }
            app.mining_runs.record(run);
            Ok(Json(r))
        }
        Err(e) => {
            run.status = "failed".into();
            run.error = Some(e.to_string());
            app.mining_runs.record(run);
            Err(mine_error(e))
        }
    }
}

/// Removes the switch `name` (not a task parameter) from the body: absent is false.
fn take_flag(params: &mut Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match params.remove(name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, not {other}"
        ))),
    }
}

/// `?task=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    /// Only this task.
    pub task: Option<String>,
    /// Runs to return, newest first (at most 1000; default 100).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/mining/runs", tag = "mining", operation_id = "list_mining_runs", params(RunsParams),
    responses((status = 200, description = "Mining runs, newest first (a shop-bound key sees its shop's)", body = [MiningRun])),
    security(("api_key" = ["read"])))]
/// The mining run log.
pub async fn runs(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RunsParams>,
) -> Result<Json<Vec<MiningRun>>, ApiError> {
    let who = app.auth(&headers, Scope::Read)?;
    let limit = q.limit.unwrap_or(100).min(KEPT);
    let recent = app
        .mining_runs
        .recent
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    Ok(Json(
        recent
            .iter()
            .rev()
            .filter(|r| q.task.as_ref().is_none_or(|t| &r.task == t))
            .filter(|r| who.shop.is_none() || r.shop == who.shop)
            .take(limit)
            .cloned()
            .collect(),
    ))
}
