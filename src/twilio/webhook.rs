//! `POST /webhook/{kind}` (tenant found by the request's `To`/`Called`
//! number) and `POST /webhook/{tenant}/{kind}`.
//!
//! The order of the checks is the contract: no valid signature, 403, whatever
//! the target (so an unsigned caller learns nothing, not even whether a tenant
//! or route exists); then, for a validly signed request only, 404 for an
//! unknown tenant, number or kind and 400 for a body we cannot use; then the
//! event is committed (group commit) and only then answered. Wrong methods
//! (405) and oversized bodies (413) are refused by the router's layers before
//! any of this. Nothing is stored unless the answer is 200.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{Map, Value};

use super::signature::{self, SignedBody};
use super::{twiml, WebhookKind};
use crate::config::Config;
use crate::http::{ApiError, AppState};
use crate::store::events::NewEvent;
use crate::store::tenants::{self as rows, TwilioTenant};
use crate::tenants::TenantId;

const SIGNATURE_HEADER: &str = "x-twilio-signature";

pub fn router() -> Router<AppState> {
    Router::new().route("/webhook/{kind}", post(by_number)).route("/webhook/{tenant}/{kind}", post(by_path))
}

/// Which tenant the request names.
enum Target {
    /// By its registered number (`To`, else `Called`).
    Number,
    /// In the path (not yet validated).
    Path(String),
}

async fn by_number(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    handle(state, Target::Number, kind, headers, uri, body).await
}

async fn by_path(
    State(state): State<AppState>,
    Path((tenant, kind)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    handle(state, Target::Path(tenant), kind, headers, uri, body).await
}

/// The body as parsed for verification and storage.
enum Body {
    Form(Vec<(String, String)>),
    Json,
}

async fn handle(
    state: AppState,
    target: Target,
    kind: String,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    match process(&state, target, &kind, &headers, &uri, body).await {
        Ok(answer) => {
            metrics::counter!("agentlocator_twilio_webhooks_total", "kind" => answer.kind.as_str(), "outcome" => answer.outcome)
                .increment(1);
            ([(CONTENT_TYPE, "text/xml")], answer.twiml).into_response()
        }
        Err(error) => {
            let outcome = match error.status {
                StatusCode::FORBIDDEN => "forbidden",
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::BAD_REQUEST => "bad_request",
                _ => "error",
            };
            metrics::counter!("agentlocator_twilio_webhooks_total", "kind" => "-", "outcome" => outcome)
                .increment(1);
            error.into_response()
        }
    }
}

struct Answer {
    kind: WebhookKind,
    outcome: &'static str,
    twiml: String,
}

fn forbidden() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", "missing or invalid X-Twilio-Signature")
}

async fn process(
    state: &AppState,
    target: Target,
    kind_raw: &str,
    headers: &HeaderMap,
    uri: &Uri,
    raw: Bytes,
) -> Result<Answer, ApiError> {
    // 1. A signature at all; without one nothing else is looked at.
    let presented = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(forbidden)?
        .to_string();

    // 2. The body as Twilio signed it: form pairs, or raw bytes (JSON) whose
    //    hash is in the URL.
    let is_form = match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"),
    };
    let body = if is_form {
        Body::Form(url::form_urlencoded::parse(&raw).into_owned().collect())
    } else {
        Body::Json
    };
    let json: Option<Value> = match body {
        Body::Json => serde_json::from_slice(&raw).ok(),
        Body::Form(_) => None,
    };

    // 3. The tenant the request names, for its own auth token.
    let tenant_id = match &target {
        Target::Path(raw_id) => TenantId::parse(raw_id).ok().map(|id| id.to_string()),
        Target::Number => None,
    };
    let numbers: Vec<String> = match &target {
        Target::Number => ["To", "Called"]
            .iter()
            .filter_map(|name| match (&body, &json) {
                (Body::Form(pairs), _) => first(pairs, name).map(str::to_string),
                (Body::Json, Some(v)) => v.get(*name).and_then(Value::as_str).map(str::to_string),
                _ => None,
            })
            .collect(),
        Target::Path(_) => Vec::new(),
    };
    let tenant = match (&target, tenant_id) {
        (Target::Path(_), Some(id)) => state.store.read_local(|c| rows::twilio_tenant_by_id(c, &id))?,
        (Target::Path(_), None) => None,
        (Target::Number, _) => state.store.read_local(|c| tenant_by_numbers(c, &numbers))?,
    };

    // 4. Verify with the tenant's token, else the global one.
    let token = tenant
        .as_ref()
        .and_then(|t| t.auth_token.clone())
        .or_else(|| state.config.twilio.auth_token.clone())
        .ok_or_else(|| {
            tracing::warn!(path = %uri.path(), "Twilio webhook refused: no auth token configured (twilio.auth_token or the tenant's own)");
            forbidden()
        })?;
    let url = signed_url(&state.config, headers, uri);
    let signed_body = match &body {
        Body::Form(pairs) => SignedBody::Form(pairs),
        Body::Json => SignedBody::Raw(&raw),
    };
    if !signature::verify(&token, &url, signed_body, &presented) {
        tracing::warn!(path = %uri.path(), "Twilio webhook refused: invalid signature");
        return Err(forbidden());
    }

    // 5. Validly signed: now the caller may learn what is wrong.
    let kind = WebhookKind::parse(kind_raw)
        .ok_or_else(|| ApiError::not_found("no such webhook; use voice, sms, status or recording"))?;
    let tenant = match (tenant, &target) {
        (Some(t), _) => t,
        (None, Target::Path(raw_id)) => {
            return Err(match TenantId::parse(raw_id) {
                Err(e) => ApiError::bad_request("invalid_tenant_id", e.to_string()),
                Ok(id) => ApiError::not_found(format!("no tenant `{id}`")),
            })
        }
        (None, Target::Number) => return Err(match kind {
            WebhookKind::Recording => ApiError::not_found(
                "recording callbacks carry no To/Called number; point them at /webhook/{tenant}/recording",
            ),
            _ => ApiError::not_found("no tenant has this To/Called number registered"),
        }),
    };
    let data = match (body, json) {
        (Body::Form(pairs), _) => {
            if std::str::from_utf8(&raw).is_err() {
                return Err(ApiError::bad_request("malformed", "the form body is not UTF-8"));
            }
            form_to_json(&pairs)
        }
        (Body::Json, Some(Value::Object(map))) => Value::Object(map),
        (Body::Json, _) => {
            return Err(ApiError::bad_request("malformed", "expected a form body or a JSON object"))
        }
    };

    // 6. The event: type, dedupe key from the sid and status, held for a fetch.
    let sid = param(&data, kind.sid_params()).ok_or_else(|| {
        ApiError::bad_request("malformed", format!("missing {}", kind.sid_params().join(" or ")))
    })?;
    if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_request(
            "malformed",
            format!("{} is not a Twilio SID", kind.sid_params()[0]),
        ));
    }
    let status = param(&data, kind.status_params()).unwrap_or_default();
    let held = kind == WebhookKind::Recording && status == "completed";
    let event = NewEvent {
        tenant_id: tenant.id.clone(),
        kind: kind.event_type().to_string(),
        dedupe_key: Some(format!("{}:{sid}:{status}", kind.as_str())),
        data,
        held,
    };
    let appended = state.events.append(event).await?;
    if held && !appended.duplicate {
        crate::jobs::wake();
    }

    // 7. The answer: the same for a redelivery.
    let twiml = match kind {
        WebhookKind::Voice => {
            let callback =
                format!("{}/webhook/{}/recording", public_base(&state.config, headers, uri), tenant.id);
            twiml::voice(tenant.voice_twiml.as_deref(), &tenant.id, &callback)
        }
        _ => twiml::EMPTY.to_string(),
    };
    Ok(Answer { kind, outcome: if appended.duplicate { "duplicate" } else { "stored" }, twiml })
}

fn tenant_by_numbers(
    conn: &rusqlite::Connection,
    numbers: &[String],
) -> rusqlite::Result<Option<TwilioTenant>> {
    for number in numbers {
        if let Some(t) = rows::twilio_tenant_by_number(conn, number)? {
            return Ok(Some(t));
        }
        // `whatsapp:+1415...` and the like: the number after the prefix.
        if let Some((_, bare)) = number.split_once(':') {
            if let Some(t) = rows::twilio_tenant_by_number(conn, bare)? {
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The first of `names` present as a string (or the first string of an array).
fn param(data: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| match data.get(*name)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(values) => values.first().and_then(Value::as_str).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The full parameter set: one key per name, a repeated name as an array.
fn form_to_json(pairs: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (name, value) in pairs {
        match map.get_mut(name) {
            None => {
                map.insert(name.clone(), Value::String(value.clone()));
            }
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            Some(existing) => {
                let previous = existing.take();
                *existing = Value::Array(vec![previous, Value::String(value.clone())]);
            }
        }
    }
    Value::Object(map)
}

/// `scheme://host[:port]` (and any path prefix) Twilio used to reach us:
/// `http.public_base_url` when set, else the request's own scheme and Host.
fn public_base(config: &Config, headers: &HeaderMap, uri: &Uri) -> String {
    if let Some(base) = &config.http.public_base_url {
        return base.trim_end_matches('/').to_string();
    }
    // Without a configured base, a TLS-terminating proxy's X-Forwarded-Proto
    // names the scheme Twilio used (it cannot forge anything: the signature
    // must still match the URL built from it).
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v == "http" || v == "https")
        .or_else(|| uri.scheme_str().map(str::to_string))
        .unwrap_or_else(|| "http".to_string());
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    format!("{scheme}://{host}")
}

/// The URL Twilio signed: the public base, then the path and query as sent.
fn signed_url(config: &Config, headers: &HeaderMap, uri: &Uri) -> String {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}{}", public_base(config, headers, uri), path_and_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_become_arrays() {
        let pairs: Vec<(String, String)> = [("A", "1"), ("B", "2"), ("A", "3"), ("A", "4")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(form_to_json(&pairs), serde_json::json!({"A": ["1", "3", "4"], "B": "2"}));
    }

    #[test]
    fn urls_are_rebuilt_from_the_public_base_or_the_request() {
        let uri: Uri = "/webhook/voice?x=1".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "127.0.0.1:5000".parse().expect("host"));
        let mut config = Config::default();
        assert_eq!(signed_url(&config, &headers, &uri), "http://127.0.0.1:5000/webhook/voice?x=1");
        headers.insert("x-forwarded-proto", "https".parse().expect("xfp"));
        assert_eq!(signed_url(&config, &headers, &uri), "https://127.0.0.1:5000/webhook/voice?x=1");
        config.http.public_base_url = Some("https://hooks.example.com/".into());
        assert_eq!(signed_url(&config, &headers, &uri), "https://hooks.example.com/webhook/voice?x=1");
    }
}
