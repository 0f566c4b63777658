//! `agentlocator check go` against a healthy daemon, a stopped one and one
//! whose database cannot be written.

use std::time::Duration;

use crate::harness::{command, stderr, stdout, Daemon, DaemonOptions};
use serde_json::Value;

fn check_go(daemon_dir: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Output {
    command(daemon_dir)
        .args(["check", "go", "--url", url, "--timeout", "5"])
        .args(extra)
        .output()
        .expect("run")
}

#[test]
fn passes_four_of_four_against_a_running_daemon() {
    let daemon = Daemon::start();
    let junit = daemon.dir.join("go.xml");
    let output = check_go(&daemon.dir, &daemon.url(""), &["--junit", junit.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for (line, path) in lines.iter().zip(["/healthz", "/version", "/healthz/whatsapp", "/readyz"]) {
        assert!(line.starts_with("PASS") && line.contains(path) && line.contains(" ms"), "{line}");
    }
    assert_eq!(lines[4], "GO: 4/4 checks passed");

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(xml.matches("<testcase").count(), 4, "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");

    let output = check_go(&daemon.dir, &daemon.url(""), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("one JSON document");
    assert_eq!(report["go"], true);
    assert_eq!(report["passed"], 4);
    assert_eq!(report["checks"].as_array().map(Vec::len), Some(4));
    assert!(report["checks"][0]["duration_ms"].is_u64());
}

#[test]
fn defaults_to_the_configured_listen_address() {
    let daemon = Daemon::start();
    let config = daemon.dir.join("client.toml");
    std::fs::write(&config, format!("[http]\nlisten = \"{}\"\n", daemon.addr)).expect("config");
    let output =
        command(&daemon.dir).arg("--config").arg(&config).args(["check", "go"]).output().expect("run");
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
}

#[test]
fn an_unreachable_daemon_exits_4_with_one_line() {
    let mut daemon = Daemon::start();
    let url = daemon.url("");
    assert!(daemon.terminate(Duration::from_secs(10)).success());
    let output = check_go(&daemon.dir, &url, &[]);
    assert_eq!(output.status.code(), Some(4), "{}{}", stdout(&output), stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "one line, no stack trace: {err}");
    assert!(err.contains("cannot reach") && err.contains(&url), "{err}");
    assert!(!err.contains("panicked"));
    assert!(stdout(&output).contains("NO-GO: 0/4"), "{}", stdout(&output));
}

#[test]
fn a_database_that_cannot_be_written_is_no_go_naming_the_database() {
    let daemon = Daemon::start_with(DaemonOptions {
        config_toml: Some("[health]\ncheck_timeout_ms = 500\n".into()),
        ..Default::default()
    });
    let _blocker = crate::harness::store::WriteLock::take(&daemon.data_dir);
    let output = check_go(&daemon.dir, &daemon.url(""), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(report["go"], false);
    assert_eq!(report["passed"], 3);
    let readyz = &report["checks"][3];
    assert_eq!(readyz["passed"], false);
    assert!(readyz["reason"].as_str().unwrap_or("").contains("database"), "{readyz}");

    let output = check_go(&daemon.dir, &daemon.url(""), &[]);
    assert!(stdout(&output).contains("NO-GO: 3/4 checks passed (failed: readyz)"), "{}", stdout(&output));
    assert!(stdout(&output).lines().any(|l| l.starts_with("FAIL") && l.contains("/readyz")));
}

#[test]
fn a_url_that_is_not_a_url_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = check_go(dir.path(), "not a url", &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--url"));
}
