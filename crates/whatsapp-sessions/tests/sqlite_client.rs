//! The real whatsapp-rust client on the shared SQLite file against the
//! simulator: a pairing survives a restart beside another tenant of the same
//! file; a session paired on whatsapp-rust's own SQLite store (a legacy
//! per-tenant file) moves in with `import_legacy`; and a tenant of the file
//! moves to PostgreSQL with `copy_tenant_to_pg` (skipped when
//! `AGENTLOCATOR_TEST_DATABASE_URL` is unset). None pairs again.

mod common;

use std::sync::Arc;

use common::{pair, TestBot, TestDb, STEP};
use wasim::Sim;
use whatsapp_sessions::{SqliteSessionStore, SqliteSessions};

fn store(sessions: &SqliteSessions, tenant: &str) -> Arc<SqliteSessionStore> {
    Arc::new(sessions.tenant(tenant))
}

/// Pairs a second client on `sim` (the shared `pair` waits for the first
/// prekey upload only).
async fn pair_another(sim: &Sim, bot: &mut TestBot, phone: &str, uploads: u64) {
    let qr = bot.qr().await;
    sim.scan(&qr, Some(phone)).expect("scan");
    bot.connected().await;
    sim.wait_for(STEP, |c| c.prekey_uploads >= uploads).await.expect("prekeys uploaded");
}

/// Restarts a client on `backend` and checks it comes back paired, without
/// a QR, and receives a message from `contact`.
async fn reconnects_and_receives(
    sim: &Sim,
    backend: Arc<dyn wacore::store::traits::Backend>,
    contact: &str,
    phone: &str,
    text: &str,
) {
    let logins = sim.counters().logins;
    let mut bot = TestBot::start(sim, backend).await;
    assert!(bot.client.pn().is_some(), "the store is paired");
    bot.connected().await;
    assert!(!bot.saw_qr(), "no QR on a paired store");
    assert_eq!(sim.counters().logins, logins + 1);
    sim.send_text(contact, phone, text).await.unwrap();
    assert_eq!(bot.text(text).await, wasim::digits(contact));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_paired_on_the_shared_file_restart_paired_side_by_side() {
    let sim = Sim::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let (phone_a, phone_b) = ("+15550009101", "+15550009102");
    let sessions = SqliteSessions::open(&path).await.unwrap();
    let mut a = TestBot::start(&sim, store(&sessions, "tenant-a")).await;
    pair(&sim, &mut a, phone_a).await;
    let mut b = TestBot::start(&sim, store(&sessions, "tenant-b")).await;
    pair_another(&sim, &mut b, phone_b, 2).await;
    sim.send_text("+15557779101", phone_b, "b before").await.unwrap();
    b.text("b before").await;
    a.stop().await;
    assert!(sessions.tenant_exists("tenant-a").await.unwrap());

    // tenant-a restarts on the reopened file while tenant-b keeps running.
    let reopened = SqliteSessions::open(&path).await.unwrap();
    reconnects_and_receives(&sim, store(&reopened, "tenant-a"), "+15557779101", phone_a, "a after").await;
    sim.send_text("+15557779101", phone_b, "b still here").await.unwrap();
    assert_eq!(b.text("b still here").await, "15557779101", "tenant-b unaffected");
    b.stop().await;
    drop(sessions);
    reconnects_and_receives(&sim, store(&reopened, "tenant-b"), "+15557779102", phone_b, "b after").await;
    assert_eq!(reopened.tenants().await.unwrap(), vec!["tenant-a", "tenant-b"]);
    assert!(!reopened.tenant_exists("tenant-c").await.unwrap());
}

/// Pairs a client on whatsapp-rust's own SQLite store at `file` and lets it
/// receive one message, so there is Signal state to carry over.
#[cfg(feature = "sqlite-import")]
async fn pair_legacy(sim: &Sim, file: &std::path::Path, phone: &str, contact: &str) {
    let legacy = whatsapp_rust::store::SqliteStore::new(file.to_str().unwrap()).await.unwrap();
    let mut bot = TestBot::start(sim, Arc::new(legacy)).await;
    pair(sim, &mut bot, phone).await;
    sim.send_text(contact, phone, "before the move").await.unwrap();
    bot.text("before the move").await;
    bot.stop().await;
}

#[cfg(feature = "sqlite-import")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_session_imported_into_the_shared_file_reconnects() {
    use whatsapp_sessions::Error;

    let sim = Sim::new();
    let (phone, contact) = ("+15550009103", "+15557779103");
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("whatsapp.db");
    pair_legacy(&sim, &legacy, phone, contact).await;

    let sessions = SqliteSessions::open(&dir.path().join("sessions.db")).await.unwrap();
    wacore::store::traits::SignalStore::put_identity(&sessions.tenant("other"), "x@lid", [1; 32])
        .await
        .unwrap();
    let counts = sessions.import_legacy("moved", &legacy).await.unwrap();
    assert!(counts.paired, "{counts:?}");
    assert_eq!(counts.get("wa_device"), 1);
    assert!(counts.get("wa_prekeys") > 0, "{counts:?}");
    assert!(counts.get("wa_sessions") > 0, "{counts:?}");
    assert!(counts.get("wa_identities") > 0, "{counts:?}");
    let again = sessions.import_legacy("moved", &legacy).await.unwrap_err();
    assert!(matches!(again, Error::TenantNotEmpty { .. }), "{again}");
    let busy = sessions.import_legacy("other", &legacy).await.unwrap_err();
    assert!(matches!(busy, Error::TenantNotEmpty { .. }), "any row counts: {busy}");
    let missing = sessions.import_legacy("x", &dir.path().join("nope.db")).await.unwrap_err();
    assert!(matches!(missing, Error::SqliteMissing(_)), "{missing}");
    assert!(sessions.tenant_exists("moved").await.unwrap());

    // The caller deletes the legacy file once the import returned.
    std::fs::remove_file(&legacy).unwrap();
    drop(sessions);
    let sessions = SqliteSessions::open(&dir.path().join("sessions.db")).await.unwrap();
    reconnects_and_receives(&sim, store(&sessions, "moved"), contact, phone, "after the move").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_of_the_shared_file_copied_to_postgres_reconnects() {
    use whatsapp_sessions::{copy_tenant_to_pg, tenant_exists, Error, PgSessionStore};

    let Some(db) = TestDb::create("a_tenant_of_the_shared_file_copied_to_postgres_reconnects").await else {
        return;
    };
    let sim = Sim::new();
    let (phone, contact) = ("+15550009104", "+15557779104");
    let dir = tempfile::tempdir().unwrap();
    let sessions = SqliteSessions::open(&dir.path().join("sessions.db")).await.unwrap();
    let mut bot = TestBot::start(&sim, store(&sessions, "t")).await;
    pair(&sim, &mut bot, phone).await;
    sim.send_text(contact, phone, "before the copy").await.unwrap();
    bot.text("before the copy").await;
    bot.stop().await;

    let counts = copy_tenant_to_pg(&sessions, &db.pool, "t").await.unwrap();
    assert!(counts.paired, "{counts:?}");
    assert_eq!(counts.get("wa_device"), 1);
    assert!(counts.get("wa_prekeys") > 0 && counts.get("wa_sessions") > 0, "{counts:?}");
    for (table, n) in &counts.rows {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant = 't'");
        let on_pg: i64 = db.client().await.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(on_pg as u64, *n, "{table}");
    }
    let again = copy_tenant_to_pg(&sessions, &db.pool, "t").await.unwrap_err();
    assert!(matches!(again, Error::TenantNotEmpty { .. }), "{again}");
    assert!(tenant_exists(&db.pool, "t").await.unwrap());

    let pg = Arc::new(PgSessionStore::new(db.pool.clone(), "t"));
    reconnects_and_receives(&sim, pg, contact, phone, "after the copy").await;
    db.finish().await;
}
