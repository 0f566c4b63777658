//! Tenant backends: real HTTP receivers of deliveries (axum on 127.0.0.1:0,
//! each on its own runtime thread), the checks a backend makes of a delivery's
//! signature, and a way to store events the way the daemon does (plain SQL
//! from this process, a second writer, on either store).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::store::{quote, Db};
use super::RequestHead;

/// One request a receiver got, with its Standard Webhooks headers.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`
    pub event_id: String,
    /// `webhook-timestamp`
    pub timestamp: String,
    /// `webhook-signature` (space-separated `v1,<base64>` signatures)
    pub signature: String,
    /// Every header, as received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("body is JSON")
    }
}

/// How a receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Answer after a pause.
    After(Duration, u16),
    /// Never answer (hold the connection open).
    Hang,
}

type Behaviour = dyn Fn(usize, &Received) -> Reply + Send + Sync;

struct Inner {
    log: Mutex<Vec<Received>>,
    count: AtomicUsize,
    behaviour: Box<Behaviour>,
}

/// A webhook receiver; stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// `behaviour(n, request)` decides the answer to the n-th request (0-based).
    pub fn start(behaviour: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static) -> Receiver {
        let inner = Arc::new(Inner {
            log: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            behaviour: Box::new(behaviour),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let state = inner.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(axum::routing::post(receive)).with_state(state);
                // Dropping the runtime then ends every connection, hung ones too.
                tokio::select! {
                    served = axum::serve(listener, app) => served.expect("receiver serve"),
                    _ = stopped => {}
                }
            });
        });
        Receiver { addr, inner, _stop: stop }
    }

    pub fn ok() -> Receiver {
        Receiver::start(|_, _| Reply::Status(200))
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.log.lock().expect("log").clone()
    }

    /// Event ids in the order requests arrived (with repeats).
    pub fn ids(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.event_id).collect()
    }

    /// Distinct event ids in the order they first arrived.
    pub fn distinct_ids(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.ids().into_iter().filter(|id| seen.insert(id.clone())).collect()
    }

    pub fn requests(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let received = Received {
        event_id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    };
    let n = inner.count.fetch_add(1, Ordering::SeqCst);
    let reply = (inner.behaviour)(n, &received);
    inner.log.lock().expect("log").push(received);
    let status = match reply {
        Reply::Status(s) => s,
        Reply::After(pause, s) => {
            tokio::time::sleep(pause).await;
            s
        }
        Reply::Hang => std::future::pending().await,
    };
    StatusCode::from_u16(status).expect("status")
}

/// A URL nothing listens on (a port bound then released).
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/hook")
}

/// The daemon's database, opened as a second writer.
pub fn open_db(data_dir: &Path) -> Db {
    Db::open(data_dir)
}

/// Stores `n` events for `tenant` as the daemon would; returns their ids in order.
pub fn insert(db: &Db, tenant: &str, n: usize) -> Vec<String> {
    let events: Vec<(String, serde_json::Value)> = (0..n)
        .map(|i| (tenant.to_string(), serde_json::json!({"Body": format!("message {i}"), "n": i})))
        .collect();
    insert_sms(db, &events)
}

/// Stores one `twilio.sms` event per (tenant, data), pending and due now, in
/// one commit, in their order; returns their ids. Plain SQL, so it is the
/// same on both stores.
pub fn insert_sms(db: &Db, events: &[(String, serde_json::Value)]) -> Vec<String> {
    let now = agentlocator::clock::now_ms();
    let mut sql = String::from("BEGIN;\n");
    let mut ids = Vec::with_capacity(events.len());
    for (tenant, data) in events {
        let id = agentlocator::store::events::new_event_id();
        sql.push_str(&format!(
            "INSERT INTO events (id, tenant_id, type, data, created_at_ms, status, next_attempt_at_ms) \
             VALUES ({}, {}, 'twilio.sms', {}, {now}, 'pending', {now});\n",
            quote(&id),
            quote(tenant),
            quote(&data.to_string())
        ));
        ids.push(id);
    }
    sql.push_str("COMMIT;");
    db.execute(&sql);
    ids
}

/// Verifies a delivery the way a backend would: one of its `webhook-signature`
/// entries must be `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`,
/// the key being `secret` (`whsec_...`, as `tenant add` printed it) decoded.
pub fn signature_valid(secret: &str, received: &Received) -> bool {
    signatures(received).iter().any(|one| signature_matches(secret, received, one))
}

/// The delivery's signatures, in the order sent (current key first).
pub fn signatures(received: &Received) -> Vec<String> {
    received.signature.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Whether `one` of the delivery's signatures was made with `secret`.
pub fn signature_matches(secret: &str, received: &Received, one: &str) -> bool {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").expect("a whsec_ secret")).expect("base64 secret");
    let Some(Ok(expected)) = one.strip_prefix("v1,").map(|sig| b64.decode(sig)) else { return false };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{}.{}.", received.event_id, received.timestamp).as_bytes());
    mac.update(&received.body);
    mac.verify_slice(&expected).is_ok()
}

/// `ids` with runs of the same id collapsed: a tenant's deliveries in order,
/// retries folded in.
pub fn collapse_runs(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if out.last() != Some(id) {
            out.push(id.clone());
        }
    }
    out
}

/// A receiver on a bare TCP socket, for answers axum would not give: each
/// connection's request head is read, its event id recorded, then `answer`
/// writes whatever it likes to the socket (one thread per connection).
pub struct RawReceiver {
    pub addr: SocketAddr,
    ids: Arc<Mutex<Vec<String>>>,
}

impl RawReceiver {
    pub fn start(answer: fn(&mut std::net::TcpStream)) -> RawReceiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind raw receiver");
        let addr = listener.local_addr().expect("addr");
        let ids = Arc::new(Mutex::new(Vec::new()));
        let log = ids.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let head = RequestHead::read(&mut stream);
                    if let Some(id) = head.as_ref().and_then(|h| h.header("webhook-id")) {
                        log.lock().expect("ids").push(id.to_string());
                        answer(&mut stream);
                    }
                });
            }
        });
        RawReceiver { addr, ids }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Event ids in the order requests arrived.
    pub fn ids(&self) -> Vec<String> {
        self.ids.lock().expect("ids").clone()
    }
}
