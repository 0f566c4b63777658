//! `wasim serve`: WhatsApp Web's WebSocket at `/ws/chat` plus the admin HTTP API
//! (see this crate's README) on the same port.

use std::future::Future;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
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
use crate::{FaultKind, ImageSpec, Sim};

/// The router: `/ws/chat` and `/admin/*`.
pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/ws/chat", get(ws_chat))
        .route("/admin/scan", post(scan))
        .route("/admin/pair-code", post(pair_code))
        .route("/admin/send", post(send))
        .route("/admin/received", get(received))
        .route("/admin/fault", post(fault))
        .route("/admin/connections", get(connections))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(sim)
}

/// Serves `sim` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    sim: Sim,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
}

async fn send(State(sim): State<Sim>, Json(req): Json<SendReq>) -> Response {
    let res = match (&req.text, &req.image) {
        (Some(text), None) => sim.send_text(&req.from, &req.to, text).await,
        (None, Some(image)) => sim.send_image(&req.from, &req.to, image).await,
        _ => {
            return error(StatusCode::BAD_REQUEST, "bad_request", "give exactly one of text or image");
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

async fn connections(State(sim): State<Sim>) -> Response {
    let list: Vec<_> = sim
        .connections()
        .into_iter()
        .map(|c| json!({"phone": c.phone, "device": c.device, "state": c.state, "since": c.since}))
        .collect();
    Json(list).into_response()
}
