//! PostgreSQL restarted under a running daemon: while the server is down the
//! daemon refuses webhooks (503, so Twilio retries) and `/readyz` says the
//! PostgreSQL server cannot be written; nothing it acknowledged is lost; once
//! the server is back the daemon recovers by itself, without a restart.
//!
//! The test runs its own throwaway server (`scripts/pg-throwaway`), which it
//! stops and starts; it runs once, in the SQLite parent run (the store mode of
//! the suite does not matter to it), and is skipped when PostgreSQL is not
//! installed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::receiver::Receiver;
use crate::harness::{self, eventually, form_body, twilio_signature, Daemon, DaemonOptions};

const TENANT: &str = "acme";
const AUTH_TOKEN: &str = "restart-auth-token-0123456789";
/// How long the server stays down.
const OUTAGE: Duration = Duration::from_secs(10);
/// How soon after the server is back the daemon must be ready again.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// The daemon's `health.check_timeout`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A PostgreSQL server of this test's own, stopped for good when dropped.
struct Server {
    dir: tempfile::TempDir,
    url: String,
}

impl Server {
    /// Starts one; `None` (with a note) when PostgreSQL is not installed.
    fn start() -> Option<Server> {
        if !postgres_installed() {
            println!("pg_restart: PostgreSQL is not installed (no pg_ctl); test skipped");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let output = Command::new(script()).arg(dir.path()).output().expect("run pg-throwaway");
        assert!(output.status.success(), "pg-throwaway: {}", harness::stderr(&output));
        let url = harness::stdout(&output).trim().to_string();
        Some(Server { dir, url })
    }

    /// `--pause` or `--resume`: stops the server cleanly or starts it again.
    fn run(&self, mode: &str) {
        let output =
            Command::new(script()).arg(mode).arg(self.dir.path()).output().expect("run pg-throwaway");
        assert!(output.status.success(), "pg-throwaway {mode}: {}", harness::stderr(&output));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("--stop").arg(self.dir.path()).output();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-throwaway")
}

/// The server binaries the script would use (it would install them otherwise).
fn postgres_installed() -> bool {
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().any(|d| d.path().join("bin/pg_ctl").is_file()))
        .unwrap_or(false);
    debian || Command::new("pg_ctl").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// One webhook the client sent: when, what came back (`None`: no answer).
struct Sent {
    sid: String,
    started: Instant,
    answered: Instant,
    status: Option<u16>,
}

/// Posts signed SMS webhooks one after another until `stop`.
fn send_until(daemon_url: String, stop: Arc<AtomicBool>, log: Arc<Mutex<Vec<Sent>>>) {
    let client = harness::http();
    let url = format!("{daemon_url}/webhook/{TENANT}/sms");
    for n in 0u64.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let sid = format!("SM{n:032x}");
        let params = [("MessageSid", sid.as_str()), ("From", "+15550000001"), ("Body", "during a restart")];
        let signature = twilio_signature(AUTH_TOKEN, &url, &params);
        let started = Instant::now();
        let status = client
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&params))
            .send()
            .ok()
            .map(|r| r.status().as_u16());
        log.lock().expect("log").push(Sent { sid, started, answered: Instant::now(), status });
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `/readyz` answer.
struct Probe {
    took: Duration,
    status: u16,
    body: serde_json::Value,
}

fn readyz(daemon: &Daemon) -> Probe {
    let at = Instant::now();
    let response = harness::http().get(daemon.url("/readyz")).send().expect("readyz answers");
    let status = response.status().as_u16();
    let body = response.json().unwrap_or_default();
    Probe { took: at.elapsed(), status, body }
}

#[test]
fn a_postgres_restart_is_survived_without_losing_an_acknowledged_webhook() {
    if harness::store::on_postgres() {
        return; // Runs once, in the SQLite parent run: it brings its own server.
    }
    let Some(server) = Server::start() else { return };
    let name = format!("hrestart_{:016x}", rand::random::<u64>());
    harness::store::connect_server(&server.url)
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("db");
    let database_url = harness::store::with_database(&server.url, &name);
    let receiver = Receiver::ok();
    let daemon = Daemon::start_with(DaemonOptions {
        env: vec![("DATABASE_URL".into(), database_url)],
        config_toml: Some(format!(
            "[delivery]\nbackoff_base_s = 0.05\nbackoff_cap_s = 1\n[health]\ncheck_timeout_ms = {}\n",
            CHECK_TIMEOUT.as_millis()
        )),
        data_dir: None,
    });
    daemon.add_tenant_with(TENANT, &["--webhook-url", &receiver.url(), "--twilio-auth-token", AUTH_TOKEN]);
    assert_eq!(readyz(&daemon).status, 200, "ready before the restart");

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let (url, stop, sent) = (daemon.url(""), stop.clone(), sent.clone());
        std::thread::spawn(move || send_until(url, stop, sent))
    };
    std::thread::sleep(Duration::from_secs(3));

    server.run("--pause");
    let down = Instant::now();
    let mut probes = Vec::new();
    while down.elapsed() < OUTAGE {
        probes.push(readyz(&daemon));
        std::thread::sleep(Duration::from_millis(500));
    }
    let resuming = Instant::now();
    server.run("--resume");
    let up = Instant::now();
    let ready_again = eventually(RECOVERY_BOUND, || readyz(&daemon).status == 200);
    let recovered = up.elapsed();
    assert!(
        ready_again,
        "not ready {RECOVERY_BOUND:?} after PostgreSQL came back; log:\n{}",
        daemon.log_tail()
    );
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::SeqCst);
    sender.join().expect("sender");

    let sent = std::mem::take(&mut *sent.lock().expect("log"));
    check_readiness_while_down(&probes, &server.url);
    let acked = check_webhooks(&sent, down, resuming, up, &daemon);
    check_all_delivered(&acked, &receiver, &daemon);
    println!(
        "pg_restart: ready {:?} after PostgreSQL accepted connections again (bound {RECOVERY_BOUND:?})",
        recovered
    );
    let final_probe = readyz(&daemon);
    assert_eq!(final_probe.status, 200, "{}", final_probe.body);
    assert!(!daemon.log().contains("panicked"), "a task panicked; log:\n{}", daemon.log_tail());
    let mut daemon = daemon;
    let status = daemon.terminate(Duration::from_secs(30));
    assert!(status.success(), "the daemon ran through the restart and stops cleanly: {status}");
}

/// Every probe while the server was down: 503, the database check failed,
/// naming PostgreSQL and its server, and it answered within the check timeout.
fn check_readiness_while_down(probes: &[Probe], server_url: &str) {
    let host_port = url::Url::parse(server_url).map(|u| format!("127.0.0.1:{}", u.port().unwrap_or(5432)));
    let host_port = host_port.expect("server url");
    assert!(!probes.is_empty());
    for probe in probes {
        assert_eq!(probe.status, 503, "readyz while PostgreSQL is down: {}", probe.body);
        // The lease loop cannot reach the database either (the daemon is a
        // one-node cluster): once it missed two rounds, readiness says so too.
        let failed = probe.body["failed"].as_array().cloned().unwrap_or_default();
        assert!(failed.contains(&serde_json::json!("database")), "{}", probe.body);
        assert!(failed.iter().all(|f| f == "database" || f == "leases"), "{}", probe.body);
        let detail = probe.body["checks"]["database"].as_str().unwrap_or_default();
        assert!(detail.contains("PostgreSQL") && detail.contains(&host_port), "{detail}");
        assert!(probe.took < CHECK_TIMEOUT + Duration::from_secs(1), "took {:?}: {detail}", probe.took);
    }
    let slowest = probes.iter().map(|p| p.took).max().unwrap_or_default();
    println!(
        "pg_restart: readyz while down: {} probes, each 503 (slowest {slowest:?}): {}",
        probes.len(),
        probes[0].body["checks"]["database"]
    );
}

/// The answers: no 2xx while the server was certainly down, 503 rather than
/// anything else refused; returns the acknowledged sids.
fn check_webhooks(
    sent: &[Sent],
    down: Instant,
    resuming: Instant,
    up: Instant,
    daemon: &Daemon,
) -> Vec<String> {
    let mut refused = 0;
    let mut refused_after_up = Duration::ZERO;
    for s in sent {
        let acked = s.status.is_some_and(|c| (200..300).contains(&c));
        let during = s.started >= down && s.answered <= resuming;
        if during {
            assert!(!acked, "{} acknowledged while PostgreSQL was down; log:\n{}", s.sid, daemon.log_tail());
        }
        if !acked {
            refused += 1;
            assert_eq!(
                s.status,
                Some(503),
                "{} refused, but not with 503; log:\n{}",
                s.sid,
                daemon.log_tail()
            );
            if s.started >= up {
                refused_after_up = refused_after_up.max(s.answered - up);
            }
        }
    }
    let acked: Vec<String> = sent
        .iter()
        .filter(|s| s.status.is_some_and(|c| (200..300).contains(&c)))
        .map(|s| s.sid.clone())
        .collect();
    let during = sent.iter().filter(|s| s.started >= down && s.answered <= resuming).count();
    println!(
        "pg_restart: {} webhooks sent, {} acknowledged, {refused} refused (503), {during} sent while down; \
         last refusal {refused_after_up:?} after PostgreSQL was back",
        sent.len(),
        acked.len(),
    );
    assert!(during > 0, "no webhook was sent while PostgreSQL was down");
    assert!(
        sent.iter().any(|s| s.started >= up && s.status == Some(200)),
        "none acknowledged after the restart"
    );
    acked
}

/// Every acknowledged sid reaches the receiver (repeats only of one event id).
fn check_all_delivered(acked: &[String], receiver: &Receiver, daemon: &Daemon) {
    let sids_of = |receiver: &Receiver| -> HashSet<String> {
        let received = receiver.received();
        received.iter().filter_map(|r| r.json()["data"]["MessageSid"].as_str().map(String::from)).collect()
    };
    let all_there = eventually(Duration::from_secs(60), || {
        let got = sids_of(receiver);
        acked.iter().all(|sid| got.contains(sid))
    });
    let got = sids_of(receiver);
    let missing: Vec<&String> = acked.iter().filter(|sid| !got.contains(*sid)).collect();
    assert!(
        all_there,
        "{} acknowledged but never delivered: {missing:?}; log:\n{}",
        missing.len(),
        daemon.log_tail()
    );
    // A repeat is a redelivery of one event (same id), never a second event.
    let mut event_of_sid = std::collections::HashMap::new();
    for r in receiver.received() {
        let sid = r.json()["data"]["MessageSid"].as_str().unwrap_or_default().to_string();
        let first = event_of_sid.entry(sid.clone()).or_insert_with(|| r.event_id.clone());
        assert_eq!(*first, r.event_id, "{sid} delivered as two different events");
    }
}
