//! Twilio webhooks end to end: the built binary on real sockets, signatures
//! computed here independently of the daemon's code, the events read back
//! from the SQLite file, and a local HTTP server standing in for the Twilio
//! API (with its basic-auth check) for recording fetches.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::{eventually, http, Daemon, DaemonOptions};
use hmac::{Hmac, Mac};
use rand::{Rng, SeedableRng};
use reqwest::blocking::Client;
use sha2::Digest;

const GLOBAL_TOKEN: &str = "global-auth-token-0123456789";
const ACME_NUMBER: &str = "+15550001111";

type Params = Vec<(String, String)>;

fn params(list: &[(&str, &str)]) -> Params {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Twilio's algorithm, written out here (not the daemon's code): URL, then
/// name+value of every parameter sorted, HMAC-SHA1, base64.
fn sign(token: &str, url: &str, params: &Params) -> String {
    let mut sorted = params.clone();
    sorted.sort();
    let mut text = url.to_string();
    for (k, v) in &sorted {
        text.push_str(k);
        text.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("key");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn encode(params: &Params) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// POSTs a form to `path` on the daemon with `signature` (None: unsigned).
fn post_form(
    client: &Client,
    daemon: &Daemon,
    path: &str,
    body: &str,
    signature: Option<&str>,
) -> (u16, String, String) {
    let mut request = client
        .post(daemon.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(sig) = signature {
        request = request.header("X-Twilio-Signature", sig);
    }
    let response = request.send().expect("post");
    let status = response.status().as_u16();
    let ct = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, ct, response.text().expect("body"))
}

/// Signs for the daemon's own URL (no proxy) and posts.
fn post_signed(
    client: &Client,
    daemon: &Daemon,
    token: &str,
    path: &str,
    p: &Params,
) -> (u16, String, String) {
    let sig = sign(token, &daemon.url(path), p);
    post_form(client, daemon, path, &encode(p), Some(&sig))
}

fn db(daemon: &Daemon) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(daemon.data_dir.join("agentlocator.db")).expect("open db");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    conn
}

fn event_count(daemon: &Daemon) -> i64 {
    db(daemon).query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).expect("count")
}

/// (type, status, data) of the event with this dedupe key.
fn event_by_key(daemon: &Daemon, key: &str) -> Option<(String, String, serde_json::Value)> {
    db(daemon)
        .query_row("SELECT type, status, data FROM events WHERE dedupe_key = ?1", [key], |r| {
            let data: String = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&data).expect("json")))
        })
        .ok()
}

fn add_tenant(daemon: &Daemon, args: &[&str]) {
    let mut full = vec!["tenant", "add"];
    full.extend_from_slice(args);
    let out = daemon.cli(&full);
    assert!(out.status.success(), "tenant add: {}", common::stderr(&out));
}

fn start(config_toml: Option<String>, env: &[(&str, &str)]) -> Daemon {
    let mut all = vec![("TWILIO_AUTH_TOKEN".to_string(), GLOBAL_TOKEN.to_string())];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let daemon = Daemon::start_with(DaemonOptions { env: all, config_toml, data_dir: None });
    add_tenant(&daemon, &["acme", "--twilio-number", ACME_NUMBER]);
    daemon
}

fn sid(prefix: &str, rng: &mut impl Rng) -> String {
    let hex: String =
        (0..32).map(|_| char::from_digit(rng.random_range(0..16), 16).expect("digit")).collect();
    format!("{prefix}{hex}")
}

#[test]
fn random_parameter_sets_repeated_keys_unicode_and_query_strings_are_accepted() {
    let daemon = start(None, &[]);
    let client = http();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x7111);
    let names =
        ["Body", "FromCity", "Ünïcode", "MediaUrl0", "Digits", "a b", "x&y=z", "SpeechResult", "日本"];
    let values =
        ["", "héllo wörld", "👋 emoji", "a+b=c&d", "100%", "line\nbreak", "\"quoted\"", "日本語テキスト"];
    let mut expected = 0;
    for round in 0..40 {
        let (path, kind, sid_name, sid_prefix) = match round % 3 {
            0 => ("/webhook/sms", "sms", "MessageSid", "SM"),
            1 => ("/webhook/acme/status", "status", "CallSid", "CA"),
            _ => ("/webhook/voice", "voice", "CallSid", "CA"),
        };
        let this_sid = sid(sid_prefix, &mut rng);
        let mut p = params(&[("To", ACME_NUMBER), ("From", "+15559998888"), ("AccountSid", "ACabc")]);
        p.push((sid_name.to_string(), this_sid.clone()));
        for _ in 0..rng.random_range(0..8) {
            let name = names[rng.random_range(0..names.len())];
            let value = values[rng.random_range(0..values.len())];
            p.push((name.to_string(), value.to_string()));
        }
        // Repeated names (each value signed, sorted) every other round.
        if round % 2 == 0 {
            p.push(("MediaUrl0".into(), "https://m.example/2".into()));
            p.push(("MediaUrl0".into(), "https://m.example/1".into()));
        }
        // A query string on the URL (signed as part of the URL) now and then.
        let path =
            if round % 4 == 0 { format!("{path}?tenantHint=acme&q=%C3%BC+x") } else { path.to_string() };
        // Parameters in a random order on the wire: the signature sorts them.
        let mut wire = p.clone();
        for i in (1..wire.len()).rev() {
            wire.swap(i, rng.random_range(0..=i));
        }
        let sig = sign(GLOBAL_TOKEN, &daemon.url(&path), &p);
        let (status, ct, body) = post_form(&client, &daemon, &path, &encode(&wire), Some(&sig));
        assert_eq!(status, 200, "round {round} {path}: {body}");
        assert!(ct.starts_with("text/xml"), "{ct}");
        if kind == "voice" {
            assert!(body.contains("<Record"), "{body}");
        } else {
            assert!(body.contains("<Response/>"), "{body}");
        }
        expected += 1;
        // No status parameter in these: the key ends with an empty status.
        let key = format!("{kind}:{this_sid}:");
        let (_, _, data) = event_by_key(&daemon, &key).unwrap_or_else(|| panic!("no event {key}"));
        assert_eq!(data[sid_name], this_sid.as_str());
        if round % 2 == 0 {
            assert!(data["MediaUrl0"].as_array().map(Vec::len).unwrap_or(0) >= 2, "{data}");
        }
    }
    // A JSON body: bodySHA256 in the query string, the signature over the URL.
    let body = format!(
        r#"{{"CallSid":"{}","CallStatus":"ringing","To":"{ACME_NUMBER}","note":"ünï"}}"#,
        sid("CA", &mut rng)
    );
    let hash = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let path = format!("/webhook/voice?bodySHA256={hash}");
    let sig = sign(GLOBAL_TOKEN, &daemon.url(&path), &Vec::new());
    let response = client
        .post(daemon.url(&path))
        .header("content-type", "application/json")
        .header("X-Twilio-Signature", &sig)
        .body(body.clone())
        .send()
        .expect("post json");
    assert_eq!(response.status().as_u16(), 200);
    expected += 1;
    // The same signature with a changed body: the hash no longer matches.
    let response = client
        .post(daemon.url(&path))
        .header("content-type", "application/json")
        .header("X-Twilio-Signature", &sig)
        .body(body.replace("ünï", "uni"))
        .send()
        .expect("post json");
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(event_count(&daemon), expected);
}

#[test]
fn every_one_byte_tamper_is_refused_with_403_and_nothing_stored() {
    let daemon = start(None, &[]);
    let client = http();
    let path = "/webhook/sms?x=1";
    let p = params(&[
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("To", ACME_NUMBER),
        ("From", "+15559998888"),
        ("Body", "pay 100 now"),
    ]);
    let body = encode(&p);
    let sig = sign(GLOBAL_TOKEN, &daemon.url(path), &p);
    let decoded =
        |b: &[u8]| -> BTreeSet<(String, String)> { url::form_urlencoded::parse(b).into_owned().collect() };
    let original = decoded(body.as_bytes());
    let mut tried = 0;
    // Every byte of the body, changed to another printable byte that changes
    // what the parameters decode to.
    for i in 0..body.len() {
        let mut tampered = body.as_bytes().to_vec();
        let replacement = if tampered[i] == b'a' { b'b' } else { b'a' };
        tampered[i] = replacement;
        if decoded(&tampered) == original {
            continue;
        }
        let text = String::from_utf8(tampered).expect("ascii");
        let (status, _, answer) = post_form(&client, &daemon, path, &text, Some(&sig));
        assert_eq!(status, 403, "body byte {i}: {text}: {answer}");
        tried += 1;
    }
    // Every byte of the signature.
    for i in 0..sig.len() {
        let mut tampered = sig.as_bytes().to_vec();
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        let (status, _, _) = post_form(&client, &daemon, path, &body, Some(&tampered));
        assert_eq!(status, 403, "signature byte {i}");
        tried += 1;
    }
    // Every byte of the URL after /webhook/ (kind and query string).
    let prefix = "/webhook/".len();
    for i in prefix..path.len() {
        let mut tampered = path.as_bytes().to_vec();
        tampered[i] = if tampered[i] == b'z' { b'y' } else { b'z' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        let (status, _, _) = post_form(&client, &daemon, &tampered, &body, Some(&sig));
        assert_eq!(status, 403, "url byte {i}: {tampered}");
        tried += 1;
    }
    // And the same request unsigned, or signed with another token.
    assert_eq!(post_form(&client, &daemon, path, &body, None).0, 403);
    assert_eq!(post_form(&client, &daemon, path, &body, Some(&sign("other", &daemon.url(path), &p))).0, 403);
    assert!(tried > 100, "{tried}");
    assert_eq!(event_count(&daemon), 0, "a refused request was stored");
    // The untouched request is accepted: the tampering, not the setup, failed.
    assert_eq!(post_form(&client, &daemon, path, &body, Some(&sig)).0, 200);
    assert_eq!(event_count(&daemon), 1);
}

#[test]
fn unsigned_unknown_wrong_method_oversized_and_malformed_requests_store_nothing() {
    let daemon = start(Some("[http]\nbody_limit_bytes = 4096\n".into()), &[]);
    add_tenant(&daemon, &["own", "--twilio-number", "+15550002222", "--twilio-auth-token", "own-token-xyz"]);
    let client = http();
    let call = |to: &str| {
        params(&[("CallSid", "CA00000000000000000000000000000001"), ("To", to), ("CallStatus", "ringing")])
    };
    // Unsigned: 403 whatever the target, existing or not.
    for path in [
        "/webhook/voice",
        "/webhook/acme/voice",
        "/webhook/ghost/voice",
        "/webhook/bogus",
        "/webhook/acme/bogus",
        "/webhook/..%2F/voice",
        "/webhook/BAD/sms",
    ] {
        let (status, _, body) = post_form(&client, &daemon, path, &encode(&call(ACME_NUMBER)), None);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(!body.contains("acme") && !body.contains("ghost"), "{body}");
    }
    // Badly signed (another token) for an unknown tenant: still 403, not 404.
    let bad = sign("wrong", &daemon.url("/webhook/ghost/voice"), &call(ACME_NUMBER));
    assert_eq!(
        post_form(&client, &daemon, "/webhook/ghost/voice", &encode(&call(ACME_NUMBER)), Some(&bad)).0,
        403
    );
    // Validly signed for an unknown number, tenant or kind: 404; a bad id: 400.
    assert_eq!(post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &call("+15557770000")).0, 404);
    assert_eq!(
        post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/ghost/voice", &call(ACME_NUMBER)).0,
        404
    );
    assert_eq!(post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/acme/bogus", &call(ACME_NUMBER)).0, 404);
    assert_eq!(post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/BAD/voice", &call(ACME_NUMBER)).0, 400);
    // A tenant with its own token: the global one is not enough.
    assert_eq!(post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &call("+15550002222")).0, 403);
    assert_eq!(
        post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/own/voice", &call("+15550002222")).0,
        403
    );
    // Malformed: signed but without a CallSid, or a JSON body that is not an object.
    let no_sid = params(&[("To", ACME_NUMBER), ("CallStatus", "ringing")]);
    assert_eq!(post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &no_sid).0, 400);
    let json = "[1,2]";
    let path =
        format!("/webhook/acme/voice?bodySHA256={}", hex::encode(sha2::Sha256::digest(json.as_bytes())));
    let response = client
        .post(daemon.url(&path))
        .header("content-type", "application/json")
        .header("X-Twilio-Signature", sign(GLOBAL_TOKEN, &daemon.url(&path), &Vec::new()))
        .body(json)
        .send()
        .expect("post");
    assert_eq!(response.status().as_u16(), 400);
    // Wrong method and oversized body.
    assert_eq!(client.get(daemon.url("/webhook/voice")).send().expect("get").status().as_u16(), 405);
    assert_eq!(client.put(daemon.url("/webhook/acme/voice")).send().expect("put").status().as_u16(), 405);
    let mut big = call(ACME_NUMBER);
    big.push(("Body".into(), "x".repeat(5000)));
    assert_eq!(post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &big).0, 413);
    assert_eq!(event_count(&daemon), 0, "a refused request was stored");
    // The tenant's own token works, through the number and through the path.
    assert_eq!(
        post_signed(&client, &daemon, "own-token-xyz", "/webhook/voice", &call("+15550002222")).0,
        200
    );
    assert_eq!(
        post_signed(&client, &daemon, "own-token-xyz", "/webhook/own/voice", &call("+15550002222")).0,
        200
    );
    assert_eq!(event_count(&daemon), 1, "the second is a redelivery of the first");
}

#[test]
fn behind_a_proxy_the_public_base_url_is_signed_with_or_without_the_default_port() {
    let daemon = start(None, &[("PUBLIC_BASE_URL", "https://hooks.example.com")]);
    let client = http();
    let call = |n: u32| {
        params(&[("CallSid", &format!("CA{n:032}")), ("To", ACME_NUMBER), ("CallStatus", "ringing")])
    };
    let path = "/webhook/voice?x=1";
    for (n, public) in
        ["https://hooks.example.com/webhook/voice?x=1", "https://hooks.example.com:443/webhook/voice?x=1"]
            .iter()
            .enumerate()
    {
        let p = call(n as u32);
        let (status, _, body) =
            post_form(&client, &daemon, path, &encode(&p), Some(&sign(GLOBAL_TOKEN, public, &p)));
        assert_eq!(status, 200, "{public}: {body}");
        assert!(
            body.contains("recordingStatusCallback=\"https://hooks.example.com/webhook/acme/recording\""),
            "{body}"
        );
    }
    // Signed for the address we listen on, not the one Twilio called: refused.
    let p = call(9);
    assert_eq!(post_signed(&client, &daemon, GLOBAL_TOKEN, path, &p).0, 403);
    assert_eq!(
        post_form(
            &client,
            &daemon,
            path,
            &encode(&p),
            Some(&sign(GLOBAL_TOKEN, "http://hooks.example.com/webhook/voice?x=1", &p))
        )
        .0,
        403
    );
    assert_eq!(event_count(&daemon), 2);
}

#[test]
fn a_redelivery_is_answered_the_same_and_stored_once() {
    let daemon = start(None, &[]);
    let client = http();
    let voice = params(&[
        ("CallSid", "CA11111111111111111111111111111111"),
        ("To", ACME_NUMBER),
        ("From", "+15559998888"),
        ("CallStatus", "ringing"),
    ]);
    let first = post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &voice);
    let again = post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &voice);
    assert_eq!(first.0, 200);
    assert_eq!(first, again);
    assert!(first.2.contains("<Say>") && first.2.contains("/webhook/acme/recording"), "{}", first.2);
    let status = |s: &str| {
        params(&[("CallSid", "CA11111111111111111111111111111111"), ("To", ACME_NUMBER), ("CallStatus", s)])
    };
    for s in ["in-progress", "in-progress", "completed", "completed"] {
        let (code, _, body) = post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/status", &status(s));
        assert_eq!((code, body.as_str()), (200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"));
    }
    assert_eq!(event_count(&daemon), 3);
    let (kind, state, data) =
        event_by_key(&daemon, "voice:CA11111111111111111111111111111111:ringing").expect("voice event");
    assert_eq!(kind, "twilio.voice");
    assert!(state == "pending" || state == "delivered", "{state}");
    assert_eq!(data["From"], "+15559998888");
    assert_eq!(
        event_by_key(&daemon, "status:CA11111111111111111111111111111111:completed").expect("status").0,
        "twilio.call_status"
    );
    // A tenant's own voice template.
    let out = daemon.cli(&[
        "tenant",
        "set",
        "acme",
        "--voice-twiml",
        "<Response><Say>Hi from {{tenant}}</Say></Response>",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let mut other = voice.clone();
    other[0].1 = "CA22222222222222222222222222222222".into();
    let (code, _, body) = post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &other);
    assert_eq!((code, body.as_str()), (200, "<Response><Say>Hi from acme</Say></Response>"));
    let out = daemon.cli(&["tenant", "set", "acme", "--voice-twiml", "not twiml"]);
    assert!(!out.status.success());
}

/// A stand-in for the Twilio API's recording endpoint, with basic auth.
struct FakeTwilio {
    runtime: tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// While set, every fetch answers 503.
    down: Arc<AtomicBool>,
    bad_auth: Arc<AtomicUsize>,
}

fn wav(samples: usize) -> Vec<u8> {
    let data = samples * 2;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data as u32).to_le_bytes());
    wav.extend((0..data).map(|i| (i % 251) as u8));
    wav
}

impl FakeTwilio {
    /// Recording sids ending in `flaky` fail twice first; `hang` never answer.
    fn start(account: &'static str, token: &'static str) -> FakeTwilio {
        use axum::extract::{Path, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;

        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let down = Arc::new(AtomicBool::new(false));
        let bad_auth = Arc::new(AtomicUsize::new(0));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{account}:{token}"))
        );
        type S = (Arc<Mutex<HashMap<String, usize>>>, Arc<AtomicBool>, Arc<AtomicUsize>, String);
        async fn recording(
            State((hits, down, bad_auth, expected)): State<S>,
            Path((_account, file)): Path<(String, String)>,
            headers: HeaderMap,
        ) -> axum::response::Response {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                bad_auth.fetch_add(1, Ordering::SeqCst);
                return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
            }
            let n = {
                let mut hits = hits.lock().expect("hits");
                let n = hits.entry(file.clone()).or_default();
                *n += 1;
                *n
            };
            if down.load(Ordering::SeqCst) {
                return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
            }
            let Some(sid) = file.strip_suffix(".wav") else { return StatusCode::NOT_FOUND.into_response() };
            if sid.ends_with("hang") {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if sid.ends_with("flaky") && n <= 2 {
                return (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response();
            }
            ([("content-type", "audio/x-wav")], wav(8000)).into_response()
        }
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{account}/Recordings/{file}", axum::routing::get(recording))
            .with_state((hits.clone(), down.clone(), bad_auth.clone(), expected));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(async move { axum::serve(listener, app).await.expect("serve") });
        FakeTwilio { runtime, addr, hits, down, bad_auth }
    }

    fn hits(&self, file: &str) -> usize {
        self.hits.lock().expect("hits").get(file).copied().unwrap_or(0)
    }
}

fn recording_params(rsid: &str) -> Params {
    params(&[
        ("AccountSid", "ACtest"),
        ("CallSid", "CA33333333333333333333333333333333"),
        ("RecordingSid", rsid),
        ("RecordingUrl", &format!("https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/{rsid}")),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "1"),
        ("RecordingChannels", "1"),
    ])
}

fn jobs_config(api: std::net::SocketAddr, max_attempts: u32) -> String {
    format!(
        "[twilio]\napi_base_url = \"http://{api}\"\naccount_sid = \"ACtest\"\nrecording_fetch_timeout_s = 1\n\
         [jobs]\nmax_attempts = {max_attempts}\nbackoff_base_ms = 50\nbackoff_cap_ms = 200\npoll_interval_ms = 100\n"
    )
}

#[test]
fn recordings_are_fetched_with_retries_and_a_failed_fetch_is_visible() {
    let api = FakeTwilio::start("ACtest", GLOBAL_TOKEN);
    let daemon = start(Some(jobs_config(api.addr, 3)), &[]);
    let client = http();
    let flaky = "RE000000000000000000000000000flaky";
    let hang = "RE0000000000000000000000000000hang";
    for rsid in [flaky, hang] {
        let (status, _, body) =
            post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/acme/recording", &recording_params(rsid));
        assert_eq!((status, body.contains("<Response/>")), (200, true), "{body}");
    }
    // Held until the fetch ends.
    let key = |rsid: &str| format!("recording:{rsid}:completed");
    let released = |rsid: &str| {
        let (_, status, data) = event_by_key(&daemon, &key(rsid)).expect("event");
        (status != "held").then_some(data)
    };
    assert!(released(hang).is_none(), "released before its fetch ended");
    assert!(
        eventually(Duration::from_secs(20), || released(flaky).is_some()),
        "flaky never released; log:\n{}",
        daemon.log()
    );
    let data = released(flaky).expect("released");
    let rec = &data["recording"];
    assert_eq!(rec["status"], "fetched", "{data}");
    let bytes = wav(8000);
    assert_eq!(rec["bytes"], bytes.len());
    assert_eq!(rec["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(rec["duration_s"], 1.0);
    assert_eq!(rec["attempts"], 3);
    assert_eq!(api.hits(&format!("{flaky}.wav")), 3, "two failures, then the fetch");
    let path = daemon.data_dir.join("tenants/acme/recordings").join(format!("{flaky}.wav"));
    assert_eq!(rec["path"], path.display().to_string());
    assert_eq!(std::fs::read(&path).expect("recording file"), bytes);
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("dir")), 0o700);
    assert_eq!(mode(&daemon.data_dir.join("tenants/acme")), 0o700);
    // The server that never answers: each attempt times out, then the event
    // is released with the error, the job kept as failed, and it is logged.
    assert!(
        eventually(Duration::from_secs(20), || released(hang).is_some()),
        "hang never released; log:\n{}",
        daemon.log()
    );
    let data = released(hang).expect("released");
    assert_eq!(data["recording"]["status"], "failed", "{data}");
    assert_eq!(data["recording"]["attempts"], 3);
    assert!(data["recording"]["error"].as_str().unwrap_or("").contains("timed out"), "{data}");
    let failed: (String, String) = db(&daemon)
        .query_row("SELECT status, last_error FROM jobs WHERE kind = 'twilio.recording'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("failed job kept");
    assert_eq!(failed.0, "failed");
    assert!(daemon.log().contains("failed for good"), "not logged");
    assert_eq!(api.bad_auth.load(Ordering::SeqCst), 0);
    assert!(!daemon.log().contains(GLOBAL_TOKEN), "the auth token reached the log");
    drop(api.runtime);
}

#[test]
fn a_daemon_killed_during_a_burst_keeps_every_acknowledged_event_and_resumes_its_jobs() {
    let api = FakeTwilio::start("ACtest", GLOBAL_TOKEN);
    api.down.store(true, Ordering::SeqCst);
    let mut daemon = start(Some(jobs_config(api.addr, 50)), &[]);
    // A recording whose fetch cannot succeed before the crash.
    let rsid = "RE0000000000000000000000000000kill";
    assert_eq!(
        post_signed(&http(), &daemon, GLOBAL_TOKEN, "/webhook/acme/recording", &recording_params(rsid)).0,
        200
    );
    assert!(
        eventually(Duration::from_secs(10), || api.hits(&format!("{rsid}.wav")) >= 1),
        "no fetch attempt"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let url = daemon.url("/webhook/voice");
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (stop, acked, url) = (stop.clone(), acked.clone(), url.clone());
            std::thread::spawn(move || {
                let client = Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let call_sid = format!("CA{w:08}{n:024}");
                    let p = params(&[("CallSid", &call_sid), ("To", ACME_NUMBER), ("CallStatus", "ringing")]);
                    let sig = sign(GLOBAL_TOKEN, &url, &p);
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("X-Twilio-Signature", sig)
                        .body(encode(&p))
                        .send();
                    match sent {
                        Ok(r) if r.status().as_u16() == 200 => acked.lock().expect("acked").push(call_sid),
                        Ok(r) => panic!("unexpected answer {}", r.status()),
                        Err(_) => {
                            if stop.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    daemon.kill();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acked.lock().expect("acked").clone();
    assert!(acked.len() > 100, "too few webhooks answered before the kill: {}", acked.len());
    eprintln!("{} webhooks acknowledged before SIGKILL", acked.len());

    // Restart on the same data directory: every acknowledged event is there.
    api.down.store(false, Ordering::SeqCst);
    let data_dir = daemon.data_dir.clone();
    let restarted = Daemon::start_with(DaemonOptions {
        env: vec![("TWILIO_AUTH_TOKEN".into(), GLOBAL_TOKEN.into())],
        config_toml: Some(jobs_config(api.addr, 50)),
        data_dir: Some(data_dir),
    });
    let conn = db(&restarted);
    let stored: BTreeSet<String> = conn
        .prepare("SELECT dedupe_key FROM events WHERE type = 'twilio.voice'")
        .expect("prepare")
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let missing: Vec<&String> =
        acked.iter().filter(|sid| !stored.contains(&format!("voice:{sid}:ringing"))).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged webhooks lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(3)]
    );
    // The interrupted recording job resumed and completed.
    let key = format!("recording:{rsid}:completed");
    assert!(
        eventually(Duration::from_secs(20), || event_by_key(&restarted, &key)
            .map(|e| e.1 != "held")
            .unwrap_or(false)),
        "recording job not resumed; log:\n{}",
        restarted.log()
    );
    assert_eq!(event_by_key(&restarted, &key).expect("event").2["recording"]["status"], "fetched");
    drop(api.runtime);
}
