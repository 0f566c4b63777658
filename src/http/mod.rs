//! The HTTP service: one axum router for health (`health`), the tenant API
//! (`api`, `whatsapp`, `content`) and the Twilio webhooks (`twilio`), with
//! the limits every route gets: a body-size cap, a request time limit,
//! request ids, tracing and metrics; and the server that runs it with
//! connection limits (`server`).
//!
//! This is the only module that knows axum's handlers and `AppState`: each
//! handler parses, authorizes, calls the module that owns the work and maps
//! its result (or its error, in `error`) to an answer.

mod api;
mod auth;
mod content;
mod error;
mod file;
mod forward;
mod health;
mod layers;
pub mod server;
mod twilio;
mod whatsapp;

use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

pub use auth::{require_internal_secret, Caller};
pub use error::ApiError;

use crate::config::Config;
use crate::health::Health;
use crate::store::{EventWriter, Store};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Group-commit writer for events: `append` resolves once durable.
    pub events: EventWriter,
    pub health: Health,
    pub internal_secret: Arc<String>,
    pub metrics: PrometheusHandle,
    /// The tenant WhatsApp workers.
    pub whatsapp: crate::whatsapp::WhatsApp,
    /// Where stored media and recordings are read from.
    pub data: crate::paths::DataDir,
    /// This node, when several share the PostgreSQL store: calls that need a
    /// tenant's live client go to the node holding its lease.
    pub node: Option<Arc<crate::ownership::NodeIdentity>>,
    /// Which tenants this process runs.
    pub ownership: crate::ownership::Ownership,
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.body_limit_bytes;
    let timeout = state.config.http.request_timeout;
    // The fallbacks go on before the limits, so they get them too: an
    // oversized body is refused (413) whatever the path or method.
    let standard = Router::new()
        .merge(health::router())
        .merge(api::router())
        .merge(whatsapp::router(forward::ToOwner::new(&state, timeout)))
        .merge(content::router())
        .merge(twilio::router())
        .fallback(error::no_such_route)
        .method_not_allowed_fallback(error::method_not_allowed);
    // Sends take files: a body up to the media cap in base64 (the cap is
    // enforced exactly while the file streams to disk), and the time to
    // receive it, upload it and wait for the send.
    let wa = &state.config.whatsapp;
    let send_body_limit = usize::try_from(wa.media_max_bytes.div_ceil(3).saturating_mul(4))
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024)
        .max(body_limit);
    let send_timeout = timeout + 2 * wa.media_transfer_timeout + wa.send_timeout + wa.send_queue_max_wait;
    let send = whatsapp::send_router(forward::ToOwner::new(&state, send_timeout))
        .method_not_allowed_fallback(error::method_not_allowed);
    let routes = layers::limits(standard, body_limit, timeout)
        .merge(layers::file_limits(send, send_body_limit, send_timeout))
        .with_state(state);
    layers::apply(routes)
}
