//! The operator's view of a cluster: `cluster status` lists the nodes
//! sharing a PostgreSQL database, and `sessions` names the node holding each
//! tenant's lease, answered from the database and through a running daemon.
//! The node and lease rows are written here by SQL, as the nodes' lease loops
//! would, so what is shown is known exactly. The PostgreSQL tests each get a
//! fresh database on `AGENTLOCATOR_TEST_DATABASE_URL` (see `db::TargetDb`).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::db::{cli_on, TargetDb};
use crate::harness::store::connect_server;
use crate::harness::{command, eventually, json_out, stderr, stdout, Daemon, DaemonOptions};

/// Two nodes, `node-a` alive and `node-b` silent for an hour; `node-a` holds
/// live leases of alpha and beta, `node-b` an expired one of gamma.
const TWO_NODES: &str = "
    INSERT INTO cluster_nodes (id, address, version, started_at, last_heartbeat) VALUES
        ('node-a', 'http://10.0.0.11:5000', '9.9.9', now(), now()),
        ('node-b', 'http://10.0.0.12:5000', '9.9.9', now() - interval '2 hours', now() - interval '1 hour');
    INSERT INTO tenant_leases (tenant_id, owner, token, expires_at) VALUES
        ('alpha', 'node-a', nextval('lease_tokens'), now() + interval '1 hour'),
        ('beta', 'node-a', nextval('lease_tokens'), now() + interval '1 hour'),
        ('gamma', 'node-b', nextval('lease_tokens'), now() - interval '1 minute');";

fn add_tenants(dir: &Path, data: &Path, url: Option<&str>, ids: &[&str]) {
    for id in ids {
        json_out(&cli_on(dir, data, url, &["tenant", "add", id, "--json"]));
    }
}

/// `"node"` of each tenant's row in `sessions --json`, by tenant (the key
/// must be there, `null` or not).
fn nodes_of(sessions: &Value) -> Vec<(String, Value)> {
    let mut nodes: Vec<(String, Value)> = sessions
        .as_array()
        .unwrap_or_else(|| panic!("sessions: {sessions}"))
        .iter()
        .map(|row| {
            let node = row.get("node").unwrap_or_else(|| panic!("no \"node\" in {row}"));
            (row["tenant"].as_str().expect("tenant").to_string(), node.clone())
        })
        .collect();
    nodes.sort_by(|a, b| a.0.cmp(&b.0));
    nodes
}

fn pairs(expected: &[(&str, Value)]) -> Vec<(String, Value)> {
    expected.iter().map(|(t, n)| (t.to_string(), n.clone())).collect()
}

#[test]
fn cluster_status_lists_the_nodes_with_their_tenants_and_liveness() {
    let Some(db) = TargetDb::create("cluster_status") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, data) = (tmp.path(), tmp.path().join("data"));
    let url = Some(db.url.as_str());
    add_tenants(dir, &data, url, &["alpha", "beta", "gamma"]);
    connect_server(&db.url).batch_execute(TWO_NODES).expect("insert nodes and leases");

    let status = json_out(&cli_on(dir, &data, url, &["cluster", "status", "--json"]));
    let nodes = status["nodes"].as_array().unwrap_or_else(|| panic!("nodes: {status}"));
    assert_eq!(nodes.len(), 2, "{status}");
    let (a, b) = (&nodes[0], &nodes[1]);
    assert_eq!(
        (&a["id"], &a["address"], &a["version"]),
        (&"node-a".into(), &"http://10.0.0.11:5000".into(), &"9.9.9".into())
    );
    assert_eq!((&a["tenants"], &a["alive"]), (&2.into(), &true.into()), "{status}");
    assert_eq!(
        (&b["id"], &b["tenants"], &b["alive"]),
        (&"node-b".into(), &0.into(), &false.into()),
        "{status}"
    );
    for node in nodes {
        let beat = node["last_heartbeat"].as_str().unwrap_or_else(|| panic!("last_heartbeat: {node}"));
        assert!(
            beat.len() == 24 && beat.ends_with('Z') && beat.as_bytes()[10] == b'T',
            "RFC 3339 UTC: {beat}"
        );
    }

    let table = cli_on(dir, &data, url, &["cluster", "status"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("LAST HEARTBEAT") && lines[0].ends_with("ALIVE"),
        "{text}"
    );
    assert!(lines[1].starts_with("node-a") && lines[1].ends_with("yes"), "{text}");
    assert!(lines[2].starts_with("node-b") && lines[2].ends_with("no"), "{text}");
}

#[test]
fn sessions_from_the_database_name_the_node_holding_each_lease() {
    let Some(db) = TargetDb::create("cluster_sessions") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, data) = (tmp.path(), tmp.path().join("data"));
    let url = Some(db.url.as_str());
    add_tenants(dir, &data, url, &["alpha", "beta", "gamma"]);
    connect_server(&db.url).batch_execute(TWO_NODES).expect("insert nodes and leases");

    let sessions = json_out(&cli_on(dir, &data, url, &["sessions", "--json"]));
    assert_eq!(
        nodes_of(&sessions),
        pairs(&[("alpha", "node-a".into()), ("beta", "node-a".into()), ("gamma", Value::Null)]),
        "an expired lease names no node"
    );
    let table = cli_on(dir, &data, url, &["sessions"]);
    let text = stdout(&table);
    assert!(text.lines().next().is_some_and(|h| h.ends_with("NODE")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("alpha") && l.ends_with("node-a")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("gamma") && l.ends_with('-')), "{text}");
}

#[test]
fn sessions_through_a_running_daemon_name_the_node_holding_each_lease() {
    let Some(db) = TargetDb::create("cluster_daemon_sessions") else { return };
    let daemon = Daemon::start_with(DaemonOptions {
        env: vec![("DATABASE_URL".into(), db.url.clone())],
        ..DaemonOptions::default()
    });
    let url = Some(db.url.as_str());
    add_tenants(&daemon.dir, &daemon.data_dir, url, &["alpha", "beta"]);
    // An upsert: once this daemon runs a lease loop it may hold alpha's lease
    // already; a newer token held by another node replaces it.
    connect_server(&db.url)
        .batch_execute(
            "INSERT INTO cluster_nodes (id, address, version, started_at, last_heartbeat)
                 VALUES ('node-x', 'http://10.0.0.13:5000', '9.9.9', now(), now());
             INSERT INTO tenant_leases (tenant_id, owner, token, expires_at)
                 VALUES ('alpha', 'node-x', nextval('lease_tokens'), now() + interval '1 hour')
             ON CONFLICT (tenant_id) DO UPDATE SET owner = excluded.owner, token = excluded.token,
                 expires_at = excluded.expires_at",
        )
        .expect("insert node and lease");

    // The daemon takes beta (nobody holds it) at its next lease round.
    let sessions_now = || json_out(&cli_on(&daemon.dir, &daemon.data_dir, url, &["sessions", "--json"]));
    let beta_held = || nodes_of(&sessions_now()).get(1).is_some_and(|(_, node)| !node.is_null());
    assert!(eventually(Duration::from_secs(15), beta_held), "beta never held: {}", sessions_now());
    let sessions = sessions_now();
    let rows = sessions.as_array().unwrap_or_else(|| panic!("sessions: {sessions}"));
    // Only the daemon knows its workers: beta's is here, alpha's on node-x.
    assert!(rows.iter().any(|r| r.get("worker").is_some()), "answered by the daemon: {sessions}");
    let nodes = nodes_of(&sessions);
    assert_eq!(nodes[0], ("alpha".to_string(), "node-x".into()), "{sessions}");
    assert_eq!(nodes[1].0, "beta");
}

#[test]
fn cluster_status_on_sqlite_exits_1_naming_the_postgresql_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for args in [&["cluster", "status"][..], &["cluster", "status", "--json"]] {
        // Whatever store the suite runs on: no DATABASE_URL is SQLite.
        let output = command(tmp.path()).env_remove("DATABASE_URL").args(args).output().expect("run");
        assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
        assert!(
            stderr(&output).contains("several nodes need the PostgreSQL store (store.url)"),
            "{}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "");
    }
}

#[test]
fn sessions_on_sqlite_have_a_null_node_and_no_node_column() {
    if crate::harness::store::on_postgres() {
        return; // the tests above cover PostgreSQL
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, data) = (tmp.path(), tmp.path().join("data"));
    add_tenants(dir, &data, None, &["alpha"]);
    let from_db = json_out(&cli_on(dir, &data, None, &["sessions", "--json"]));
    assert_eq!(nodes_of(&from_db), pairs(&[("alpha", Value::Null)]));
    assert!(!stdout(&cli_on(dir, &data, None, &["sessions"])).contains("NODE"));

    let daemon =
        Daemon::start_with(DaemonOptions { data_dir: Some(data.clone()), ..DaemonOptions::default() });
    let live = daemon.cli_json(&["sessions", "--json"]);
    assert!(live[0].get("worker").is_some(), "answered by the daemon: {live}");
    assert_eq!(nodes_of(&live), pairs(&[("alpha", Value::Null)]));
}
