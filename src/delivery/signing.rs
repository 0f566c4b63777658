//! The request a tenant's backend receives: the JSON body and its Standard
//! Webhooks signature (https://www.standardwebhooks.com): `webhook-id`,
//! `webhook-timestamp` (unix seconds) and `webhook-signature`, which is
//! `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` for each of the
//! tenant's valid keys, space-separated (two during a rotation's grace).
//!
//! Hand-written rather than the `standardwebhooks` crate: the crate signs with
//! one key per `Webhook` (we send one or two signatures), pulls in a second
//! `base64` major version and the `time` crate, and has had one release (2024);
//! the whole algorithm is the `signature` function below, checked against the
//! specification's own test vector and, end to end, by the official Python
//! and Node libraries (tests/integration/signing.rs).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    tenant: &'a str,
    created_at: String,
    data: serde_json::Value,
}

/// The body for one event. The same event always gives the same bytes.
pub fn body(id: &str, kind: &str, tenant: &str, created_at_ms: i64, data: &str) -> Vec<u8> {
    let data = serde_json::from_str(data).unwrap_or_else(|_| serde_json::Value::String(data.to_string()));
    let body = Body { id, kind, tenant, created_at: crate::clock::format_ms(created_at_ms), data };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// One `v1,<base64>` signature of `body`, sent as event `id` at `timestamp`
/// (unix seconds), with the raw key bytes (what `whsec_...` decodes to).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, current key first.
pub fn signature_header(keys: &[&[u8]], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter().map(|key| signature(key, id, timestamp, body)).collect::<Vec<_>>().join(" ")
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
    fn signature_matches_the_specifications_test_vector() {
        // The Standard Webhooks reference libraries' vector: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw.
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("key");
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_key_signs_current_first() {
        let (new, old) = ([1u8; 32], [2u8; 32]);
        let header = signature_header(&[&new, &old], "evt_1", 1_700_000_000, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            [signature(&new, "evt_1", 1_700_000_000, b"{}"), signature(&old, "evt_1", 1_700_000_000, b"{}")]
        );
        assert_eq!(signature_header(&[&new], "evt_1", 1, b"{}"), signature(&new, "evt_1", 1, b"{}"));
    }
}
