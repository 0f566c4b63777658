//! Twilio webhooks end to end: the built binary on real sockets, signatures
//! computed here independently of the daemon's code, the events read back
//! from the SQLite file, and a local HTTP server standing in for the Twilio
//! API (with its basic-auth check) for recording fetches.

use crate::harness;
use crate::harness::receiver::Receiver;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::store::on_postgres;
use crate::harness::stored;
use crate::harness::twilio_api::{generated_digest, wav, Attacker, FakeTwilio, Serve};
use crate::harness::{
    eventually, form_body, http, mode, sha256_hex, twilio_signature, Daemon, DaemonOptions,
};
use rand::{Rng, SeedableRng};
use reqwest::blocking::Client;

const GLOBAL_TOKEN: &str = "global-auth-token-0123456789";
const ACME_NUMBER: &str = "+15550001111";
/// The account of GLOBAL_TOKEN (`twilio.account_sid` in the recording tests).
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

type Params = Vec<(String, String)>;

fn params(list: &[(&str, &str)]) -> Params {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
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
    let sig = twilio_signature(token, &daemon.url(path), p);
    post_form(client, daemon, path, &form_body(p), Some(&sig))
}

fn event_count(daemon: &Daemon) -> i64 {
    daemon.db_i64("SELECT COUNT(*) FROM events")
}

/// (status, data) of every event of this type whose data has all `params`,
/// oldest first.
fn events_where(daemon: &Daemon, kind: &str, params: &[(&str, &str)]) -> Vec<(String, serde_json::Value)> {
    let sql =
        format!("SELECT status, data FROM events WHERE type = {} ORDER BY seq", harness::store::quote(kind));
    let rows = daemon.db_rows(&sql).into_iter().map(|row| {
        let text = |i: usize| row[i].clone().expect("not null");
        (text(0), serde_json::from_str::<serde_json::Value>(&text(1)).expect("json"))
    });
    rows.filter(|(_, data)| params.iter().all(|(k, v)| data[*k] == *v)).collect()
}

/// (status, data) of the one event of this type whose data has all `params`.
fn event_where(daemon: &Daemon, kind: &str, params: &[(&str, &str)]) -> Option<(String, serde_json::Value)> {
    let mut found = events_where(daemon, kind, params);
    assert!(found.len() <= 1, "{} events of {kind} match {params:?}", found.len());
    found.pop()
}

fn start(config_toml: Option<String>, env: &[(&str, &str)]) -> Daemon {
    let mut all = vec![("TWILIO_AUTH_TOKEN".to_string(), GLOBAL_TOKEN.to_string())];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let daemon = Daemon::start_with(DaemonOptions { env: all, config_toml, data_dir: None });
    daemon.add_tenant_with("acme", &["--twilio-number", ACME_NUMBER]);
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
            0 => ("/webhook/sms", "twilio.sms", "MessageSid", "SM"),
            1 => ("/webhook/acme/status", "twilio.call_status", "CallSid", "CA"),
            _ => ("/webhook/voice", "twilio.voice", "CallSid", "CA"),
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
        let sig = twilio_signature(GLOBAL_TOKEN, &daemon.url(&path), &p);
        let (status, ct, body) = post_form(&client, &daemon, &path, &form_body(&wire), Some(&sig));
        assert_eq!(status, 200, "round {round} {path}: {body}");
        assert!(ct.starts_with("text/xml"), "{ct}");
        if kind == "twilio.voice" {
            assert!(body.contains("<Record"), "{body}");
        } else {
            assert!(body.contains("<Response/>"), "{body}");
        }
        expected += 1;
        let (_, data) = event_where(&daemon, kind, &[(sid_name, &this_sid)])
            .unwrap_or_else(|| panic!("no {kind} event {this_sid}"));
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
    let hash = sha256_hex(body.as_bytes());
    let path = format!("/webhook/voice?bodySHA256={hash}");
    let sig = twilio_signature(GLOBAL_TOKEN, &daemon.url(&path), &Params::new());
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
    let body = form_body(&p);
    let sig = twilio_signature(GLOBAL_TOKEN, &daemon.url(path), &p);
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
    assert_eq!(
        post_form(&client, &daemon, path, &body, Some(&twilio_signature("other", &daemon.url(path), &p))).0,
        403
    );
    assert!(tried > 100, "{tried}");
    assert_eq!(event_count(&daemon), 0, "a refused request was stored");
    // The untouched request is accepted: the tampering, not the setup, failed.
    assert_eq!(post_form(&client, &daemon, path, &body, Some(&sig)).0, 200);
    assert_eq!(event_count(&daemon), 1);
}

#[test]
fn unsigned_unknown_wrong_method_oversized_and_malformed_requests_store_nothing() {
    let daemon = start(Some("[http]\nbody_limit_bytes = 4096\n".into()), &[]);
    daemon
        .add_tenant_with("own", &["--twilio-number", "+15550002222", "--twilio-auth-token", "own-token-xyz"]);
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
        let (status, _, body) = post_form(&client, &daemon, path, &form_body(&call(ACME_NUMBER)), None);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(!body.contains("acme") && !body.contains("ghost"), "{body}");
    }
    // Badly signed (another token) for an unknown tenant: still 403, not 404.
    let bad = twilio_signature("wrong", &daemon.url("/webhook/ghost/voice"), &call(ACME_NUMBER));
    assert_eq!(
        post_form(&client, &daemon, "/webhook/ghost/voice", &form_body(&call(ACME_NUMBER)), Some(&bad)).0,
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
    let path = format!("/webhook/acme/voice?bodySHA256={}", sha256_hex(json.as_bytes()));
    let response = client
        .post(daemon.url(&path))
        .header("content-type", "application/json")
        .header("X-Twilio-Signature", twilio_signature(GLOBAL_TOKEN, &daemon.url(&path), &Params::new()))
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
        let (status, _, body) = post_form(
            &client,
            &daemon,
            path,
            &form_body(&p),
            Some(&twilio_signature(GLOBAL_TOKEN, public, &p)),
        );
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
            &form_body(&p),
            Some(&twilio_signature(GLOBAL_TOKEN, "http://hooks.example.com/webhook/voice?x=1", &p))
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
    let call = ("CallSid", "CA11111111111111111111111111111111");
    let (state, data) = event_where(&daemon, "twilio.voice", &[call]).expect("voice event");
    assert!(state == "pending" || state == "delivered", "{state}");
    assert_eq!(data["From"], "+15559998888");
    assert!(event_where(&daemon, "twilio.call_status", &[call, ("CallStatus", "completed")]).is_some());
    // A tenant's own voice template.
    let out = daemon.cli(&[
        "tenant",
        "set",
        "acme",
        "--voice-twiml",
        "<Response><Say>Hi from {{tenant}}</Say></Response>",
    ]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let mut other = voice.clone();
    other[0].1 = "CA22222222222222222222222222222222".into();
    let (code, _, body) = post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/voice", &other);
    assert_eq!((code, body.as_str()), (200, "<Response><Say>Hi from acme</Say></Response>"));
    let out = daemon.cli(&["tenant", "set", "acme", "--voice-twiml", "not twiml"]);
    assert!(!out.status.success());
}

/// A recording's event once released from `held`: its data.
fn released(daemon: &Daemon, rsid: &str) -> Option<serde_json::Value> {
    let (status, data) = event_where(daemon, "twilio.recording", &[("RecordingSid", rsid)]).expect("event");
    (status != "held").then_some(data)
}

fn recording_params(rsid: &str) -> Params {
    params(&[
        ("AccountSid", ACCOUNT),
        ("CallSid", "CA33333333333333333333333333333333"),
        ("RecordingSid", rsid),
        ("RecordingUrl", &format!("https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rsid}")),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "1"),
        ("RecordingChannels", "1"),
    ])
}

fn jobs_config(api: std::net::SocketAddr, max_attempts: u32) -> String {
    format!(
        "[twilio]\napi_base_url = \"http://{api}\"\naccount_sid = \"{ACCOUNT}\"\nrecording_fetch_timeout_s = 1\n\
         [jobs]\nmax_attempts = {max_attempts}\nbackoff_base_ms = 50\nbackoff_cap_ms = 200\npoll_interval_ms = 100\n"
    )
}

#[test]
fn recordings_are_fetched_with_retries_and_a_failed_fetch_is_visible() {
    let api = FakeTwilio::start(&[(ACCOUNT, GLOBAL_TOKEN)]);
    let daemon = start(Some(jobs_config(api.addr, 3)), &[]);
    let client = http();
    let flaky = "RE000000000000000000000000000f1a4e";
    let hang = "RE00000000000000000000000000000d1e";
    api.serve(flaky, Serve::Flaky);
    api.serve(hang, Serve::Hang);
    for rsid in [flaky, hang] {
        let (status, _, body) =
            post_signed(&client, &daemon, GLOBAL_TOKEN, "/webhook/acme/recording", &recording_params(rsid));
        assert_eq!((status, body.contains("<Response/>")), (200, true), "{body}");
    }
    // Held until the fetch ends.
    let released = |rsid: &str| released(&daemon, rsid);
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
    assert_eq!(rec["sha256"], sha256_hex(&bytes));
    assert_eq!(rec["duration_s"], 1.0);
    assert_eq!(rec["attempts"], 3);
    assert_eq!(api.hits(&format!("{flaky}.wav")), 3, "two failures, then the fetch");
    let name = format!("{flaky}.wav");
    assert_eq!(stored::stored_bytes(&daemon, "acme", stored::RECORDINGS, &name), Some(bytes));
    if on_postgres() {
        // The bytes are in the database: no path on this machine to show.
        assert!(rec.get("path").is_none(), "{rec}");
    } else {
        let path = stored::dir(&daemon.data_dir, "acme", stored::RECORDINGS).join(&name);
        assert_eq!(rec["path"], path.display().to_string());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        assert_eq!(mode(&daemon.data_dir.join("tenants/acme")), 0o700);
    }
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
    let jobs = daemon.db_rows("SELECT status, last_error FROM jobs WHERE kind = 'twilio.recording'");
    let failed = jobs.first().expect("failed job kept");
    assert_eq!(failed[0].as_deref(), Some("failed"));
    assert!(daemon.log().contains("failed for good"), "not logged");
    assert_eq!(api.bad_auth(), 0);
    assert!(!daemon.log().contains(GLOBAL_TOKEN), "the auth token reached the log");
}

#[test]
fn a_daemon_killed_during_a_burst_keeps_every_acknowledged_event_and_resumes_its_jobs() {
    let api = FakeTwilio::start(&[(ACCOUNT, GLOBAL_TOKEN)]);
    api.set_down(true);
    let mut daemon = start(Some(jobs_config(api.addr, 50)), &[]);
    // A recording whose fetch cannot succeed before the crash.
    let rsid = "RE0000000000000000000000000000c0de";
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
                    let sig = twilio_signature(GLOBAL_TOKEN, &url, &p);
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("X-Twilio-Signature", sig)
                        .body(form_body(&p))
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
    // Killed mid-burst, once a good number of webhooks were acknowledged.
    eventually(Duration::from_secs(15), || acked.lock().expect("acked").len() > 300);
    daemon.kill();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acked.lock().expect("acked").clone();
    assert!(acked.len() > 100, "too few webhooks answered before the kill: {}", acked.len());
    eprintln!("{} webhooks acknowledged before SIGKILL", acked.len());

    // Restart on the same data directory: every acknowledged event is there.
    api.set_down(false);
    let data_dir = daemon.data_dir.clone();
    let restarted = Daemon::start_with(DaemonOptions {
        env: vec![("TWILIO_AUTH_TOKEN".into(), GLOBAL_TOKEN.into())],
        config_toml: Some(jobs_config(api.addr, 50)),
        data_dir: Some(data_dir),
    });
    let stored: BTreeSet<String> = events_where(&restarted, "twilio.voice", &[])
        .into_iter()
        .filter_map(|(_, data)| data["CallSid"].as_str().map(str::to_string))
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|sid| !stored.contains(*sid)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged webhooks lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(3)]
    );
    // The interrupted recording job resumed and completed.
    assert!(
        eventually(Duration::from_secs(20), || released(&restarted, rsid).is_some()),
        "recording job not resumed; log:\n{}",
        restarted.log()
    );
    assert_eq!(released(&restarted, rsid).expect("event")["recording"]["status"], "fetched");
}

/// Signs `p` for `signed_url` (what Twilio called) and posts it to `path`
/// with extra headers; returns the status and body.
fn post_signed_with(
    daemon: &Daemon,
    token: &str,
    signed_url: &str,
    path: &str,
    p: &Params,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = http()
        .post(daemon.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", twilio_signature(token, signed_url, p))
        .body(form_body(p));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().expect("post");
    (response.status().as_u16(), response.text().expect("body"))
}

/// Peak (VmHWM) resident memory of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// A tenant's stored recordings and any staged download left behind, by name.
fn recording_files(daemon: &Daemon, tenant: &str) -> Vec<String> {
    let stored = stored::stored_files(daemon, tenant, stored::RECORDINGS).into_iter().map(|(name, _)| name);
    let mut names: Vec<String> =
        stored.chain(stored::leftovers(daemon, tenant, stored::RECORDINGS)).collect();
    names.sort();
    names
}

#[test]
fn a_recording_url_is_never_fetched_the_url_is_built_from_the_sids() {
    let api = FakeTwilio::start(&[(ACCOUNT, GLOBAL_TOKEN)]);
    let attacker = Attacker::start();
    let daemon = start(Some(jobs_config(api.addr, 3)), &[]);
    let evil = [
        // Appended to api_base_url as a path, this used to become the authority.
        format!("x:@{}/internal", attacker.addr),
        format!("http://{}/2010-04-01/Accounts/{ACCOUNT}/Recordings/steal", attacker.addr),
        format!("http://{ACCOUNT}:{GLOBAL_TOKEN}@{}/internal", attacker.addr),
    ];
    let sids = [
        "RE00000000000000000000000000000001",
        "RE00000000000000000000000000000002",
        "RE00000000000000000000000000000003",
    ];
    for (rsid, url) in sids.iter().zip(&evil) {
        let mut p = recording_params(rsid);
        p.retain(|(k, _)| k != "RecordingUrl");
        p.push(("RecordingUrl".into(), url.clone()));
        let (status, body) = post_signed_with(
            &daemon,
            GLOBAL_TOKEN,
            &daemon.url("/webhook/acme/recording"),
            "/webhook/acme/recording",
            &p,
            &[],
        );
        assert_eq!(status, 200, "{body}");
    }
    for rsid in sids {
        assert!(
            eventually(Duration::from_secs(20), || released(&daemon, rsid).is_some()),
            "{rsid} never released; log:\n{}",
            daemon.log()
        );
        let data = released(&daemon, rsid).expect("released");
        assert_eq!(data["recording"]["status"], "fetched", "{data}");
        assert_eq!(api.hits(&format!("{rsid}.wav")), 1);
    }
    let mut expected: Vec<String> =
        sids.iter().map(|rsid| format!("/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rsid}.wav")).collect();
    let mut paths = api.paths();
    expected.sort();
    paths.sort();
    assert_eq!(paths, expected, "the API got requests at other paths");
    assert_eq!(attacker.connections(), 0, "the daemon connected to the RecordingUrl's host");
}

#[test]
fn a_webhook_of_another_account_fails_its_fetch_and_sends_no_credentials() {
    const OWN_ACCOUNT: &str = "ACfedcba9876543210fedcba9876543210";
    const OTHER_ACCOUNT: &str = "AC00000000000000000000000000000bad";
    let api = FakeTwilio::start(&[(ACCOUNT, GLOBAL_TOKEN), (OWN_ACCOUNT, "own-token-xyz")]);
    let daemon = start(Some(jobs_config(api.addr, 3)), &[]);
    daemon.add_tenant_with(
        "own",
        &["--twilio-auth-token", "own-token-xyz", "--twilio-account-sid", OWN_ACCOUNT],
    );
    daemon.add_tenant_with("nosid", &["--twilio-auth-token", "nosid-token"]);
    let recording = |rsid: &str, account: &str| {
        let mut p = recording_params(rsid);
        p[0].1 = account.to_string();
        p
    };
    let cases = [
        // (tenant, its token, RecordingSid, AccountSid in the webhook, error or None when fetched)
        ("acme", GLOBAL_TOKEN, "RE000000000000000000000000000000a1", OTHER_ACCOUNT, Some("account mismatch")),
        ("own", "own-token-xyz", "RE000000000000000000000000000000a2", ACCOUNT, Some("account mismatch")),
        ("nosid", "nosid-token", "RE000000000000000000000000000000a3", ACCOUNT, Some("no account SID")),
        ("own", "own-token-xyz", "RE000000000000000000000000000000a4", OWN_ACCOUNT, None),
        ("acme", GLOBAL_TOKEN, "RE000000000000000000000000000000a5", ACCOUNT, None),
    ];
    for (tenant, token, rsid, account, _) in cases {
        let path = format!("/webhook/{tenant}/recording");
        let (status, body) =
            post_signed_with(&daemon, token, &daemon.url(&path), &path, &recording(rsid, account), &[]);
        assert_eq!(status, 200, "{body}");
    }
    for (_, _, rsid, _, error) in cases {
        assert!(
            eventually(Duration::from_secs(20), || released(&daemon, rsid).is_some()),
            "{rsid} never released; log:\n{}",
            daemon.log()
        );
        let rec = released(&daemon, rsid).expect("released")["recording"].clone();
        match error {
            Some(error) => {
                assert_eq!(rec["status"], "failed", "{rec}");
                assert_eq!(rec["attempts"], 1, "a permanent failure is not retried: {rec}");
                assert!(rec["error"].as_str().unwrap_or("").contains(error), "{rec}");
                assert_eq!(api.hits(&format!("{rsid}.wav")), 0);
                assert!(!api.paths().iter().any(|p| p.contains(rsid)), "a request was sent for {rsid}");
            }
            None => assert_eq!(rec["status"], "fetched", "{rec}"),
        }
    }
    assert_eq!(api.bad_auth(), 0, "credentials were sent for another account");
    assert!(daemon.log().contains("account mismatch"), "the mismatch is not logged");
    // The tenant's account SID: shown, validated, cleared by an empty value.
    let show = |daemon: &Daemon| {
        let out = daemon.cli(&["tenant", "show", "own", "--json"]);
        assert!(out.status.success(), "{}", harness::stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")["tenant"]
            ["twilio_account_sid"]
            .clone()
    };
    assert_eq!(show(&daemon), OWN_ACCOUNT);
    for bad in ["ACtest", "AC0123456789ABCDEF0123456789abcdef", "RE0123456789abcdef0123456789abcdef"] {
        let out = daemon.cli(&["tenant", "set", "own", "--twilio-account-sid", bad]);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(harness::stderr(&out).contains("--twilio-account-sid"), "{}", harness::stderr(&out));
    }
    assert_eq!(show(&daemon), OWN_ACCOUNT);
    let out = daemon.cli(&["tenant", "set", "own", "--twilio-account-sid", ""]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    assert_eq!(show(&daemon), serde_json::Value::Null);
}

/// The fetch config with a long timeout (big files) and `extra` twilio keys.
fn big_config(api: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "[twilio]\napi_base_url = \"http://{api}\"\naccount_sid = \"{ACCOUNT}\"\nrecording_fetch_timeout_s = 600\n{extra}\
         [jobs]\nmax_attempts = 3\nbackoff_base_ms = 50\nbackoff_cap_ms = 200\npoll_interval_ms = 100\n"
    )
}

#[test]
fn a_256_mib_recording_streams_to_disk_without_growing_the_daemons_memory() {
    const LEN: u64 = 256 * 1024 * 1024;
    let api = FakeTwilio::start(&[(ACCOUNT, GLOBAL_TOKEN)]);
    let daemon = start(Some(big_config(api.addr, "")), &[]);
    let small = "RE00000000000000000000000000000b01";
    let big = "RE00000000000000000000000000000b02";
    api.serve(big, Serve::Generated { len: LEN, content_length: true });
    // A small fetch first, so the baseline includes the fetch code's warm-up.
    let post = |rsid: &str| {
        let mut p = recording_params(rsid);
        p.retain(|(k, _)| k != "RecordingDuration"); // the duration then comes from the WAV header
        let path = "/webhook/acme/recording";
        assert_eq!(post_signed_with(&daemon, GLOBAL_TOKEN, &daemon.url(path), path, &p, &[]).0, 200);
    };
    post(small);
    assert!(eventually(Duration::from_secs(20), || released(&daemon, small).is_some()), "{}", daemon.log());
    let before = peak_rss(daemon.pid());
    post(big);
    assert!(
        eventually(Duration::from_secs(600), || released(&daemon, big).is_some()),
        "never released; log:\n{}",
        daemon.log()
    );
    let after = peak_rss(daemon.pid());
    let rec = released(&daemon, big).expect("released")["recording"].clone();
    assert_eq!(rec["status"], "fetched", "{rec}");
    assert_eq!(rec["bytes"], LEN);
    assert_eq!(rec["sha256"], generated_digest(LEN));
    assert_eq!(rec["duration_s"], (LEN - 44) as f64 / 16000.0);
    let files = stored::stored_files(&daemon, "acme", stored::RECORDINGS);
    assert!(files.contains(&(format!("{big}.wav"), LEN)), "{files:?}");
    let grew = after.saturating_sub(before);
    eprintln!("peak RSS {before} -> {after} bytes (+{} MiB)", grew / (1024 * 1024));
    assert!(grew < 64 * 1024 * 1024, "peak RSS grew by {grew} bytes for a {LEN}-byte recording");
    assert_eq!(recording_files(&daemon, "acme"), [format!("{small}.wav"), format!("{big}.wav")]);
}

#[test]
fn a_recording_over_the_cap_fails_as_too_large_and_leaves_no_file() {
    let api = FakeTwilio::start(&[(ACCOUNT, GLOBAL_TOKEN)]);
    let daemon = start(Some(big_config(api.addr, "recording_max_bytes = 100000\n")), &[]);
    let declared = "RE00000000000000000000000000000c01";
    let undeclared = "RE00000000000000000000000000000c02";
    let fits = "RE00000000000000000000000000000c03";
    api.serve(declared, Serve::Generated { len: 300_000, content_length: true });
    // No Content-Length: the cap must be enforced while counting.
    api.serve(undeclared, Serve::Generated { len: 300_000, content_length: false });
    api.serve(fits, Serve::Generated { len: 100_000, content_length: false });
    for rsid in [declared, undeclared, fits] {
        let path = "/webhook/acme/recording";
        let p = recording_params(rsid);
        assert_eq!(post_signed_with(&daemon, GLOBAL_TOKEN, &daemon.url(path), path, &p, &[]).0, 200);
    }
    for rsid in [declared, undeclared, fits] {
        assert!(
            eventually(Duration::from_secs(20), || released(&daemon, rsid).is_some()),
            "{rsid} never released; log:\n{}",
            daemon.log()
        );
    }
    for rsid in [declared, undeclared] {
        let rec = released(&daemon, rsid).expect("released")["recording"].clone();
        assert_eq!(rec["status"], "failed", "{rec}");
        assert!(rec["error"].as_str().unwrap_or("").starts_with("too_large"), "{rec}");
        assert_eq!(rec["attempts"], 1, "retried: {rec}");
    }
    let rec = released(&daemon, fits).expect("released")["recording"].clone();
    assert_eq!((rec["status"].as_str(), rec["bytes"].as_u64()), (Some("fetched"), Some(100_000)), "{rec}");
    assert_eq!(rec["sha256"], generated_digest(100_000));
    // Only the recording that fits: no partial file of the others.
    assert_eq!(recording_files(&daemon, "acme"), [format!("{fits}.wav")]);
}

#[test]
fn oversized_and_too_many_param_webhooks_are_refused_before_any_signature_work() {
    let daemon = start(None, &[]);
    let client = http();
    let call = |extra: usize| {
        let mut p = params(&[
            ("CallSid", "CA44444444444444444444444444444444"),
            ("To", ACME_NUMBER),
            ("CallStatus", "ringing"),
        ]);
        p.extend((0..extra).map(|i| (format!("P{i}"), String::new())));
        p
    };
    let path = "/webhook/voice";
    let code = |body: &str| -> String {
        serde_json::from_str::<serde_json::Value>(body)
            .map(|v| v["error"]["code"].to_string())
            .unwrap_or_default()
    };
    // Over twilio.webhook_body_limit_bytes (64 KiB), signed or not, declared or
    // chunked. The answer comes before the body is read and the server does
    // not read the rest, so the client sees the 413, or (when its upload was
    // still under way as the connection closed) a broken upload. Either way,
    // refused; which one depends on the scheduling of two processes.
    let refused_for_size = |sent: reqwest::Result<reqwest::blocking::Response>, what: &str| match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().unwrap_or_default();
            assert_eq!((status, code(&body).as_str()), (413, "\"payload_too_large\""), "{what}: {body}");
        }
        Err(e) => assert!(e.is_body() || e.is_request(), "{what}: {e:?}"),
    };
    let mut big = call(0);
    big.push(("Body".into(), "x".repeat(100 * 1024)));
    let signature = twilio_signature(GLOBAL_TOKEN, &daemon.url(path), &big);
    let form = || client.post(daemon.url(path)).header("content-type", "application/x-www-form-urlencoded");
    let declared = form().header("X-Twilio-Signature", &signature).body(form_body(&big)).send();
    refused_for_size(declared, "signed, with a content-length");
    let chunked = form()
        .header("X-Twilio-Signature", &signature)
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(form_body(&big).into_bytes())))
        .send();
    refused_for_size(chunked, "signed, chunked");
    // The 1 MiB body of 500k empty pairs: refused without parsing it.
    let pairs = form().header("X-Twilio-Signature", "x").body("=&".repeat(500_000)).send();
    refused_for_size(pairs, "500k empty pairs");
    // More than twilio.webhook_max_params (500) in a small body, validly signed.
    let (status, body) = post_signed_with(&daemon, GLOBAL_TOKEN, &daemon.url(path), path, &call(498), &[]);
    assert_eq!((status, code(&body).as_str()), (413, "\"too_many_params\""), "{body}");
    let (status, _, body) = post_form(&client, &daemon, path, &"a=&".repeat(5000), None);
    assert_eq!((status, code(&body).as_str()), (413, "\"too_many_params\""), "{body}");
    assert_eq!(event_count(&daemon), 0, "a refused request was stored");
    // 500 parameters is still a webhook.
    let (status, body) = post_signed_with(&daemon, GLOBAL_TOKEN, &daemon.url(path), path, &call(497), &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(event_count(&daemon), 1);
    // The API keeps http.body_limit_bytes: a 100 KiB body is not refused for its size there.
    let api = client
        .post(daemon.url("/api/whatsapp/acme/send"))
        .header("content-type", "application/json")
        .body(format!("{{\"to\":\"+15550001111\",\"text\":\"{}\"}}", "x".repeat(100 * 1024)))
        .send()
        .expect("post api");
    assert_ne!(api.status().as_u16(), 413);
}

#[test]
fn gather_digits_are_each_stored_and_delivered_and_only_true_redeliveries_are_dropped() {
    let receiver = Receiver::ok();
    let daemon = start(None, &[]);
    let out = daemon.cli(&["tenant", "set", "acme", "--webhook-url", &receiver.url()]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let gather = |digits: &str| {
        params(&[
            ("CallSid", "CA55555555555555555555555555555555"),
            ("To", ACME_NUMBER),
            ("CallStatus", "in-progress"),
            ("Digits", digits),
        ])
    };
    let path = "/webhook/voice";
    let here = daemon.url(path);
    let post = |p: &Params, signed_url: &str, headers: &[(&str, &str)]| {
        let (status, body) = post_signed_with(&daemon, GLOBAL_TOKEN, signed_url, path, p, headers);
        assert_eq!(status, 200, "{body}");
        body
    };
    let count = || events_where(&daemon, "twilio.voice", &[]).len();
    // Same CallSid and CallStatus, different digits: two webhooks, two events.
    let first = post(&gather("1"), &here, &[]);
    post(&gather("2"), &here, &[]);
    assert_eq!(count(), 2, "the second Gather was dropped");
    // Twilio resending the first: answered the same, stored once, also when it
    // comes through another proxy host (signed for that host).
    assert_eq!(post(&gather("1"), &here, &[]), first);
    let proxy = "proxy-b.example:8080";
    post(&gather("1"), &format!("http://{proxy}{path}"), &[("host", proxy)]);
    assert_eq!(count(), 2, "a redelivery was stored again");
    // With Twilio's idempotency token: a token seen before is a redelivery;
    // a new token is a new webhook even with the same parameters.
    post(&gather("3"), &here, &[("I-Twilio-Idempotency-Token", "tok-1")]);
    post(&gather("3"), &here, &[("I-Twilio-Idempotency-Token", "tok-1")]);
    assert_eq!(count(), 3);
    post(&gather("3"), &here, &[("I-Twilio-Idempotency-Token", "tok-2")]);
    assert_eq!(count(), 4);
    // Every stored event reaches the backend.
    assert!(
        eventually(Duration::from_secs(20), || receiver.distinct_ids().len() == 4),
        "delivered: {:?}; log:\n{}",
        receiver.distinct_ids(),
        daemon.log()
    );
    let mut digits: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["data"]["Digits"].as_str().unwrap_or_default().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    digits.sort();
    assert_eq!(digits, ["1", "2", "3"]);
}
