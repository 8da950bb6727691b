//! The server's one error type. It becomes a protocol `error` frame on a socket and a JSON body
//! with a status code over HTTP. Internal causes are logged, never shown to clients.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_protocol::ErrorCode;

use crate::store::StoreError;

/// An error a client is told about: a code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds to wait before retrying, for a rate limit (HTTP `Retry-After`).
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `rate_limited`, retry after `wait` (rounded up to whole seconds, at least 1).
    pub fn rate_limited(what: &str, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        Self {
            code: ErrorCode::RateLimited,
            message: format!("{what}; retry in {secs} s"),
            retry_after: Some(secs),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    /// Nothing could be stored now (see [`ErrorCode::Unavailable`]).
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "the server cannot store anything right now; nothing was stored, retry later",
        )
    }
    /// A failed file operation: a full disk (or quota) or a read-only file system passes and
    /// is `unavailable`; anything else is `internal`. The cause is logged, not shown.
    pub fn io(what: &str, err: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        match err.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::ReadOnlyFilesystem => {
                tracing::warn!(%err, "{what}: no space to write");
                Self::unavailable()
            }
            _ => {
                tracing::error!(%err, "{what}");
                Self::internal()
            }
        }
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error; nothing was stored")
    }

    /// The HTTP status that goes with the code.
    pub fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Gone => StatusCode::GONE,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Banned | ErrorCode::Muted | ErrorCode::WrongPassword => {
                StatusCode::FORBIDDEN
            }
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(message) => Self::new(ErrorCode::Conflict, message),
            StoreError::NotFound(message) => Self::not_found(message),
            StoreError::Gone(message) => Self::new(ErrorCode::Gone, message),
            StoreError::Forbidden(message) => Self::forbidden(message),
            StoreError::TooMany(message) => Self::new(ErrorCode::TooLarge, message),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "store unavailable");
                Self::unavailable()
            }
            StoreError::Backend(cause) => {
                tracing::error!(%cause, "store failure");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "message": self.message });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
