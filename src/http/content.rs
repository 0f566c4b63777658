//! The content API: stored WhatsApp media and call recordings, served to
//! the tenant's backend (its token) or the operator (the internal secret).
//! Handlers stay thin; the file serving (ranges, ETag) is
//! `http::file`.
//!
//! `GET` also answers `HEAD` (axum drops the body). The global request time
//! limit bounds only the wait for the response head: the body streams after
//! it, so a long download on a slow link is not cut by it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::file::respond;
use super::{ApiError, AppState, Caller};
use crate::content::valid_id;
use crate::paths::ContentKind;
use crate::store::blobs::BlobError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/whatsapp/{tenant}/media/{id}", get(media))
        .route("/api/recordings/{tenant}/{id}", get(recording))
}

/// `GET /api/whatsapp/{tenant}/media/{id}`
async fn media(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, &caller, ContentKind::WhatsappMedia, &tenant, &id, &headers).await
}

/// `GET /api/recordings/{tenant}/{RecordingSid}`
async fn recording(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, &caller, ContentKind::Recording, &tenant, &id, &headers).await
}

async fn serve(
    state: &AppState,
    caller: &Caller,
    kind: ContentKind,
    tenant: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let tenant = caller.authorize(tenant, state).await?;
    // A malformed id reads like an unknown one, and never reaches the
    // database or a path.
    let not_found = || ApiError::not_found(format!("no such {}", noun(kind)));
    if !valid_id(kind, id) {
        return Err(not_found());
    }
    let row = state.store.content().get(tenant.as_str(), kind, id).await?.ok_or_else(not_found)?;
    let expired = || {
        ApiError::new(
            StatusCode::GONE,
            "expired",
            format!("this {} was deleted after media.retention_days", noun(kind)),
        )
    };
    if row.expired_at_ms.is_some() {
        return Err(expired());
    }
    let blob = match state.store.blobs(&state.data).open(&row).await {
        Ok(blob) => blob,
        Err(BlobError::Missing) => return Err(expired()),
        Err(BlobError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::internal(e)),
    };
    respond(blob, &row, headers).await.map_err(ApiError::internal)
}

fn noun(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::WhatsappMedia => "media",
        ContentKind::Recording => "recording",
    }
}
