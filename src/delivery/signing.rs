//! The request a tenant's backend receives (INTERFACE.md §5): the JSON body
//! and its signature `v1=<hex HMAC-SHA256(internal_secret, "<timestamp>.<body>")>`.

use chrono::{SecondsFormat, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

pub const HEADER_EVENT_ID: &str = "x-agentlocator-event-id";
pub const HEADER_TIMESTAMP: &str = "x-agentlocator-timestamp";
pub const HEADER_SIGNATURE: &str = "x-agentlocator-signature";

#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    tenant: &'a str,
    created_at: String,
    data: serde_json::Value,
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-25T19:19:08.123Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The body for one event. The same event always gives the same bytes.
pub fn body(id: &str, kind: &str, tenant: &str, created_at_ms: i64, data: &str) -> Vec<u8> {
    let data = serde_json::from_str(data).unwrap_or_else(|_| serde_json::Value::String(data.to_string()));
    let body = Body { id, kind, tenant, created_at: rfc3339_ms(created_at_ms), data };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The `X-AgentLocator-Signature` value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_contract_fields_in_order() {
        let b = body("evt_1", "twilio.sms", "acme", 1_764_098_348_123, r#"{"Body":"hi"}"#);
        let text = String::from_utf8(b).expect("utf8");
        assert_eq!(
            text,
            r#"{"id":"evt_1","type":"twilio.sms","tenant":"acme","created_at":"2025-11-25T19:19:08.123Z","data":{"Body":"hi"}}"#
        );
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"secret",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            signature("secret", 1_700_000_000, b"{}"),
            "v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
