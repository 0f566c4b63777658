//! Test harness: a fresh PostgreSQL database per test, and the real
//! whatsapp-rust client on any backend against an in-process simulator.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::mpsc;
use tokio_postgres::NoTls;

/// Every wait in these tests is bounded by this.
pub const STEP: Duration = Duration::from_secs(30);

/// A database of its own, dropped by [`TestDb::finish`].
pub struct TestDb {
    admin: tokio_postgres::Config,
    cfg: tokio_postgres::Config,
    pub name: String,
    pub pool: Pool,
}

impl TestDb {
    /// A fresh, migrated database on `AGENTLOCATOR_TEST_DATABASE_URL`, or
    /// `None` (with a note) when the variable is unset.
    pub async fn create(test: &str) -> Option<TestDb> {
        let db = Self::create_bare(test).await?;
        whatsapp_sessions::migrate(&db.pool).await.expect("migrate");
        Some(db)
    }

    /// Like [`TestDb::create`], without migrating.
    pub async fn create_bare(test: &str) -> Option<TestDb> {
        let Ok(url) = std::env::var("AGENTLOCATOR_TEST_DATABASE_URL") else {
            eprintln!("AGENTLOCATOR_TEST_DATABASE_URL is unset: skipping {test}");
            return None;
        };
        let admin: tokio_postgres::Config = url.parse().expect("database URL");
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let name =
            format!("wastore_{}_{}_{}", std::process::id(), nanos, SEQ.fetch_add(1, Ordering::Relaxed));
        admin_exec(&admin, &format!("CREATE DATABASE {name}")).await;
        let mut cfg = admin.clone();
        cfg.dbname(&name);
        let pool = pool_on(&cfg, 4);
        Some(TestDb { admin, cfg, name, pool })
    }

    /// Another pool on this database, of `size` connections (one connection:
    /// each call sees what the previous left on it).
    pub fn pool_of(&self, size: usize) -> Pool {
        pool_on(&self.cfg, size)
    }

    /// A plain connection for checking rows behind the store's back.
    pub async fn client(&self) -> deadpool_postgres::Object {
        self.pool.get().await.expect("connection")
    }

    pub async fn finish(self) {
        self.pool.close();
        admin_exec(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
    }
}

fn pool_on(cfg: &tokio_postgres::Config, size: usize) -> Pool {
    let mgr =
        Manager::from_config(cfg.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(mgr).max_size(size).build().expect("pool")
}

async fn admin_exec(cfg: &tokio_postgres::Config, sql: &str) {
    let (client, conn) = cfg.connect(NoTls).await.expect("admin connection");
    let task = tokio::spawn(conn);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    let _ = task.await;
}

use wasim::{Sim, SimTransportFactory};
use whatsapp_rust::prelude::*;

/// A running client and the events it emitted.
pub struct TestBot {
    pub handle: Option<BotHandle>,
    pub client: Arc<Client>,
    events: mpsc::UnboundedReceiver<Arc<Event>>,
    pub seen: Vec<Arc<Event>>,
}

impl TestBot {
    /// Builds and spawns a client on `backend` against `sim`, with an inbound
    /// durability hook (as the daemon runs it: the pending-inbound buffer in use).
    pub async fn start(sim: &Sim, backend: Arc<dyn wacore::store::traits::Backend>) -> TestBot {
        let (tx, rx) = mpsc::unbounded_channel();
        let bot = Bot::builder()
            .with_backend_arc(backend)
            .with_transport_factory(SimTransportFactory::new(sim))
            .with_http_client(whatsapp_rust::http::UreqHttpClient::default())
            .with_version((2, 3000, 1_023_456_789))
            .skip_history_sync()
            .with_inbound_durability_hook(Commit)
            .on_event(move |ev, _client| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(ev);
                }
            })
            .build()
            .await
            .expect("bot builds");
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
                Err(_) => panic!("timed out waiting for {what}; {} events seen", self.seen.len()),
            }
        }
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

    pub fn saw_qr(&self) -> bool {
        self.seen.iter().any(|e| matches!(&**e, Event::PairingQrCode(_)))
    }

    /// Waits for an inbound text message; returns its sender's user part.
    pub async fn text(&mut self, text: &str) -> String {
        let want = text.to_string();
        self.wait(&format!("message {text:?}"), move |e| match e {
            Event::Messages(b) => b.messages.iter().find_map(|m| {
                (m.message.text_content() == Some(want.as_str()))
                    .then(|| m.info.source.sender.user.to_string())
            }),
            _ => None,
        })
        .await
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

/// A durability hook that commits at once.
pub struct Commit;

#[async_trait::async_trait]
impl whatsapp_rust::InboundDurabilityHook for Commit {
    async fn on_messages(&self, _client: Arc<Client>, _batch: &[InboundMessage]) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Scans the bot's QR for `phone` and waits until it is connected.
pub async fn pair(sim: &Sim, bot: &mut TestBot, phone: &str) {
    let qr = bot.qr().await;
    sim.scan(&qr, Some(phone)).expect("scan");
    bot.connected().await;
    sim.wait_for(STEP, |c| c.prekey_uploads >= 1).await.expect("prekeys uploaded");
}
