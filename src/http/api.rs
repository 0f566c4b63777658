//! The tenant API (`/api/...`, bearer token). Handlers stay thin: parse,
//! authorize, call the owning module, shape the answer.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{ApiError, AppState, Caller};
use crate::store::tenants as rows;
use crate::tenants::rfc3339;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/whatsapp/{tenant}/status", get(status))
}

async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let lookup = id.clone();
    let row = state
        .store
        .run(move |c| rows::get(c, lookup.as_str()))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no tenant `{id}`")))?;
    Ok(Json(json!({
        "tenant": row.id,
        "state": row.wa_state,
        "phone": row.wa_phone,
        "since": rfc3339(row.wa_state_since),
        "reconnects": row.wa_reconnects,
        "last_error": row.wa_last_error,
    })))
}
