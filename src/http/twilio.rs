//! `POST /webhook/{kind}` (tenant found by the request's `To`/`Called`
//! number) and `POST /webhook/{tenant}/{kind}`: read the body within the
//! webhook limits, then `twilio::webhook` verifies, stores and answers (the
//! order of its checks is the contract; see there).

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::{ApiError, AppState};
use crate::config::Config;
use crate::twilio::webhook::{self, Answer, Received, Target, WebhookError};

const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// Twilio sends the same token again when it retries a webhook.
const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";

pub fn router() -> Router<AppState> {
    Router::new().route("/webhook/{kind}", post(by_number)).route("/webhook/{tenant}/{kind}", post(by_path))
}

async fn by_number(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    handle(state, Target::Number, kind, headers, uri, body).await
}

async fn by_path(
    State(state): State<AppState>,
    Path((tenant, kind)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    handle(state, Target::Path(tenant), kind, headers, uri, body).await
}

async fn handle(
    state: AppState,
    target: Target,
    kind: String,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    // Parse, authorize (the signature), then the domain stores and answers.
    let result = async {
        let raw = read_bounded(&state.config, &headers, body).await?;
        let request = received(&state.config, target, &kind, &headers, &uri, &raw);
        let verified = webhook::verify(&state.config, &state.store, request).await?;
        webhook::accept(&state.events, verified).await
    }
    .await;
    respond(result)
}

/// TwiML for an accepted webhook, the JSON error otherwise; counted either way.
fn respond(result: Result<Answer, WebhookError>) -> Response {
    match result {
        Ok(answer) => {
            let outcome = if answer.duplicate { "duplicate" } else { "stored" };
            metrics::counter!("agentlocator_twilio_webhooks_total", "kind" => answer.kind.as_str(), "outcome" => outcome)
                .increment(1);
            ([(CONTENT_TYPE, "text/xml")], answer.twiml).into_response()
        }
        Err(error) => {
            let error = ApiError::from(error);
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

/// The request as `twilio::webhook` sees it.
fn received<'a>(
    config: &Config,
    target: Target,
    kind: &'a str,
    headers: &'a HeaderMap,
    uri: &'a Uri,
    raw: &'a [u8],
) -> Received<'a> {
    Received {
        target,
        kind,
        signature: headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty()),
        idempotency_token: headers.get(IDEMPOTENCY_HEADER).map(|v| v.as_bytes()).unwrap_or_default(),
        is_form: is_form(headers),
        public_base: public_base(config, headers, uri),
        path_and_query: uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        raw,
    }
}

/// The body, refused (413) past `twilio.webhook_body_limit_bytes` or, for a
/// form, past `twilio.webhook_max_params` parameters. Twilio's webhooks are a
/// few KiB with a few dozen parameters; these limits keep an unsigned caller
/// from making us parse and HMAC a large body before the signature fails.
async fn read_bounded(config: &Config, headers: &HeaderMap, body: Body) -> Result<Bytes, WebhookError> {
    let limit = config.twilio.webhook_body_limit_bytes;
    let declared =
        headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(WebhookError::TooLarge { limit });
    }
    // Also bounds a body without (or lying about) its length.
    let raw = axum::body::to_bytes(body, limit).await.map_err(|_| WebhookError::TooLarge { limit })?;
    let max = config.twilio.webhook_max_params.get();
    // Counted on the raw bytes (one pair per `&`-separated piece), so the
    // refusal allocates nothing per pair.
    if is_form(headers) && raw.split(|b| *b == b'&').filter(|piece| !piece.is_empty()).nth(max).is_some() {
        return Err(WebhookError::TooManyParams { max });
    }
    Ok(raw)
}

fn is_form(headers: &HeaderMap) -> bool {
    match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rebuilt_from_the_public_base_or_the_request() {
        let uri: Uri = "/webhook/voice?x=1".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "127.0.0.1:5000".parse().expect("host"));
        let mut config = Config::default();
        let signed_url = |config: &Config, headers: &HeaderMap| {
            received(config, Target::Number, "voice", headers, &uri, b"").signed_url()
        };
        assert_eq!(signed_url(&config, &headers), "http://127.0.0.1:5000/webhook/voice?x=1");
        headers.insert("x-forwarded-proto", "https".parse().expect("xfp"));
        assert_eq!(signed_url(&config, &headers), "https://127.0.0.1:5000/webhook/voice?x=1");
        config.http.public_base_url = Some("https://hooks.example.com/".into());
        assert_eq!(signed_url(&config, &headers), "https://hooks.example.com/webhook/voice?x=1");
    }
}
