//! Serving one stored file over HTTP: streamed from the store in chunks
//! (never whole in memory), with its `ETag` (the SHA-256), `If-None-Match` (304),
//! `If-Range` and a single byte range (206, or 416 when unsatisfiable).
//! Several ranges in one request are answered with the whole file (200),
//! which RFC 9110 allows and spares us multipart bodies.

use std::ops::RangeInclusive;

use axum::body::Body;
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, IF_RANGE, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use http_range_header::{EndPosition, StartPosition};

use crate::store::content::Content;
use crate::store::Blob;

/// What part of a file of `len` bytes a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// All of it (200): no `Range`, one we ignore (malformed, several ranges,
    /// an `If-Range` that no longer matches), or one covering the file.
    Full,
    /// These bytes (206).
    Partial(RangeInclusive<u64>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decides what a request with these `Range` and `If-Range` values gets of
/// a file of `len` bytes whose entity tag is `etag` (quoted).
pub fn plan(range: Option<&str>, if_range: Option<&str>, etag: &str, len: u64) -> Plan {
    let Some(range) = range else { return Plan::Full };
    // An If-Range naming another version (or a date: we send no
    // Last-Modified, so it cannot be checked) asks for the whole file.
    if if_range.is_some_and(|v| v.trim() != etag) {
        return Plan::Full;
    }
    // A Range we cannot parse is ignored, as RFC 9110 §14.2 says.
    let Ok(parsed) = http_range_header::parse_range_header(range.trim()) else { return Plan::Full };
    let [only] = parsed.ranges.as_slice() else { return Plan::Full };
    let (start, end) = match (only.start, only.end) {
        (StartPosition::Index(start), end) => {
            let last = match end {
                EndPosition::Index(last) if last < start => return Plan::Full, // invalid: ignored
                EndPosition::Index(last) => last,
                EndPosition::LastByte => u64::MAX,
            };
            if start >= len {
                return Plan::Unsatisfiable;
            }
            (start, last.min(len - 1))
        }
        // The last `n` bytes; more than the file is all of it.
        (StartPosition::FromLast(n), _) => {
            if len == 0 || n == 0 {
                return Plan::Unsatisfiable;
            }
            (len.saturating_sub(n), len - 1)
        }
    };
    if start == 0 && end == len - 1 {
        Plan::Full
    } else {
        Plan::Partial(start..=end)
    }
}

/// Whether an `If-None-Match` value names this entity tag (or is `*`).
/// Weak comparison, as RFC 9110 §13.1.2 asks for this header.
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// The response for `content`, whose bytes are `blob` (already checked
/// against the row's length by the store).
pub async fn respond(blob: Blob, content: &Content, request: &HeaderMap) -> std::io::Result<Response> {
    let len = blob.len();
    let etag = format!("\"{}\"", content.sha256);
    let header = |name| request.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(ETAG, value(&etag));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // The bytes come from strangers (a WhatsApp contact, a caller): never let
    // a browser sniff them into HTML or run them in our origin.
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    if header(IF_NONE_MATCH).is_some_and(|v| etag_matches(v, &etag)) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    let content_type = HeaderValue::from_str(&content.mimetype)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let (start, count) = match plan(header(RANGE), header(IF_RANGE), &etag, len) {
        Plan::Full => (0, len),
        Plan::Partial(range) => {
            let (start, end) = (*range.start(), *range.end());
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            response.headers_mut().insert(CONTENT_RANGE, value(&format!("bytes {start}-{end}/{len}")));
            (start, end - start + 1)
        }
        Plan::Unsatisfiable => {
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            response.headers_mut().insert(CONTENT_RANGE, value(&format!("bytes */{len}")));
            response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0u64));
            return Ok(response);
        }
    };
    let body = blob.stream(start, count).await?;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(count));
    *response.body_mut() = Body::from_stream(body);
    Ok(response)
}

/// A header value from text we built (digits, hex, quotes): always valid.
fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "\"abc\"";

    fn p(range: &str, len: u64) -> Plan {
        plan(Some(range), None, TAG, len)
    }

    #[test]
    fn single_ranges_are_clamped_to_the_file() {
        assert_eq!(p("bytes=0-9", 100), Plan::Partial(0..=9));
        assert_eq!(p("bytes=90-", 100), Plan::Partial(90..=99));
        assert_eq!(p("bytes=90-1000", 100), Plan::Partial(90..=99));
        assert_eq!(p("bytes=-10", 100), Plan::Partial(90..=99));
        assert_eq!(p("bytes=99-99", 100), Plan::Partial(99..=99));
        // The whole file, however asked for, is a 200.
        assert_eq!(p("bytes=0-", 100), Plan::Full);
        assert_eq!(p("bytes=0-99", 100), Plan::Full);
        assert_eq!(p("bytes=-1000", 100), Plan::Full);
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(p("bytes=100-", 100), Plan::Unsatisfiable);
        assert_eq!(p("bytes=500-600", 100), Plan::Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Plan::Unsatisfiable);
        assert_eq!(p("bytes=-5", 0), Plan::Unsatisfiable);
    }

    #[test]
    fn malformed_multiple_and_stale_ranges_get_the_whole_file() {
        for ignored in
            ["", "bytes", "bytes=", "bytes=a-b", "items=0-1", "bytes=5-2", "bytes=0-1,5-6", "bytes=--1"]
        {
            assert_eq!(p(ignored, 100), Plan::Full, "{ignored}");
        }
        assert_eq!(plan(None, None, TAG, 100), Plan::Full);
        assert_eq!(plan(Some("bytes=0-1"), Some(TAG), TAG, 100), Plan::Partial(0..=1));
        assert_eq!(plan(Some("bytes=0-1"), Some("\"old\""), TAG, 100), Plan::Full);
        assert_eq!(plan(Some("bytes=0-1"), Some("Fri, 27 Nov 2026 10:00:00 GMT"), TAG, 100), Plan::Full);
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        assert!(etag_matches(TAG, TAG));
        assert!(etag_matches("W/\"abc\"", TAG));
        assert!(etag_matches("\"x\", \"abc\"", TAG));
        assert!(etag_matches("*", TAG));
        assert!(!etag_matches("\"abcd\"", TAG));
        assert!(!etag_matches("abc", TAG));
    }

    fn content(bytes: u64) -> Content {
        use sha2::Digest;
        let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
        Content {
            tenant_id: "acme".into(),
            kind: crate::paths::ContentKind::Recording,
            id: "x".into(),
            event_id: None,
            file: "x.wav".into(),
            mimetype: "audio/x-wav".into(),
            bytes,
            sha256: hex::encode(sha2::Sha256::digest(&data)),
            stored_at_ms: 0,
            expired_at_ms: None,
        }
    }

    #[tokio::test]
    async fn a_range_streams_exactly_its_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("x.wav");
        let data: Vec<u8> = (0..200_000u64).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let row = content(200_000);
        let blob = || async { Blob::from_file(tokio::fs::File::open(&path).await.expect("open"), 200_000) };
        let mut request = HeaderMap::new();
        request.insert(RANGE, HeaderValue::from_static("bytes=70000-139999"));
        let response = respond(blob().await, &row, &request).await.expect("served");
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.headers()[CONTENT_RANGE], "bytes 70000-139999/200000");
        assert_eq!(response.headers()[CONTENT_LENGTH], "70000");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        assert_eq!(&body[..], &data[70_000..140_000]);

        let response = respond(blob().await, &row, &HeaderMap::new()).await.expect("served");
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        assert_eq!(&body[..], &data[..]);
    }
}
