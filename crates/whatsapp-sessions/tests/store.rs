//! The storage traits on PostgreSQL, method by method: round trips, tenant
//! isolation, prekey upload marks, concurrent migrations. (The ProtocolStore
//! and MsgSecretStore cases, the pending-inbound buffer and the expiry
//! sweeps among them, run on both backends in `tests/sqlite_protocol.rs`.)

mod behaviour;
mod common;

use common::TestDb;
use wacore::store::traits::*;
use whatsapp_sessions::{
    delete_tenant, migrate, tenant_exists, PgSessionStore, SqliteSessions, SCHEMA_VERSION,
};

#[tokio::test]
async fn signal_state_round_trips() {
    let Some(db) = TestDb::create("signal_state_round_trips").await else { return };
    behaviour::signal_state_round_trips(&PgSessionStore::new(db.pool.clone(), "t1")).await;
    db.finish().await;
}

#[tokio::test]
async fn user_scan_is_literal() {
    let Some(db) = TestDb::create("user_scan_is_literal").await else { return };
    behaviour::user_scan_is_literal(&PgSessionStore::new(db.pool.clone(), "t1")).await;
    db.finish().await;
}

#[tokio::test]
async fn prekeys_and_their_upload_marks() {
    let Some(db) = TestDb::create("prekeys_and_their_upload_marks").await else { return };
    behaviour::prekeys_round_trip(&PgSessionStore::new(db.pool.clone(), "t1")).await;
    let rows = db
        .client()
        .await
        .query("SELECT id, uploaded FROM wa_prekeys WHERE tenant = 't1' ORDER BY id", &[])
        .await
        .unwrap();
    let marks: Vec<(i64, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(marks, behaviour::PREKEY_MARKS, "a removed key stays removed");
    db.finish().await;
}

#[tokio::test]
async fn app_state_round_trips() {
    let Some(db) = TestDb::create("app_state_round_trips").await else { return };
    behaviour::app_state_round_trips(&PgSessionStore::new(db.pool.clone(), "t1")).await;
    db.finish().await;
}

#[tokio::test]
async fn device_create_save_load_and_tenant_exists() {
    let Some(db) = TestDb::create("device_create_save_load_and_tenant_exists").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    behaviour::device_created_once(&s).await;
    assert!(!tenant_exists(&db.pool, "t1").await.unwrap(), "an unpaired device is not a paired tenant");
    behaviour::device_saved_and_loaded(&s).await;
    assert!(tenant_exists(&db.pool, "t1").await.unwrap());
    assert!(delete_tenant(&db.pool, "t1").await.unwrap() >= 1);
    assert!(!tenant_exists(&db.pool, "t1").await.unwrap());
    assert!(!s.exists().await.unwrap());
    db.finish().await;
}

#[tokio::test]
async fn tenants_never_see_each_others_rows() {
    let Some(db) = TestDb::create("tenants_never_see_each_others_rows").await else { return };
    let a = PgSessionStore::new(db.pool.clone(), "a");
    let b = PgSessionStore::new(db.pool.clone(), "b");
    behaviour::fill_tenant(&a).await;
    a.put_tc_token(
        "x@lid",
        &TcTokenEntry { token: b"t".to_vec(), token_timestamp: 1, sender_timestamp: None },
    )
    .await
    .unwrap();
    a.store_sent_message("c", "m", b"p").await.unwrap();
    a.store_pending_inbound("c", "s", "i", b"m").await.unwrap();
    a.put_msg_secret("c", "s", "m", &[1; 32]).await.unwrap();

    behaviour::sees_nothing(&b).await;
    behaviour::sees_nothing(&PgSessionStore::new(db.pool.clone(), "%")).await;
    assert!(b.get_all_tc_token_jids().await.unwrap().is_empty());
    assert!(b.take_sent_message("c", "m").await.unwrap().is_none());
    assert!(b.get_pending_inbound("c", "s", "i").await.unwrap().is_none());
    assert!(b.get_msg_secret("c", "s", "m").await.unwrap().is_none());
    assert_eq!(b.delete_expired_sent_messages(i64::MAX).await.unwrap(), 0);
    assert_eq!(b.delete_expired_pending_inbound(i64::MAX).await.unwrap(), 0);
    b.clear_all_sender_key_devices().await.unwrap();
    assert_eq!(delete_tenant(&db.pool, "b").await.unwrap(), 0);

    behaviour::still_filled(&a).await;
    assert!(a.take_sent_message("c", "m").await.unwrap().is_some(), "a's rows survive b's sweeps");
    assert!(a.get_pending_inbound("c", "s", "i").await.unwrap().is_some());
    assert!(delete_tenant(&db.pool, "a").await.unwrap() >= 8);
    let left: i64 =
        db.client().await.query_one("SELECT COUNT(*) FROM wa_identities", &[]).await.unwrap().get(0);
    assert_eq!(left, 0);
    db.finish().await;
}

#[tokio::test]
async fn concurrent_migrations_migrate_once() {
    let Some(db) = TestDb::create_bare("concurrent_migrations_migrate_once").await else { return };
    let (x, y) = tokio::join!(migrate(&db.pool), migrate(&db.pool));
    assert_eq!((x.unwrap(), y.unwrap()), (SCHEMA_VERSION, SCHEMA_VERSION));
    assert_eq!(migrate(&db.pool).await.unwrap(), SCHEMA_VERSION);
    let rows: i64 =
        db.client().await.query_one("SELECT COUNT(*) FROM wa_schema_version", &[]).await.unwrap().get(0);
    assert_eq!(rows, SCHEMA_VERSION);

    db.client()
        .await
        .execute("INSERT INTO wa_schema_version (version) VALUES ($1)", &[&(SCHEMA_VERSION + 1)])
        .await
        .unwrap();
    let err = migrate(&db.pool).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
    db.finish().await;
}

/// Both backends hold the same tables with the same columns in the same
/// order, so a row copies between them column for column.
#[tokio::test]
async fn both_backends_have_the_same_columns() {
    let Some(db) = TestDb::create("both_backends_have_the_same_columns").await else { return };
    let sql = "SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name LIKE 'wa\\_%' AND table_name <> 'wa_schema_version'
        ORDER BY table_name::text COLLATE \"C\", ordinal_position";
    let pg: Vec<(String, String)> =
        db.client().await.query(sql, &[]).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();

    let dir = tempfile::tempdir().unwrap();
    let sessions = SqliteSessions::open(&dir.path().join("sessions.db")).await.unwrap();
    let conn = rusqlite::Connection::open(sessions.path()).unwrap();
    let sql = "SELECT m.name, c.name FROM sqlite_schema m, pragma_table_info(m.name) c
        WHERE m.type = 'table' AND m.name LIKE 'wa\\_%' ESCAPE '\\' AND m.name <> 'wa_schema_version'
        ORDER BY m.name COLLATE BINARY, c.cid";
    let mut stmt = conn.prepare(sql).unwrap();
    let lite: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert!(!pg.is_empty());
    assert_eq!(pg, lite);
    db.finish().await;
}
