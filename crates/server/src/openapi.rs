//! The OpenAPI document, generated from the handlers' annotations (`utoipa`) and served at
//! `/v1/openapi.json`. A test checks that it lists exactly the routes the router serves.

use crate::app::AppState;
use crate::auth::Scope;
use crate::error::ApiError;
use crate::{analytics, dims, ingest, jobs, live, read};
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
        read::health, read::metrics, serve_doc, ingest::post_events,
        dims::put_items, dims::get_item, dims::put_users, dims::get_user, dims::delete_user,
        read::stats, read::quarantine, read::replay, read::audit,
        live::list, live::sse, live::latest, live::history,
        analytics::post_query, analytics::list_analyses, analytics::post_analysis,
        jobs::list, jobs::runs, jobs::run_now
    ),
    components(schemas(ingest::IngestReply, ingest::RowError, dims::UpsertReply, dims::ItemOut, dims::UserOut, read::QuarantinePage, read::ReplayRequest, analytics::QueryRequest, analytics::AnalysisInfo, crate::scheduler::RunRecord, crate::scheduler::JobInfo)),
    modifiers(&Security),
    tags((name = "ingest"), (name = "dimensions"), (name = "read"), (name = "live"), (name = "analytics"), (name = "operations"))
)]
pub struct ApiDoc;

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

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_lists_exactly_the_served_routes() {
        let mut served: Vec<(String, String)> = crate::app::routes()
            .list
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        served.sort();
        assert_eq!(super::documented(), served);
    }
}
