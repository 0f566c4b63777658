//! The real whatsapp-rust client on PgSessionStore against the simulator:
//! a pairing survives a restart, and (feature `sqlite-import`) a session
//! paired on whatsapp-rust's SQLite store moves to PostgreSQL intact.

mod common;

use std::sync::Arc;

use common::{pair, TestBot, TestDb};
use wasim::Sim;
use whatsapp_sessions::{tenant_exists, PgSessionStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_paired_on_postgres_restarts_paired_and_receives() {
    let Some(db) = TestDb::create("a_client_paired_on_postgres_restarts_paired_and_receives").await else {
        return;
    };
    let sim = Sim::new();
    let phone = "+15550009001";
    let mut bot = TestBot::start(&sim, Arc::new(PgSessionStore::new(db.pool.clone(), "tenant-a"))).await;
    pair(&sim, &mut bot, phone).await;
    bot.stop().await;
    assert!(tenant_exists(&db.pool, "tenant-a").await.unwrap());
    assert!(!tenant_exists(&db.pool, "tenant-b").await.unwrap());

    let logins = sim.counters().logins;
    let mut bot = TestBot::start(&sim, Arc::new(PgSessionStore::new(db.pool.clone(), "tenant-a"))).await;
    assert!(bot.client.pn().is_some(), "the store remembers the pairing");
    bot.connected().await;
    assert!(!bot.saw_qr(), "no QR on a paired store");
    assert_eq!(sim.counters().logins, logins + 1);
    sim.send_text("+15557779001", phone, "hello over postgres").await.unwrap();
    assert_eq!(bot.text("hello over postgres").await, "15557779001");
    sim.send_text("+15557779001", phone, "and again").await.unwrap();
    bot.text("and again").await;
    bot.stop().await;
    // The client's Signal state went to PostgreSQL, under its tenant only.
    let count = |table: &'static str| {
        let pool = db.pool.clone();
        async move {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant = 'tenant-a'");
            pool.get().await.unwrap().query_one(&sql, &[]).await.unwrap().get::<_, i64>(0)
        }
    };
    assert!(count("wa_sessions").await > 0);
    assert!(count("wa_prekeys").await > 0);
    assert!(count("wa_identities").await > 0);
    db.finish().await;
}

#[cfg(feature = "sqlite-import")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_paired_on_sqlite_moves_to_postgres() {
    use whatsapp_sessions::{import_sqlite, Error};

    let Some(db) = TestDb::create("a_session_paired_on_sqlite_moves_to_postgres").await else {
        return;
    };
    let sim = Sim::new();
    let phone = "+15550009002";
    let dir = tempfile::tempdir().unwrap();
    let wa_db = dir.path().join("wa.db");
    let sqlite = whatsapp_rust::store::SqliteStore::new(wa_db.to_str().unwrap()).await.unwrap();
    let mut bot = TestBot::start(&sim, Arc::new(sqlite)).await;
    pair(&sim, &mut bot, phone).await;
    // A session with a contact, so there is Signal state to carry over.
    sim.send_text("+15557779002", phone, "before the move").await.unwrap();
    bot.text("before the move").await;
    bot.stop().await;

    let counts = import_sqlite(&db.pool, "moved", &wa_db).await.unwrap();
    assert!(counts.paired, "{counts:?}");
    assert_eq!(counts.get("wa_device"), 1);
    assert!(counts.get("wa_prekeys") > 0, "{counts:?}");
    assert!(counts.get("wa_sessions") > 0, "{counts:?}");
    let again = import_sqlite(&db.pool, "moved", &wa_db).await.unwrap_err();
    assert!(matches!(again, Error::TenantNotEmpty { .. }), "{again}");
    let missing = import_sqlite(&db.pool, "other", &dir.path().join("nope.db")).await.unwrap_err();
    assert!(matches!(missing, Error::SqliteMissing(_)), "{missing}");

    let logins = sim.counters().logins;
    let mut bot = TestBot::start(&sim, Arc::new(PgSessionStore::new(db.pool.clone(), "moved"))).await;
    assert!(bot.client.pn().is_some(), "the imported store is paired");
    bot.connected().await;
    assert!(!bot.saw_qr(), "no QR after the import");
    assert_eq!(sim.counters().logins, logins + 1);
    sim.send_text("+15557779002", phone, "after the move").await.unwrap();
    assert_eq!(bot.text("after the move").await, "15557779002");
    bot.stop().await;
    db.finish().await;
}
