//! `agentlocator db copy`: a stopped SQLite deployment moved into an empty
//! PostgreSQL database, then served from there on the same data directory.
//! SQLite to PostgreSQL by nature, so these tests do not run in the
//! PostgreSQL child run; they need `AGENTLOCATOR_TEST_DATABASE_URL`.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::harness::receiver::{insert, Receiver};
use crate::harness::store::{connect_server, drop_databases, with_database, SERVER_ENV};
use crate::harness::{command_for, eventually, http, json_out, stderr, stdout, Daemon, DaemonOptions};

/// A fresh empty database on the test server, dropped with the value.
pub(crate) struct TargetDb {
    server: String,
    name: String,
    pub url: String,
}

impl TargetDb {
    /// `None` (with a note) when the test cannot run: on the PostgreSQL child
    /// run, or without a server.
    pub(crate) fn create(test: &str) -> Option<TargetDb> {
        if crate::harness::store::on_postgres() {
            return None;
        }
        let Ok(server) = std::env::var(SERVER_ENV) else {
            eprintln!("note: {test} skipped: set {SERVER_ENV} to run it");
            return None;
        };
        let name = format!(
            "copy_{}",
            &crate::harness::sha256_hex(format!("{test}{:?}", std::time::SystemTime::now()).as_bytes())[..12]
        );
        connect_server(&server)
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create database");
        let url = with_database(&server, &name);
        Some(TargetDb { server, name, url })
    }

    pub(crate) fn i64(&self, sql: &str) -> i64 {
        connect_server(&self.url).query_one(sql, &[]).expect(sql).get(0)
    }
}

impl Drop for TargetDb {
    fn drop(&mut self) {
        drop_databases(&self.server, std::slice::from_ref(&self.name));
    }
}

/// The CLI on `data_dir`, with `DATABASE_URL` when `url` is given.
pub(crate) fn cli_on(dir: &Path, data_dir: &Path, url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = command_for(dir, data_dir);
    cmd.arg("--data-dir").arg(data_dir).args(args);
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().expect("run agentlocator")
}

/// `db copy --to URL` on `daemon`'s data directory.
pub(crate) fn copy(daemon: &Daemon, url: &str) -> Output {
    cli_on(&daemon.dir, &daemon.data_dir, None, &["db", "copy", "--to", url])
}

fn sorted_ids(list: &serde_json::Value, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = list[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key}: {list}"))
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

/// Two tenants (one with numbers and a rotated token delivering to a
/// receiver, one pull-only), events delivered, pending, dead and held.
/// Returns alpha's current token.
fn populate(daemon: &Daemon, receiver: &Receiver) -> String {
    daemon.add_tenant_with("alpha", &["--webhook-url", &receiver.url(), "--twilio-number", "+15550001111"]);
    daemon.add_tenant_with("beta", &[]);
    let rotated = daemon.cli_json(&["tenant", "token", "alpha", "--rotate", "--json"]);
    let token = rotated["token"].as_str().expect("token").to_string();
    let db = daemon.db();
    let delivered = insert(&db, "alpha", 3);
    assert!(
        eventually(Duration::from_secs(10), || {
            daemon.db_i64("SELECT count(*) FROM events WHERE status = 'delivered'") == 3
        }),
        "delivered; log: {}",
        daemon.log_tail()
    );
    assert_eq!(receiver.distinct_ids().len(), delivered.len());
    insert(&db, "beta", 2);
    let dead = insert(&db, "beta", 1);
    db.execute(&format!(
        "UPDATE events SET status = 'dead', last_error = 'gave up' WHERE id = '{}'",
        dead[0]
    ));
    token
}

#[test]
fn a_stopped_sqlite_deployment_moves_to_postgres_without_pairing_again() {
    let Some(target) = TargetDb::create("db_copy") else { return };
    let receiver = Receiver::ok();
    let mut daemon = Daemon::start();
    let token = populate(&daemon, &receiver);
    let tenants_before = sorted_ids(&daemon.cli_json(&["tenant", "list", "--json"]), "tenants");
    let events_before = sorted_ids(&daemon.cli_json(&["events", "list", "--json"]), "events");

    let running = copy(&daemon, &target.url);
    assert_eq!(running.status.code(), Some(1), "{}{}", stdout(&running), stderr(&running));
    assert!(stderr(&running).contains("stop the daemon first"), "{}", stderr(&running));
    daemon.terminate(Duration::from_secs(20));

    // A held event (its job made by the SQLite trigger) while stopped: the
    // copy must not give it a second job.
    let db = daemon.db();
    db.execute(
        "INSERT INTO events (id, tenant_id, type, data, created_at_ms, status, next_attempt_at_ms) \
         VALUES ('evt_held_copy', 'beta', 'twilio.recording', '{}', 1, 'held', 1)",
    );
    let held_jobs = "SELECT count(*) FROM jobs WHERE event_id = 'evt_held_copy'";
    assert_eq!(db.i64(held_jobs), 1, "the trigger made the held event's job");
    let jobs = db.i64("SELECT count(*) FROM jobs");
    let events = db.i64("SELECT count(*) FROM events");
    let max_seq = db.i64("SELECT max(seq) FROM events");

    let refused = copy(&daemon, "postgres://app:s3cret@127.0.0.1:1/nothing?connect_timeout=2");
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(message.contains("app:***@127.0.0.1:1") || message.contains("127.0.0.1:1/nothing"), "{message}");
    assert!(!message.contains("s3cret"), "the password is never shown: {message}");

    let copied = copy(&daemon, &target.url);
    let out = stdout(&copied);
    assert_eq!(copied.status.code(), Some(0), "{out}{}", stderr(&copied));
    let row = |table: &str, rows: i64| {
        out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [table, &rows.to_string()])
    };
    assert!(row("events", events) && row("tenants", 2) && row("tenant_numbers", 1), "{out}");
    assert!(out.contains("WhatsApp sessions imported: 0"), "{out}");
    assert!(out.contains("stored files (media, recordings) copied: 0"), "{out}");
    assert_eq!(target.i64(held_jobs), 1, "no duplicate job for the held event");
    assert_eq!(target.i64("SELECT count(*) FROM jobs"), jobs);
    assert_eq!(target.i64("SELECT count(*) FROM events"), events);

    let again = copy(&daemon, &target.url);
    assert_eq!(again.status.code(), Some(1), "{}", stdout(&again));
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    assert!(stderr(&again).contains("tenants"), "names what is there: {}", stderr(&again));

    let on_pg = Daemon::start_with(DaemonOptions {
        data_dir: Some(daemon.data_dir.clone()),
        env: vec![("DATABASE_URL".into(), target.url.clone())],
        ..DaemonOptions::default()
    });
    let pg_cli = |args: &[&str]| json_out(&cli_on(&on_pg.dir, &on_pg.data_dir, Some(&target.url), args));
    assert_eq!(sorted_ids(&pg_cli(&["tenant", "list", "--json"]), "tenants"), tenants_before);
    let mut events_after = sorted_ids(&pg_cli(&["events", "list", "--json"]), "events");
    events_after.retain(|id| id != "evt_held_copy");
    assert_eq!(events_after, events_before);
    let status = http()
        .get(on_pg.url("/api/whatsapp/alpha/status"))
        .bearer_auth(&token)
        .send()
        .expect("status request")
        .status();
    assert_eq!(status.as_u16(), 200, "the rotated token still works");

    // New events follow the copied ones.
    let new_seq = target.i64(
        "INSERT INTO events (id, tenant_id, type, data, created_at_ms, status, next_attempt_at_ms) \
         VALUES ('evt_after_copy', 'beta', 'twilio.sms', '{}', 1, 'pending', 1) RETURNING seq",
    );
    assert!(new_seq > max_seq, "{new_seq} > {max_seq}");

    let late = Receiver::ok();
    let set = cli_on(
        &on_pg.dir,
        &on_pg.data_dir,
        Some(&target.url),
        &["tenant", "set", "beta", "--webhook-url", &late.url()],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(
        eventually(Duration::from_secs(15), || late.distinct_ids().len() >= 3),
        "beta's pending events are delivered from PostgreSQL: {:?}; log: {}",
        late.distinct_ids(),
        on_pg.log_tail()
    );
}

/// Stored files move with the deployment: a recording fetched on SQLite is
/// served from PostgreSQL (same bytes, same `ETag`) with its file gone from
/// the disk; one whose file had been removed by hand answers 410, as before.
#[test]
fn stored_recordings_move_into_postgres_and_are_served_from_there() {
    use crate::content::{error, fetched, get, options, post_recording, twilio_api, ACME_NUMBER};
    use crate::harness::stored::{self, RECORDINGS};

    let Some(target) = TargetDb::create("db_copy_files") else { return };
    let api = twilio_api();
    let mut daemon = Daemon::start_with(options(&api, "", &[]));
    let token = daemon.add_tenant_with("acme", &["--twilio-number", ACME_NUMBER]).token;
    let (kept, lost) = ("RE0000000000000000000000000000c0b1", "RE0000000000000000000000000000c0b2");
    post_recording(&daemon, kept);
    let sha256 = fetched(&daemon, kept)["sha256"].as_str().expect("sha256").to_string();
    post_recording(&daemon, lost);
    fetched(&daemon, lost);
    daemon.terminate(Duration::from_secs(20));
    let bytes = stored::stored_bytes(&daemon, "acme", RECORDINGS, &format!("{kept}.wav")).expect("stored");
    stored::remove_by_hand(&daemon, "acme", RECORDINGS, &format!("{lost}.wav"));

    let copied = copy(&daemon, &target.url);
    let out = stdout(&copied);
    assert_eq!(copied.status.code(), Some(0), "{out}{}", stderr(&copied));
    assert!(out.contains("stored files (media, recordings) copied: 1"), "{out}");
    assert!(out.contains(&format!("acme/recording/{lost}")), "the missing one is named: {out}");
    assert_eq!(target.i64("SELECT count(DISTINCT id) FROM content_chunks"), 1);
    // The data directory's copies are not what PostgreSQL serves.
    std::fs::remove_dir_all(stored::dir(&daemon.data_dir, "acme", RECORDINGS)).expect("remove the files");

    let mut on_pg = options(&api, "", &[("DATABASE_URL", &target.url)]);
    on_pg.data_dir = Some(daemon.data_dir.clone());
    let on_pg = Daemon::start_with(on_pg);
    let response = get(&on_pg.url(&format!("/api/recordings/acme/{kept}")), Some(&token), &[]);
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["etag"], format!("\"{sha256}\"").as_str());
    assert!(response.bytes().expect("body")[..] == bytes[..], "the same bytes");
    let gone = get(&on_pg.url(&format!("/api/recordings/acme/{lost}")), Some(&token), &[]);
    assert_eq!(error(gone), (410, "expired".into()));
}

/// A paired tenant copied from SQLite to PostgreSQL reconnects with its
/// session: no QR, the same phone, and inbound messages keep flowing.
#[cfg(feature = "sim")]
#[test]
fn a_paired_tenant_reconnects_on_postgres_without_pairing() {
    use crate::harness::sim::{daemon, daemon_on, pair, wait_state, Wasim};

    let Some(target) = TargetDb::create("db_copy_paired") else { return };
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let mut on_sqlite = daemon(&wasim);
    on_sqlite.add_tenant_with("acme", &["--webhook-url", &receiver.url()]);
    pair(&on_sqlite, &wasim, "acme", "+15550001111");
    on_sqlite.terminate(Duration::from_secs(20));

    let copied = copy(&on_sqlite, &target.url);
    assert_eq!(copied.status.code(), Some(0), "{}{}", stdout(&copied), stderr(&copied));
    assert!(stdout(&copied).contains("WhatsApp sessions imported: 1"), "{}", stdout(&copied));

    let url = target.url.clone();
    let on_pg = daemon_on(&wasim, Some(on_sqlite.data_dir.clone()), &[("DATABASE_URL", url.as_str())]);
    let connected = wait_state(&on_pg, "acme", "connected");
    assert_eq!(connected["phone"], "+15550001111", "the same account, not a new pairing");
    assert_eq!(target.i64("SELECT count(*) FROM wa_device WHERE tenant = 'acme' AND pn IS NOT NULL"), 1);

    wasim.send("+15557770001", "+15550001111", "hello after the move");
    assert!(
        eventually(Duration::from_secs(20), || {
            receiver.received().iter().any(|r| r.json()["data"]["text"] == "hello after the move")
        }),
        "the inbound text reaches the webhook; log: {}",
        on_pg.log_tail()
    );
}
