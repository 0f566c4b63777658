//! Tenant commands with and without a daemon, the tenant id rule at every
//! entry point, and API tokens (hashed, rotated, scoped to their tenant).

use crate::harness;

use std::path::Path;
use std::time::Duration;

use crate::harness::{cli, http, json_out, stderr, stdout, Daemon};
use serde_json::Value;

/// Runs the whole tenant lifecycle through `run` and checks every answer.
fn lifecycle(run: &dyn Fn(&[&str]) -> std::process::Output, data_dir: &Path) {
    let added = json_out(&run(&[
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme Inc",
        "--webhook-url",
        "http://127.0.0.1:9/hook",
        "--twilio-number",
        "+14155550100",
        "--twilio-auth-token",
        "tw-secret-token",
        "--json",
    ]));
    let token = added["token"].as_str().expect("token shown once").to_string();
    assert!(token.starts_with("alt_"));
    let signing_secret = added["signing_secret"].as_str().expect("signing secret shown once").to_string();
    assert!(signing_secret.starts_with("whsec_"), "{signing_secret}");
    assert_eq!(added["tenant"]["twilio_numbers"][0], "+14155550100");
    assert_eq!(added["tenant"]["whatsapp"]["state"], "unpaired");

    // Only a hash is stored: the token itself appears nowhere in the database.
    assert!(!harness::store::holds(data_dir, &token), "token stored in clear");

    let listed = json_out(&run(&["tenant", "list", "--json"]));
    assert_eq!(listed["tenants"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["tenants"][0]["id"], "acme");

    let text = run(&["tenant", "list"]);
    assert!(stdout(&text).contains("acme") && stdout(&text).contains("Acme Inc"), "{}", stdout(&text));

    let shown = json_out(&run(&["tenant", "show", "acme", "--json"]));
    assert_eq!(shown["tenant"]["twilio_auth_token_set"], true);
    assert_eq!(shown["tenant"]["signing_secret_set"], true);
    assert_eq!(shown["tenant"]["previous_signing_secret_valid_until"], Value::Null);
    for format in
        [&["tenant", "show", "acme", "--json"][..], &["tenant", "show", "acme"], &["tenant", "list"]]
    {
        assert!(!stdout(&run(format)).contains(&signing_secret[6..]), "{format:?} shows the signing secret");
    }
    assert!(!stdout(&run(&["tenant", "show", "acme", "--json"])).contains("tw-secret-token"), "redacted");
    assert!(!stdout(&run(&["tenant", "show", "acme"])).contains("tw-secret-token"), "redacted");
    assert_eq!(shown["recent_state_changes"][0]["state"], "unpaired");

    let set = json_out(&run(&["tenant", "set", "acme", "--name", "Acme 2", "--webhook-url", "", "--json"]));
    assert_eq!(set["tenant"]["name"], "Acme 2");
    assert_eq!(set["tenant"]["webhook_url"], Value::Null, "an empty value clears it");

    let duplicate = run(&["tenant", "add", "acme"]);
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(stderr(&duplicate).contains("already exists"), "{}", stderr(&duplicate));

    let taken = run(&["tenant", "add", "other", "--twilio-number", "+14155550100"]);
    assert_eq!(taken.status.code(), Some(1));
    assert!(stderr(&taken).contains("already belongs to tenant `acme`"), "{}", stderr(&taken));
    assert_eq!(json_out(&run(&["tenant", "list", "--json"]))["tenants"].as_array().map(Vec::len), Some(1));

    let bad_number = run(&["tenant", "set", "acme", "--twilio-number", "555-1234"]);
    assert_eq!(bad_number.status.code(), Some(1));
    assert!(stderr(&bad_number).contains("E.164"), "{}", stderr(&bad_number));

    let rotated = json_out(&run(&["tenant", "token", "acme", "--rotate", "--json"]));
    assert_ne!(rotated["token"].as_str(), Some(token.as_str()));
    let rotated =
        json_out(&run(&["tenant", "signing-secret", "acme", "--rotate", "--grace", "90m", "--json"]));
    assert!(rotated["signing_secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_") && s != signing_secret));
    let until = json_out(&run(&["tenant", "show", "acme", "--json"]))["tenant"]
        ["previous_signing_secret_valid_until"]
        .clone();
    assert_eq!(until, rotated["previous_valid_until"], "show tells how long the old secret signs");

    let missing = run(&["tenant", "show", "ghost"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("does not exist"));

    std::fs::create_dir_all(data_dir.join("tenants/acme/recordings")).expect("tenant data");
    let no_confirmation = run(&["tenant", "remove", "acme"]);
    assert_eq!(no_confirmation.status.code(), Some(2), "remove needs --yes");
    let removed = json_out(&run(&["tenant", "remove", "acme", "--yes", "--json"]));
    assert_eq!(removed["removed"], true);
    assert!(!data_dir.join("tenants/acme").exists(), "its data is deleted");
    assert_eq!(json_out(&run(&["tenant", "list", "--json"]))["tenants"], serde_json::json!([]));
}

#[test]
fn tenant_lifecycle_without_a_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    lifecycle(&|args| cli(dir.path(), &data, args), &data);
}

#[test]
fn tenant_lifecycle_through_a_running_daemon() {
    let daemon = Daemon::start();
    lifecycle(&|args| daemon.cli(args), &daemon.data_dir);
    assert!(daemon.log().contains("admin tenant request"), "the daemon performed them");
}

#[test]
fn changes_made_without_the_daemon_are_seen_by_it_and_vice_versa() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let offline = json_out(&cli(dir.path(), &data, &["tenant", "add", "early", "--json"]));
    let mut daemon =
        Daemon::start_with(harness::DaemonOptions { data_dir: Some(data.clone()), ..Default::default() });
    let token = offline["token"].as_str().expect("token");
    let status =
        http().get(daemon.url("/api/whatsapp/early/status")).bearer_auth(token).send().expect("status");
    assert_eq!(status.status().as_u16(), 200);
    daemon.cli_json(&["tenant", "add", "late", "--json"]);
    assert!(daemon.terminate(Duration::from_secs(10)).success());
    let listed = json_out(&cli(dir.path(), &data, &["tenant", "list", "--json"]));
    let ids: Vec<&str> =
        listed["tenants"].as_array().expect("array").iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["early", "late"]);
}

#[test]
fn every_malformed_tenant_id_is_refused_before_touching_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let long = "a".repeat(64);
    for bad in ["..", "a/b", "%2e%2e", "UPPER", "é", "", long.as_str(), "../../etc", "_lead"] {
        for args in [
            vec!["tenant", "add", bad],
            vec!["tenant", "show", bad],
            vec!["tenant", "set", bad, "--name", "x"],
            vec!["tenant", "token", bad, "--rotate"],
            vec!["tenant", "remove", bad, "--yes"],
        ] {
            let output = cli(dir.path(), &data, &args);
            assert_eq!(output.status.code(), Some(2), "{args:?}");
            let message = stderr(&output);
            assert!(message.contains("invalid tenant id"), "{args:?}: {message}");
            assert!(message.contains("lowercase letters"), "the rule is explained: {message}");
        }
        assert!(!data.exists(), "nothing created on disk for {bad:?}");
    }
}

#[test]
fn api_tokens_reach_only_their_tenant_and_rotation_revokes_at_once() {
    let daemon = Daemon::start_with(harness::DaemonOptions {
        env: vec![("INTERNAL_SECRET".into(), "internal-secret-for-tests-0123456789".into())],
        ..Default::default()
    });
    let a = daemon.cli_json(&["tenant", "add", "alpha", "--json"]);
    let b = daemon.cli_json(&["tenant", "add", "bravo", "--json"]);
    let (token_a, token_b) = (a["token"].as_str().expect("a"), b["token"].as_str().expect("b"));
    let status = |tenant: &str, token: &str| {
        let response = http()
            .get(daemon.url(&format!("/api/whatsapp/{tenant}/status")))
            .bearer_auth(token)
            .send()
            .expect("request");
        let code = response.status().as_u16();
        (code, response.json::<Value>().expect("JSON body"))
    };
    let (code, body) = status("alpha", token_a);
    assert_eq!(code, 200);
    assert_eq!(body["tenant"], "alpha");
    assert_eq!(body["state"], "unpaired");
    for key in ["phone", "since", "reconnects", "last_error"] {
        assert!(body.get(key).is_some(), "{key} in {body}");
    }

    // Another tenant, existing or not: the same 404, no hint.
    let (code, other) = status("bravo", token_a);
    assert_eq!(code, 404);
    let (code, ghost) = status("ghost", token_a);
    assert_eq!(code, 404);
    assert_eq!(other["error"]["code"], ghost["error"]["code"]);
    assert_eq!(status("alpha", "alt_not-a-token").0, 401);
    let unauthenticated = http().get(daemon.url("/api/whatsapp/alpha/status")).send().expect("request");
    assert_eq!(unauthenticated.status().as_u16(), 401);
    assert_eq!(
        status("bravo", "internal-secret-for-tests-0123456789").0,
        200,
        "the internal secret reaches all"
    );

    // Malformed ids in URLs are refused before any lookup.
    let bearer = format!("Bearer {token_a}");
    for bad in ["UPPER", "%2e%2e", "..", "a%2fb", "%C3%A9", "%00"] {
        let path = format!("/api/whatsapp/{bad}/status");
        let (code, body) = harness::raw_get(daemon.addr, &path, &[("Authorization", &bearer)]);
        assert_eq!(code, 400, "{path}: {body}");
        assert!(body.contains("invalid_tenant_id"), "{path}: {body}");
    }

    let rotated = daemon.cli_json(&["tenant", "token", "alpha", "--rotate", "--json"]);
    assert_eq!(status("alpha", token_a).0, 401, "the old token stops working at once");
    assert_eq!(status("alpha", rotated["token"].as_str().expect("new")).0, 200);
    assert_eq!(status("bravo", token_b).0, 200, "other tenants are untouched");
}
