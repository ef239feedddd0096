//! Query-string and path extractors whose rejections are the JSON error envelope
//! ([`ApiError`], code `bad_parameter`) instead of axum's `text/plain` ones: `?limit=-1` or
//! `?exact=maybe` get the same kind of answer as any other mistake.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The query string, deserialised into `T`.
pub struct Query<T>(pub T);

/// The path parameters, deserialised into `T`.
pub struct Path<T>(pub T);

fn bad_parameter(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", message)
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| bad_parameter(format!("{} (see GET /v1/openapi.json)", e.body_text())))
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| bad_parameter(e.body_text()))
    }
}
