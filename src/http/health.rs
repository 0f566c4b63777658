//! HTTP handlers for the health routes (no auth); the checks themselves are
//! `crate::health`. What they show without auth names no tenant: the
//! per-tenant view needs the internal secret.

use axum::extract::{RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{require_internal_secret, ApiError, AppState};
use crate::health::{build_info, CheckOutcome, READINESS_CHECKS};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/healthz/whatsapp", get(whatsapp))
        .route("/readyz", get(readyz))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.into()).into_response()
}

/// Query parameters as (key, value) pairs; `?verbose` alone gives ("verbose", "").
fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn has_flag(pairs: &[(String, String)], name: &str) -> bool {
    pairs.iter().any(|(k, v)| k == name && !matches!(v.as_str(), "0" | "false"))
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok")
}

async fn livez(State(state): State<AppState>) -> Response {
    match state.health.liveness() {
        Ok(()) => text(StatusCode::OK, "ok"),
        Err(unhealthy) => unhealthy.into_response(),
    }
}

/// Plain: whether the supervisor runs, for anyone. `?verbose` lists every
/// tenant (ids, phones, errors), so it needs the internal secret.
async fn whatsapp(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let check = state.health.supervisor_check();
    let status = if check.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let query = parts.uri.query().map(str::to_string);
    if !has_flag(&query_pairs(&query), "verbose") {
        return match check {
            Ok(_) => text(status, "ok"),
            Err(unhealthy) => unhealthy.into_response(),
        };
    }
    if let Err(refused) = require_internal_secret(&mut parts, &state).await {
        return refused.into_response();
    }
    let tenants = match crate::whatsapp::views::sessions(&state.store, Some(&state.whatsapp)).await {
        Ok(views) => views.into_iter().filter_map(|v| serde_json::to_value(v).ok()).collect::<Vec<_>>(),
        Err(e) => vec![json!({ "error": e.to_string() })],
    };
    let body = json!({
        "status": if check.is_ok() { "ok" } else { "failed" },
        "supervisor": match &check { Ok(running) => running.clone(), Err(e) => e.to_string() },
        "tenants": tenants,
    });
    (status, Json(body)).into_response()
}

async fn readyz(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(&query);
    let exclude = match excluded_checks(&pairs) {
        Ok(exclude) => exclude,
        Err(refused) => return refused.into_response(),
    };
    let outcomes = state.health.readiness(&exclude).await;
    let ready = outcomes.iter().all(|o| o.ok);
    let mut body = json!({
        "status": if ready { "ready" } else { "degraded" },
        "checks": checks_json(&outcomes, has_flag(&pairs, "verbose")),
    });
    if !ready {
        let failed: Vec<&str> = outcomes.iter().filter(|o| !o.ok).map(|o| o.name).collect();
        body["failed"] = json!(failed);
    }
    if !exclude.is_empty() {
        body["excluded"] = json!(exclude);
    }
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// `?exclude=a,b` (repeatable): each name must be a readiness check.
fn excluded_checks(pairs: &[(String, String)]) -> Result<Vec<String>, ApiError> {
    let exclude: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "exclude")
        .flat_map(|(_, v)| v.split(',').map(str::trim).map(String::from).collect::<Vec<_>>())
        .filter(|name| !name.is_empty())
        .collect();
    if let Some(unknown) = exclude.iter().find(|n| !READINESS_CHECKS.contains(&n.as_str())) {
        return Err(ApiError::bad_request(
            "unknown_check",
            format!("no readiness check named `{unknown}`; checks are: {}", READINESS_CHECKS.join(", ")),
        ));
    }
    Ok(exclude)
}

/// Each check as `"ok"` / `"failed: why"`, or with `?verbose` its status,
/// detail and duration.
fn checks_json(outcomes: &[CheckOutcome], verbose: bool) -> serde_json::Map<String, Value> {
    let mut checks = serde_json::Map::new();
    for outcome in outcomes {
        let value = if verbose {
            json!({
                "status": if outcome.ok { "ok" } else { "failed" },
                "detail": outcome.detail,
                "duration_ms": outcome.duration_ms,
            })
        } else if outcome.ok {
            json!("ok")
        } else {
            json!(format!("failed: {}", outcome.detail))
        };
        checks.insert(outcome.name.to_string(), value);
    }
    checks
}

async fn version(State(state): State<AppState>) -> Response {
    Json(json!({
        "status": "ok",
        "version": build_info::VERSION,
        "build": build_info::build_number(),
        "commit": build_info::COMMIT,
        "features": build_info::features(),
        "uptime_s": state.health.started.elapsed().as_secs(),
    }))
    .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
        .into_response()
}
