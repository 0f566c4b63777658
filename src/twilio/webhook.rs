//! One Twilio webhook, from the request as received to the event stored and
//! the TwiML answer. The routes (`POST /webhook/{kind}`, tenant found by the
//! request's `To`/`Called` number, and `POST /webhook/{tenant}/{kind}`) are
//! `http::twilio`, which reads the request into a [`Received`] and calls
//! [`verify`], then [`accept`].
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

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::signature::{self, SignedBody};
use super::{twiml, WebhookKind};
use crate::config::Config;
use crate::ids::{InvalidTenantId, TenantId};
use crate::store::events::NewEvent;
use crate::store::tenants::TwilioTenant;
use crate::store::{EventWriter, Store, StoreError};

/// Why a webhook is refused; `http::error` gives each its status and code.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("missing or invalid X-Twilio-Signature")]
    Forbidden,
    #[error("a Twilio webhook body is at most {limit} bytes")]
    TooLarge { limit: usize },
    #[error("a Twilio webhook has at most {max} parameters")]
    TooManyParams { max: usize },
    #[error("no such webhook; use voice, sms, status or recording")]
    UnknownKind,
    #[error(transparent)]
    InvalidTenantId(InvalidTenantId),
    #[error("no tenant `{0}`")]
    NoTenant(TenantId),
    #[error("recording callbacks carry no To/Called number; point them at /webhook/{{tenant}}/recording")]
    RecordingWithoutNumber,
    #[error("no tenant has this To/Called number registered")]
    UnknownNumber,
    #[error("the form body is not UTF-8")]
    NotUtf8,
    #[error("expected a form body or a JSON object")]
    NotAnObject,
    #[error("missing {}", .0.join(" or "))]
    MissingSid(&'static [&'static str]),
    #[error("{0} is not a Twilio SID")]
    NotASid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which tenant the request names.
pub enum Target {
    /// By its registered number (`To`, else `Called`).
    Number,
    /// In the path (not yet validated).
    Path(String),
}

/// A webhook request as the HTTP layer read it: what Twilio signed, and what
/// makes a redelivery the same request.
pub struct Received<'a> {
    pub target: Target,
    /// The `{kind}` of the path, not yet validated.
    pub kind: &'a str,
    /// `X-Twilio-Signature`, when present and not blank.
    pub signature: Option<&'a str>,
    /// `I-Twilio-Idempotency-Token` (empty when absent).
    pub idempotency_token: &'a [u8],
    /// A form body (`application/x-www-form-urlencoded`, or no type at all);
    /// anything else is taken as JSON, whose hash Twilio puts in the URL.
    pub is_form: bool,
    /// `scheme://host[:port]` (and any path prefix) Twilio used to reach us.
    pub public_base: String,
    /// The request's path and query, as sent.
    pub path_and_query: &'a str,
    pub raw: &'a [u8],
}

impl Received<'_> {
    /// The URL Twilio signed: the public base, then the path and query as sent.
    pub fn signed_url(&self) -> String {
        format!("{}{}", self.public_base, self.path_and_query)
    }

    fn path(&self) -> &str {
        self.path_and_query.split_once('?').map_or(self.path_and_query, |(path, _)| path)
    }

    /// The query string, without `?` (empty when none).
    fn query(&self) -> &str {
        self.path_and_query.split_once('?').map_or("", |(_, query)| query)
    }
}

/// The body as parsed for verification, lookup and storage.
enum Payload {
    /// Form pairs, in the order sent.
    Form(Vec<(String, String)>),
    /// The raw body taken as JSON: its value, when it is JSON at all.
    Json(Option<Value>),
}

impl Payload {
    fn parse(is_form: bool, raw: &[u8]) -> Self {
        if is_form {
            Payload::Form(url::form_urlencoded::parse(raw).into_owned().collect())
        } else {
            Payload::Json(serde_json::from_slice(raw).ok())
        }
    }

    /// The first value of parameter `name`, as a string.
    fn first(&self, name: &str) -> Option<&str> {
        match self {
            Payload::Form(pairs) => pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()),
            Payload::Json(json) => json.as_ref()?.get(name).and_then(Value::as_str),
        }
    }

    /// The body as the signature covers it: form pairs, or the raw bytes.
    fn signed<'a>(&'a self, raw: &'a [u8]) -> SignedBody<'a> {
        match self {
            Payload::Form(pairs) => SignedBody::Form(pairs),
            Payload::Json(_) => SignedBody::Raw(raw),
        }
    }

    /// The event's `data`: every form parameter, or the JSON object.
    fn into_data(self, raw: &[u8]) -> Result<Value, WebhookError> {
        match self {
            Payload::Form(_) if std::str::from_utf8(raw).is_err() => Err(WebhookError::NotUtf8),
            Payload::Form(pairs) => Ok(form_to_json(&pairs)),
            Payload::Json(Some(Value::Object(map))) => Ok(Value::Object(map)),
            Payload::Json(_) => Err(WebhookError::NotAnObject),
        }
    }
}

/// A request whose signature checked out, with the tenant it names (if any).
pub struct Verified<'a> {
    request: Received<'a>,
    payload: Payload,
    tenant: Option<TwilioTenant>,
}

/// Checks the signature with the named tenant's auth token, else the global
/// one; nothing about the tenant or the route is told before this passes.
pub async fn verify<'a>(
    config: &Config,
    store: &Store,
    request: Received<'a>,
) -> Result<Verified<'a>, WebhookError> {
    // A signature at all; without one nothing else is looked at.
    let presented = request.signature.ok_or(WebhookError::Forbidden)?;
    let payload = Payload::parse(request.is_form, request.raw);
    let tenant = find_tenant(store, &request.target, &payload).await?;
    let token = tenant.as_ref().and_then(|t| t.auth_token.as_deref()).or(config.twilio.auth_token.as_deref());
    let Some(token) = token else {
        tracing::warn!(path = %request.path(), "Twilio webhook refused: no auth token configured (twilio.auth_token or the tenant's own)");
        return Err(WebhookError::Forbidden);
    };
    if !signature::verify(token, &request.signed_url(), payload.signed(request.raw), presented) {
        tracing::warn!(path = %request.path(), "Twilio webhook refused: invalid signature");
        return Err(WebhookError::Forbidden);
    }
    Ok(Verified { request, payload, tenant })
}

/// The tenant the request names: by id in the path, or by its `To`/`Called` number.
async fn find_tenant(
    store: &Store,
    target: &Target,
    payload: &Payload,
) -> Result<Option<TwilioTenant>, StoreError> {
    match target {
        Target::Path(raw_id) => match TenantId::parse(raw_id) {
            Ok(id) => store.tenants().twilio_tenant_by_id(id.as_str()).await,
            Err(_) => Ok(None),
        },
        Target::Number => {
            let numbers: Vec<&str> = ["To", "Called"].iter().filter_map(|name| payload.first(name)).collect();
            tenant_by_numbers(store, &numbers).await
        }
    }
}

/// What a verified webhook came to.
pub struct Answer {
    pub kind: WebhookKind,
    /// A redelivery of a request already stored (nothing new was stored).
    pub duplicate: bool,
    pub twiml: String,
}

/// A verified webhook: checked for kind, tenant and body, stored as an event
/// (durable before this returns), and answered with TwiML.
pub async fn accept(events: &EventWriter, verified: Verified<'_>) -> Result<Answer, WebhookError> {
    let Verified { request, payload, tenant } = verified;
    // Validly signed: now the caller may learn what is wrong.
    let kind = WebhookKind::parse(request.kind).ok_or(WebhookError::UnknownKind)?;
    let tenant = require_tenant(tenant, &request.target, kind)?;
    let event = build_event(kind, &tenant.id, &request, payload)?;
    let duplicate = store_event(events, event).await?;
    // The answer: the same for a redelivery.
    let twiml = match kind {
        WebhookKind::Voice => {
            let callback = format!("{}/webhook/{}/recording", request.public_base, tenant.id);
            twiml::voice(tenant.voice_twiml.as_deref(), &tenant.id, &callback)
        }
        _ => twiml::EMPTY.to_string(),
    };
    Ok(Answer { kind, duplicate, twiml })
}

/// The tenant found, or why there is none (404, or 400 for a malformed id).
fn require_tenant(
    tenant: Option<TwilioTenant>,
    target: &Target,
    kind: WebhookKind,
) -> Result<TwilioTenant, WebhookError> {
    match (tenant, target) {
        (Some(tenant), _) => Ok(tenant),
        (None, Target::Path(raw_id)) => Err(match TenantId::parse(raw_id) {
            Err(e) => WebhookError::InvalidTenantId(e),
            Ok(id) => WebhookError::NoTenant(id),
        }),
        (None, Target::Number) if kind == WebhookKind::Recording => Err(WebhookError::RecordingWithoutNumber),
        (None, Target::Number) => Err(WebhookError::UnknownNumber),
    }
}

/// The event, stored once per distinct request (see `content_hash`).
fn build_event(
    kind: WebhookKind,
    tenant: &str,
    request: &Received<'_>,
    payload: Payload,
) -> Result<NewEvent, WebhookError> {
    let content = content_hash(kind, tenant, request, &payload);
    let data = payload.into_data(request.raw)?;
    new_event(kind, tenant, data, &content)
}

/// Appends the event (durable once this returns); whether it was a
/// duplicate. A duplicate is reported only when its identical original is in
/// the store, so a 200 always means the content is stored.
async fn store_event(events: &EventWriter, event: NewEvent) -> Result<bool, StoreError> {
    let held = event.held;
    let appended = events.append(event).await?;
    if held && !appended.duplicate {
        crate::jobs::wake();
    }
    Ok(appended.duplicate)
}

/// The event for a verified webhook: its type, its dedupe key
/// (`{kind}:{sid}:{content hash}`), held when it is a completed recording.
fn new_event(kind: WebhookKind, tenant: &str, data: Value, content: &str) -> Result<NewEvent, WebhookError> {
    let sid = param(&data, kind.sid_params()).ok_or(WebhookError::MissingSid(kind.sid_params()))?;
    if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(WebhookError::NotASid(kind.sid_params()[0]));
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
fn content_hash(kind: WebhookKind, tenant: &str, request: &Received<'_>, payload: &Payload) -> String {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    part(kind.as_str().as_bytes());
    part(tenant.as_bytes());
    part(request.idempotency_token);
    part(request.query().as_bytes());
    match payload {
        Payload::Form(pairs) => {
            let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
            sorted.sort();
            for (name, value) in sorted {
                part(name.as_bytes());
                part(value.as_bytes());
            }
        }
        Payload::Json(_) => part(request.raw),
    }
    hex::encode(hash.finalize())
}

async fn tenant_by_numbers(store: &Store, numbers: &[&str]) -> Result<Option<TwilioTenant>, StoreError> {
    for &number in numbers {
        if let Some(t) = store.tenants().twilio_tenant_by_number(number).await? {
            return Ok(Some(t));
        }
        // `whatsapp:+1415...` and the like: the number after the prefix.
        if let Some((_, bare)) = number.split_once(':') {
            if let Some(t) = store.tenants().twilio_tenant_by_number(bare).await? {
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
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

    fn received<'a>(public_base: &str, path_and_query: &'a str, token: &'a [u8]) -> Received<'a> {
        Received {
            target: Target::Number,
            kind: "voice",
            signature: None,
            idempotency_token: token,
            is_form: true,
            public_base: public_base.to_string(),
            path_and_query,
            raw: b"",
        }
    }

    #[test]
    fn the_content_hash_sees_parameters_token_and_query_but_not_order_or_host() {
        let form = |pairs: &[(&str, &str)]| {
            Payload::Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        };
        let hash = |request: &Received<'_>, payload: &Payload| {
            content_hash(WebhookKind::Voice, "acme", request, payload)
        };
        let request = received("http://a.example", "/webhook/voice?x=1", b"");
        let one = hash(&request, &form(&[("CallSid", "CA1"), ("Digits", "1")]));
        assert_eq!(one, hash(&request, &form(&[("Digits", "1"), ("CallSid", "CA1")])));
        assert_ne!(one, hash(&request, &form(&[("CallSid", "CA1"), ("Digits", "2")])));
        // Length prefixes: moving bytes between name and value changes the hash.
        assert_ne!(one, hash(&request, &form(&[("CallSid", "CA1"), ("Digit", "s1")])));
        let other_query = received("http://a.example", "/webhook/voice?x=2", b"");
        assert_ne!(one, hash(&other_query, &form(&[("CallSid", "CA1"), ("Digits", "1")])));
        let moved = received("http://b.example", "/webhook/voice?x=1", b"");
        assert_eq!(one, hash(&moved, &form(&[("CallSid", "CA1"), ("Digits", "1")])));
        let with_token = received("http://b.example", "/webhook/voice?x=1", b"tok");
        assert_ne!(one, hash(&with_token, &form(&[("CallSid", "CA1"), ("Digits", "1")])));
    }

    #[test]
    fn the_signed_url_is_the_public_base_then_path_and_query() {
        assert_eq!(
            received("https://h.example", "/webhook/voice?x=1", b"").signed_url(),
            "https://h.example/webhook/voice?x=1"
        );
        assert_eq!(
            received("https://h.example", "/webhook/voice", b"").signed_url(),
            "https://h.example/webhook/voice"
        );
        assert_eq!(received("https://h.example", "/webhook/voice?x=1", b"").query(), "x=1");
        assert_eq!(received("https://h.example", "/webhook/voice?x=1", b"").path(), "/webhook/voice");
    }
}
