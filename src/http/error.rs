//! API errors as JSON: `{"error":{"code":"...","message":"..."}}`, and the
//! one place the domain's errors become HTTP answers (status, code, text).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `Retry-After` of a request refused because the database is unavailable:
/// a restart of PostgreSQL takes seconds.
const STORE_RETRY_AFTER_S: u64 = 5;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_s: None }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    /// A failure on our side; the detail goes to the log, not to the caller.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the daemon's log")
    }

    /// A store error: 503 with `Retry-After` when the database is
    /// unreachable or cannot take the write now (nothing was stored; Twilio
    /// and API clients retry a 503), else 500. The detail goes to the log.
    pub fn store(e: &crate::store::StoreError) -> Self {
        if !e.is_unavailable() {
            return ApiError::internal(e);
        }
        tracing::warn!(error = %e, "request refused: the database is unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the database is unavailable; try again",
        )
        .retry_after(STORE_RETRY_AFTER_S)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::store(&e)
    }
}

impl From<crate::twilio::webhook::WebhookError> for ApiError {
    fn from(e: crate::twilio::webhook::WebhookError) -> Self {
        use crate::twilio::webhook::WebhookError as E;
        let (status, code) = match &e {
            E::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            E::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            E::TooManyParams { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_params"),
            E::UnknownKind | E::NoTenant(_) | E::RecordingWithoutNumber | E::UnknownNumber => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            E::InvalidTenantId(_) => (StatusCode::BAD_REQUEST, "invalid_tenant_id"),
            E::NotUtf8 | E::NotAnObject | E::MissingSid(_) | E::NotASid(_) => {
                (StatusCode::BAD_REQUEST, "malformed")
            }
            E::Store(e) => return ApiError::store(e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<crate::whatsapp::SendError> for ApiError {
    fn from(e: crate::whatsapp::SendError) -> Self {
        use crate::whatsapp::SendError as E;
        match e {
            E::Invalid(m) => ApiError::bad_request("invalid_message", m),
            E::NotConnected(m) => ApiError::new(StatusCode::CONFLICT, "not_connected", m),
            e @ E::RateLimited(wait) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
                    .retry_after(wait.as_secs().max(1))
            }
            E::KeyConflict(m) => ApiError::new(StatusCode::CONFLICT, "idempotency_conflict", m),
            e @ E::Failed(_) => ApiError::new(StatusCode::BAD_GATEWAY, "send_failed", e.to_string()),
            E::OutcomeUnknown(m) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "outcome_unknown", m),
            E::PreviousOutcomeUnknown(m) => ApiError::new(StatusCode::CONFLICT, "outcome_unknown", m),
            E::Store(e) => ApiError::store(&e),
        }
    }
}

impl From<crate::whatsapp::MediaError> for ApiError {
    fn from(e: crate::whatsapp::MediaError) -> Self {
        use crate::whatsapp::MediaError as E;
        match e {
            E::TooLarge(max) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the file is larger than this daemon's {max}-byte limit (whatsapp.media_max_bytes)"),
            ),
            E::Invalid(m) => ApiError::bad_request("invalid", m),
            E::Mismatch(m) => ApiError::bad_request("mimetype_mismatch", m),
            E::Io(m) => ApiError::internal(m),
        }
    }
}

/// A failed health check: 503 with the reason as plain text.
impl IntoResponse for crate::health::Unhealthy {
    fn into_response(self) -> Response {
        let content_type = [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")];
        (StatusCode::SERVICE_UNAVAILABLE, content_type, self.to_string()).into_response()
    }
}

pub async fn no_such_route() -> ApiError {
    ApiError::not_found("no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
}
