//! The OpenAPI document, generated from the handlers' annotations (`utoipa`) and served at
//! `/v1/openapi.json`. A test checks that it lists exactly the routes the router serves.

use crate::auth::Scope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{analytics, dims, events, jobs, live, mining, read};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let comps = doc.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`storepulse keys create`) with the scope shown on each operation",
                    ))
                    .build(),
            ),
        );
    }
}

/// Completes every operation's answers: a secured one can answer 401 and 403, one with query
/// or path parameters 400 `bad_parameter`, every error answer is the JSON envelope
/// ([`ErrorBody`]), and a success without a declared body is a JSON object. Done here once
/// rather than on each handler, so no route can forget it.
struct Envelopes;

impl Modify for Envelopes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        let object = || {
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::ObjectBuilder::new().build()))
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let rs = &mut op.responses.responses;
                let mut add = |code: &str, what: &str| {
                    if !rs.contains_key(code) {
                        rs.insert(
                            code.to_string(),
                            RefOr::T(ResponseBuilder::new().description(what).build()),
                        );
                    }
                };
                if secured {
                    add("401", "No API key, or an unknown one");
                    add(
                        "403",
                        "The key lacks the scope, or is bound to another shop",
                    );
                }
                if has_params {
                    add("400", "A parameter has a wrong value (`bad_parameter`)");
                }
                add("503", "Shutting down; retry after Retry-After");
                for (code, r) in rs.iter_mut() {
                    let RefOr::T(r) = r else { continue };
                    if !r.content.is_empty() {
                        continue;
                    }
                    if code.starts_with('4') || code.starts_with('5') {
                        r.content.insert("application/json".into(), error());
                    } else if code.starts_with('2') {
                        r.content.insert("application/json".into(), object());
                    }
                }
            }
        }
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "StorePulse API", description = "Durable e-commerce event collection and analytics. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`."),
    paths(
        read::health, read::metrics, serve_doc, events::post_events,
        dims::put_items, dims::get_item, dims::put_users, dims::get_user, dims::delete_user,
        read::stats, read::quarantine, read::replay, read::audit,
        live::list, live::sse, live::latest, live::history,
        analytics::post_query, analytics::list_analyses, analytics::post_analysis,
        jobs::list, jobs::runs, jobs::run_now,
        mining::list, mining::runs, mining::run
    ),
    components(schemas(ErrorBody, ErrorDetail, store::LakeStats, store::TableStats, query::analysis::Analysis, query::analysis::Table, live::EmissionDoc, live::HistoryDoc, live::LatestDoc, ingest::IngestReply, ingest::RowError, ingest::UpsertReply, dims::ItemOut, dims::UserOut, dims::ErasedReply, read::QuarantinePage, read::ReplayRequest, analytics::QueryRequest, analytics::AnalysisInfo, analytics::ParamInfo, crate::scheduler::RunRecord, crate::scheduler::JobInfo, live::LiveJobs, live::LiveJob, read::ReplayResult, read::ReplayFilter, jobs::RunStarted, OpenApiDoc, read::Health, mining::MiningRun, mining::TaskInfo)),
    modifiers(&Security, &Envelopes),
    tags((name = "ingest"), (name = "dimensions"), (name = "read"), (name = "live"), (name = "analytics"), (name = "mining"), (name = "operations"))
)]
pub struct ApiDoc;

/// The body of every error answer.
#[derive(utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// An error's code, message and details.
#[derive(utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`bad_parameter`, `unauthorized`, `overloaded`, ...).
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// Structured details (row indices, limits, suggestions), or null.
    #[schema(value_type = Object, nullable = true)]
    pub details: Option<serde_json::Value>,
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", body = OpenApiDoc)), security(("api_key" = ["read"])))]
/// The OpenAPI document.
pub async fn serve_doc(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<utoipa::openapi::OpenApi>, ApiError> {
    app.auth(&headers, Scope::Read)?;
    Ok(Json(ApiDoc::openapi()))
}

/// `GET /v1/openapi.json`: an OpenAPI 3.1 document.
#[derive(utoipa::ToSchema)]
pub struct OpenApiDoc {
    /// `3.1.0`.
    pub openapi: String,
    /// Title, description and version.
    #[schema(value_type = Object)]
    pub info: serde_json::Value,
    /// Every path with its operations.
    #[schema(value_type = Object)]
    pub paths: serde_json::Value,
    /// Schemas and security schemes.
    #[schema(value_type = Object)]
    pub components: serde_json::Value,
}

/// Every (METHOD, path) the document describes.
pub fn documented() -> Vec<(String, String)> {
    let doc = ApiDoc::openapi();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (m, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if op.is_some() {
                out.push((m.to_string(), path.clone()));
            }
        }
    }
    out.sort();
    out
}
