//! What grows with use is bounded: a pull-only tenant's pulled events and
//! send idempotency keys are pruned after their retention, and a send that
//! cannot happen records no key.

use std::time::Duration;

use crate::harness::receiver::{insert, open_db};
use crate::harness::store::Db;
use crate::harness::{add_tenant, eventually, http, Daemon, DaemonOptions};
use serde_json::{json, Value};

const SECRET: &str = "retention-test-secret-0123456789";

fn start(config: &str) -> Daemon {
    Daemon::start_with(DaemonOptions {
        env: vec![("INTERNAL_SECRET".into(), SECRET.into())],
        config_toml: Some(config.into()),
        data_dir: None,
    })
}

/// Each event id of the tenant with its status, as `events list --json` shows them.
fn statuses(daemon: &Daemon, tenant: &str) -> Vec<(String, String)> {
    let listed = daemon.cli_json(&["events", "list", "--tenant", tenant, "--json"]);
    listed["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| (e["id"].as_str().expect("id").into(), e["status"].as_str().expect("status").into()))
        .collect()
}

#[test]
fn pulling_past_a_cursor_acknowledges_events_and_retention_prunes_them() {
    // About 4 s of retention, so pruning runs every 2 s or so.
    let daemon = start("[delivery]\nretention_days = 0.00005\n");
    let token = add_tenant(&daemon, "puller", None);
    let ids = insert(&open_db(&daemon.data_dir), "puller", 3);
    let pull = |query: &str| -> Value {
        let response =
            http().get(daemon.url(&format!("/api/events{query}"))).bearer_auth(&token).send().expect("pull");
        assert_eq!(response.status().as_u16(), 200);
        response.json().expect("json")
    };
    let page1 = pull("?limit=2");
    assert_eq!(page1["events"].as_array().map(Vec::len), Some(2));
    let cursor = page1["next_cursor"].as_str().expect("cursor").to_string();
    // Reading a page acknowledges nothing yet: the puller has not stored it.
    assert!(statuses(&daemon, "puller").iter().all(|(_, s)| s == "pending"));

    let page2 = pull(&format!("?limit=2&after={cursor}"));
    assert_eq!(page2["events"][0]["id"].as_str(), Some(ids[2].as_str()));
    let after_ack = statuses(&daemon, "puller");
    let expected: Vec<(String, String)> = vec![
        (ids[0].clone(), "delivered".into()),
        (ids[1].clone(), "delivered".into()),
        (ids[2].clone(), "pending".into()),
    ];
    assert_eq!(after_ack, expected, "page 1 acknowledged by pulling past it");

    assert!(
        eventually(Duration::from_secs(30), || statuses(&daemon, "puller").len() == 1),
        "acknowledged events pruned after retention: {:?}",
        statuses(&daemon, "puller")
    );
    assert_eq!(statuses(&daemon, "puller"), vec![(ids[2].clone(), "pending".to_string())]);
}

#[test]
fn old_idempotency_keys_are_pruned() {
    let daemon = start("[whatsapp]\nidempotency_retention = \"2s\"\n");
    add_tenant(&daemon, "sender", None);
    let db = open_db(&daemon.data_dir);
    let keys = |db: &Db| -> Vec<String> {
        let rows = db.rows("SELECT idempotency_key FROM wa_sends ORDER BY idempotency_key");
        rows.into_iter().map(|row| row[0].clone().expect("key")).collect()
    };
    let now = agentlocator::clock::now_unix();
    for (key, age) in [("old", 60), ("fresh", -3600)] {
        db.execute(&format!(
            "INSERT INTO wa_sends (tenant_id, idempotency_key, request_sha256, status, message_id, created_at)
             VALUES ('sender', '{key}', 'h', 'sent', 'm', {})",
            now - age
        ));
    }
    assert!(eventually(Duration::from_secs(15), || keys(&db) == ["fresh"]), "{:?}", keys(&db));
}

#[test]
fn a_send_to_an_unconnected_tenant_records_no_idempotency_key() {
    let daemon = start("");
    let token = add_tenant(&daemon, "offline", None);
    let response = http()
        .post(daemon.url("/api/whatsapp/offline/send"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "order-1")
        .json(&json!({"to": "+15557770001", "text": "hello"}))
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 409);
    let body: Value = response.json().expect("json");
    assert_eq!(body["error"]["code"], "not_connected", "{body}");
    let rows = daemon.db_i64("SELECT COUNT(*) FROM wa_sends");
    assert_eq!(rows, 0, "a send that cannot happen leaves no key behind");
}
