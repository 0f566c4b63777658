//! The HTTP service: one axum router for health, the tenant API and (later)
//! Twilio webhooks, with the limits every route gets: a body-size cap, a
//! request time limit, request ids, tracing and metrics; and the server that
//! runs it with connection limits (`server`).

mod api;
mod auth;
mod content;
mod error;
mod layers;
pub mod server;
mod whatsapp;

use std::sync::Arc;
use std::time::Duration;

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
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.body_limit_bytes;
    let timeout = Duration::from_secs(state.config.http.request_timeout_s);
    let routes = Router::new()
        .merge(crate::health::routes::router())
        .merge(api::router())
        .merge(whatsapp::router())
        .merge(content::router())
        .merge(crate::twilio::router())
        .fallback(error::no_such_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state);
    layers::apply(routes, body_limit, timeout)
}
