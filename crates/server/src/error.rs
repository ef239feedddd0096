//! The one HTTP error type. Every failure, including rejected request bodies and unknown routes,
//! answers `{"error": {"code", "message", "details"}}` with the right status. A 500 logs its
//! cause and shows a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`unauthorized`, `payload_too_large`, ...).
    pub code: &'static str,
    /// What happened and what to do, for people.
    pub message: String,
    /// Structured details (row indices, limits, ...).
    pub details: Value,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// 400: the body (or a parameter) cannot be understood.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 500: our fault; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error (see the server log)",
        )
    }

    /// 503 while shutting down.
    pub fn shutting_down() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry against the restarted server",
        );
        e.retry_after = Some(1);
        e
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

/// Maps axum's body rejection (too large, read failure) into the error shape.
pub fn body_rejection(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is larger than server.max_body_bytes; send smaller batches",
        )
    } else {
        ApiError::bad_request(format!("could not read the request body: {e}"))
    }
}

/// Maps a refused ingest batch to its HTTP answer; retryable ones carry `Retry-After`.
pub fn from_ingest(e: ingest::IngestError, retry_after_secs: u64) -> ApiError {
    use ingest::IngestError as E;
    let retry = e.retryable();
    let message = e.to_string();
    let mut err = match e {
        E::ForeignShop { indices, .. } => {
            ApiError::forbidden(message).with_details(json!({ "indices": indices }))
        }
        E::BadBody(_) => ApiError::bad_request(message),
        E::TooLarge { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the decompressed body exceeds server.max_body_bytes ({limit} bytes); send smaller batches"
            ),
        )
        .with_details(json!({ "limit_bytes": limit })),
        E::Overloaded => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            format!("{message} (after Retry-After seconds)"),
        ),
        E::Storage(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("{message} (after Retry-After seconds; GET /health says when the server is ready again)"),
        ),
        E::OriginalFailed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "retry", message),
        E::Internal(m) => ApiError::internal(m),
    };
    if retry {
        err.retry_after = Some(retry_after_secs.max(1));
    }
    err
}
