//! The OpenAPI document, generated from the handlers' annotations (`utoipa`) and served at
//! `/v1/openapi.json`. A test checks that it lists exactly the routes the router serves.

use crate::auth::Scope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{analytics, dims, events, jobs, live, read};
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
        jobs::list, jobs::runs, jobs::run_now
    ),
    components(schemas(ErrorBody, ErrorDetail, ingest::IngestReply, ingest::RowError, ingest::UpsertReply, dims::ItemOut, dims::UserOut, read::QuarantinePage, read::ReplayRequest, analytics::QueryRequest, analytics::AnalysisInfo, analytics::ParamInfo, crate::scheduler::RunRecord, crate::scheduler::JobInfo)),
    modifiers(&Security),
    tags((name = "ingest"), (name = "dimensions"), (name = "read"), (name = "live"), (name = "analytics"), (name = "operations"))
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
    responses((status = 200, description = "This document")), security(("api_key" = ["read"])))]
/// The OpenAPI document.
pub async fn serve_doc(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<utoipa::openapi::OpenApi>, ApiError> {
    app.auth(&headers, Scope::Read)?;
    Ok(Json(ApiDoc::openapi()))
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
