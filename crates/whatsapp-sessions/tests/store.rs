//! The storage traits on PostgreSQL, method by method: round trips, tenant
//! isolation, prekey upload marks, the pending-inbound buffer, expiry sweeps,
//! concurrent migrations.

mod behaviour;
mod common;

use behaviour::arc;
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
async fn protocol_state_round_trips() {
    let Some(db) = TestDb::create("protocol_state_round_trips").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");

    s.set_sender_key_status("g@g.us", &[("a:1@lid", true), ("b:2@lid", false), ("a:1@lid", false)])
        .await
        .unwrap();
    s.set_sender_key_status("h@g.us", &[("a:1@lid", true)]).await.unwrap();
    let mut devs = s.get_sender_key_devices("g@g.us").await.unwrap();
    devs.sort();
    assert_eq!(devs, vec![("a:1@lid".into(), false), ("b:2@lid".into(), false)]);
    s.delete_sender_key_device_rows(&["a:1@lid"]).await.unwrap();
    assert_eq!(s.get_sender_key_devices("g@g.us").await.unwrap().len(), 1);
    assert!(s.get_sender_key_devices("h@g.us").await.unwrap().is_empty(), "deleted in every group");
    s.clear_sender_key_devices("g@g.us").await.unwrap();
    assert!(s.get_sender_key_devices("g@g.us").await.unwrap().is_empty());
    s.set_sender_key_status("h@g.us", &[("c:1@lid", true)]).await.unwrap();
    s.clear_all_sender_key_devices().await.unwrap();
    assert!(s.get_sender_key_devices("h@g.us").await.unwrap().is_empty());

    let entry = |lid: &str, pn: &str, at: i64| LidPnMappingEntry {
        lid: lid.into(),
        phone_number: pn.into(),
        created_at: at,
        updated_at: at,
        learning_source: "usync".into(),
    };
    s.put_lid_mapping(&entry("100", "555", 10)).await.unwrap();
    s.put_lid_mappings(&[entry("101", "555", 20), entry("100", "556", 30)]).await.unwrap();
    let got = s.get_lid_mapping("100").await.unwrap().unwrap();
    assert_eq!(
        (got.phone_number.as_str(), got.created_at, got.updated_at),
        ("556", 10, 30),
        "created_at kept"
    );
    assert_eq!(s.get_pn_mapping("555").await.unwrap().unwrap().lid, "101");
    assert_eq!(s.get_all_lid_mappings().await.unwrap().len(), 2);

    db.finish().await;
}

#[tokio::test]
async fn base_keys_device_lists_groups_and_sent_messages_round_trip() {
    let Some(db) = TestDb::create("base_keys_device_lists_groups_and_sent_messages_round_trip").await else {
        return;
    };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    s.save_base_key("a@lid", "m1", b"base").await.unwrap();
    assert!(s.has_same_base_key("a@lid", "m1", b"base").await.unwrap());
    assert!(!s.has_same_base_key("a@lid", "m1", b"other").await.unwrap());
    s.delete_base_key("a@lid", "m1").await.unwrap();
    assert!(!s.has_same_base_key("a@lid", "m1", b"base").await.unwrap());

    let record = |user: &str, n: u32| DeviceListRecord {
        user: user.into(),
        devices: (0..n).map(|d| DeviceInfo::new(d, Some(d))).collect(),
        timestamp: 77,
        phash: Some("2:abc".into()),
        raw_id: Some(5),
    };
    s.update_device_list(record("u1", 2)).await.unwrap();
    s.update_device_lists(vec![record("u2", 1), record("u1", 3)]).await.unwrap();
    let got = s.get_devices("u1").await.unwrap().unwrap();
    assert_eq!(
        (got.devices.len(), got.timestamp, got.phash.as_deref(), got.raw_id),
        (3, 77, Some("2:abc"), Some(5))
    );
    s.delete_devices("u1").await.unwrap();
    assert!(s.get_devices("u1").await.unwrap().is_none());

    s.put_group_metadata("g@g.us", b"info").await.unwrap();
    assert_eq!(s.get_group_metadata("g@g.us").await.unwrap().unwrap(), b"info");
    s.delete_group_metadata("g@g.us").await.unwrap();
    assert!(s.get_group_metadata("g@g.us").await.unwrap().is_none());

    s.store_sent_message("c@s.whatsapp.net", "m1", b"payload").await.unwrap();
    assert_eq!(s.take_sent_message("c@s.whatsapp.net", "m1").await.unwrap().unwrap(), b"payload");
    assert!(s.take_sent_message("c@s.whatsapp.net", "m1").await.unwrap().is_none(), "taken once");
    db.finish().await;
}

#[tokio::test]
async fn tc_tokens_follow_newer_wins_and_advance_only() {
    let Some(db) = TestDb::create("tc_tokens_follow_newer_wins_and_advance_only").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    let entry = TcTokenEntry { token: b"tok".to_vec(), token_timestamp: 100, sender_timestamp: None };
    s.put_tc_token("a@lid", &entry).await.unwrap();
    s.touch_tc_token_sender_timestamp("a@lid", 50).await.unwrap();
    s.touch_tc_token_sender_timestamp("a@lid", 40).await.unwrap();
    let got = s.get_tc_token("a@lid").await.unwrap().unwrap();
    assert_eq!(
        (got.token.as_slice(), got.sender_timestamp),
        (&b"tok"[..], Some(50)),
        "sender bucket advances only"
    );
    s.store_received_tc_token("a@lid", b"old", 90).await.unwrap();
    assert_eq!(s.get_tc_token("a@lid").await.unwrap().unwrap().token, b"tok", "a stale token loses");
    s.store_received_tc_token("a@lid", b"new", 100).await.unwrap();
    let got = s.get_tc_token("a@lid").await.unwrap().unwrap();
    assert_eq!(
        (got.token.as_slice(), got.sender_timestamp),
        (&b"new"[..], Some(50)),
        "keeps the sender bucket"
    );

    s.touch_tc_token_sender_timestamp("b@lid", 60).await.unwrap();
    let got = s.get_tc_token("b@lid").await.unwrap().unwrap();
    assert!(got.token.is_empty(), "a placeholder");
    s.store_received_tc_token("b@lid", b"first", 10).await.unwrap();
    assert_eq!(s.get_tc_token("b@lid").await.unwrap().unwrap().token, b"first", "a placeholder never blocks");

    let mut jids = s.get_all_tc_token_jids().await.unwrap();
    jids.sort();
    assert_eq!(jids, vec!["a@lid", "b@lid"]);
    s.delete_tc_token("b@lid").await.unwrap();
    assert!(s.get_tc_token("b@lid").await.unwrap().is_none());
    db.finish().await;
}

#[tokio::test]
async fn expiry_sweeps_delete_only_what_expired() {
    let Some(db) = TestDb::create("expiry_sweeps_delete_only_what_expired").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    let now = wacore::time::now_secs();

    // tc tokens: gone only when both the token and the sender bucket are stale.
    let put = |token: &'static [u8], ts: i64, sender: Option<i64>| TcTokenEntry {
        token: token.to_vec(),
        token_timestamp: ts,
        sender_timestamp: sender,
    };
    s.put_tc_token("stale", &put(b"t", 10, None)).await.unwrap();
    s.put_tc_token("sender-fresh", &put(b"t", 10, Some(500))).await.unwrap();
    s.put_tc_token("token-fresh", &put(b"t", 500, Some(10))).await.unwrap();
    s.put_tc_token("placeholder", &put(b"", 900, Some(10))).await.unwrap();
    assert_eq!(s.delete_expired_tc_tokens(100, 100).await.unwrap(), 2);
    let mut left = s.get_all_tc_token_jids().await.unwrap();
    left.sort();
    assert_eq!(left, vec!["sender-fresh", "token-fresh"]);

    s.store_sent_message("c", "m", b"p").await.unwrap();
    assert_eq!(s.delete_expired_sent_messages(now - 60).await.unwrap(), 0);
    assert_eq!(s.delete_expired_sent_messages(now + 60).await.unwrap(), 1);

    let secret = |id: &str, expires_at: i64, message_ts: i64| MsgSecretEntry {
        chat: arc("c@s.whatsapp.net"),
        sender: arc("c@s.whatsapp.net"),
        msg_id: arc(id),
        secret: [4; 32],
        expires_at,
        message_ts,
    };
    let stored = s
        .put_msg_secrets(vec![secret("past", 100, 1), secret("never", 0, 1), secret("future", now + 999, 1)])
        .await;
    assert_eq!(stored.unwrap(), 3);
    assert_eq!(s.delete_expired_msg_secrets(now).await.unwrap(), 1);
    assert!(s.get_msg_secret("c@s.whatsapp.net", "c@s.whatsapp.net", "past").await.unwrap().is_none());
    assert!(s.get_msg_secret("c@s.whatsapp.net", "c@s.whatsapp.net", "never").await.unwrap().is_some());

    s.store_pending_inbound("c", "s", "i", b"m").await.unwrap();
    assert_eq!(s.delete_expired_pending_inbound(now - 60).await.unwrap(), 0);
    assert_eq!(s.delete_expired_pending_inbound(now + 60).await.unwrap(), 1);
    db.finish().await;
}

#[tokio::test]
async fn msg_secrets_merge_deadlines_and_parent_times() {
    let Some(db) = TestDb::create("msg_secrets_merge_deadlines_and_parent_times").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    let e = |secret: u8, expires_at: i64, message_ts: i64| MsgSecretEntry {
        chat: arc("g@g.us"),
        sender: arc("a@lid"),
        msg_id: arc("M"),
        secret: [secret; 32],
        expires_at,
        message_ts,
    };
    s.put_msg_secrets(vec![e(1, 100, 7)]).await.unwrap();
    s.put_msg_secrets(vec![e(2, 50, 0)]).await.unwrap();
    assert_eq!(s.get_msg_secret_with_ts("g@g.us", "a@lid", "M").await.unwrap().unwrap(), (vec![2; 32], 7));
    assert_eq!(s.delete_expired_msg_secrets(99).await.unwrap(), 0, "the later deadline (100) was kept");
    // Repeats inside one batch merge the same way.
    s.put_msg_secrets(vec![e(3, 0, 8), e(4, 200, 1)]).await.unwrap();
    assert_eq!(s.get_msg_secret_with_ts("g@g.us", "a@lid", "M").await.unwrap().unwrap(), (vec![4; 32], 8));
    assert_eq!(s.delete_expired_msg_secrets(i64::MAX).await.unwrap(), 0, "0 = never wins");
    s.put_msg_secret("g@g.us", "b@lid", "M", &[5; 32]).await.unwrap();
    assert_eq!(s.get_msg_secret("g@g.us", "b@lid", "M").await.unwrap().unwrap(), vec![5; 32]);
    db.finish().await;
}

#[tokio::test]
async fn pending_inbound_buffer() {
    let Some(db) = TestDb::create("pending_inbound_buffer").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    s.store_pending_inbound("chat", "sender", "id1", b"first").await.unwrap();
    s.store_pending_inbound("chat", "sender", "id1", b"again").await.unwrap();
    assert_eq!(s.get_pending_inbound("chat", "sender", "id1").await.unwrap().unwrap(), b"again");
    assert!(
        s.get_pending_inbound("chat", "other", "id1").await.unwrap().is_none(),
        "keyed by chat, sender, id"
    );
    let row = |id, message| PendingInboundRow { chat: "chat", sender: "sender", id, message };
    s.store_pending_inbound_batch(&[row("id2", b"two"), row("id3", b"three"), row("id2", b"two'")])
        .await
        .unwrap();
    assert_eq!(s.get_pending_inbound("chat", "sender", "id2").await.unwrap().unwrap(), b"two'");
    let key = |id| PendingInboundKey { chat: "chat", sender: "sender", id };
    s.delete_pending_inbound_batch(&[key("id1"), key("id2"), key("missing")]).await.unwrap();
    assert!(s.get_pending_inbound("chat", "sender", "id1").await.unwrap().is_none());
    assert!(s.get_pending_inbound("chat", "sender", "id2").await.unwrap().is_none());
    s.delete_pending_inbound("chat", "sender", "id3").await.unwrap();
    assert!(s.get_pending_inbound("chat", "sender", "id3").await.unwrap().is_none());
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
