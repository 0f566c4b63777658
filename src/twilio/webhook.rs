//! `POST /webhook/{kind}` (tenant found by the request's `To`/`Called`
//! number) and `POST /webhook/{tenant}/{kind}`.
//!
//! The order of the checks is the contract: no valid signature, 403, whatever
//! the target (so an unsigned caller learns nothing, not even whether a tenant
//! or route exists); then, for a validly signed request only, 404 for an
//! unknown tenant, number or kind and 400 for a body we cannot use; then the
//! event is committed (group commit) and only then answered. Wrong methods
//! (405) are refused by the router, and bodies over
//! `twilio.webhook_body_limit_bytes` or with more than
//! `twilio.webhook_max_params` parameters (413) before any of this: they cost
//! no parsing and no HMAC. Nothing is stored unless the answer is 200.

use axum::body::{Body as RequestBody, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::signature::{self, SignedBody};
use super::{twiml, WebhookKind};
use crate::config::Config;
use crate::http::{ApiError, AppState};
use crate::store::events::NewEvent;
use crate::store::tenants::{self as rows, TwilioTenant};
use crate::tenants::TenantId;

const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// Twilio sends the same token again when it retries a webhook.
const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";

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
    body: RequestBody,
) -> Response {
    handle(state, Target::Number, kind, headers, uri, body).await
}

async fn by_path(
    State(state): State<AppState>,
    Path((tenant, kind)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: RequestBody,
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
    body: RequestBody,
) -> Response {
    let result = match read_bounded(&state.config, &headers, body).await {
        Ok(raw) => process(&state, target, &kind, &headers, &uri, raw).await,
        Err(error) => Err(error),
    };
    match result {
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
                StatusCode::PAYLOAD_TOO_LARGE => "too_large",
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

/// The body, refused (413) past `twilio.webhook_body_limit_bytes` or, for a
/// form, past `twilio.webhook_max_params` parameters. Twilio's webhooks are a
/// few KiB with a few dozen parameters; these limits keep an unsigned caller
/// from making us parse and HMAC a large body before the signature fails.
async fn read_bounded(config: &Config, headers: &HeaderMap, body: RequestBody) -> Result<Bytes, ApiError> {
    let limit = config.twilio.webhook_body_limit_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a Twilio webhook body is at most {limit} bytes"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    // Also bounds a body without (or lying about) its length.
    let raw = axum::body::to_bytes(body, limit).await.map_err(|_| too_large())?;
    let max = config.twilio.webhook_max_params.get();
    // Counted on the raw bytes (one pair per `&`-separated piece), so the
    // refusal allocates nothing per pair.
    if is_form(headers) && raw.split(|b| *b == b'&').filter(|piece| !piece.is_empty()).nth(max).is_some() {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_params",
            format!("a Twilio webhook has at most {max} parameters"),
        ));
    }
    Ok(raw)
}

fn is_form(headers: &HeaderMap) -> bool {
    match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"),
    }
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
    let body = if is_form(headers) {
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
    let content = content_hash(kind, &tenant.id, headers, uri, &body, &raw);
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

    // 6. The event, stored once per distinct request (see `content_hash`).
    // A duplicate is reported only when its identical original is in the
    // store, so a 200 always means the content is stored.
    let event = new_event(kind, &tenant.id, data, &content)?;
    let held = event.held;
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

/// The event for a verified webhook: its type, its dedupe key
/// (`{kind}:{sid}:{content hash}`), held when it is a completed recording.
fn new_event(kind: WebhookKind, tenant: &str, data: Value, content: &str) -> Result<NewEvent, ApiError> {
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
    Ok(NewEvent {
        tenant_id: tenant.to_string(),
        kind: kind.event_type().to_string(),
        dedupe_key: Some(format!("{}:{sid}:{content}", kind.as_str())),
        held: kind == WebhookKind::Recording && status == "completed",
        data,
    })
}

/// What makes two webhooks the same delivery: Twilio retries a webhook by
/// sending the identical request again (same parameters, same
/// `I-Twilio-Idempotency-Token`), while two different webhooks about the same
/// call (a `<Gather>` posting `1`, then `2`) differ in content or token.
/// So the hash covers the kind, the tenant, the token when present, the query
/// string and the parameters sorted (form) or the raw body (JSON) — all of it
/// signed — but not the host, which a redelivery through another proxy may
/// change. Each part is length-prefixed so no two inputs run together.
fn content_hash(
    kind: WebhookKind,
    tenant: &str,
    headers: &HeaderMap,
    uri: &Uri,
    body: &Body,
    raw: &[u8],
) -> String {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    part(kind.as_str().as_bytes());
    part(tenant.as_bytes());
    part(headers.get(IDEMPOTENCY_HEADER).map(|v| v.as_bytes()).unwrap_or_default());
    part(uri.query().unwrap_or_default().as_bytes());
    match body {
        Body::Form(pairs) => {
            let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
            sorted.sort();
            for (name, value) in sorted {
                part(name.as_bytes());
                part(value.as_bytes());
            }
        }
        Body::Json => part(raw),
    }
    hex::encode(hash.finalize())
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
    fn the_content_hash_sees_parameters_token_and_query_but_not_order_or_host() {
        let form = |pairs: &[(&str, &str)]| {
            Body::Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        };
        let uri: Uri = "/webhook/voice?x=1".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "a.example".parse().expect("host"));
        let hash = |headers: &HeaderMap, uri: &Uri, body: &Body| {
            content_hash(WebhookKind::Voice, "acme", headers, uri, body, b"")
        };
        let one = hash(&headers, &uri, &form(&[("CallSid", "CA1"), ("Digits", "1")]));
        assert_eq!(one, hash(&headers, &uri, &form(&[("Digits", "1"), ("CallSid", "CA1")])));
        assert_ne!(one, hash(&headers, &uri, &form(&[("CallSid", "CA1"), ("Digits", "2")])));
        // Length prefixes: moving bytes between name and value changes the hash.
        assert_ne!(one, hash(&headers, &uri, &form(&[("CallSid", "CA1"), ("Digit", "s1")])));
        let other_query: Uri = "/webhook/voice?x=2".parse().expect("uri");
        assert_ne!(one, hash(&headers, &other_query, &form(&[("CallSid", "CA1"), ("Digits", "1")])));
        let mut moved = headers.clone();
        moved.insert(HOST, "b.example".parse().expect("host"));
        assert_eq!(one, hash(&moved, &uri, &form(&[("CallSid", "CA1"), ("Digits", "1")])));
        moved.insert(IDEMPOTENCY_HEADER, "tok".parse().expect("token"));
        assert_ne!(one, hash(&moved, &uri, &form(&[("CallSid", "CA1"), ("Digits", "1")])));
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
