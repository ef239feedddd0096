//! The scheduler over HTTP: schedules, their run log, and manual runs.

use crate::auth::Scope;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::scheduler::{JobInfo, RunRecord, TriggerError};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

/// Filters of the run log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    /// Only this schedule.
    pub job: Option<String>,
    /// At most this many runs (default 100).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/jobs", tag = "operations", operation_id = "list_jobs",
    responses((status = 200, description = "The schedules with their next run", body = [JobInfo])),
    security(("api_key" = ["read"])))]
/// The scheduled tasks.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<JobInfo>>, ApiError> {
    app.auth(&headers, Scope::Read)?;
    Ok(Json(
        app.scheduler.as_ref().map(|s| s.jobs()).unwrap_or_default(),
    ))
}

#[utoipa::path(get, path = "/v1/jobs/runs", tag = "operations", params(RunsParams),
    responses((status = 200, description = "Runs, newest first: ok, failed (after retries), skipped (the previous run was still going) or running", body = [RunRecord])),
    security(("api_key" = ["read"])))]
/// The scheduler's run log.
pub async fn runs(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<RunsParams>,
) -> Result<Json<Vec<RunRecord>>, ApiError> {
    app.auth(&headers, Scope::Read)?;
    let limit = p.limit.unwrap_or(100).min(1000);
    Ok(Json(
        app.scheduler
            .as_ref()
            .map(|s| s.runs(p.job.as_deref(), limit))
            .unwrap_or_default(),
    ))
}

#[utoipa::path(post, path = "/v1/jobs/{name}/run", tag = "operations",
    params(("name" = String, Path, description = "The schedule's name")),
    responses((status = 202, description = "Started", body = RunStarted), (status = 404, description = "No such schedule"),
        (status = 409, description = "A run is going")),
    security(("api_key" = ["admin"])))]
/// Runs a scheduled task now.
pub async fn run_now(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    app.auth(&headers, Scope::Admin)?;
    let Some(s) = &app.scheduler else {
        return Err(ApiError::not_found(
            "no schedules are configured ([[schedule]] in the config)",
        ));
    };
    match s.trigger(&name) {
        Ok(id) => Ok((StatusCode::ACCEPTED, Json(RunStarted { run: id })).into_response()),
        Err(TriggerError::NotFound) => {
            Err(ApiError::not_found(format!("no schedule named {name:?}")))
        }
        Err(TriggerError::Running) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_running",
            format!("{name} is running; see GET /v1/jobs/runs"),
        )),
    }
}

/// `POST /v1/jobs/{name}/run`'s answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RunStarted {
    /// The run's id: follow it in `GET /v1/jobs/runs`.
    pub run: u64,
}
