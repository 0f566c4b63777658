//! Per-tenant webhook signing, end to end: each tenant's deliveries carry
//! Standard Webhooks signatures made with that tenant's own key, which the
//! official libraries verify, which rotates with a grace period, and which
//! opens nothing: the internal secret never leaves the daemon.

use std::path::Path;
use std::time::Duration;

use crate::harness::official::{verify_with_node, verify_with_python};
use crate::harness::receiver::{
    insert, open_db, signature_matches, signature_valid, signatures, Received, Receiver,
};
use crate::harness::{
    add_tenant_with_secret, cli, eventually, http, json_out, stderr, stdout, Daemon, DaemonOptions,
};
use serde_json::{json, Value};

const SECRET: &str = "signing-test-internal-secret-0123456789";
const CONFIG: &str = "[delivery]\nbackoff_base_s = 0.05\nbackoff_cap_s = 0.2\npoll_interval_ms = 50\n";

fn start(data_dir: Option<&Path>) -> Daemon {
    Daemon::start_with(DaemonOptions {
        env: vec![("INTERNAL_SECRET".into(), SECRET.into())],
        config_toml: Some(CONFIG.into()),
        data_dir: data_dir.map(Path::to_path_buf),
    })
}

/// Adds a tenant delivering to `receiver`; returns (API token, signing secret).
fn add(daemon: &Daemon, id: &str, receiver: &Receiver) -> (String, String) {
    let (token, secret) = add_tenant_with_secret(daemon, id, Some(&receiver.url()));
    assert!(secret.starts_with("whsec_"), "{secret}");
    (token, secret)
}

/// Stores one event for `tenant` and returns the request that delivered it.
fn deliver_one(daemon: &Daemon, tenant: &str, receiver: &Receiver) -> Received {
    let id = insert(&open_db(&daemon.data_dir), tenant, 1).remove(0);
    assert!(
        eventually(Duration::from_secs(10), || receiver.ids().contains(&id)),
        "event {id} of {tenant} not delivered"
    );
    receiver.received().into_iter().find(|r| r.event_id == id).expect("received")
}

/// The internal secret as a Standard Webhooks key: what a backend held
/// before tenants had keys of their own.
fn internal_secret_as_key() -> String {
    use base64::Engine;
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(SECRET))
}

/// Every tenant API route, for tenant `t`: (method, path, JSON body).
fn api_routes(t: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", format!("/api/whatsapp/{t}/status"), None),
        ("GET", format!("/api/whatsapp/{t}/qr?format=json"), None),
        ("POST", format!("/api/whatsapp/{t}/pair-code"), Some(json!({"phone": "+15550001111"}))),
        ("POST", format!("/api/whatsapp/{t}/send"), Some(json!({"to": "+15550001111", "text": "forged"}))),
        ("POST", format!("/api/whatsapp/{t}/logout"), None),
        ("POST", format!("/api/whatsapp/{t}/restart"), None),
        ("GET", format!("/api/events?tenant={t}"), None),
        ("GET", "/api/events".to_string(), None),
    ]
}

fn call(daemon: &Daemon, method: &str, path: &str, body: &Option<Value>, bearer: &str) -> u16 {
    let client = http();
    let request = match method {
        "GET" => client.get(daemon.url(path)),
        _ => client.post(daemon.url(path)).json(body.as_ref().unwrap_or(&json!({}))),
    };
    request.bearer_auth(bearer).send().expect("request").status().as_u16()
}

#[test]
fn a_tenants_signing_secret_opens_no_route_and_verifies_only_its_own_deliveries() {
    let daemon = start(None);
    let (receiver_a, receiver_b) = (Receiver::ok(), Receiver::ok());
    let (token_a, secret_a) = add(&daemon, "alpha", &receiver_a);
    let (_, secret_b) = add(&daemon, "bravo", &receiver_b);
    assert_ne!(secret_a, secret_b, "one secret per tenant");

    // A's backend holds secret_a; as a bearer credential it reaches nothing,
    // neither A's routes nor B's, in any form it could be presented.
    let base64_part = secret_a.trim_start_matches("whsec_").to_string();
    for (method, path, body) in api_routes("alpha").into_iter().chain(api_routes("bravo")) {
        for credential in [&secret_a, &base64_part] {
            let status = call(&daemon, method, &path, &body, credential);
            assert!(matches!(status, 401 | 404), "{method} {path} with A's signing secret answered {status}");
        }
    }
    // The routes are there: A's own token reaches A's status.
    assert_eq!(call(&daemon, "GET", "/api/whatsapp/alpha/status", &None, &token_a), 200);

    let from_a = deliver_one(&daemon, "alpha", &receiver_a);
    let from_b = deliver_one(&daemon, "bravo", &receiver_b);
    assert!(signature_valid(&secret_a, &from_a), "A's deliveries verify with A's secret");
    assert!(signature_valid(&secret_b, &from_b), "B's deliveries verify with B's secret");
    assert!(!signature_valid(&secret_a, &from_b), "B's deliveries must not verify with A's secret");
    assert!(!signature_valid(&secret_b, &from_a), "A's deliveries must not verify with B's secret");

    // The internal secret signs nothing and is sent nowhere.
    for got in [&from_a, &from_b] {
        assert!(!signature_valid(&internal_secret_as_key(), got), "signed with the internal secret");
        for (name, value) in &got.headers {
            assert!(!value.contains(SECRET), "header {name} carries the internal secret");
            assert!(!name.starts_with("x-agentlocator-"), "old signature header {name} still sent");
        }
        assert!(!String::from_utf8_lossy(&got.body).contains(SECRET), "the body carries the internal secret");
        assert_eq!(signatures(got).len(), 1, "one key, one signature: {}", got.signature);
    }
}

#[test]
fn deliveries_verify_with_the_official_standardwebhooks_libraries() {
    let daemon = start(None);
    let (receiver, other) = (Receiver::ok(), Receiver::ok());
    let (_, secret) = add(&daemon, "acme", &receiver);
    let (_, other_secret) = add(&daemon, "other", &other);
    let got = deliver_one(&daemon, "acme", &receiver);
    assert_eq!(got.json()["id"], got.event_id.as_str(), "webhook-id is the event id");

    verify_with_python(&secret, &got).unwrap_or_else(|e| panic!("Python standardwebhooks refused: {e}"));
    assert!(verify_with_python(&other_secret, &got).is_err(), "another tenant's secret verified");
    let mut tampered = got.clone();
    tampered.body.insert(1, b' ');
    assert!(verify_with_python(&secret, &tampered).is_err(), "a changed body verified");

    match verify_with_node(&secret, &got) {
        None => println!("node is not installed: skipped the check with the npm package standardwebhooks"),
        Some(result) => {
            result.unwrap_or_else(|e| panic!("npm standardwebhooks refused: {e}"));
            let refused = verify_with_node(&other_secret, &got).expect("node");
            assert!(refused.is_err(), "npm standardwebhooks accepted another tenant's secret");
        }
    }
}

#[test]
fn rotation_signs_with_both_keys_during_the_grace_then_with_the_new_one_only() {
    let daemon = start(None);
    let receiver = Receiver::ok();
    let (_, first) = add(&daemon, "acme", &receiver);

    let refused = daemon.cli(&["tenant", "signing-secret", "acme"]);
    assert_eq!(refused.status.code(), Some(2), "without --rotate: a usage error");
    assert!(stderr(&refused).contains("--rotate") && stderr(&refused).contains("shown only once"));
    assert!(!stdout(&refused).contains("whsec_") && !stderr(&refused).contains("whsec_"));

    let rotated =
        daemon.cli_json(&["tenant", "signing-secret", "acme", "--rotate", "--grace", "1h", "--json"]);
    assert_eq!(rotated["tenant"], "acme");
    let second = rotated["signing_secret"].as_str().expect("new secret").to_string();
    assert!(second.starts_with("whsec_") && second != first);
    let until = rotated["previous_valid_until"].as_str().expect("grace end");
    let until = chrono::DateTime::parse_from_rfc3339(until).expect("RFC 3339").timestamp();
    assert!((until - chrono::Utc::now().timestamp() - 3600).abs() < 60, "about an hour from now");

    let shown = daemon.cli_json(&["tenant", "show", "acme", "--json"]);
    assert_eq!(shown["tenant"]["signing_secret_set"], true);
    assert_eq!(shown["tenant"]["previous_signing_secret_valid_until"], rotated["previous_valid_until"]);
    let text = stdout(&daemon.cli(&["tenant", "show", "acme"]));
    assert!(text.contains("set (redacted)") && text.contains("still signs until"), "{text}");
    assert!(!text.contains(&second[6..]) && !text.contains(&first[6..]), "show redacts: {text}");

    let during = deliver_one(&daemon, "acme", &receiver);
    let both = signatures(&during);
    assert_eq!(both.len(), 2, "two signatures during the grace: {}", during.signature);
    assert!(signature_matches(&second, &during, &both[0]) && !signature_matches(&first, &during, &both[0]));
    assert!(signature_matches(&first, &during, &both[1]) && !signature_matches(&second, &during, &both[1]));
    verify_with_python(&second, &during).unwrap_or_else(|e| panic!("new secret refused: {e}"));
    verify_with_python(&first, &during).unwrap_or_else(|e| panic!("old secret refused in its grace: {e}"));

    let out = daemon.cli(&["tenant", "signing-secret", "acme", "--rotate", "--grace", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("no longer signs"), "{text}");
    let third =
        text.lines().find(|l| l.starts_with("whsec_")).expect("the new secret, printed once").to_string();
    assert_eq!(
        daemon.cli_json(&["tenant", "show", "acme", "--json"])["tenant"]
            ["previous_signing_secret_valid_until"],
        Value::Null
    );

    let after = deliver_one(&daemon, "acme", &receiver);
    assert_eq!(signatures(&after).len(), 1, "no grace: one signature: {}", after.signature);
    assert!(signature_valid(&third, &after));
    assert!(!signature_valid(&second, &after) && !signature_valid(&first, &after), "old secrets stopped");
    assert!(verify_with_python(&second, &after).is_err(), "the replaced secret still verifies");

    let too_long = daemon.cli(&["tenant", "signing-secret", "acme", "--rotate", "--grace", "31d"]);
    assert_eq!(too_long.status.code(), Some(1), "{}", stderr(&too_long));
    assert!(stderr(&too_long).contains("at most 30 days"), "{}", stderr(&too_long));
    let bad = daemon.cli(&["tenant", "signing-secret", "acme", "--rotate", "--grace", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let missing = daemon.cli(&["tenant", "signing-secret", "ghost", "--rotate"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("does not exist"), "{}", stderr(&missing));
}

/// Puts the database back to schema 4, as a deployment from before per-tenant
/// signing keys had it: the columns of step 5 gone, its tenants keyless.
/// Undoes migration steps 5 and later (a database as the build before
/// per-tenant keys left it).
fn back_to_schema_4(data_dir: &Path) {
    open_db(data_dir).execute(
        "ALTER TABLE tenants DROP COLUMN signing_key;
         ALTER TABLE tenants DROP COLUMN signing_key_previous;
         ALTER TABLE tenants DROP COLUMN signing_key_previous_until;
         ALTER TABLE tenants DROP COLUMN twilio_account_sid;
         DROP TABLE content;
         PRAGMA user_version = 4;",
    );
}

#[test]
fn a_tenant_from_before_per_tenant_keys_gets_a_working_secret_by_rotation() {
    if crate::harness::store::on_postgres() {
        println!(
            "skipped on PostgreSQL: SQLite deployments from before per-tenant keys are what it migrates"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let receiver = Receiver::ok();
    let run = |args: &[&str]| cli(dir.path(), &data, args);
    let added = run(&["tenant", "add", "veteran", "--webhook-url", &receiver.url()]);
    let text = stdout(&added);
    assert!(text.contains("Webhook signing secret (shown once") && text.contains("whsec_"), "{text}");
    back_to_schema_4(&data);

    // The migration (run by this first command) gave the tenant a key nobody
    // knows; the operator rotates it, without a daemon, and hands it over.
    let shown = json_out(&run(&["tenant", "show", "veteran", "--json"]));
    assert_eq!(shown["tenant"]["signing_secret_set"], true, "{shown}");
    let rotated = json_out(&run(&["tenant", "signing-secret", "veteran", "--rotate", "--json"]));
    let secret = rotated["signing_secret"].as_str().expect("secret").to_string();

    let daemon = start(Some(&data));
    let got = deliver_one(&daemon, "veteran", &receiver);
    assert!(signature_valid(&secret, &got), "the rotated secret verifies");
    verify_with_python(&secret, &got).unwrap_or_else(|e| panic!("Python standardwebhooks refused: {e}"));
}
