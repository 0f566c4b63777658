//! `/api/whatsapp/{tenant}/...`: status, pairing (QR as PNG/SVG/JSON, pair
//! code), send, logout, restart. Thin: authorize, call `whatsapp`, shape.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, AppState, Caller};
use crate::store::tenants as rows;
use crate::tenants::TenantId;
use crate::whatsapp::views::SessionView;
use crate::whatsapp::{PairRequest, Pairing, PairingError, SendError, SendRequest, WhatsAppError};

/// How long the pairing routes wait for the worker's first code.
/// (Below the request time limit, `http.request_timeout_s`.)
const FIRST_CODE_WAIT: Duration = Duration::from_secs(10);
/// Pixels per QR module in the PNG.
const PNG_SCALE: u32 = 8;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/whatsapp/{tenant}/status", get(status))
        .route("/api/whatsapp/{tenant}/qr", get(qr))
        .route("/api/whatsapp/{tenant}/pair-code", post(pair_code))
        .route("/api/whatsapp/{tenant}/send", post(send))
        .route("/api/whatsapp/{tenant}/logout", post(logout))
        .route("/api/whatsapp/{tenant}/restart", post(restart))
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
    Ok(Json(serde_json::to_value(SessionView::from_row(&row)).map_err(ApiError::internal)?))
}

/// `GET .../qr?format=png|svg|json`: the current pairing QR (starts pairing
/// when the tenant is unpaired; 409 when a device is linked).
async fn qr(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let format = query.get("format").map(String::as_str).unwrap_or("json");
    if !matches!(format, "png" | "svg" | "json") {
        return Err(ApiError::bad_request("invalid_format", "`format` must be png, svg or json"));
    }
    let pairing = first_code(&state, &id, PairRequest::Qr).await?;
    let Pairing::Qr { code, codes_left, .. } = &pairing else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "pairing_by_code",
            "this tenant is pairing by phone-number code; use that code or wait for it to expire",
        ));
    };
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    Ok(match format {
        "png" => {
            let png = crate::qr::png(code, PNG_SCALE).map_err(ApiError::internal)?;
            (no_store, [(header::CONTENT_TYPE, "image/png")], png).into_response()
        }
        "svg" => {
            let svg = crate::qr::svg(code).map_err(ApiError::internal)?;
            (no_store, [(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
        }
        _ => {
            let body =
                json!({"code": code, "expires_in_s": pairing.expires_in_s(), "codes_left": codes_left});
            (no_store, Json(body)).into_response()
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairCodeBody {
    phone: String,
}

/// `POST .../pair-code {"phone":"+E164"}`: phone-number pairing; the
/// 8-character code to enter on that phone.
async fn pair_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<PairCodeBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request("invalid_body", format!("expected {{\"phone\":\"+E164\"}}: {e}"))
    })?;
    let phone =
        crate::tenants::parse_e164(&body.phone).map_err(|e| ApiError::bad_request("invalid_phone", e))?;
    let pairing = first_code(&state, &id, PairRequest::Phone(phone.clone())).await?;
    match &pairing {
        Pairing::PhoneCode { code, .. } => {
            Ok(Json(json!({"code": code, "phone": phone, "expires_in_s": pairing.expires_in_s()})))
        }
        Pairing::Qr { .. } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "pairing_by_qr",
            "this tenant is pairing by QR code; scan it or wait for it to expire",
        )),
    }
}

async fn first_code(state: &AppState, id: &TenantId, request: PairRequest) -> Result<Pairing, ApiError> {
    state.whatsapp.start(id);
    let mut session = state.whatsapp.pairing(id);
    session.begin(request).await.map_err(|e| match e {
        PairingError::AlreadyPaired(m) => ApiError::new(StatusCode::CONFLICT, "already_paired", m),
        PairingError::Busy(m) => ApiError::new(StatusCode::CONFLICT, "pairing_in_progress", m),
    })?;
    match tokio::time::timeout(FIRST_CODE_WAIT, session.first_code()).await {
        Ok(Ok(pairing)) => Ok(pairing),
        Ok(Err(reason)) => Err(ApiError::new(StatusCode::CONFLICT, "pairing_ended", reason)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_code_yet",
            "WhatsApp has not sent a pairing code yet; retry in a few seconds",
        )
        .retry_after(5)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    to: String,
    text: String,
}

/// `POST .../send {"to","text"}` → 202 `{"message_id"}`; `Idempotency-Key`
/// makes a retry return the first answer and send nothing.
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<SendBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"to\":\"+E164 or JID\",\"text\":\"...\"}}: {e}"),
        )
    })?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| {
                    ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be ASCII")
                })?
                .to_string(),
        ),
    };
    let request = SendRequest { to: body.to, text: body.text, idempotency_key };
    match state.whatsapp.send(&id, request).await {
        Ok(sent) => {
            let body = json!({"message_id": sent.message_id, "replayed": sent.replayed});
            Ok((StatusCode::ACCEPTED, Json(body)).into_response())
        }
        Err(SendError::Invalid(m)) => Err(ApiError::bad_request("invalid_message", m)),
        Err(SendError::NotConnected(m)) => Err(ApiError::new(StatusCode::CONFLICT, "not_connected", m)),
        Err(e @ SendError::RateLimited(wait)) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
                .retry_after(wait.as_secs().max(1)))
        }
        Err(SendError::KeyConflict(m)) => Err(ApiError::new(StatusCode::CONFLICT, "idempotency_conflict", m)),
        Err(e @ SendError::Failed(_)) => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, "send_failed", e.to_string()))
        }
        Err(SendError::OutcomeUnknown(m)) => {
            Err(ApiError::new(StatusCode::GATEWAY_TIMEOUT, "outcome_unknown", m))
        }
        Err(SendError::PreviousOutcomeUnknown(m)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "outcome_unknown", m))
        }
        Err(SendError::Store(e)) => Err(ApiError::internal(e)),
    }
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let after = state.whatsapp.logout(&id).await.map_err(|e| match e {
        WhatsAppError::Busy(m) => ApiError::new(StatusCode::CONFLICT, "session_busy", m),
        WhatsAppError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
        WhatsAppError::Store(e) => ApiError::internal(e),
    })?;
    Ok(Json(json!({"tenant": id, "state": after})))
}

async fn restart(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    state.whatsapp.restart(&id);
    Ok((StatusCode::ACCEPTED, Json(json!({"tenant": id, "restarting": true}))).into_response())
}
