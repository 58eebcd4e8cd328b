//! One error type for every handler. It maps to a status and a translation key; the
//! `render_errors` middleware turns that into a page or JSON in the user's language.
//! Internal details are logged, never shown.

use crate::domain::Invalid;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What went wrong, in terms a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input: {0}")]
    Invalid(Invalid),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("not logged in")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    /// Forbidden, with a message saying why (someone else's handoff).
    #[error("forbidden: {0}")]
    NotAllowed(&'static str),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("request body too large")]
    TooLarge,
    #[error("too many attempts")]
    TooManyRequests,
    #[error("service unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

pub type AppResult<T, E = AppError> = Result<T, E>;

/// Attached to error responses for the rendering middleware.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// Stable code for JSON clients, e.g. `not_found`.
    pub code: &'static str,
    /// Translation key of the message.
    pub key: &'static str,
    pub field: Option<&'static str>,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::NotAllowed(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn info(&self) -> ErrorInfo {
        let (code, key, field) = match self {
            AppError::Invalid(i) => ("invalid", i.key, Some(i.field)),
            AppError::BadRequest(k) => ("bad_request", *k, None),
            AppError::Unauthorized => ("unauthorized", "err-unauthorized", None),
            AppError::Forbidden => ("forbidden", "err-forbidden", None),
            AppError::NotAllowed(k) => ("forbidden", *k, None),
            AppError::NotFound => ("not_found", "err-not-found", None),
            AppError::Conflict(k) => ("conflict", *k, None),
            AppError::TooLarge => ("too_large", "err-too-large", None),
            AppError::TooManyRequests => ("too_many_requests", "err-throttled", None),
            AppError::Unavailable => ("unavailable", "err-unavailable", None),
            AppError::Internal(_) => ("internal", "err-internal", None),
        };
        ErrorInfo { code, key, field }
    }
}

impl From<Invalid> for AppError {
    fn from(i: Invalid) -> Self {
        AppError::Invalid(i)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict("login") => AppError::Conflict("err-login-taken"),
            StoreError::Conflict("slug") => AppError::Conflict("err-slug-taken"),
            StoreError::Conflict("lg_code") => AppError::Conflict("err-lg-code-taken"),
            StoreError::Conflict(_) => AppError::Conflict("err-conflict"),
            StoreError::Refused("archived") => AppError::Conflict("err-room-archived"),
            StoreError::Refused("reply_to") => AppError::BadRequest("err-reply-other-room"),
            StoreError::Refused("setup") => AppError::Forbidden,
            StoreError::Refused("photo already withdrawn") => {
                AppError::Conflict("err-photo-withdrawn")
            }
            StoreError::Refused("photo not withdrawn") => {
                AppError::Conflict("err-photo-not-withdrawn")
            }
            StoreError::Refused(r) if r.starts_with("idempotency") => {
                AppError::Conflict("err-idem-reused")
            }
            StoreError::Unavailable(_) => AppError::Unavailable,
            StoreError::Db(e) if connection_lost(&e) => AppError::Unavailable,
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// Whether a database error means "cannot reach the database" rather than a bad query.
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // 08…: connection exceptions; 57P…: the server is shutting down or restarting.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut res = self.status().into_response();
        res.extensions_mut().insert(self.info());
        res
    }
}
