//! The daemon's health routes, readiness semantics, shutdown and systemd
//! integration, driven through the built binary.

use crate::harness;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::harness::in_process::App;
use crate::harness::store::WriteLock;
use crate::harness::{admin_request, eventually, http, mode, Daemon, DaemonOptions};
use serde_json::{json, Value};

fn get(daemon: &Daemon, path: &str) -> (u16, String, String) {
    request(daemon, path, None)
}

/// GET with `Authorization: Bearer <token>`.
fn get_as(daemon: &Daemon, path: &str, token: &str) -> (u16, String, String) {
    request(daemon, path, Some(token))
}

fn request(daemon: &Daemon, path: &str, bearer: Option<&str>) -> (u16, String, String) {
    let mut request = http().get(daemon.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, content_type, response.text().expect("body"))
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn every_health_route_answers_as_specified() {
    let daemon = Daemon::start();
    for path in ["/healthz", "/livez", "/healthz/whatsapp"] {
        let (status, content_type, body) = get(&daemon, path);
        assert_eq!((status, body.as_str()), (200, "ok"), "{path}");
        assert!(content_type.starts_with("text/plain"), "{path}: {content_type}");
    }

    let secret = std::fs::read_to_string(daemon.data_dir.join("internal_secret")).expect("secret");
    let (status, _, body) = get_as(&daemon, "/healthz/whatsapp?verbose", secret.trim());
    assert_eq!(status, 200);
    let verbose = json_of(&body);
    assert_eq!(verbose["status"], "ok");
    assert_eq!(verbose["tenants"], json!([]));

    let (status, content_type, body) = get(&daemon, "/readyz");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    // On PostgreSQL the daemon is a (one-node) cluster: its lease loop is checked too.
    let mut checks = json!({"database": "ok", "supervisor": "ok"});
    if crate::harness::store::on_postgres() {
        checks["leases"] = json!("ok");
    }
    assert_eq!(json_of(&body), json!({"status": "ready", "checks": checks}));

    let (status, _, body) = get(&daemon, "/readyz?verbose");
    assert_eq!(status, 200);
    let verbose = json_of(&body);
    assert_eq!(verbose["checks"]["database"]["status"], "ok");
    assert!(verbose["checks"]["database"]["duration_ms"].is_u64());
    assert_eq!(verbose["checks"]["supervisor"]["detail"], "running");

    let (status, _, body) = get(&daemon, "/readyz?exclude=database");
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["checks"]["database"], Value::Null, "excluded");
    assert_eq!(json_of(&body)["checks"]["supervisor"], "ok");
    let (status, _, body) = get(&daemon, "/readyz?exclude=nonsense");
    assert_eq!(status, 400);
    assert!(body.contains("database, supervisor"), "{body}");

    let (status, _, body) = get(&daemon, "/version");
    assert_eq!(status, 200);
    let version = json_of(&body);
    assert_eq!(version["status"], "ok");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert!(version["build"].is_u64() && version["uptime_s"].is_u64() && version["features"].is_array());
    assert!(version["commit"].is_string());

    let (status, content_type, body) = get(&daemon, "/metrics");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"));
    assert!(body.contains("agentlocator_http_requests_total{route=\"/readyz\""), "{body}");

    let (status, _, body) = get(&daemon, "/no/such/route");
    assert_eq!(status, 404);
    assert_eq!(json_of(&body)["error"]["code"], "not_found");
    let response = http().post(daemon.url("/healthz")).send().expect("post");
    assert_eq!(response.status().as_u16(), 405);

    let response = http().get(daemon.url("/healthz")).send().expect("get");
    assert!(response.headers().contains_key("x-request-id"), "request ids are echoed");
    let response =
        http().get(daemon.url("/healthz")).header("x-request-id", "trace-me-42").send().expect("get");
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

#[test]
fn data_directory_and_secrets_are_private() {
    let daemon = Daemon::start();
    let data = &daemon.data_dir;
    assert_eq!(mode(data), 0o700);
    assert_eq!(mode(&data.join("internal_secret")), 0o600);
    // (On PostgreSQL there is no database file in the data dir.)
    if !harness::store::on_postgres() {
        assert_eq!(mode(&data.join("agentlocator.db")), 0o600);
    }
    assert_eq!(mode(&data.join("agentlocator.sock")), 0o600);
    let secret = std::fs::read_to_string(data.join("internal_secret")).expect("secret");
    assert_eq!(secret.trim().len(), 64, "32 random bytes, hex");
    assert!(!daemon.log().contains(secret.trim()), "the secret never reaches the log");
    assert!(daemon.log().contains("generated"), "the log says a secret was generated");
}

/// In-process: the limit is the router's, no daemon needed.
#[tokio::test]
async fn body_size_limit_answers_413() {
    let app = App::new(&[("AGENTLOCATOR_HTTP__BODY_LIMIT_BYTES", "1024")]).await;
    let request = axum::http::Request::post("/healthz")
        .header("content-length", "4096")
        .body(axum::body::Body::from(vec![b'x'; 4096]))
        .expect("request");
    assert_eq!(app.send(request).await.status, 413);
}

#[test]
fn a_stopped_supervisor_turns_whatsapp_health_and_readiness_503() {
    let daemon = Daemon::start_with(DaemonOptions {
        env: vec![("AGENTLOCATOR_FAULT_INJECTION".into(), "1".into())],
        ..Default::default()
    });
    let reply =
        admin_request(&daemon.data_dir, json!({"kind": "fault", "target": "supervisor", "action": "stop"}));
    assert!(reply.get("ok").is_some(), "{reply}");
    assert!(eventually(Duration::from_secs(5), || get(&daemon, "/healthz/whatsapp").0 == 503));
    let (status, _, body) = get(&daemon, "/healthz/whatsapp");
    assert_eq!(status, 503);
    assert!(body.contains("not running"), "{body}");
    let (status, _, body) = get(&daemon, "/readyz");
    assert_eq!(status, 503);
    let ready = json_of(&body);
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["database"], "ok");
    assert!(ready["checks"]["supervisor"].as_str().unwrap_or("").starts_with("failed"), "{body}");
    assert_eq!(ready["failed"], json!(["supervisor"]));
    // Excluding the failed check is the operator's way to see the rest pass.
    assert_eq!(get(&daemon, "/readyz?exclude=supervisor").0, 200);
    // The process itself still serves.
    assert_eq!(get(&daemon, "/healthz").0, 200);
}

#[test]
fn a_wedged_supervisor_turns_livez_503() {
    let daemon = Daemon::start_with(DaemonOptions {
        env: vec![("AGENTLOCATOR_FAULT_INJECTION".into(), "1".into())],
        config_toml: Some("[health]\nwedged_after_ms = 600\n".into()),
        ..Default::default()
    });
    assert_eq!(get(&daemon, "/livez").0, 200);
    let reply =
        admin_request(&daemon.data_dir, json!({"kind": "fault", "target": "supervisor", "action": "wedge"}));
    assert!(reply.get("ok").is_some(), "{reply}");
    assert!(eventually(Duration::from_secs(5), || get(&daemon, "/livez").0 == 503), "livez must notice");
    let (_, _, body) = get(&daemon, "/livez");
    assert!(body.contains("supervisor wedged"), "{body}");
    assert_eq!(get(&daemon, "/healthz/whatsapp").0, 503);
    assert_eq!(get(&daemon, "/readyz").0, 503);
}

#[test]
fn fault_injection_is_refused_unless_enabled() {
    let daemon = Daemon::start();
    let reply =
        admin_request(&daemon.data_dir, json!({"kind": "fault", "target": "supervisor", "action": "stop"}));
    assert_eq!(reply["error"]["code"], "forbidden", "{reply}");
    assert_eq!(get(&daemon, "/healthz/whatsapp").0, 200);
}

#[test]
fn readiness_fails_naming_the_database_while_another_process_holds_the_write_lock() {
    let daemon = Daemon::start_with(DaemonOptions {
        config_toml: Some("[health]\ncheck_timeout_ms = 700\n".into()),
        ..Default::default()
    });
    assert_eq!(get(&daemon, "/readyz").0, 200);
    // This test process is "another process": it takes the database's write lock and keeps it.
    let blocker = WriteLock::take(&daemon.data_dir);
    let started = Instant::now();
    let (status, _, body) = get(&daemon, "/readyz");
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    let ready = json_of(&body);
    assert_eq!(ready["failed"], json!(["database"]));
    assert!(ready["checks"]["database"].as_str().unwrap_or("").contains("database"), "{body}");
    assert!(took < Duration::from_secs(5), "answered within its timeout, took {took:?}");
    blocker.release();
    assert_eq!(get(&daemon, "/readyz").0, 200, "ready again once the lock is gone");
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let mut daemon = Daemon::start_with(DaemonOptions {
        config_toml: Some("[health]\ncheck_timeout_ms = 1500\n".into()),
        ..Default::default()
    });
    // A request that takes ~1.5 s: readiness waiting for a held write lock.
    let blocker = WriteLock::take(&daemon.data_dir);
    let url = daemon.url("/readyz");
    let in_flight = std::thread::spawn(move || http().get(url).send().map(|r| r.status().as_u16()));
    // A fixed wait: nothing outside the daemon shows that the request has
    // reached it, and it must have before the signal for this to test anything.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}; log:\n{}", daemon.log());
    assert!(started.elapsed() < Duration::from_secs(5), "prompt exit");
    let answer = in_flight.join().expect("thread");
    assert_eq!(answer.expect("the in-flight request got its answer"), 503);
    assert!(!daemon.data_dir.join("agentlocator.sock").exists(), "socket removed on exit");
    drop(blocker);
}

#[test]
fn sigint_exits_zero_too() {
    let mut daemon = Daemon::start();
    daemon.signal(libc::SIGINT);
    assert!(daemon.wait(Duration::from_secs(10)).success());
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let daemon = Daemon::start();
    let output = harness::command(&daemon.dir)
        .arg("--data-dir")
        .arg(&daemon.data_dir)
        .arg("serve")
        .env("AGENTLOCATOR_LISTEN", "127.0.0.1:0")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(harness::stderr(&output).contains("already running"), "{}", harness::stderr(&output));
    assert_eq!(get(&daemon, "/healthz").0, 200, "the first daemon is untouched");
}

#[test]
fn systemd_hears_ready_and_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let listener = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    listener.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut daemon = Daemon::start_with(DaemonOptions {
        env: vec![("NOTIFY_SOCKET".into(), socket_path.display().to_string())],
        ..Default::default()
    });
    let mut buffer = [0u8; 256];
    let n = listener.recv(&mut buffer).expect("READY notification");
    assert!(String::from_utf8_lossy(&buffer[..n]).contains("READY=1"));
    assert!(daemon.terminate(Duration::from_secs(10)).success());
    let n = listener.recv(&mut buffer).expect("STOPPING notification");
    assert!(String::from_utf8_lossy(&buffer[..n]).contains("STOPPING=1"));
}

#[test]
fn json_logs_are_one_json_object_per_line() {
    let daemon = Daemon::start();
    let _ = get(&daemon, "/healthz");
    assert!(eventually(Duration::from_secs(3), || daemon.log().contains("finished processing request")));
    for line in daemon.log().lines() {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
}

const TENANT: &str = "hush-tenant-7";
const TENANT_NUMBER: &str = "+15550009876";
const SECRET: &str = "health-test-internal-secret-0123456789";
const AUTH_TOKEN: &str = "health-test-auth-token-0123456789";

/// A daemon with one tenant (with a Twilio number) that has been active:
/// tenant API calls, a stored webhook, refused requests. Returns its token.
fn daemon_with_an_active_tenant() -> (Daemon, String) {
    let daemon = Daemon::start_with(DaemonOptions {
        env: vec![("INTERNAL_SECRET".into(), SECRET.into()), ("TWILIO_AUTH_TOKEN".into(), AUTH_TOKEN.into())],
        ..Default::default()
    });
    let token = daemon
        .add_tenant_with(
            TENANT,
            &["--webhook-url", "http://127.0.0.1:9/hooks", "--twilio-number", TENANT_NUMBER],
        )
        .token;
    assert_eq!(get_as(&daemon, &format!("/api/whatsapp/{TENANT}/status"), &token).0, 200);
    assert_eq!(get_as(&daemon, "/api/events", &token).0, 200);
    assert_eq!(get_as(&daemon, &format!("/api/whatsapp/{TENANT}/status"), "wrong-token").0, 401);
    for path in ["/webhook/sms".to_string(), format!("/webhook/{TENANT}/sms")] {
        let url = daemon.url(&path);
        let params =
            [("MessageSid", "SM00112233445566778899aabbccddeeff"), ("To", TENANT_NUMBER), ("Body", "hi")];
        let signature = harness::twilio_signature(AUTH_TOKEN, &url, &params);
        let response =
            http().post(&url).header("X-Twilio-Signature", signature).form(&params).send().expect("post");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let unsigned = http().post(&url).form(&params).send().expect("post");
        assert_eq!(unsigned.status().as_u16(), 403, "{path}");
        let body = unsigned.text().expect("body");
        assert!(!body.contains(TENANT) && !body.contains(TENANT_NUMBER), "{path}: {body}");
    }
    (daemon, token)
}

#[test]
fn the_whatsapp_detail_needs_the_internal_secret() {
    let (daemon, token) = daemon_with_an_active_tenant();
    assert_eq!(get(&daemon, "/healthz/whatsapp").2, "ok", "the plain route needs no auth");
    for refused in [None, Some(token.as_str()), Some("not-a-token")] {
        let (status, content_type, body) = match refused {
            None => get(&daemon, "/healthz/whatsapp?verbose"),
            Some(token) => get_as(&daemon, "/healthz/whatsapp?verbose", token),
        };
        assert_eq!(status, 401, "{refused:?}: {body}");
        assert!(content_type.starts_with("application/json"), "{content_type}");
        assert_eq!(json_of(&body)["error"]["code"], "unauthorized");
        assert!(!body.contains(TENANT) && !body.contains(TENANT_NUMBER), "{body}");
    }
    let (status, _, body) = get_as(&daemon, "/healthz/whatsapp?verbose", SECRET);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["tenants"][0]["tenant"], TENANT, "{body}");
}

#[test]
fn unauthenticated_routes_name_no_tenant() {
    let (daemon, _) = daemon_with_an_active_tenant();
    for path in [
        "/healthz",
        "/livez",
        "/healthz/whatsapp",
        "/healthz/whatsapp?verbose",
        "/readyz",
        "/readyz?verbose",
        "/version",
        "/metrics",
        "/nope",
    ] {
        let (_, _, body) = get(&daemon, path);
        assert!(!body.contains(TENANT) && !body.contains(TENANT_NUMBER), "{path}: {body}");
    }
    let metrics = get(&daemon, "/metrics").2;
    assert!(metrics.contains("route=\"/api/whatsapp/{tenant}/status\""), "activity was counted: {metrics}");
}

#[test]
fn invented_http_methods_are_counted_as_other() {
    let daemon = Daemon::start();
    for n in 1..=5 {
        let method = reqwest::Method::from_bytes(format!("FOO{n}").as_bytes()).expect("method");
        let response = http().request(method, daemon.url("/healthz")).send().expect("request");
        assert_eq!(response.status().as_u16(), 405);
    }
    let (_, _, metrics) = get(&daemon, "/metrics");
    assert!(!metrics.contains("FOO"), "{metrics}");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

#[test]
fn serve_warns_when_twilio_urls_are_rebuilt_from_the_host_header() {
    let warning = "http.public_base_url (PUBLIC_BASE_URL) is not set";
    let daemon = Daemon::start();
    assert!(daemon.log().contains(warning), "{}", daemon.log());
    let daemon = Daemon::start_with(DaemonOptions {
        env: vec![("PUBLIC_BASE_URL".into(), "https://hooks.example.com".into())],
        ..Default::default()
    });
    assert!(!daemon.log().contains(warning), "{}", daemon.log());
}
