//! The content API end to end: the built binary on real sockets fetches a
//! recording from a stand-in Twilio API, its event carries `recording.url`,
//! and that URL serves exactly the bytes (headers, ranges, conditional
//! requests, auth), slowly read or not, until retention or the tenant's
//! removal deletes them.

use crate::harness;

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::stored;
use crate::harness::twilio_api::{generated_digest, wav, FakeTwilio, Serve};
use crate::harness::{
    eventually, form_body, http, raw_get, sha256_hex, twilio_signature, Daemon, DaemonOptions,
};
use reqwest::blocking::Response;
use serde_json::Value;

const SECRET: &str = "content-test-internal-secret-0123456789";
const TWILIO_TOKEN: &str = "global-auth-token-0123456789";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const ACME_NUMBER: &str = "+15550001111";

fn start(api: &FakeTwilio, extra_config: &str, env: &[(&str, &str)]) -> Daemon {
    Daemon::start_with(options(api, extra_config, env))
}

/// A daemon fetching recordings from `api` with the global account.
pub(crate) fn options(api: &FakeTwilio, extra_config: &str, env: &[(&str, &str)]) -> DaemonOptions {
    let config = format!(
        "[twilio]\napi_base_url = \"http://{}\"\naccount_sid = \"{ACCOUNT}\"\nrecording_fetch_timeout_s = 30\n\
         [jobs]\nbackoff_base_ms = 50\nbackoff_cap_ms = 200\npoll_interval_ms = 100\n{extra_config}",
        api.addr
    );
    let mut all = vec![
        ("TWILIO_AUTH_TOKEN".to_string(), TWILIO_TOKEN.to_string()),
        ("INTERNAL_SECRET".to_string(), SECRET.to_string()),
    ];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    DaemonOptions { env: all, config_toml: Some(config), data_dir: None }
}

/// The stand-in Twilio API holding the global account's credentials.
pub(crate) fn twilio_api() -> FakeTwilio {
    FakeTwilio::start(&[(ACCOUNT, TWILIO_TOKEN)])
}

/// Posts a signed, completed-recording webhook for `rsid` to tenant acme.
pub(crate) fn post_recording(daemon: &Daemon, rsid: &str) {
    let path = "/webhook/acme/recording";
    let params = [
        ("AccountSid", ACCOUNT),
        ("CallSid", "CA33333333333333333333333333333333"),
        ("RecordingSid", rsid),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "1"),
    ];
    let signature = twilio_signature(TWILIO_TOKEN, &daemon.url(path), &params);
    let body = form_body(&params);
    let response = http()
        .post(daemon.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(body)
        .send()
        .expect("post webhook");
    assert_eq!(response.status().as_u16(), 200);
}

/// The `recording` object of the recording's event once its fetch ended.
pub(crate) fn fetched(daemon: &Daemon, rsid: &str) -> Value {
    let read = || -> Option<Value> {
        let rows = daemon.db_rows("SELECT status, data FROM events WHERE type = 'twilio.recording'");
        let (status, data) = rows.into_iter().find_map(|row| {
            let data: Value = serde_json::from_str(row[1].as_deref()?).expect("event data");
            (data["RecordingSid"] == rsid).then(|| (row[0].clone().unwrap_or_default(), data))
        })?;
        (status != "held").then(|| data["recording"].clone())
    };
    assert!(
        eventually(Duration::from_secs(30), || read().is_some()),
        "recording {rsid} not fetched; log:\n{}",
        daemon.log()
    );
    let recording = read().expect("released");
    assert_eq!(recording["status"], "fetched", "{recording}");
    recording
}

pub(crate) fn get(url: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Response {
    let mut request = http().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().expect("get")
}

fn header(response: &Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// The status and error code of a JSON error answer.
pub(crate) fn error(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().expect("error is JSON");
    (status, body["error"]["code"].as_str().unwrap_or("").to_string())
}

/// The stored bytes of recording `rsid` of acme, wherever the store keeps them.
fn stored_recording(daemon: &Daemon, rsid: &str) -> Option<Vec<u8>> {
    stored::stored_bytes(daemon, "acme", stored::RECORDINGS, &format!("{rsid}.wav"))
}

#[test]
fn a_fetched_recording_is_served_with_its_headers_ranges_and_conditions_to_its_tenant_only() {
    let api = twilio_api();
    let daemon = start(&api, "", &[]);
    let token = daemon.add_tenant_with("acme", &["--twilio-number", ACME_NUMBER]).token;
    let other = daemon.add_tenant_with("other", &[]).token;
    let rsid = "RE000000000000000000000000000c0de1";
    post_recording(&daemon, rsid);
    let recording = fetched(&daemon, rsid);
    let url = daemon.url(&format!("/api/recordings/acme/{rsid}"));
    assert_eq!(recording["url"], url.as_str(), "{recording}");
    let bytes = wav(8000);
    let sha = sha256_hex(&bytes);
    assert_eq!(recording["sha256"], sha.as_str());
    let etag = format!("\"{sha}\"");

    // The tenant's own token: exactly the bytes, with every header.
    let whole = get(&url, Some(&token), &[]);
    assert_eq!(whole.status().as_u16(), 200);
    for (name, expected) in [
        ("content-type", "audio/x-wav".to_string()),
        ("content-length", bytes.len().to_string()),
        ("etag", etag.clone()),
        ("accept-ranges", "bytes".into()),
        ("x-content-type-options", "nosniff".into()),
        ("content-security-policy", "sandbox".into()),
        ("cache-control", "private".into()),
    ] {
        assert_eq!(header(&whole, name), expected, "{name}");
    }
    let body = whole.bytes().expect("body");
    assert_eq!(sha256_hex(&body), sha);

    // HEAD: the same headers, no body.
    let head = http().head(&url).bearer_auth(&token).send().expect("head");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(header(&head, "content-length"), bytes.len().to_string());
    assert_eq!(header(&head, "etag"), etag);
    assert!(head.bytes().expect("body").is_empty());

    // One range: 206 and that slice; past the end: 416; several: all of it.
    let part = get(&url, Some(&token), &[("Range", "bytes=1000-1999")]);
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(header(&part, "content-range"), format!("bytes 1000-1999/{}", bytes.len()));
    assert_eq!(header(&part, "content-length"), "1000");
    assert_eq!(&part.bytes().expect("body")[..], &bytes[1000..2000]);
    let tail = get(&url, Some(&token), &[("Range", "bytes=-44")]);
    assert_eq!(tail.status().as_u16(), 206);
    assert_eq!(&tail.bytes().expect("body")[..], &bytes[bytes.len() - 44..]);
    let past = get(&url, Some(&token), &[("Range", "bytes=99999-")]);
    assert_eq!(past.status().as_u16(), 416);
    assert_eq!(header(&past, "content-range"), format!("bytes */{}", bytes.len()));
    let several = get(&url, Some(&token), &[("Range", "bytes=0-1,10-11")]);
    assert_eq!(several.status().as_u16(), 200);
    assert_eq!(several.bytes().expect("body").len(), bytes.len());
    let stale = get(&url, Some(&token), &[("Range", "bytes=0-1"), ("If-Range", "\"other\"")]);
    assert_eq!(stale.status().as_u16(), 200, "If-Range of another version gets the whole file");

    // Conditional: the ETag it has answers 304 without a body.
    let unchanged = get(&url, Some(&token), &[("If-None-Match", &etag)]);
    assert_eq!(unchanged.status().as_u16(), 304);
    assert_eq!(header(&unchanged, "etag"), etag);
    assert!(unchanged.bytes().expect("body").is_empty());
    let changed = get(&url, Some(&token), &[("If-None-Match", "\"something-else\"")]);
    assert_eq!(changed.status().as_u16(), 200);

    // The internal secret reads it too; another tenant's token, none or a
    // wrong one do not.
    let admin = get(&url, Some(SECRET), &[]);
    assert_eq!(admin.status().as_u16(), 200);
    assert_eq!(&admin.bytes().expect("body")[..], &bytes[..]);
    assert_eq!(error(get(&url, Some(&other), &[])), (404, "not_found".into()));
    assert_eq!(error(get(&url, None, &[])), (401, "unauthorized".into()));
    assert_eq!(error(get(&url, Some("not-a-token"), &[])), (401, "unauthorized".into()));
    // Another tenant's own URL space is not a way in either.
    let crossed = daemon.url(&format!("/api/recordings/other/{rsid}"));
    assert_eq!(error(get(&crossed, Some(&token), &[])), (404, "not_found".into()));
    assert_eq!(error(get(&crossed, Some(SECRET), &[])), (404, "not_found".into()), "not other's recording");

    // Unknown and malformed ids: 404, and the malformed never reach the disk
    // (a traversal would otherwise find the database).
    let unknown = daemon.url("/api/recordings/acme/RE111111111111111111111111111111ff");
    assert_eq!(error(get(&unknown, Some(&token), &[])), (404, "not_found".into()));
    for path in [
        "/api/recordings/acme/..%2F..%2F..%2Fagentlocator.db",
        "/api/recordings/acme/RE0123",
        &format!("/api/recordings/acme/{}", rsid.to_uppercase()),
        "/api/whatsapp/acme/media/..%2Frecordings%2Fx",
        &format!("/api/whatsapp/acme/media/{}", "a".repeat(65)),
        "/api/whatsapp/acme/media/a.b",
    ] {
        let (status, body) = raw_get(daemon.addr, path, &[("Authorization", &format!("Bearer {token}"))]);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("not_found"), "{path}: {body}");
    }
    // A recording id is not a media id.
    let as_media = daemon.url(&format!("/api/whatsapp/acme/media/{rsid}"));
    assert_eq!(error(get(&as_media, Some(&token), &[])), (404, "not_found".into()));

    // A file gone from disk (removed by hand) answers 410, as pruned ones do.
    let second = "RE000000000000000000000000000c0de2";
    post_recording(&daemon, second);
    fetched(&daemon, second);
    assert_eq!(stored_recording(&daemon, second), Some(bytes.clone()));
    stored::remove_by_hand(&daemon, "acme", stored::RECORDINGS, &format!("{second}.wav"));
    let gone = daemon.url(&format!("/api/recordings/acme/{second}"));
    assert_eq!(error(get(&gone, Some(&token), &[])), (410, "expired".into()));

    // Removing the tenant deletes its recordings and their rows.
    let out = daemon.cli(&["tenant", "remove", "acme", "--yes"]);
    assert!(out.status.success(), "tenant remove: {}", harness::stderr(&out));
    assert_eq!(stored_recording(&daemon, rsid), None);
    assert!(!daemon.data_dir.join("tenants/acme").exists(), "the tenant's directory is gone");
    assert_eq!(daemon.db_i64("SELECT COUNT(*) FROM content WHERE tenant_id = 'acme'"), 0);
    assert_eq!(error(get(&url, Some(SECRET), &[])), (404, "not_found".into()));
}

#[test]
fn recordings_past_media_retention_are_deleted_and_answer_410() {
    let api = twilio_api();
    // About 1.7 s of retention: housekeeping then runs about every second.
    let daemon = start(&api, "", &[("AGENTLOCATOR_MEDIA__RETENTION_DAYS", "0.00002")]);
    let token = daemon.add_tenant_with("acme", &["--twilio-number", ACME_NUMBER]).token;
    let rsid = "RE00000000000000000000000000000dd1";
    post_recording(&daemon, rsid);
    let url = fetched(&daemon, rsid)["url"].as_str().expect("url").to_string();
    assert!(stored_recording(&daemon, rsid).is_some());
    let expired = || get(&url, Some(&token), &[]).status().as_u16() == 410;
    assert!(eventually(Duration::from_secs(30), expired), "never expired; log:\n{}", daemon.log());
    assert_eq!(error(get(&url, Some(&token), &[])), (410, "expired".into()));
    assert_eq!(stored_recording(&daemon, rsid), None, "the file is deleted");
    // The file is gone (so 410) a moment before the row says so: wait for it.
    let row = || daemon.db_rows(&format!("SELECT expired_at_ms FROM content WHERE id = '{rsid}'"));
    let marked = || matches!(row().as_slice(), [only] if only[0].is_some());
    assert!(eventually(Duration::from_secs(5), marked), "the row is kept, marked expired: {:?}", row());
}

#[test]
fn a_16_mib_recording_read_slowly_outlives_the_request_time_limit() {
    const LEN: u64 = 16 * 1024 * 1024;
    let api = twilio_api();
    // One second for a request; the slow read below takes longer than that.
    let daemon = start(&api, "[http]\nrequest_timeout_s = 1\n", &[]);
    let token = daemon.add_tenant_with("acme", &["--twilio-number", ACME_NUMBER]).token;
    let rsid = "RE0000000000000000000000000000b16b";
    api.serve(rsid, Serve::Generated { len: LEN, content_length: true });
    post_recording(&daemon, rsid);
    let recording = fetched(&daemon, rsid);
    assert_eq!(recording["bytes"], LEN);
    let path = format!("/api/recordings/acme/{rsid}");

    let mut stream = std::net::TcpStream::connect(daemon.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
        daemon.addr
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pause_at = 1024 * 1024;
    loop {
        let n = stream.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
        // A slow client: a pause after each MiB, over 2 s in all, twice the
        // request time limit.
        if received.len() >= pause_at {
            pause_at += 1024 * 1024;
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    let split = received.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let head = String::from_utf8_lossy(&received[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("content-length: {LEN}")), "{head}");
    let body = &received[split..];
    assert_eq!(body.len() as u64, LEN, "the whole body arrived");
    assert_eq!(sha256_hex(body), generated_digest(LEN));
}
