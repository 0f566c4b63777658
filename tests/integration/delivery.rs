//! Delivery end to end: the built daemon POSTs stored events to real HTTP
//! receivers started here; the CLI inspects and replays them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::receiver::{
    collapse_runs, dead_url, insert, open_db, signature_valid, RawReceiver, Receiver, Reply,
};
use crate::harness::{
    add_tenant, add_tenant_with_secret, eventually, http, stderr, stdout, Daemon, DaemonOptions,
};
use serde_json::Value;

const SECRET: &str = "delivery-test-secret-0123456789";

/// Fast retries so whole schedules fit in a test.
/// `extra` holds more `[delivery]` keys (overriding these) and may open
/// other sections after them.
fn config(extra: &str) -> String {
    let base = ["backoff_base_s = 0.05", "backoff_cap_s = 0.2", "timeout_s = 3", "poll_interval_ms = 50"];
    let mut text = String::from("[delivery]\n");
    for line in base {
        let key = line.split(' ').next().expect("key");
        if !extra.lines().any(|l| l.starts_with(&format!("{key} "))) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text + extra
}

fn start(extra: &str) -> Daemon {
    Daemon::start_with(DaemonOptions {
        env: vec![("INTERNAL_SECRET".into(), SECRET.into())],
        config_toml: Some(config(extra)),
        data_dir: None,
    })
}

fn restart(old: &Daemon, extra: &str) -> Daemon {
    Daemon::start_with(DaemonOptions {
        env: vec![("INTERNAL_SECRET".into(), SECRET.into())],
        config_toml: Some(config(extra)),
        data_dir: Some(old.data_dir.clone()),
    })
}

fn show(daemon: &Daemon, id: &str) -> Value {
    daemon.cli_json(&["events", "show", id, "--json"])
}

fn status_of(daemon: &Daemon, id: &str) -> String {
    show(daemon, id)["status"].as_str().unwrap_or_default().to_string()
}

#[test]
fn signature_verifies_with_the_tenants_signing_secret_only() {
    let daemon = start("");
    let receiver = Receiver::ok();
    let (_, secret) = add_tenant_with_secret(&daemon, "acme", Some(&receiver.url()));
    let (_, other) = add_tenant_with_secret(&daemon, "other", None);
    let ids = insert(&open_db(&daemon.data_dir), "acme", 1);
    assert!(eventually(Duration::from_secs(10), || receiver.requests() == 1), "not delivered");
    let got = &receiver.received()[0];

    assert!(signature_valid(&secret, got), "signature must verify with the tenant's signing secret");
    assert!(!signature_valid(&other, got), "another tenant's secret must fail");
    let mut tampered = got.clone();
    tampered.body.push(b' ');
    assert!(!signature_valid(&secret, &tampered), "a changed body must fail");
    let mut replayed = got.clone();
    replayed.timestamp = (replayed.timestamp.parse::<i64>().expect("ts") + 1).to_string();
    assert!(!signature_valid(&secret, &replayed), "a changed timestamp must fail");
    let mut renamed = got.clone();
    renamed.event_id.push('x');
    assert!(!signature_valid(&secret, &renamed), "a changed webhook-id must fail");

    let now = chrono::Utc::now().timestamp();
    let ts: i64 = got.timestamp.parse().expect("unix seconds");
    assert!((now - ts).abs() < 60, "timestamp {ts} is not now ({now})");
    assert_eq!(got.event_id, ids[0]);
    let body = got.json();
    assert_eq!(body["id"], ids[0].as_str());
    assert_eq!(body["type"], "twilio.sms");
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["data"]["Body"], "message 0");
    let created = body["created_at"].as_str().expect("created_at");
    chrono::DateTime::parse_from_rfc3339(created).expect("RFC 3339");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 5, "{keys:?}");

    assert!(eventually(Duration::from_secs(5), || status_of(&daemon, &ids[0]) == "delivered"));
    let shown = show(&daemon, &ids[0]);
    assert_eq!(shown["delivery_attempts"].as_array().expect("attempts").len(), 1);
    assert_eq!(shown["delivery_attempts"][0]["status_code"], 200);
}

#[test]
fn receiver_failing_three_times_gets_one_delivery_with_four_attempts() {
    let daemon = start("");
    let receiver = Receiver::start(|n, _| Reply::Status(if n < 3 { 500 } else { 200 }));
    add_tenant(&daemon, "flaky", Some(&receiver.url()));
    let ids = insert(&open_db(&daemon.data_dir), "flaky", 1);
    assert!(
        eventually(Duration::from_secs(15), || status_of(&daemon, &ids[0]) == "delivered"),
        "not delivered: {}",
        show(&daemon, &ids[0])
    );
    let shown = show(&daemon, &ids[0]);
    let codes: Vec<i64> = shown["delivery_attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status_code"].as_i64().expect("code"))
        .collect();
    assert_eq!(codes, vec![500, 500, 500, 200]);
    assert_eq!(shown["attempts"], 4);
    assert_eq!(shown["delivery_attempts"][0]["error"], "HTTP 500");
    // Nothing more goes out after the 2xx (a fixed wait: nothing happening is
    // what is asserted).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.ids(), vec![ids[0].clone(); 4]);

    // The text view lists the attempts too.
    let out = daemon.cli(&["events", "show", &ids[0]]);
    let text = stdout(&out);
    assert!(text.contains("delivered") && text.contains("HTTP 500") && text.contains("200"), "{text}");
}

#[test]
fn receiver_down_for_the_whole_window_leaves_events_dead_until_replayed() {
    let daemon = start("max_attempts = 3\nclient_error_attempts = 2\n");
    add_tenant(&daemon, "down", Some(&dead_url()));
    let ids = insert(&open_db(&daemon.data_dir), "down", 2);
    assert!(
        eventually(Duration::from_secs(15), || ids.iter().all(|id| status_of(&daemon, id) == "dead")),
        "not dead: {}",
        show(&daemon, &ids[0])
    );
    let shown = show(&daemon, &ids[0]);
    assert_eq!(shown["delivery_attempts"].as_array().expect("attempts").len(), 3);
    let error = shown["last_error"].as_str().expect("last_error");
    assert!(error.contains("connect"), "{error}");
    let dead = daemon.cli_json(&["events", "list", "--status", "dead", "--json"]);
    assert_eq!(dead["events"].as_array().expect("events").len(), 2);

    // The receiver comes back; the operator replays one, then all dead ones.
    let receiver = Receiver::ok();
    let out = daemon.cli(&["tenant", "set", "down", "--webhook-url", &receiver.url()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A fixed wait: that nothing is sent is what is asserted.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.requests(), 0, "dead events stay dead until replayed");
    let replay = daemon.cli_json(&["events", "replay", &ids[0], "--json"]);
    assert_eq!(replay["requeued"][0]["previous_status"], "dead");
    assert!(eventually(Duration::from_secs(5), || status_of(&daemon, &ids[0]) == "delivered"));
    assert_eq!(receiver.ids(), vec![ids[0].clone()], "same id, once");
    assert_eq!(status_of(&daemon, &ids[1]), "dead");
    let shown = show(&daemon, &ids[0]);
    assert_eq!(shown["delivery_attempts"].as_array().expect("attempts").len(), 4, "history kept");
    assert_eq!(shown["attempts"], 1, "the replay's own attempts");

    let retried = daemon.cli_json(&["events", "retry-dead", "--tenant", "down", "--json"]);
    assert_eq!(retried["count"], 1);
    assert!(eventually(Duration::from_secs(5), || status_of(&daemon, &ids[1]) == "delivered"));
    assert_eq!(receiver.ids(), ids);

    // Unknown ids change nothing and say so.
    let out = daemon.cli(&["events", "replay", &ids[0], "evt_nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("evt_nope"), "{}", stderr(&out));
    let out = daemon.cli(&["events", "show", "evt_nope"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn tenant_order_holds_while_another_tenant_keeps_failing() {
    // Enough attempts that the failing head is still retrying at the end.
    let daemon = start("max_attempts = 200\n");
    let failing = Receiver::start(|_, _| Reply::Status(503));
    // Every third request fails: retries interleave with new events.
    let good = Receiver::start(|n, _| Reply::Status(if n % 3 == 0 { 500 } else { 200 }));
    add_tenant(&daemon, "bad", Some(&failing.url()));
    add_tenant(&daemon, "good", Some(&good.url()));
    let db = open_db(&daemon.data_dir);
    insert(&db, "bad", 5);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.extend(insert(&db, "good", 5));
        // Batches spread out in time, so retries interleave with new events.
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(
        eventually(Duration::from_secs(20), || good.distinct_ids().len() == ids.len()),
        "good got {} of {}",
        good.distinct_ids().len(),
        ids.len()
    );
    assert_eq!(collapse_runs(&good.ids()), ids, "in stored order, each retried before the next");
    assert!(failing.requests() > 0);
    assert_eq!(failing.distinct_ids().len(), 1, "the failing tenant's head holds back only its own events");
    let list = daemon.cli_json(&["events", "list", "--tenant", "good", "--json"]);
    assert!(eventually(Duration::from_secs(5), || {
        let list = daemon.cli_json(&["events", "list", "--tenant", "good", "--json"]);
        list["events"].as_array().expect("events").iter().all(|e| e["status"] == "delivered")
    }));
    assert_eq!(list["events"].as_array().expect("events").len(), ids.len());
}

#[test]
fn a_receiver_that_never_answers_does_not_stall_other_tenants() {
    let daemon = start("concurrency = 2\ntimeout_s = 5\n");
    let hung = Receiver::start(|_, _| Reply::Hang);
    let fast = Receiver::ok();
    add_tenant(&daemon, "hung", Some(&hung.url()));
    add_tenant(&daemon, "fast", Some(&fast.url()));
    let db = open_db(&daemon.data_dir);
    let stuck = insert(&db, "hung", 3);
    assert!(eventually(Duration::from_secs(5), || hung.requests() == 1), "the hung receiver got nothing");
    let ids = insert(&db, "fast", 10);
    // All well before the 5 s timeout of the hung attempt.
    assert!(
        eventually(Duration::from_secs(4), || fast.distinct_ids().len() == 10),
        "fast tenant stalled: {} of 10",
        fast.distinct_ids().len()
    );
    assert_eq!(fast.ids(), ids);
    assert_eq!(hung.requests(), 1, "one in flight per tenant");
    // The hung attempt times out and is recorded as such.
    assert!(eventually(Duration::from_secs(10), || {
        show(&daemon, &stuck[0])["delivery_attempts"].as_array().is_some_and(|a| !a.is_empty())
    }));
    let shown = show(&daemon, &stuck[0]);
    assert_eq!(shown["status"], "pending");
    let error = shown["delivery_attempts"][0]["error"].as_str().expect("error");
    assert!(error.contains("no answer within 5s"), "{error}");
}

#[test]
fn sigkill_mid_delivery_loses_nothing() {
    let mut daemon = start("");
    let receiver = Arc::new(Receiver::start(|_, _| Reply::After(Duration::from_millis(25), 200)));
    let tenants = ["k1", "k2", "k3", "k4"];
    for t in tenants {
        add_tenant(&daemon, t, Some(&receiver.url()));
    }
    let db = open_db(&daemon.data_dir);
    let mut per_tenant = Vec::new();
    for t in tenants {
        per_tenant.push(insert(&db, t, 30));
    }
    assert!(eventually(Duration::from_secs(10), || receiver.requests() >= 20), "delivery did not start");
    daemon.kill();
    let before = receiver.distinct_ids().len();
    assert!(before < 120, "everything went out before the kill; the test proves nothing");

    let daemon2 = restart(&daemon, "");
    assert!(
        eventually(Duration::from_secs(20), || receiver.distinct_ids().len() == 120),
        "after restart: {} of 120",
        receiver.distinct_ids().len()
    );
    // Per tenant, first arrivals follow stored order.
    let seen = receiver.distinct_ids();
    for ids in &per_tenant {
        let mine: Vec<&String> = seen.iter().filter(|id| ids.contains(id)).collect();
        assert_eq!(mine, ids.iter().collect::<Vec<_>>());
    }
    assert!(eventually(Duration::from_secs(5), || {
        let list =
            daemon2.cli_json(&["events", "list", "--status", "delivered", "--limit", "1000", "--json"]);
        list["events"].as_array().expect("events").len() == 120
    }));
}

#[test]
fn shutdown_abandons_unanswered_attempts_as_pending_never_delivered() {
    let mut daemon = start("timeout_s = 30\n[http]\nshutdown_grace_s = 1\n");
    let hang = Arc::new(AtomicBool::new(true));
    let switch = hang.clone();
    let receiver =
        Receiver::start(
            move |_, _| if switch.load(Ordering::SeqCst) { Reply::Hang } else { Reply::Status(200) },
        );
    add_tenant(&daemon, "slow", Some(&receiver.url()));
    let ids = insert(&open_db(&daemon.data_dir), "slow", 1);
    assert!(eventually(Duration::from_secs(5), || receiver.requests() == 1));
    let status = daemon.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", daemon.log());
    let shown = show(&daemon, &ids[0]);
    assert_eq!(shown["status"], "pending", "{shown}");
    assert_eq!(shown["delivery_attempts"].as_array().expect("attempts").len(), 0);

    hang.store(false, Ordering::SeqCst);
    let daemon2 = restart(&daemon, "");
    assert!(eventually(Duration::from_secs(10), || status_of(&daemon2, &ids[0]) == "delivered"));
    assert_eq!(receiver.ids(), vec![ids[0].clone(); 2]);
}

#[test]
fn pull_api_pages_with_a_stable_cursor_and_isolates_tenants() {
    let daemon = start("");
    let token_a = add_tenant(&daemon, "pa", None);
    let token_b = add_tenant(&daemon, "pb", None);
    let db = open_db(&daemon.data_dir);
    let mut a_ids = insert(&db, "pa", 3);
    let b_ids = insert(&db, "pb", 2);
    a_ids.extend(insert(&db, "pa", 2));
    let client = http();
    let get = |token: &str, query: &str| {
        let response = client
            .get(daemon.url(&format!("/api/events{query}")))
            .bearer_auth(token)
            .send()
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json::<Value>().expect("json"))
    };
    let ids_of = |page: &Value| -> Vec<String> {
        page["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_string())
            .collect()
    };

    // Pages of two, in stored order, following next_cursor.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut cursors = Vec::new();
    loop {
        let (status, page) = get(&token_a, &format!("?limit=2&after={cursor}"));
        assert_eq!(status, 200, "{page}");
        seen.extend(ids_of(&page));
        cursors.push(cursor.clone());
        cursor = page["next_cursor"].as_str().expect("cursor").to_string();
        if !page["has_more"].as_bool().expect("has_more") {
            break;
        }
    }
    assert_eq!(seen, a_ids);
    // The cursor is stable: an old one gives the same page again.
    let (_, again) = get(&token_a, &format!("?limit=2&after={}", cursors[1]));
    assert_eq!(ids_of(&again), a_ids[2..4].to_vec());
    let (_, first) = get(&token_a, "");
    let event = &first["events"][0];
    assert_eq!(event["tenant"], "pa");
    assert_eq!(event["type"], "twilio.sms");
    assert_eq!(event["data"]["n"], 0);
    // At the end: an empty page whose cursor still works for what comes next.
    let (_, end) = get(&token_a, &format!("?after={cursor}"));
    assert!(ids_of(&end).is_empty());
    assert_eq!(end["next_cursor"].as_str(), Some(cursor.as_str()));
    let later = insert(&db, "pa", 1);
    let (_, next) = get(&token_a, &format!("?after={cursor}"));
    assert_eq!(ids_of(&next), later);

    // Isolation: B sees only B; A's token cannot name B; the secret can.
    let (_, b_page) = get(&token_b, "");
    assert_eq!(ids_of(&b_page), b_ids);
    let (status, err) = get(&token_a, "?tenant=pb");
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["error"]["code"], "not_found");
    let (status, err) = get(&token_a, "?tenant=nosuch");
    assert_eq!(status, 404, "{err}");
    let (status, err) = get(SECRET, "");
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("tenant_required")));
    let (status, page) = get(SECRET, "?tenant=pb");
    assert_eq!(status, 200);
    assert_eq!(ids_of(&page), b_ids);
    // A's cursor used by B still shows only B's events.
    let (_, mixed) = get(&token_b, &format!("?after={}", cursors[1]));
    assert!(ids_of(&mixed).iter().all(|id| b_ids.contains(id)));

    for bad in ["?after=garbage", "?limit=0", "?limit=1001", "?limit=x", "?tenant=..%2Fx"] {
        let (status, err) = get(&token_a, bad);
        assert_eq!(status, 400, "{bad}: {err}");
    }
    let response = client.get(daemon.url("/api/events")).send().expect("request");
    assert_eq!(response.status().as_u16(), 401);
    let response = client.get(daemon.url("/api/events")).bearer_auth("alt_wrong").send().expect("request");
    assert_eq!(response.status().as_u16(), 401);

    // Pull-only tenants' events stay pending until pulled past (the last one
    // was pulled but nothing after it yet).
    let out = daemon.cli(&["events", "list", "--tenant", "pa"]);
    assert!(stdout(&out).contains("pending"), "{}", stdout(&out));
}

/// A 200 whose body never ends: the daemon reads at most 64 KiB of it.
fn endless_ok(stream: &mut std::net::TcpStream) {
    use std::io::Write;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
    let chunk = [b'x'; 16 * 1024];
    while stream.write_all(&chunk).is_ok() {}
}

#[test]
fn an_endless_answer_body_does_not_hold_the_delivery() {
    // The timeout is long: only reading less than the whole body lets the
    // events through within the wait below.
    let daemon = start("timeout_s = 60\n");
    let receiver = RawReceiver::start(endless_ok);
    add_tenant(&daemon, "endless", Some(&receiver.url()));
    let ids = insert(&open_db(&daemon.data_dir), "endless", 2);
    assert!(
        eventually(Duration::from_secs(15), || ids.iter().all(|id| status_of(&daemon, id) == "delivered")),
        "statuses: {:?}",
        ids.iter().map(|id| status_of(&daemon, id)).collect::<Vec<_>>()
    );
    assert_eq!(receiver.ids(), ids, "each once, in order");
}

/// A 500 whose body tries to clear the operator's screen and retitle it.
fn hostile_error(stream: &mut std::net::TcpStream) {
    use std::io::Write;
    let body = "\x1b[2J\x1b]0;pwned\x07\u{9b}31mboom\u{202e}";
    let head = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

#[test]
fn events_text_output_shows_control_characters_escaped() {
    let daemon = start("max_attempts = 1\nclient_error_attempts = 1\n");
    let receiver = RawReceiver::start(hostile_error);
    add_tenant(&daemon, "hostile", Some(&receiver.url()));
    let id = insert(&open_db(&daemon.data_dir), "hostile", 1).remove(0);
    assert!(eventually(Duration::from_secs(10), || status_of(&daemon, &id) == "dead"));
    let shown = show(&daemon, &id);
    assert!(
        shown["last_error"].as_str().unwrap_or_default().contains('\x1b'),
        "JSON keeps the text: {shown}"
    );
    for args in [&["events", "show", id.as_str()][..], &["events", "list"][..]] {
        let out = daemon.cli(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        for raw in ['\x1b', '\x07', '\u{9b}', '\u{202e}'] {
            assert!(!text.contains(raw), "{args:?} prints {raw:?} raw: {text:?}");
        }
        assert!(text.contains("\\x1b[2J"), "{args:?} shows it escaped: {text}");
    }
}
