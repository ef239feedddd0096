//! The route table — the one list of (method, path, handler), also what the OpenAPI document
//! is checked against — and the layers every request passes (admission, metrics, body limit).
//! Above the handlers; nothing below imports it.

use crate::error::ApiError;
use crate::state::AppState;
use crate::{analytics, dims, events, jobs, live, mining, openapi, read};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post, put};
use std::time::Instant;

/// The routes, with the (method, path) list that the OpenAPI document must match.
pub struct Routes {
    router: Router<AppState>,
    /// Every (METHOD, path) served.
    pub list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add(mut self, method: &'static str, path: &'static str, mr: MethodRouter<AppState>) -> Self {
        self.list.push((method, path));
        self.router = self.router.route(path, mr);
        self
    }
}

/// Builds the route table.
pub fn routes() -> Routes {
    let r = Routes {
        router: Router::new(),
        list: Vec::new(),
    };
    r.add("GET", "/health", get(read::health))
        .add("GET", "/metrics", get(read::metrics))
        .add("GET", "/v1/openapi.json", get(openapi::serve_doc))
        .add("POST", "/v1/events", post(events::post_events))
        .add("PUT", "/v1/items", put(dims::put_items))
        .add("GET", "/v1/items/{id}", get(dims::get_item))
        .add("PUT", "/v1/users", put(dims::put_users))
        .add("GET", "/v1/users/{id}", get(dims::get_user))
        .add("DELETE", "/v1/users/{id}", delete(dims::delete_user))
        .add("GET", "/v1/stats", get(read::stats))
        .add("GET", "/v1/quarantine", get(read::quarantine))
        .add("POST", "/v1/quarantine/replay", post(read::replay))
        .add("GET", "/v1/audit", get(read::audit))
        .add("GET", "/v1/live", get(live::list))
        .add("GET", "/v1/live/stream", get(live::sse))
        .add("GET", "/v1/live/{job}", get(live::latest))
        .add("GET", "/v1/live/{job}/history", get(live::history))
        .add("POST", "/v1/query", post(analytics::post_query))
        .add("GET", "/v1/analyses", get(analytics::list_analyses))
        .add(
            "POST",
            "/v1/analyses/{name}",
            post(analytics::post_analysis),
        )
        .add("GET", "/v1/jobs", get(jobs::list))
        .add("GET", "/v1/jobs/runs", get(jobs::runs))
        .add("POST", "/v1/jobs/{name}/run", post(jobs::run_now))
        .add("GET", "/v1/mining", get(mining::list))
        .add("GET", "/v1/mining/runs", get(mining::runs))
        .add("POST", "/v1/mining/{task}", post(mining::run))
}

/// The complete router over a state.
pub fn router(app: AppState) -> Router {
    let limit = app.cfg.max_body_bytes;
    routes()
        .router
        .fallback(|| async { ApiError::not_found("no such endpoint; see GET /v1/openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method; see GET /v1/openapi.json",
            )
        })
        .layer(middleware::from_fn_with_state(
            app.clone(),
            crate::admit::admit,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// Records each request's latency by route, method and status.
async fn track(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let t = Instant::now();
    let resp = next.run(req).await;
    app.metrics
        .requests
        .with_label_values(&[route.as_str(), method.as_str(), resp.status().as_str()])
        .observe(t.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_lists_exactly_the_served_routes() {
        let mut served: Vec<(String, String)> = super::routes()
            .list
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        served.sort();
        assert_eq!(crate::openapi::documented(), served);
    }
}
