//! `/api/whatsapp/{tenant}/...`: status, pairing (QR as PNG/SVG/JSON, pair
//! code), send (text and media), read, presence, logout, restart. Thin:
//! authorize, call `whatsapp`, shape.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::forward::ToOwner;
use super::{ApiError, AppState, Caller};
use crate::admin::{self, pairing::Replies, AdminError};
use crate::ids::TenantId;
use crate::whatsapp::media_out;
use crate::whatsapp::views::SessionView;
use crate::whatsapp::{
    MediaError, MediaKind, MediaSend, PairRequest, Pairing, PairingError, Presence, SendRequest, Staged,
    WhatsAppError,
};

/// How long the pairing routes wait for the worker's first code.
/// (Below the request time limit, `http.request_timeout`.)
const FIRST_CODE_WAIT: Duration = Duration::from_secs(10);
/// Pixels per QR module in the PNG.
const PNG_SCALE: u32 = 8;

/// `to_owner` sends the routes that need the tenant's live client to the node
/// running it; status is read from the database on any node.
pub fn router(to_owner: ToOwner) -> Router<AppState> {
    let live = Router::new()
        .route("/api/whatsapp/{tenant}/qr", get(qr))
        .route("/api/whatsapp/{tenant}/pair-code", post(pair_code))
        .route("/api/whatsapp/{tenant}/read", post(read))
        .route("/api/whatsapp/{tenant}/presence", post(presence))
        .route("/api/whatsapp/{tenant}/logout", post(logout))
        .route("/api/whatsapp/{tenant}/restart", post(restart));
    to_owner
        .apply(live)
        .route("/api/whatsapp/{tenant}/status", get(status))
        .route("/api/whatsapp/{tenant}/pairing", get(pairing))
}

/// The send route, apart: it takes files, so its body limit and time limit
/// are its own (see `super::router`); like the others it runs on the
/// tenant's node.
pub fn send_router(to_owner: ToOwner) -> Router<AppState> {
    to_owner.apply(Router::new().route("/api/whatsapp/{tenant}/send", post(send)))
}

async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let row = state
        .store
        .tenants()
        .get(id.as_str())
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

/// `GET .../pairing[?phone=+E164]`, for the other nodes only (the internal
/// secret): this node's pairing of the tenant as NDJSON, one admin-socket
/// reply per line, until its last step. `tenant pair` asked on a node that
/// does not run the tenant relays it. Not forwarded: the calling node
/// looked the owner up, and a node that does not run the tenant (any more)
/// says so in one error line.
async fn pairing(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !matches!(caller, Caller::Admin) {
        return Err(ApiError::unauthorized(
            "this route is for the other nodes: it needs the internal secret",
        ));
    }
    let id = caller.authorize(&tenant, &state).await?;
    let request = match query.get("phone") {
        None => PairRequest::Qr,
        Some(phone) => PairRequest::Phone(
            crate::tenants::parse_e164(phone)
                .map_err(|e| ApiError::bad_request("invalid_phone", e.to_string()))?,
        ),
    };
    let (whatsapp, ownership) = (state.whatsapp.clone(), state.ownership.clone());
    let replies = Replies::spawn(|out| async move {
        if !ownership.owns(id.as_str()) {
            let why = format!("this node does not run tenant `{id}` (any more); run `tenant pair` again");
            return out.fail(AdminError::new("moved", why)).await;
        }
        tracing::info!(tenant = %id, "pairing requested by another node");
        admin::pairing::here(&whatsapp, &id, request, &out).await;
    });
    let lines = futures_util::stream::unfold(replies, |mut replies| async move {
        let reply = replies.next().await?;
        Some((Ok::<_, std::convert::Infallible>(reply.to_line()), replies))
    });
    let headers = [(header::CONTENT_TYPE, "application/x-ndjson"), (header::CACHE_CONTROL, "no-store")];
    Ok((headers, axum::body::Body::from_stream(lines)).into_response())
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
    let phone = crate::tenants::parse_e164(&body.phone)
        .map_err(|e| ApiError::bad_request("invalid_phone", e.to_string()))?;
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
        Ok(Err(reason)) => Err(ApiError::new(StatusCode::CONFLICT, "pairing_ended", reason.to_string())),
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
    text: Option<String>,
    media: Option<MediaBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaBody {
    kind: String,
    mimetype: String,
    /// The file, base64 (standard alphabet, padded).
    data: String,
    caption: Option<String>,
    file_name: Option<String>,
}

/// The media fields of a send, whichever form they came in.
struct MediaParts {
    kind: Option<String>,
    mimetype: Option<String>,
    caption: Option<String>,
    file_name: Option<String>,
    file: Option<Staged>,
}

/// What a send asks for, whichever form it came in.
enum Outgoing {
    Text { to: String, text: String },
    Media { to: String, media: MediaParts },
}

/// `POST .../send` → 202 `{"message_id","replayed"}` (plus `media` for a
/// file). Text: `{"to","text"}`. Media: JSON `{"to","media":{...}}` with the
/// file in base64, or multipart/form-data with the file in part `file`
/// (streamed to disk: the form for big files). `Idempotency-Key` makes a
/// retry return the first answer and send nothing.
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let idempotency_key = idempotency_key(&request)?;
    let body = match read_send(&state, &id, request).await? {
        Outgoing::Text { to, text } => {
            let request = SendRequest { to, text, idempotency_key };
            let sent = state.whatsapp.send(&id, request).await.map_err(ApiError::from)?;
            json!({"message_id": sent.message_id, "replayed": sent.replayed})
        }
        Outgoing::Media { to, media } => send_media(&state, &id, to, media, idempotency_key).await?,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The `Idempotency-Key` header, when given (ASCII only).
fn idempotency_key(request: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be ASCII"))?;
    Ok(Some(key.to_string()))
}

/// The send's body: a multipart form (the file streamed to disk) or JSON
/// (text, or a file in base64).
async fn read_send(state: &AppState, id: &TenantId, request: Request) -> Result<Outgoing, ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    if multipart {
        let form = Multipart::from_request(request, state).await.map_err(|e| {
            ApiError::bad_request("invalid_body", format!("malformed multipart/form-data: {}", e.body_text()))
        })?;
        let (to, media) = multipart_parts(state, id, form).await?;
        return Ok(Outgoing::Media { to, media });
    }
    let request = with_json_limit(request).await?;
    let Json(body) = Json::<SendBody>::from_request(request, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return MediaError::TooLarge(state.whatsapp.media_max_bytes()).into();
        }
        ApiError::bad_request(
            "invalid_body",
            format!(
                "expected {{\"to\":\"+E164 or JID\",\"text\":\"...\"}} or {{\"to\":...,\"media\":\
                 {{\"kind\",\"mimetype\",\"data\":\"<base64>\",\"caption\"?,\"file_name\"?}}}}: {e}"
            ),
        )
    })?;
    match (body.text, body.media) {
        (Some(text), None) => Ok(Outgoing::Text { to: body.to, text }),
        (None, Some(media)) => {
            Ok(Outgoing::Media { to: body.to, media: json_media(state, id, media).await? })
        }
        _ => Err(ApiError::bad_request("invalid_body", "give either `text` or `media`, not both")),
    }
}

/// Checks a file send (kind, type, caption, name) and sends it; the answer's body.
async fn send_media(
    state: &AppState,
    id: &TenantId,
    to: String,
    media: MediaParts,
    idempotency_key: Option<String>,
) -> Result<Value, ApiError> {
    let kind_name = media.kind.ok_or_else(|| invalid("`kind` is missing"))?;
    let kind = MediaKind::parse(&kind_name)
        .ok_or_else(|| invalid(format!("`kind` must be {}; got `{kind_name}`", MediaKind::NAMES)))?;
    let file = media.file.ok_or_else(|| invalid("the file is missing (part `file`)"))?;
    let (mimetype, file_name) = media_out::check(
        kind,
        media.mimetype.as_deref(),
        media.caption.as_deref(),
        media.file_name.as_deref(),
        &file,
    )
    .map_err(ApiError::from)?;
    let summary = json!({"kind": kind.as_str(), "bytes": file.len(), "sha256": file.sha256_hex()});
    let request = MediaSend { to, kind, mimetype, caption: media.caption, file_name, file, idempotency_key };
    let sent = state.whatsapp.send_media(id, request).await.map_err(ApiError::from)?;
    Ok(json!({"message_id": sent.message_id, "replayed": sent.replayed, "media": summary}))
}

/// Largest file the JSON form carries (in base64, plus room for the other
/// fields). Its body is read whole, so without this bound each request could
/// hold the whole media cap in memory, twice; bigger files go as multipart,
/// which streams to disk.
const JSON_MEDIA_MAX_BYTES: usize = 4 * 1024 * 1024;
const JSON_BODY_MAX_BYTES: usize = JSON_MEDIA_MAX_BYTES / 3 * 4 + 64 * 1024;

/// Reads a JSON send's body under [`JSON_BODY_MAX_BYTES`] (413 beyond it,
/// naming multipart as the way for bigger files).
async fn with_json_limit(request: Request) -> Result<Request, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, JSON_BODY_MAX_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "a JSON body carries files up to {JSON_MEDIA_MAX_BYTES} bytes; send bigger files as \
                 multipart/form-data (part `file`)"
            ),
        )
    })?;
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// The JSON form's file, decoded piecewise straight to the staging file.
async fn json_media(state: &AppState, id: &TenantId, media: MediaBody) -> Result<MediaParts, ApiError> {
    let max = state.whatsapp.media_max_bytes();
    let data = media.data.trim();
    // Four base64 characters carry three bytes: refuse before decoding.
    if (data.len() as u64 / 4).saturating_mul(3) > max.saturating_add(3) {
        return Err(MediaError::TooLarge(max).into());
    }
    let mut staging = state.whatsapp.stage_media(id).map_err(ApiError::from)?;
    // Whole quanta per piece: padding only ever ends the last one.
    for piece in data.as_bytes().chunks(64 * 1024) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(piece)
            .map_err(|e| invalid(format!("`media.data` is not base64: {e}")))?;
        staging.write(&bytes).await.map_err(ApiError::from)?;
    }
    let file = staging.finish().await.map_err(ApiError::from)?;
    Ok(MediaParts {
        kind: Some(media.kind),
        mimetype: Some(media.mimetype),
        caption: media.caption,
        file_name: media.file_name,
        file: Some(file),
    })
}

/// Longest value of a form's text field.
const FORM_FIELD_MAX: usize = 4096;

/// The multipart form: text fields, and the file streamed to disk as it
/// arrives (never held in memory whole).
async fn multipart_parts(
    state: &AppState,
    id: &TenantId,
    mut form: Multipart,
) -> Result<(String, MediaParts), ApiError> {
    let mut to = None;
    let mut parts = MediaParts { kind: None, mimetype: None, caption: None, file_name: None, file: None };
    let mut part_type = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let slot = match name.as_str() {
            "to" => &mut to,
            "kind" => &mut parts.kind,
            "mimetype" => &mut parts.mimetype,
            "caption" => &mut parts.caption,
            "file_name" => &mut parts.file_name,
            "file" => {
                if parts.file.is_some() {
                    return Err(invalid("more than one `file` part"));
                }
                part_type = field.content_type().map(str::to_string);
                let mut staging = state.whatsapp.stage_media(id).map_err(ApiError::from)?;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    staging.write(&chunk).await.map_err(ApiError::from)?;
                }
                parts.file = Some(staging.finish().await.map_err(ApiError::from)?);
                continue;
            }
            other => {
                return Err(invalid(format!(
                    "unknown form field `{}`; known: to, kind, mimetype, caption, file_name, file",
                    other.escape_default()
                )))
            }
        };
        if slot.is_some() {
            return Err(invalid(format!("field `{name}` given twice")));
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if value.len() + chunk.len() > FORM_FIELD_MAX {
                return Err(invalid(format!("field `{name}` is longer than {FORM_FIELD_MAX} bytes")));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| invalid(format!("field `{name}` is not UTF-8")))?;
        *slot = Some(value);
    }
    // A part's generic type says nothing: the content is sniffed instead.
    if parts.mimetype.is_none() {
        parts.mimetype = part_type.filter(|t| t != "application/octet-stream");
    }
    let to = to.ok_or_else(|| invalid("field `to` is missing"))?;
    Ok((to, parts))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid", message)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
        }
        StatusCode::BAD_REQUEST => {
            ApiError::bad_request("invalid_body", format!("malformed multipart/form-data: {}", e.body_text()))
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", "the request body broke off mid-way"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    chat: String,
    /// In a group chat: who sent the messages.
    sender: Option<String>,
    message_ids: Vec<String>,
}

/// `POST .../read {"chat","message_ids":[...]}` → 204: blue ticks for a
/// contact's messages.
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<ReadBody>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"chat\":\"+E164 or JID\",\"message_ids\":[\"...\"]}}: {e}"),
        )
    })?;
    state
        .whatsapp
        .mark_read(&id, &body.chat, body.sender.as_deref(), &body.message_ids)
        .await
        .map_err(ApiError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceBody {
    chat: String,
    state: String,
}

/// `POST .../presence {"chat","state":"composing"|"recording"|"paused"}` → 204.
async fn presence(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<PresenceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id = caller.authorize(&tenant, &state).await?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"chat\":\"+E164 or JID\",\"state\":\"composing|recording|paused\"}}: {e}"),
        )
    })?;
    let presence = Presence::parse(&body.state).ok_or_else(|| {
        ApiError::bad_request("invalid_message", "`state` must be composing, recording or paused")
    })?;
    state.whatsapp.presence(&id, &body.chat, presence).await.map_err(ApiError::from)?;
    Ok(StatusCode::NO_CONTENT)
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
