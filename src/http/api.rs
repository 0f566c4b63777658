//! The tenant API's event pull (`/api/events`, bearer token); the WhatsApp
//! routes live in `whatsapp.rs`. Handlers stay thin: parse,
//! authorize, call the owning module, shape the answer.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::ids::TenantId;
use crate::store::events::EventRow;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events", get(pull_events))
}

/// Default and largest page of `GET /api/events`.
const PULL_DEFAULT_LIMIT: usize = 100;
const PULL_MAX_LIMIT: usize = 1000;

/// The pull cursor: opaque to callers (URL-safe base64 of `v1:<seq>`), stable
/// because `seq` never changes.
fn encode_cursor(seq: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{seq}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    let seq: i64 = std::str::from_utf8(&raw).ok()?.strip_prefix("v1:")?.parse().ok()?;
    (seq >= 0).then_some(seq)
}

/// `GET /api/events?after=CURSOR&limit=N`: the caller's tenant's events in
/// the order they were stored, whatever their delivery status. A tenant
/// token reads its own tenant; the internal secret names one with `?tenant=`.
/// A page stops before an event still held by a background job, so a cursor
/// never skips it. For a pull-only tenant (no webhook URL), `after` also
/// acknowledges: its pending events up to that cursor become `delivered`, so
/// retention prunes them (see `store::delivery::acknowledge_pulled`).
async fn pull_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = pulled_tenant(&state, &caller, &query).await?;
    let (after, limit) = (pull_after(&query)?, pull_limit(&query)?);
    // Asking for what follows `after` acknowledges everything up to it.
    let mut rows = state.store.outbox().pull(tenant.as_str(), after, limit + 1, now_ms()).await?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = encode_cursor(rows.last().map_or(after, |r| r.seq));
    let events: Vec<Value> = rows.into_iter().map(pulled_event).collect();
    Ok(Json(json!({"tenant": tenant, "events": events, "next_cursor": next_cursor, "has_more": has_more})))
}

/// The tenant read: the caller's own, or the one `?tenant=` names.
async fn pulled_tenant(
    state: &AppState,
    caller: &Caller,
    query: &HashMap<String, String>,
) -> Result<TenantId, ApiError> {
    match (query.get("tenant"), caller) {
        (Some(named), _) => caller.authorize(named, state).await,
        (None, Caller::Tenant(own)) => caller.authorize(own.as_str(), state).await,
        (None, Caller::Admin) => Err(ApiError::bad_request(
            "tenant_required",
            "the internal secret reads any tenant: name one with ?tenant=ID",
        )),
    }
}

/// `?after=`: the sequence number the page starts after (0 without one).
fn pull_after(query: &HashMap<String, String>) -> Result<i64, ApiError> {
    match query.get("after").map(String::as_str) {
        None | Some("") => Ok(0),
        Some(cursor) => decode_cursor(cursor).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "`after` must be a cursor returned by this API (`next_cursor`); omit it to start from the oldest event",
            )
        }),
    }
}

/// `?limit=`: the page size, 1 to [`PULL_MAX_LIMIT`].
fn pull_limit(query: &HashMap<String, String>) -> Result<usize, ApiError> {
    let Some(raw) = query.get("limit") else {
        return Ok(PULL_DEFAULT_LIMIT);
    };
    raw.parse::<usize>().ok().filter(|n| (1..=PULL_MAX_LIMIT).contains(n)).ok_or_else(|| {
        ApiError::bad_request("invalid_limit", format!("`limit` must be a number from 1 to {PULL_MAX_LIMIT}"))
    })
}

/// One event of a page, with the cursor that resumes after it.
fn pulled_event(row: EventRow) -> Value {
    json!({
        "id": row.id,
        "type": row.kind,
        "tenant": row.tenant_id,
        "created_at": crate::clock::format_ms(row.created_at_ms),
        "data": row.data,
        "status": row.status,
        "cursor": encode_cursor(row.seq),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        for seq in [0, 1, 42, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(seq)), Some(seq));
        }
        for junk in ["", "42", "djE6LTE", "!!!", "djI6MQ"] {
            assert_eq!(decode_cursor(junk), None, "{junk}");
        }
    }
}
