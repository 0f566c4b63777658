//! Drives the real whatsapp-rust client against an in-process simulator.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use wasim::{Sim, SimTransportFactory};
use whatsapp_rust::prelude::*;

/// Every wait in these tests is bounded by this (CI must never hang).
pub const STEP: Duration = Duration::from_secs(20);

pub fn init_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // RUST_LOG=debug shows both sides when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
    });
}

pub struct TestBot {
    pub handle: Option<BotHandle>,
    pub client: Arc<Client>,
    events: mpsc::UnboundedReceiver<Arc<Event>>,
    pub seen: Vec<Arc<Event>>,
}

impl TestBot {
    /// Builds and spawns a bot on the SQLite store at `db`, talking to `sim`.
    pub async fn start(sim: &Sim, db: &Path) -> TestBot {
        Self::start_opts(sim, db, None).await
    }

    /// Like `start`, with an inbound durability hook.
    pub async fn start_opts(sim: &Sim, db: &Path, hook: Option<CommitHook>) -> TestBot {
        Self::start_with(SimTransportFactory::new(sim), db, hook).await
    }

    /// A bot that generates only `n` one-time prekeys (the default is 812).
    pub async fn start_lean(sim: &Sim, db: &Path, n: usize) -> TestBot {
        Self::build(SimTransportFactory::new(sim), db, Opts { prekeys: Some(n), ..Default::default() }).await
    }

    /// A bot that pairs by phone-number code (and QR) for `phone` (digits).
    pub async fn start_pair_code(sim: &Sim, db: &Path, phone: &str) -> TestBot {
        Self::build(
            SimTransportFactory::new(sim),
            db,
            Opts { pair_phone: Some(phone.to_string()), ..Default::default() },
        )
        .await
    }

    /// A bot that processes history sync (the others skip it).
    pub async fn start_with_history(sim: &Sim, db: &Path) -> TestBot {
        Self::build(SimTransportFactory::new(sim), db, Opts { history_sync: true, ..Default::default() })
            .await
    }

    /// A bot over any transport (e.g. the real WebSocket transport).
    pub async fn start_with<F: whatsapp_rust::transport::TransportFactory + 'static>(
        factory: F,
        db: &Path,
        hook: Option<CommitHook>,
    ) -> TestBot {
        Self::build(factory, db, Opts { hook, ..Default::default() }).await
    }

    async fn build<F: whatsapp_rust::transport::TransportFactory + 'static>(
        factory: F,
        db: &Path,
        opts: Opts,
    ) -> TestBot {
        init_log();
        let Opts { hook, prekeys, pair_phone, history_sync } = opts;
        let (tx, rx) = mpsc::unbounded_channel();
        let store = SqliteStore::new(db.to_str().expect("utf-8 path")).await.expect("sqlite store");
        let mut builder = Bot::builder()
            .with_backend(store)
            .with_transport_factory(factory)
            // Media URLs name the simulator's plain-http listener.
            .with_http_client(LoopbackHttp::default())
            .with_version((2, 3000, 1_023_456_789));
        if !history_sync {
            builder = builder.skip_history_sync();
        }
        let mut builder = builder.on_event(move |ev, _client| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(ev);
            }
        });
        if let Some(phone) = pair_phone {
            builder = builder.with_pair_code(whatsapp_rust::pair_code::PairCodeOptions {
                phone_number: phone,
                ..Default::default()
            });
        }
        if let Some(n) = prekeys {
            builder = builder.with_wanted_pre_key_count(n);
        }
        if let Some(hook) = hook {
            builder = builder.with_inbound_durability_hook(hook);
        }
        let bot = builder.build().await.expect("bot builds");
        let client = bot.client();
        let handle = bot.spawn();
        TestBot { handle: Some(handle), client, events: rx, seen: Vec::new() }
    }

    /// Waits (bounded) for the first event, seen or new, matching `pred`.
    pub async fn wait<T>(&mut self, what: &str, pred: impl Fn(&Event) -> Option<T>) -> T {
        if let Some(t) = self.seen.iter().find_map(|e| pred(e)) {
            return t;
        }
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => {
                    let hit = pred(&ev);
                    self.seen.push(ev);
                    if let Some(t) = hit {
                        return t;
                    }
                }
                Ok(None) => panic!("event stream ended while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; events so far: {:?}",
                    self.seen.iter().map(|e| kind(e)).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Like `wait`, but forgets what was seen before (for "the next X").
    pub async fn wait_new<T>(&mut self, what: &str, pred: impl Fn(&Event) -> Option<T>) -> T {
        self.seen.clear();
        self.wait(what, pred).await
    }

    pub async fn qr(&mut self) -> String {
        self.wait("a QR code", |e| match e {
            Event::PairingQrCode(q) => Some(q.code.clone()),
            _ => None,
        })
        .await
    }

    pub async fn connected(&mut self) {
        self.wait("Connected", |e| matches!(e, Event::Connected(_)).then_some(())).await
    }

    /// Graceful stop, bounded.
    pub async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(STEP, h.shutdown()).await;
        }
    }
}

impl Drop for TestBot {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

pub fn kind(e: &Event) -> String {
    let s = format!("{e:?}");
    s.split(['(', ' ', '{']).next().unwrap_or("").to_string()
}

/// A fresh sim, a paired and connected bot on a temp store. Returns the phone.
pub async fn paired(sim: &Sim, dir: &Path, phone: &str) -> TestBot {
    let mut bot = TestBot::start(sim, &dir.join("wa.db")).await;
    let qr = bot.qr().await;
    sim.scan(&qr, Some(phone)).expect("scan");
    bot.connected().await;
    bot
}

/// A durability hook that commits nothing and fails (`fail`), or succeeds.
pub struct CommitHook {
    pub fail: bool,
}

#[async_trait::async_trait]
impl whatsapp_rust::InboundDurabilityHook for CommitHook {
    async fn on_messages(&self, _client: Arc<Client>, _batch: &[InboundMessage]) -> anyhow::Result<()> {
        if self.fail {
            anyhow::bail!("simulated crash before commit")
        }
        Ok(())
    }
}

#[derive(Default)]
struct Opts {
    hook: Option<CommitHook>,
    prekeys: Option<usize>,
    pair_phone: Option<String>,
    history_sync: bool,
}

/// whatsapp-rust's ureq client, with `https://127.0.0.1...` media URLs fetched over
/// plain http: the simulator's media host is its own (TLS-less) listener.
#[derive(Default)]
pub struct LoopbackHttp(whatsapp_rust::http::UreqHttpClient);

fn loopback(mut req: wacore::net::HttpRequest) -> wacore::net::HttpRequest {
    if let Some(rest) = req.url.strip_prefix("https://127.0.0.1") {
        req.url = format!("http://127.0.0.1{rest}");
    }
    req
}

#[async_trait::async_trait]
impl wacore::net::HttpClient for LoopbackHttp {
    async fn execute(&self, req: wacore::net::HttpRequest) -> anyhow::Result<wacore::net::HttpResponse> {
        self.0.execute(loopback(req)).await
    }

    fn supports_streaming(&self) -> bool {
        self.0.supports_streaming()
    }

    fn execute_streaming(
        &self,
        req: wacore::net::HttpRequest,
    ) -> anyhow::Result<wacore::net::StreamingHttpResponse> {
        self.0.execute_streaming(loopback(req))
    }

    fn supports_upload_streaming(&self) -> bool {
        self.0.supports_upload_streaming()
    }

    fn execute_upload(
        &self,
        req: wacore::net::HttpRequest,
        body: wacore::net::UploadBody,
        len: u64,
    ) -> anyhow::Result<wacore::net::HttpResponse> {
        self.0.execute_upload(loopback(req), body, len)
    }
}

/// `wasim::server::serve` on 127.0.0.1:0 (the media host and admin API) for `sim`.
pub struct Http {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Http {
    pub async fn start(sim: &Sim) -> Http {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(wasim::server::serve(listener, sim.clone(), async {
            let _ = stop_rx.await;
        }));
        Http { base: format!("http://{addr}"), stop: Some(stop), task: Some(task) }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(STEP, t).await;
        }
    }
}
