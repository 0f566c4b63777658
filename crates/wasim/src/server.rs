//! `wasim serve`: WhatsApp Web's WebSocket at `/ws/chat` plus the admin HTTP API
//! (see this crate's README) on the same port.

use std::future::Future;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::transport::Outbound;
use crate::{FaultKind, ImageSpec, MediaKind, MediaSpec, ReceiptKind, Sim};

/// Largest `/admin/send` body (axum's default, 2 MB, is too small for media).
const ADMIN_SEND_BODY_LIMIT: usize = 128 * 1024 * 1024;

/// The router: `/ws/chat` and `/admin/*`.
pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/ws/chat", get(ws_chat))
        .route("/admin/scan", post(scan))
        .route("/admin/pair-code", post(pair_code))
        // A contact's file arrives base64 in JSON: room for 96 MiB of media.
        .route("/admin/send", post(send).layer(DefaultBodyLimit::max(ADMIN_SEND_BODY_LIMIT)))
        .route("/admin/received", get(received))
        .route("/admin/fault", post(fault))
        .route("/admin/connections", get(connections))
        .route("/admin/counters", get(counters))
        .route("/admin/receipt", post(receipt))
        .route("/admin/reads", get(reads))
        .route("/admin/presence", get(presence))
        .route("/healthz", get(|| async { "ok" }))
        .merge(crate::media::routes())
        .with_state(sim)
}

/// Serves `sim` on `listener` until `shutdown` resolves. The listener's address
/// becomes the media host (`Sim::set_media_host`).
pub async fn serve(
    listener: TcpListener,
    sim: Sim,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    sim.set_media_host(listener.local_addr()?);
    axum::serve(listener, router(sim)).with_graceful_shutdown(shutdown).await
}

async fn ws_chat(State(sim): State<Sim>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| pump(sim, socket))
}

/// Bridges one WebSocket to a simulator connection: binary messages in, frames out.
async fn pump(sim: Sim, mut socket: WebSocket) {
    let (in_tx, in_rx) = mpsc::unbounded_channel::<Bytes>();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outbound>();
    sim.accept(in_rx, out_tx);
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if in_tx.send(b).is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            out = out_rx.recv() => match out {
                Some(Outbound::Data(b)) => {
                    if socket.send(Message::Binary(b)).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
        }
    }
    // Dropping in_tx tells the connection task the client is gone.
}

fn error(status: StatusCode, code: &str, message: impl ToString) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.to_string()}}))).into_response()
}

#[derive(Deserialize)]
struct ScanReq {
    qr: String,
    phone: Option<String>,
}

async fn scan(State(sim): State<Sim>, Json(req): Json<ScanReq>) -> Response {
    match sim.scan(&req.qr, req.phone.as_deref()) {
        Ok(phone) => Json(json!({ "phone": phone })).into_response(),
        Err(e) if e.to_string().contains("no connection") => error(StatusCode::NOT_FOUND, "not_found", e),
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_request", e),
    }
}

#[derive(Deserialize)]
struct PairCodeReq {
    phone: String,
    code: String,
}

async fn pair_code(State(sim): State<Sim>, Json(req): Json<PairCodeReq>) -> Response {
    match sim.pair_code(&req.phone, &req.code).await {
        Ok(phone) => Json(json!({ "phone": phone })).into_response(),
        Err(e) if e.to_string().contains("no connection") => error(StatusCode::NOT_FOUND, "not_found", e),
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_request", format!("{e:#}")),
    }
}

#[derive(Deserialize)]
struct SendReq {
    from: String,
    to: String,
    text: Option<String>,
    image: Option<ImageSpec>,
    media: Option<MediaReq>,
}

#[derive(Deserialize)]
struct MediaReq {
    kind: String,
    mimetype: Option<String>,
    /// Base64 (standard alphabet) of the plaintext file.
    data: String,
    caption: Option<String>,
    file_name: Option<String>,
    seconds: Option<u32>,
}

/// Why an `/admin/send` media part is refused (a 400).
#[derive(Debug, thiserror::Error)]
enum MediaReqError {
    #[error("media.kind is one of image, video, audio, voice, document, sticker")]
    Kind,
    #[error("media.data is not base64: {0}")]
    Data(#[from] base64::DecodeError),
}

impl MediaReq {
    fn spec(self) -> Result<MediaSpec, MediaReqError> {
        use base64::Engine as _;
        let kind = MediaKind::parse(&self.kind).ok_or(MediaReqError::Kind)?;
        let data = base64::engine::general_purpose::STANDARD.decode(self.data.trim())?;
        Ok(MediaSpec {
            kind,
            mimetype: self.mimetype,
            data,
            caption: self.caption,
            file_name: self.file_name,
            seconds: self.seconds,
        })
    }
}

async fn send(State(sim): State<Sim>, Json(req): Json<SendReq>) -> Response {
    let res = match (req.text, req.image, req.media) {
        (Some(text), None, None) => sim.send_text(&req.from, &req.to, &text).await,
        (None, Some(image), None) => sim.send_image(&req.from, &req.to, &image).await,
        (None, None, Some(media)) => match media.spec() {
            Ok(spec) => sim.send_media(&req.from, &req.to, &spec).await,
            Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", e),
        },
        _ => {
            return error(StatusCode::BAD_REQUEST, "bad_request", "give exactly one of text, image or media");
        }
    };
    match res {
        Ok(id) => Json(json!({ "id": id })).into_response(),
        Err(e) => error(StatusCode::CONFLICT, "not_deliverable", format!("{e:#}")),
    }
}

#[derive(Deserialize)]
struct ReceivedQuery {
    contact: Option<String>,
}

async fn received(State(sim): State<Sim>, Query(q): Query<ReceivedQuery>) -> Response {
    Json(sim.received(q.contact.as_deref())).into_response()
}

#[derive(Deserialize)]
struct FaultReq {
    phone: String,
    kind: String,
    expire_s: Option<u64>,
}

async fn fault(State(sim): State<Sim>, Json(req): Json<FaultReq>) -> Response {
    let Some(kind) = FaultKind::parse(&req.kind) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "kind is one of drop, restart515, unavailable503, logout, ban, replaced, stall",
        );
    };
    let n = sim.fault(&req.phone, kind, req.expire_s);
    Json(json!({ "connections": n })).into_response()
}

async fn counters(State(sim): State<Sim>) -> Response {
    Json(sim.counters()).into_response()
}

async fn connections(State(sim): State<Sim>) -> Response {
    let list: Vec<_> = sim
        .connections()
        .into_iter()
        .map(|c| json!({"phone": c.phone, "device": c.device, "state": c.state, "since": c.since}))
        .collect();
    Json(list).into_response()
}

#[derive(Deserialize)]
struct ReceiptReq {
    from: String,
    to: String,
    ids: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
}

async fn receipt(State(sim): State<Sim>, Json(req): Json<ReceiptReq>) -> Response {
    let Some(kind) = ReceiptKind::parse(&req.kind) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "type is one of read, played, delivered");
    };
    if req.ids.is_empty() || req.ids.iter().any(|i| i.is_empty()) {
        return error(StatusCode::BAD_REQUEST, "bad_request", "ids must list message ids");
    }
    match sim.send_receipt(&req.from, &req.to, &req.ids, kind) {
        0 => error(StatusCode::CONFLICT, "not_deliverable", format!("{} has no live connection", req.to)),
        n => Json(json!({ "connections": n })).into_response(),
    }
}

#[derive(Deserialize)]
struct PhoneQuery {
    phone: Option<String>,
}

async fn reads(State(sim): State<Sim>, Query(q): Query<PhoneQuery>) -> Response {
    Json(sim.reads(q.phone.as_deref())).into_response()
}

async fn presence(State(sim): State<Sim>, Query(q): Query<PhoneQuery>) -> Response {
    Json(sim.chat_states(q.phone.as_deref())).into_response()
}
