//! Tenant WhatsApp workers end to end: the built binary (with the `sim`
//! feature) runs the real whatsapp-rust client per tenant against the
//! simulated network served on a loopback socket; tenant backends are real
//! HTTP receivers.

use crate::harness;
use crate::harness::receiver;

use std::time::Duration;

use crate::harness::receiver::Receiver;
use crate::harness::sim::*;
use crate::harness::{add_tenant, add_tenant_with_secret, eventually, mode, stderr, stdout, wait_child};
use serde_json::{json, Value};

/// The `whatsapp.*` events a receiver got, in arrival order.
fn whatsapp_events(receiver: &Receiver, kind: &str) -> Vec<Value> {
    receiver.received().iter().map(|r| r.json()).filter(|e| e["type"] == kind).collect()
}

fn connection_states(receiver: &Receiver) -> Vec<String> {
    whatsapp_events(receiver, "whatsapp.connection")
        .iter()
        .filter_map(|e| e["data"]["state"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn paired_by_qr_messages_flow_both_ways_and_a_restart_reconnects_without_a_qr() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let mut daemon = daemon(&wasim);
    let (token, signing_secret) = add_tenant_with_secret(&daemon, "acme", Some(&receiver.url()));
    wait_state(&daemon, "acme", "unpaired");

    // The QR in every format; asking starts pairing.
    let qr = qr_code(&daemon, &token, "acme");
    let code = qr["code"].as_str().expect("code").to_string();
    assert!(code.split(',').count() >= 4, "ref,noise,identity,adv[,type]: {code}");
    assert!(qr["expires_in_s"].as_i64().unwrap_or(0) > 0 && qr["codes_left"].as_i64().is_some(), "{qr}");
    let png = harness::http()
        .get(daemon.url("/api/whatsapp/acme/qr?format=png"))
        .bearer_auth(&token)
        .send()
        .expect("png");
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().expect("bytes").starts_with(b"\x89PNG\r\n\x1a\n"));
    let svg = harness::http()
        .get(daemon.url("/api/whatsapp/acme/qr?format=svg"))
        .bearer_auth(&token)
        .send()
        .expect("svg");
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().expect("text").contains("<svg"));
    assert_eq!(status(&daemon, "acme")["state"], "pairing");

    wasim.scan(&code, "+15550001111");
    let connected = wait_state(&daemon, "acme", "connected");
    assert_eq!(connected["phone"], "+15550001111");
    let (conflict, body) = api_get(&daemon, &token, "/api/whatsapp/acme/qr?format=json");
    assert_eq!(conflict, 409, "paired: no new QR: {body}");

    // The session store is private: on SQLite one file for every tenant, no
    // file of the tenant's own (on PostgreSQL the session lives in the
    // database: no file to check).
    let tenant_dir = daemon.data_dir.join("tenants/acme");
    assert_eq!(mode(&tenant_dir), 0o700);
    assert_eq!(harness::store::session_devices(&daemon.data_dir, "acme"), 1);
    assert!(!tenant_dir.join("whatsapp.db").exists());
    if !harness::store::on_postgres() {
        assert_eq!(mode(&daemon.data_dir.join("whatsapp-sessions.db")), 0o600);
    }

    // A contact's message reaches the tenant's webhook, signed, once.
    let id = wasim.send("+15557770001", "+15550001111", "hello agent");
    assert!(
        eventually(Duration::from_secs(15), || !whatsapp_events(&receiver, "whatsapp.message").is_empty())
    );
    let messages = whatsapp_events(&receiver, "whatsapp.message");
    assert_eq!(messages.len(), 1, "{messages:?}");
    let data = &messages[0]["data"];
    assert_eq!((data["id"].as_str(), data["from"].as_str()), (Some(id.as_str()), Some("+15557770001")));
    assert_eq!((data["type"].as_str(), data["text"].as_str()), (Some("text"), Some("hello agent")));
    let signed =
        receiver.received().into_iter().find(|r| r.json()["type"] == "whatsapp.message").expect("one");
    assert!(receiver::signature_valid(&signing_secret, &signed));

    // A send reaches the contact once, even when retried with the same key.
    let body = json!({"to": "+15557770001", "text": "hi from the agent"});
    let (first, sent) = api_post(&daemon, &token, "/api/whatsapp/acme/send", body.clone(), Some("order-42"));
    assert_eq!(first, 202, "{sent}");
    let (again, replay) = api_post(&daemon, &token, "/api/whatsapp/acme/send", body, Some("order-42"));
    assert_eq!(again, 202, "{replay}");
    assert_eq!(replay["message_id"], sent["message_id"]);
    assert_eq!(replay["replayed"], true);
    let other = json!({"to": "+15557770001", "text": "something else"});
    let (reused, _) = api_post(&daemon, &token, "/api/whatsapp/acme/send", other, Some("order-42"));
    assert_eq!(reused, 409, "one key, one message");
    assert!(eventually(Duration::from_secs(10), || !wasim.received("+15557770001").is_empty()));
    // A fixed wait: that no second copy arrives is what is asserted.
    std::thread::sleep(Duration::from_millis(500));
    let got = wasim.received("+15557770001");
    assert_eq!(got.len(), 1, "sent once: {got:?}");
    assert_eq!(got[0]["text"], "hi from the agent");
    assert_eq!(got[0]["id"], sent["message_id"]);

    // Crashed (SIGKILL) and restarted on the same data, it reconnects without
    // a QR; a message sent while it was down arrives after the restart, once.
    let data_dir = daemon.data_dir.clone();
    daemon.kill();
    wasim.send("+15557770002", "+15550001111", "while you were away");
    let mut daemon = daemon_on(&wasim, Some(data_dir.clone()), &[]);
    wait_state(&daemon, "acme", "connected");
    let away = || {
        whatsapp_events(&receiver, "whatsapp.message")
            .iter()
            .filter(|e| e["data"]["text"] == "while you were away")
            .count()
    };
    assert!(eventually(Duration::from_secs(20), || away() == 1));
    let states = connection_states(&receiver);
    for expected in ["pairing", "connected", "connecting"] {
        assert!(states.iter().any(|s| s == expected), "{expected} announced: {states:?}");
    }
    // A graceful stop records `stopped`; the next start reconnects again.
    assert!(daemon.terminate(Duration::from_secs(30)).success());
    let daemon = daemon_on(&wasim, Some(data_dir), &[]);
    wait_state(&daemon, "acme", "connected");
    // Stored at shutdown, delivered once the daemon runs again.
    assert!(eventually(Duration::from_secs(10), || connection_states(&receiver).contains(&"stopped".into())));
    // A fixed wait: that no second copy arrives is what is asserted.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(away(), 1, "a redelivery is never stored twice");
    let sessions = daemon.cli(&["sessions", "--json"]);
    let sessions: Value = serde_json::from_slice(&sessions.stdout).expect("sessions json");
    assert_eq!(sessions[0]["tenant"], "acme");
    assert_eq!(sessions[0]["state"], "connected");
    assert_eq!(sessions[0]["worker"], "running");
    let verbose: Value = harness::http()
        .get(daemon.url("/healthz/whatsapp?verbose"))
        .bearer_auth(SECRET)
        .send()
        .expect("get")
        .json()
        .expect("json");
    assert_eq!(verbose["tenants"][0]["state"], "connected", "{verbose}");
    assert_eq!(verbose["tenants"][0]["worker"], "running", "{verbose}");
    let metrics = harness::http().get(daemon.url("/metrics")).send().expect("metrics").text().expect("text");
    assert!(metrics.contains(r#"agentlocator_whatsapp_state_changes_total{state="connected"}"#), "{metrics}");
}

#[test]
fn a_removed_tenant_takes_its_session_with_it() {
    let wasim = Wasim::start();
    let daemon = daemon(&wasim);
    add_tenant(&daemon, "gone", None);
    pair(&daemon, &wasim, "gone", "+15550007777");
    assert!(daemon.cli(&["tenant", "remove", "gone", "--yes"]).status.success());
    // The same id added again starts unpaired: no linked device is inherited,
    // neither a session file nor (on PostgreSQL) the tenant's session rows.
    add_tenant(&daemon, "gone", None);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status(&daemon, "gone")["state"], "unpaired", "{}", status(&daemon, "gone"));
    if harness::store::on_postgres() {
        assert_eq!(
            daemon.db_i64("SELECT COUNT(*) FROM wa_device WHERE tenant = 'gone' AND pn IS NOT NULL"),
            0
        );
    }
}

#[test]
fn paired_by_phone_number_code() {
    let wasim = Wasim::start();
    let daemon = daemon(&wasim);
    let token = add_tenant(&daemon, "bycode", None);
    let (bad, body) =
        api_post(&daemon, &token, "/api/whatsapp/bycode/pair-code", json!({"phone": "555"}), None);
    assert_eq!(bad, 400, "{body}");
    let (ok, body) =
        api_post(&daemon, &token, "/api/whatsapp/bycode/pair-code", json!({"phone": "+15550002222"}), None);
    assert_eq!(ok, 200, "{body}");
    let code = body["code"].as_str().expect("code");
    assert_eq!(code.len(), 8, "{body}");
    wasim.enter_pair_code("+15550002222", code);
    let connected = wait_state(&daemon, "bycode", "connected");
    assert_eq!(connected["phone"], "+15550002222");
    let log = daemon.log();
    assert!(log.contains("Stage 1 complete") || log.contains("pairing by phone"), "the log was captured");
    assert!(!log.contains(code), "the pair code is a secret: never logged");
}

#[test]
fn faults_lead_to_their_documented_states_and_recoveries() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let daemon = daemon(&wasim);
    let token = add_tenant(&daemon, "faulty", Some(&receiver.url()));
    let phone = "+15550003333";
    pair(&daemon, &wasim, "faulty", phone);

    // A dropped socket and a 503: the client reconnects by itself.
    for kind in ["drop", "unavailable503"] {
        let before = status(&daemon, "faulty")["reconnects"].as_i64().unwrap_or(0);
        assert_eq!(wasim.fault(phone, kind, None), 1);
        assert!(
            eventually(STATE_WAIT, || {
                let s = status(&daemon, "faulty");
                s["state"] == "connected" && s["reconnects"].as_i64().unwrap_or(0) > before
            }),
            "{kind}: {}",
            status(&daemon, "faulty")
        );
    }

    // A temporary ban: `banned` with its expiry, no reconnect until then.
    wasim.fault(phone, "ban", Some(8));
    let banned = wait_state(&daemon, "faulty", "banned");
    assert!(banned["banned_until"].as_str().is_some(), "{banned}");
    wait_state(&daemon, "faulty", "connected");

    // Replaced by another client: parked, loudly, until an operator restarts it.
    wasim.fault(phone, "replaced", None);
    let replaced = wait_state(&daemon, "faulty", "replaced");
    assert!(replaced["last_error"].as_str().unwrap_or("").contains("replaced"), "{replaced}");
    // A fixed wait: that no restart happens is what is asserted.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status(&daemon, "faulty")["state"], "replaced", "not restarted blindly");
    let (code, _) = api_post(&daemon, &token, "/api/whatsapp/faulty/restart", json!({}), None);
    assert_eq!(code, 202);
    wait_state(&daemon, "faulty", "connected");

    // Logged out from the phone: the session store is wiped; it waits for pairing.
    wasim.fault(phone, "logout", None);
    let logged_out = wait_state(&daemon, "faulty", "logged_out");
    assert!(logged_out["phone"].is_null(), "{logged_out}");
    assert!(eventually(Duration::from_secs(5), || harness::store::session_devices(
        &daemon.data_dir,
        "faulty"
    ) == 0));
    // A new pairing can start; paired again, banned for long, an operator's
    // logout still unlinks it (without waiting out the ban).
    let qr = qr_code(&daemon, &token, "faulty");
    wasim.scan(qr["code"].as_str().expect("code"), phone);
    wait_state(&daemon, "faulty", "connected");
    wasim.fault(phone, "ban", Some(600));
    wait_state(&daemon, "faulty", "banned");
    let (code, body) = api_post(&daemon, &token, "/api/whatsapp/faulty/logout", json!({}), None);
    assert_eq!((code, body["state"].as_str()), (200, Some("logged_out")), "{body}");
    assert_eq!(status(&daemon, "faulty")["state"], "logged_out");
    assert_eq!(harness::store::session_devices(&daemon.data_dir, "faulty"), 0);

    // The backend heard every change, with its reason.
    assert!(eventually(Duration::from_secs(10), || connection_states(&receiver)
        .contains(&"logged_out".to_string())));
    let states = connection_states(&receiver);
    for expected in ["reconnecting", "banned", "replaced", "logged_out"] {
        assert!(states.iter().any(|s| s == expected), "{expected}: {states:?}");
    }
    assert!(whatsapp_events(&receiver, "whatsapp.connection")
        .iter()
        .all(|e| e["data"]["reason"].is_string()));
}

#[test]
fn a_panicking_worker_restarts_while_its_neighbour_keeps_flowing_and_a_flapping_one_is_quarantined() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let daemon = daemon(&wasim);
    add_tenant(&daemon, "crashy", Some(&receiver.url()));
    add_tenant(&daemon, "steady", Some(&receiver.url()));
    let flappy_token = add_tenant(&daemon, "flappy", None);
    pair(&daemon, &wasim, "crashy", "+15550004441");
    pair(&daemon, &wasim, "steady", "+15550004442");

    let reply = harness::admin_request(
        &daemon.data_dir,
        json!({"kind": "fault", "target": "worker:crashy", "action": "panic"}),
    );
    assert!(reply.get("ok").is_some(), "{reply}");
    // The neighbour's messages keep flowing while the crashed worker restarts.
    for n in 0..3 {
        wasim.send("+15557770009", "+15550004442", &format!("steady {n}"));
    }
    assert!(eventually(Duration::from_secs(20), || {
        whatsapp_events(&receiver, "whatsapp.message").iter().filter(|e| e["tenant"] == "steady").count() >= 3
    }));
    // The panic is recorded like any failure (the backend hears why), and
    // the restarted worker connects again.
    let crashy_states = || -> Vec<(String, String)> {
        whatsapp_events(&receiver, "whatsapp.connection")
            .iter()
            .filter(|e| e["tenant"] == "crashy")
            .map(|e| {
                (
                    e["data"]["state"].as_str().unwrap_or("").into(),
                    e["data"]["reason"].as_str().unwrap_or("").into(),
                )
            })
            .collect()
    };
    let reconnected_after_the_panic = eventually(Duration::from_secs(20), || {
        let states = crashy_states();
        states
            .iter()
            .position(|(state, reason)| {
                state == "reconnecting" && reason.contains("panicked: injected fault")
            })
            .is_some_and(|panic| states[panic..].iter().any(|(state, _)| state == "connected"))
    });
    assert!(reconnected_after_the_panic, "{:?}\nlog tail:\n{}", crashy_states(), daemon.log_tail());
    let sessions: Value = serde_json::from_slice(&daemon.cli(&["sessions", "--json"]).stdout).expect("json");
    let crashy =
        sessions.as_array().and_then(|a| a.iter().find(|s| s["tenant"] == "crashy")).expect("crashy");
    assert_eq!((&crashy["worker"], &crashy["state"]), (&json!("running"), &json!("connected")), "{crashy}");
    wasim.send("+15557770009", "+15550004441", "after the crash");
    let arrived = eventually(Duration::from_secs(20), || {
        whatsapp_events(&receiver, "whatsapp.message").iter().any(|e| e["data"]["text"] == "after the crash")
    });
    assert!(arrived, "log tail:\n{}", daemon.log_tail());

    // A worker that fails at every start is quarantined (max_restarts = 3)...
    let reply = harness::admin_request(
        &daemon.data_dir,
        json!({"kind": "fault", "target": "worker:flappy", "action": "fail-starts"}),
    );
    assert!(reply.get("ok").is_some(), "{reply}");
    let quarantined = wait_state(&daemon, "flappy", "quarantined");
    assert!(quarantined["last_error"].as_str().unwrap_or("").contains("injected"), "{quarantined}");
    // A fixed wait: that no restart happens is what is asserted.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status(&daemon, "flappy")["state"], "quarantined", "stays down");
    assert_eq!(status(&daemon, "steady")["state"], "connected", "neighbours untouched");
    // ...until an operator restarts it once the cause is gone.
    harness::admin_request(
        &daemon.data_dir,
        json!({"kind": "fault", "target": "worker:flappy", "action": "heal"}),
    );
    let (code, _) = api_post(&daemon, &flappy_token, "/api/whatsapp/flappy/restart", json!({}), None);
    assert_eq!(code, 202);
    wait_state(&daemon, "flappy", "unpaired");
}

#[test]
fn a_tenant_token_reaches_only_its_own_tenant() {
    let wasim = Wasim::start();
    let daemon = daemon(&wasim);
    let a = add_tenant(&daemon, "tenant-a", None);
    add_tenant(&daemon, "tenant-b", None);
    let b = "/api/whatsapp/tenant-b";
    for path in ["status", "qr?format=json"] {
        let (code, body) = api_get(&daemon, &a, &format!("{b}/{path}"));
        assert_eq!(code, 404, "{path}: {body}");
    }
    for path in ["send", "logout", "restart", "pair-code"] {
        let body = json!({"to": "+15550000000", "text": "x", "phone": "+15550000000"});
        let (code, reply) = api_post(&daemon, &a, &format!("{b}/{path}"), body, None);
        assert_eq!(code, 404, "{path}: {reply}");
    }
    // Its own tenant: answered (not connected, so a send is refused clearly).
    let (code, body) = api_post(
        &daemon,
        &a,
        "/api/whatsapp/tenant-a/send",
        json!({"to": "+15550000000", "text": "x"}),
        None,
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_connected");
    assert_eq!(status(&daemon, "tenant-b")["state"], "unpaired", "B was never touched");
}

#[test]
fn tenant_pair_and_logout_work_without_a_daemon() {
    let wasim = Wasim::start();
    // A daemon only to create the tenant, then stopped.
    let mut first = daemon(&wasim);
    add_tenant(&first, "solo", None);
    let (dir, data_dir) = (first.dir.clone(), first.data_dir.clone());
    assert!(first.terminate(Duration::from_secs(30)).success());

    // Pairs in-process by phone code: the CLI prints the code, the phone enters it.
    let mut child = harness::command(&dir)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["tenant", "pair", "solo", "--phone", "+15550005555", "--timeout", "60"])
        .env("WHATSAPP_WS_URL", wasim.ws_url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pair");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let code = loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut out, &mut line).expect("read");
        assert!(n > 0, "pair ended before showing a code");
        if let Some(code) = line.trim().strip_prefix("Pair code: ") {
            break code.replace('-', "");
        }
    };
    // A daemon started meanwhile waits for the pairing process to let go of
    // the session (two clients on one device would fight) instead of failing.
    let daemon = daemon_on(&wasim, Some(data_dir.clone()), &[]);
    assert!(
        eventually(Duration::from_secs(10), || daemon.log().contains("waiting for it")),
        "{}",
        daemon.log_tail()
    );
    // Meanwhile a logout is refused, clearly, rather than wiping a store in use.
    let busy = daemon.cli(&["tenant", "logout", "solo"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(stderr(&busy).contains("another process"), "{}", stderr(&busy));
    wasim.enter_pair_code("+15550005555", &code);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("rest");
    let status = child.wait().expect("wait");
    assert!(status.success(), "pair: {rest}");
    assert!(rest.contains("Paired") && rest.contains("+15550005555"), "{rest}");

    // Then it takes over and connects the device without pairing again.
    wait_state(&daemon, "solo", "connected");
    assert!(!daemon.log().contains("quarantined"));
    drop(daemon);

    // Logout without a daemon wipes the session store.
    let output = harness::cli(&dir, &data_dir, &["tenant", "logout", "solo", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let reply: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(reply["state"], "logged_out");
    assert_eq!(harness::store::session_devices(&data_dir, "solo"), 0);
    let sessions = stdout(&harness::cli(&dir, &data_dir, &["sessions"]));
    assert!(sessions.contains("logged_out"), "{sessions}");

    // WhatsApp out of reach: no code ever comes; the timeout says what to check.
    let unreachable = harness::command(&dir)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["tenant", "pair", "solo", "--timeout", "2"])
        .env("WHATSAPP_WS_URL", "ws://127.0.0.1:1/ws/chat")
        .output()
        .expect("run pair");
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(stderr(&unreachable).contains("sent no pairing code"), "{}", stderr(&unreachable));

    // `sessions --watch --json`: one document per refresh, one per line.
    let mut watch = harness::command(&dir)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["sessions", "--watch", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(watch.stdout.take().expect("stdout")));
    for _ in 0..2 {
        let line = lines.next().expect("a refresh").expect("read");
        let rows: Value = serde_json::from_str(&line).expect("one JSON document per line");
        assert_eq!(rows[0]["tenant"], "solo");
    }
    let _ = watch.kill();
    let _ = watch.wait();
}

/// Runs `command` on a pseudo-terminal `columns` wide; returns the child and
/// the terminal's output, collected as it comes.
// openpty(3) has no safe wrapper among our dependencies; a test-only helper.
#[allow(unsafe_code)]
fn spawn_in_pty(
    command: &mut std::process::Command,
    columns: u16,
) -> (std::process::Child, std::sync::Arc<std::sync::Mutex<String>>) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize { ws_row: 70, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two descriptors we then own.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened for us and are owned once.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    command.stdin(slave.try_clone().expect("dup")).stdout(slave.try_clone().expect("dup")).stderr(slave);
    let child = command.spawn().expect("spawn in pty");
    let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let mut buffer = [0u8; 4096];
        // Ends with EIO once the child and every copy of the slave are gone.
        while let Ok(n) = std::io::Read::read(&mut master, &mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    (child, output)
}

#[test]
fn tenant_pair_draws_the_qr_in_a_terminal_then_reports_the_link() {
    let wasim = Wasim::start();
    let daemon = daemon(&wasim);
    add_tenant(&daemon, "ptyco", None);
    add_tenant(&daemon, "narrow", None);

    let mut pair = harness::command(&daemon.dir);
    // Colours are what this run checks: whatever the caller's environment says.
    pair.arg("--data-dir")
        .arg(&daemon.data_dir)
        .args(["tenant", "pair", "ptyco", "--timeout", "60"])
        .env_remove("NO_COLOR");
    let (mut child, output) = spawn_in_pty(&mut pair, 120);
    let drawn = eventually(Duration::from_secs(30), || {
        output.lock().map(|o| o.contains("Scan with WhatsApp")).unwrap_or(false)
    });
    let shown = output.lock().map(|o| o.clone()).unwrap_or_default();
    assert!(drawn, "no QR drawn: {shown}");
    assert!(shown.contains('▀') || shown.contains('▄'), "dense glyphs: {shown}");
    assert!(shown.contains("\x1b[38;5;16;48;5;231m"), "forced black-on-white colours on a terminal");
    assert!(shown.contains("more code"), "codes left shown: {shown}");
    // The phone scans the code the daemon's worker is showing (the same one).
    let code = qr_code(&daemon, SECRET, "ptyco")["code"].as_str().expect("code").to_string();
    wasim.scan(&code, "+15550006666");
    let status = wait_child(&mut child, Duration::from_secs(30)).expect("pair exited in time");
    let shown = output.lock().map(|o| o.clone()).unwrap_or_default();
    assert!(status.success(), "pair failed: {shown}");
    assert!(shown.contains("Paired") && shown.contains("+15550006666"), "{shown}");
    wait_state(&daemon, "ptyco", "connected");

    // Logout through the daemon: its connected client unlinks the device.
    let output = daemon.cli(&["tenant", "logout", "ptyco"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(wait_state(&daemon, "ptyco", "logged_out")["phone"], Value::Null);
    assert_eq!(harness::store::session_devices(&daemon.data_dir, "ptyco"), 0);
    // Removal stops the worker and deletes the tenant's files.
    assert!(daemon.cli(&["tenant", "remove", "ptyco", "--yes"]).status.success());
    assert!(!daemon.data_dir.join("tenants/ptyco").exists());

    // Too narrow for the code: a clear refusal instead of an unscannable QR.
    let mut pair = harness::command(&daemon.dir);
    pair.arg("--data-dir").arg(&daemon.data_dir).args(["tenant", "pair", "narrow", "--timeout", "30"]);
    let (mut child, output) = spawn_in_pty(&mut pair, 40);
    let status = wait_child(&mut child, Duration::from_secs(30)).expect("pair exited in time");
    let shown = output.lock().map(|o| o.clone()).unwrap_or_default();
    assert_eq!(status.code(), Some(1), "{shown}");
    assert!(shown.contains("40 columns wide") && shown.contains("--phone"), "{shown}");
}

#[test]
fn a_send_whose_outcome_is_unknown_is_never_repeated_with_its_key() {
    let wasim = Wasim::start();
    let daemon = daemon_on(&wasim, None, &[("AGENTLOCATOR_WHATSAPP__SEND_TIMEOUT", "700ms")]);
    let token = add_tenant(&daemon, "unsure", None);
    let phone = "+15550004444";
    pair(&daemon, &wasim, "unsure", phone);

    // The server goes silent: the send (to a contact never messaged, so the
    // client must ask WhatsApp for its devices first) cannot finish.
    assert_eq!(wasim.fault(phone, "stall", None), 1);
    let body = json!({"to": "+15557770009", "text": "did this arrive?"});
    let path = "/api/whatsapp/unsure/send";
    let (first, answer) = api_post(&daemon, &token, path, body.clone(), Some("pay-7"));
    assert_eq!((first, answer["error"]["code"].as_str()), (504, Some("outcome_unknown")), "{answer}");
    let (again, answer) = api_post(&daemon, &token, path, body, Some("pay-7"));
    assert_eq!((again, answer["error"]["code"].as_str()), (409, Some("outcome_unknown")), "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("may or may not") && message.contains("new key"), "{message}");
    let rows = daemon.db_rows("SELECT status FROM wa_sends WHERE idempotency_key = 'pay-7'");
    let status = rows.first().expect("the key's row")[0].clone();
    assert_eq!(status.as_deref(), Some("unknown"));
}

#[test]
fn more_chats_than_the_client_keeps_lanes_for_lose_nothing_and_keep_each_chats_order() {
    // The client keeps one idle chat lane; 45 contacts writing in turn make
    // it evict idle lanes and make them again while messages keep coming.
    const CONTACTS: usize = 45;
    const ROUNDS: usize = 3;
    let wasim = Wasim::start();
    let daemon = daemon(&wasim);
    // Pull-only: the pull API lists events in the order they were stored.
    let token = add_tenant(&daemon, "busy", None);
    pair(&daemon, &wasim, "busy", "+15550004444");
    let contact = |c: usize| format!("+1555880{c:04}");
    for round in 0..ROUNDS {
        for c in 0..CONTACTS {
            wasim.send(&contact(c), "+15550004444", &format!("{c} {round}"));
        }
    }
    let messages = || -> Vec<(String, String)> {
        let (code, page) = api_get(&daemon, &token, "/api/events?limit=1000");
        assert_eq!(code, 200, "{page}");
        page["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "whatsapp.message")
            .map(|e| {
                (
                    e["data"]["from"].as_str().unwrap_or("").into(),
                    e["data"]["text"].as_str().unwrap_or("").into(),
                )
            })
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(60), || messages().len() >= CONTACTS * ROUNDS),
        "{} of {} stored",
        messages().len(),
        CONTACTS * ROUNDS
    );
    let stored = messages();
    assert_eq!(stored.len(), CONTACTS * ROUNDS, "each message stored once");
    for c in 0..CONTACTS {
        let texts: Vec<&str> =
            stored.iter().filter(|(from, _)| *from == contact(c)).map(|(_, text)| text.as_str()).collect();
        let expected: Vec<String> = (0..ROUNDS).map(|round| format!("{c} {round}")).collect();
        assert_eq!(texts, expected, "contact {c}'s messages in the order sent");
    }
}
