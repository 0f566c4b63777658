//! Helpers for the WhatsApp end-to-end tests: the simulated network served on
//! a real loopback socket (the same server as `wasim serve`, run on its own
//! runtime thread inside the test process) and a daemon built with the `sim`
//! feature pointed at it.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::{eventually, http, Daemon, DaemonOptions};

/// The admin bearer token of every test daemon.
pub const SECRET: &str = "test-internal-secret-0123456789";

/// Every wait for a WhatsApp state change is bounded by this.
pub const STATE_WAIT: Duration = Duration::from_secs(30);

/// `wasim serve` on 127.0.0.1:0; stops when dropped.
pub struct Wasim {
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Wasim {
    pub fn start() -> Wasim {
        Wasim::start_with(wasim::Sim::new())
    }

    /// Serves `sim` (e.g. one with latency) on its own runtime thread.
    pub fn start_with(sim: wasim::Sim) -> Wasim {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("wasim runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind wasim");
                tx.send(listener.local_addr().expect("addr")).expect("send addr");
                // Returning drops the runtime, and with it every connection.
                tokio::select! {
                    _ = wasim::server::serve(listener, sim, std::future::pending()) => {}
                    _ = stopped => {}
                }
            });
        });
        Wasim { addr: rx.recv_timeout(Duration::from_secs(10)).expect("wasim listening"), _stop: stop }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// POSTs `body` to the admin API: (status, JSON answer).
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response =
            http().post(format!("http://{}{path}", self.addr)).json(&body).send().expect("wasim admin");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// GETs an admin API path (a `+` in its query stands for itself): its JSON answer.
    pub fn get(&self, path_and_query: &str) -> Value {
        let url = format!("http://{}{}", self.addr, path_and_query.replace('+', "%2B"));
        http().get(url).send().expect("wasim admin").json().expect("json")
    }

    /// A simulated phone scans `qr` and links the device.
    pub fn scan(&self, qr: &str, phone: &str) {
        let (status, body) = self.post("/admin/scan", json!({"qr": qr, "phone": phone}));
        assert_eq!(status, 200, "scan: {body}");
    }

    pub fn enter_pair_code(&self, phone: &str, code: &str) {
        let (status, body) = self.post("/admin/pair-code", json!({"phone": phone, "code": code}));
        assert_eq!(status, 200, "pair-code: {body}");
    }

    /// A contact sends a text to a linked phone; returns the message id.
    pub fn send(&self, from: &str, to: &str, text: &str) -> String {
        let (status, body) = self.post("/admin/send", json!({"from": from, "to": to, "text": text}));
        assert_eq!(status, 200, "send: {body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// What linked devices sent to `contact`.
    pub fn received(&self, contact: &str) -> Vec<Value> {
        self.get(&format!("/admin/received?contact={contact}")).as_array().cloned().unwrap_or_default()
    }

    pub fn fault(&self, phone: &str, kind: &str, expire_s: Option<u64>) -> u64 {
        let mut body = json!({"phone": phone, "kind": kind});
        if let Some(s) = expire_s {
            body["expire_s"] = json!(s);
        }
        let (status, reply) = self.post("/admin/fault", body);
        assert_eq!(status, 200, "fault: {reply}");
        reply["connections"].as_u64().unwrap_or(0)
    }
}

/// A sim-feature daemon pointed at `wasim`, with fast restarts and sends.
pub fn daemon(wasim: &Wasim) -> Daemon {
    daemon_on(wasim, None, &[])
}

pub fn daemon_on(wasim: &Wasim, data_dir: Option<std::path::PathBuf>, extra: &[(&str, &str)]) -> Daemon {
    let mut env = vec![
        ("WHATSAPP_WS_URL".to_string(), wasim.ws_url()),
        ("INTERNAL_SECRET".to_string(), SECRET.to_string()),
        ("AGENTLOCATOR_FAULT_INJECTION".to_string(), "1".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = "[whatsapp]\nprekeys = 30\nsend_interval_ms = 50\nrestart_backoff_base_ms = 100\n\
                  restart_backoff_cap_s = 1\nmax_restarts = 3\nrestart_window_s = 60\n\
                  [delivery]\nbackoff_base_s = 0.1\nbackoff_cap_s = 1\n";
    Daemon::start_with(DaemonOptions { env, config_toml: Some(config.into()), data_dir })
}

pub fn api_get(daemon: &Daemon, token: &str, path: &str) -> (u16, Value) {
    let response = http().get(daemon.url(path)).bearer_auth(token).send().expect("api");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

pub fn api_post(daemon: &Daemon, token: &str, path: &str, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut request = http().post(daemon.url(path)).bearer_auth(token).json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().expect("api");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

pub fn status(daemon: &Daemon, tenant: &str) -> Value {
    let (code, body) = api_get(daemon, SECRET, &format!("/api/whatsapp/{tenant}/status"));
    assert_eq!(code, 200, "status: {body}");
    body
}

/// Waits until the tenant's state is `state`; returns the status.
pub fn wait_state(daemon: &Daemon, tenant: &str, state: &str) -> Value {
    let mut last = Value::Null;
    let reached = eventually(STATE_WAIT, || {
        last = status(daemon, tenant);
        last["state"] == state
    });
    assert!(reached, "{tenant} never reached {state}; last status {last}; log tail:\n{}", daemon.log_tail());
    last
}

/// The current QR code (starting pairing).
pub fn qr_code(daemon: &Daemon, token: &str, tenant: &str) -> Value {
    let (code, body) = api_get(daemon, token, &format!("/api/whatsapp/{tenant}/qr?format=json"));
    assert_eq!(code, 200, "qr: {body}");
    body
}

/// Pairs `tenant` by QR with the phone `phone` and waits for `connected`.
pub fn pair(daemon: &Daemon, wasim: &Wasim, tenant: &str, phone: &str) {
    let qr = qr_code(daemon, SECRET, tenant);
    wasim.scan(qr["code"].as_str().expect("code"), phone);
    let status = wait_state(daemon, tenant, "connected");
    assert_eq!(status["phone"], phone);
}
