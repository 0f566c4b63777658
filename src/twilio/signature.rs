//! `X-Twilio-Signature`, exactly as Twilio computes it
//! (<https://www.twilio.com/docs/usage/security#validating-requests>):
//!
//! 1. the full URL Twilio requested, query string included;
//! 2. for form bodies, every parameter's name then value appended, sorted by
//!    name (a repeated name contributes each of its values, sorted);
//! 3. HMAC-SHA1 keyed with the auth token, base64.
//!
//! JSON bodies carry `bodySHA256=<hex sha256 of the raw body>` in the query
//! string; the signature then covers the URL alone and the hash must match.
//! Twilio's own libraries also accept the URL with the default port added or
//! removed (`:443` for https, `:80` for http), because proxies disagree on
//! whether the port is part of the URL; so do we. Every comparison is
//! constant-time.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The request body as far as the signature is concerned.
#[derive(Debug, Clone, Copy)]
pub enum SignedBody<'a> {
    /// `application/x-www-form-urlencoded`, already decoded into pairs (in any order).
    Form(&'a [(String, String)]),
    /// Any other body (JSON): covered by `bodySHA256` in the query string.
    Raw(&'a [u8]),
}

/// The base64 HMAC-SHA1 signature of `url` and the sorted `params`.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sign(auth_token, url, sorted.into_iter())
}

fn sign<'p>(auth_token: &str, url: &str, params: impl Iterator<Item = &'p (String, String)>) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in params {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Lowercase hex SHA-256 of `body`, as Twilio puts it in `bodySHA256`.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Whether `signature` is Twilio's signature of this request under `auth_token`.
/// `url` is the URL as Twilio requested it (see [`crate::twilio`] for how it
/// is rebuilt behind a proxy).
pub fn verify(auth_token: &str, url: &str, body: SignedBody<'_>, signature: &str) -> bool {
    if auth_token.is_empty() || signature.is_empty() {
        return false;
    }
    let no_params: &[(String, String)] = &[];
    let (params, body_ok) = match body {
        SignedBody::Form(params) => (params, true),
        SignedBody::Raw(raw) => {
            // Without bodySHA256 a raw body is not covered by any signature.
            let Some(expected) = query_value(url, "bodySHA256") else { return false };
            let actual = body_sha256(raw);
            (no_params, constant_time_eq(actual.as_bytes(), expected.to_ascii_lowercase().as_bytes()))
        }
    };
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // Twilio's Python library drops exact duplicate pairs before signing; the
    // others keep them. Accept either when there are duplicates.
    let mut deduped = sorted.clone();
    deduped.dedup();
    let has_duplicates = deduped.len() != sorted.len();
    let mut matched = false;
    for candidate in url_variants(url) {
        // No early exit: every variant costs the same whatever matches.
        matched |= constant_time_eq(
            sign(auth_token, &candidate, sorted.iter().copied()).as_bytes(),
            signature.as_bytes(),
        );
        if has_duplicates {
            matched |= constant_time_eq(
                sign(auth_token, &candidate, deduped.iter().copied()).as_bytes(),
                signature.as_bytes(),
            );
        }
    }
    matched && body_ok
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The URL as given, plus the form with the scheme's default port toggled:
/// `https://h/p` also as `https://h:443/p`, and `https://h:443/p` also as
/// `https://h/p` (likewise `:80` for http). Other ports are left alone.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else { return variants };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // Credentials before '@' never reach us from Twilio; keep them verbatim.
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    // An IPv6 host is bracketed; its port follows the closing bracket.
    let host_end = if hostport.starts_with('[') { hostport.find(']').map_or(0, |i| i + 1) } else { 0 };
    let (host, port) = match hostport[host_end..].rfind(':') {
        Some(colon) => {
            let colon = host_end + colon;
            (&hostport[..colon], Some(&hostport[colon + 1..]))
        }
        None => (hostport, None),
    };
    match port {
        None => variants.push(format!("{scheme}://{userinfo}{host}:{default_port}{tail}")),
        Some(p) if p == default_port => variants.push(format!("{scheme}://{userinfo}{host}{tail}")),
        Some(_) => {}
    }
    variants
}

/// The first value of `name` in the URL's query string, percent-decoded.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn published_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    const PUBLISHED_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const PUBLISHED_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    #[test]
    fn twilio_published_vector() {
        assert_eq!(compute("12345", PUBLISHED_URL, &published_params()), PUBLISHED_SIGNATURE);
        let mut shuffled = published_params();
        shuffled.reverse();
        assert!(verify("12345", PUBLISHED_URL, SignedBody::Form(&shuffled), PUBLISHED_SIGNATURE));
        assert!(!verify("12346", PUBLISHED_URL, SignedBody::Form(&shuffled), PUBLISHED_SIGNATURE));
        assert!(!verify("12345", PUBLISHED_URL, SignedBody::Form(&shuffled), "RSOYDt4T1cUTdK1PDd93/VVr8B9="));
        assert!(!verify("12345", PUBLISHED_URL, SignedBody::Form(&shuffled), ""));
        let mut changed = published_params();
        changed[2].1 = "1235".into();
        assert!(!verify("12345", PUBLISHED_URL, SignedBody::Form(&changed), PUBLISHED_SIGNATURE));
    }

    #[test]
    fn twilio_published_body_hash() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = body_sha256(body);
        assert_eq!(hash, "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620");
        let url = format!("{PUBLISHED_URL}&bodySHA256={hash}");
        let signature = compute("12345", &url, &[]);
        assert!(verify("12345", &url, SignedBody::Raw(body), &signature));
        // The body changed: the hash no longer matches though the URL is signed.
        assert!(!verify(
            "12345",
            &url,
            SignedBody::Raw(br#"{"property": "value", "boolean": false}"#),
            &signature
        ));
        // No bodySHA256 at all: a raw body is never accepted.
        let bare = compute("12345", PUBLISHED_URL, &[]);
        assert!(!verify("12345", PUBLISHED_URL, SignedBody::Raw(body), &bare));
    }

    #[test]
    fn default_port_variants_are_accepted_both_ways() {
        let params = published_params();
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        // Signed without the port, requested with it, and the other way round.
        assert!(verify("12345", with_port, SignedBody::Form(&params), PUBLISHED_SIGNATURE));
        let signed_with_port = compute("12345", with_port, &params);
        assert!(verify("12345", PUBLISHED_URL, SignedBody::Form(&params), &signed_with_port));
        // http and :80 likewise.
        let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
        let http80 = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
        assert!(verify("12345", http80, SignedBody::Form(&params), &compute("12345", http, &params)));
        assert!(verify("12345", http, SignedBody::Form(&params), &compute("12345", http80, &params)));
        // Other ports are part of the URL: not interchangeable.
        let other = "https://mycompany.com:8443/myapp.php?foo=1&bar=2";
        assert!(!verify("12345", other, SignedBody::Form(&params), PUBLISHED_SIGNATURE));
        // :443 on http is not a default port.
        assert!(!verify(
            "12345",
            "http://mycompany.com:443/myapp.php?foo=1&bar=2",
            SignedBody::Form(&params),
            &compute("12345", http, &params)
        ));
    }

    #[test]
    fn url_variants_handle_ipv6_userinfo_and_no_path() {
        assert_eq!(url_variants("https://[::1]/x"), vec!["https://[::1]/x", "https://[::1]:443/x"]);
        assert_eq!(url_variants("https://[::1]:443/x"), vec!["https://[::1]:443/x", "https://[::1]/x"]);
        assert_eq!(url_variants("http://h?q=1"), vec!["http://h?q=1", "http://h:80?q=1"]);
        assert_eq!(url_variants("http://u:p@h:80/"), vec!["http://u:p@h:80/", "http://u:p@h/"]);
        assert_eq!(url_variants("ftp://h/"), vec!["ftp://h/"]);
    }

    #[test]
    fn repeated_names_sign_every_value_sorted() {
        let url = "https://example.com/webhook/sms";
        let params = pairs(&[("MediaUrl", "b"), ("Body", "x"), ("MediaUrl", "a")]);
        // By hand: name+value in sorted order, each repeated value sorted.
        let manual = {
            let mut mac = Hmac::<Sha1>::new_from_slice(b"tok").expect("key");
            mac.update(format!("{url}BodyxMediaUrlaMediaUrlb").as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        };
        assert_eq!(compute("tok", url, &params), manual);
        assert!(verify("tok", url, SignedBody::Form(&params), &manual));
        // Duplicated identical pairs: with or without the duplicate.
        let dup = pairs(&[("A", "1"), ("A", "1"), ("B", "2")]);
        let dedup = pairs(&[("A", "1"), ("B", "2")]);
        assert!(verify("tok", url, SignedBody::Form(&dup), &compute("tok", url, &dup)));
        assert!(verify("tok", url, SignedBody::Form(&dup), &compute("tok", url, &dedup)));
    }

    #[test]
    fn empty_token_never_verifies() {
        let sig = compute("", PUBLISHED_URL, &[]);
        assert!(!verify("", PUBLISHED_URL, SignedBody::Form(&[]), &sig));
    }
}
