//! The storage traits on PostgreSQL, method by method: round trips, tenant
//! isolation, prekey upload marks, the pending-inbound buffer, expiry sweeps,
//! concurrent migrations.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::TestDb;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::traits::*;
use wacore::store::Device;
use whatsapp_sessions::{delete_tenant, migrate, tenant_exists, PgSessionStore, SCHEMA_VERSION};

fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

#[tokio::test]
async fn signal_state_round_trips() {
    let Some(db) = TestDb::create("signal_state_round_trips").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");

    s.put_identity("100@lid", [1; 32]).await.unwrap();
    s.put_identities_batch(&[(arc("200:3@lid"), [2; 32]), (arc("200:3@lid"), [3; 32])]).await.unwrap();
    assert_eq!(s.load_identity("100@lid").await.unwrap(), Some([1; 32]));
    assert_eq!(s.load_identity("200:3@lid").await.unwrap(), Some([3; 32]), "last in a batch wins");
    assert!(s.has_signal_state_for_user("200").await.unwrap());
    assert!(!s.has_signal_state_for_user("20").await.unwrap(), "a prefix of a user is not the user");
    s.delete_identity("100@lid").await.unwrap();
    assert_eq!(s.load_identity("100@lid").await.unwrap(), None);

    s.put_session("300@s.whatsapp.net", b"one").await.unwrap();
    s.put_sessions_batch(&[
        (arc("300@s.whatsapp.net"), Bytes::from_static(b"two")),
        (arc("301:2@s.whatsapp.net"), Bytes::from_static(b"three")),
    ])
    .await
    .unwrap();
    assert_eq!(s.get_session("300@s.whatsapp.net").await.unwrap().unwrap(), &b"two"[..]);
    assert!(s.has_session("301:2@s.whatsapp.net").await.unwrap());
    assert!(s.has_signal_state_for_user("301").await.unwrap());
    s.delete_session("300@s.whatsapp.net").await.unwrap();
    assert!(!s.has_session("300@s.whatsapp.net").await.unwrap());

    s.store_signed_prekey(7, b"spk7").await.unwrap();
    s.store_signed_prekey(8, b"spk8").await.unwrap();
    assert_eq!(s.load_signed_prekey(7).await.unwrap().unwrap(), b"spk7");
    assert_eq!(
        s.load_all_signed_prekeys().await.unwrap(),
        vec![(7, b"spk7".to_vec()), (8, b"spk8".to_vec())]
    );
    s.remove_signed_prekey(7).await.unwrap();
    assert_eq!(s.load_signed_prekey(7).await.unwrap(), None);

    s.put_sender_key("g@g.us::a", b"sk").await.unwrap();
    s.put_sender_keys_batch(&[(arc("g@g.us::b"), Bytes::from_static(b"sk2"))]).await.unwrap();
    assert_eq!(s.get_sender_key("g@g.us::b").await.unwrap().unwrap(), b"sk2");
    s.delete_sender_key("g@g.us::a").await.unwrap();
    assert_eq!(s.get_sender_key("g@g.us::a").await.unwrap(), None);
    db.finish().await;
}

#[tokio::test]
async fn prekeys_and_their_upload_marks() {
    let Some(db) = TestDb::create("prekeys_and_their_upload_marks").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    assert_eq!(s.get_max_prekey_id().await.unwrap(), 0);
    let keys: Vec<(u32, Bytes)> = (1..=5).map(|i| (i, Bytes::from(vec![i as u8; 4]))).collect();
    s.store_prekeys_batch(&keys, false).await.unwrap();
    s.store_prekey(u32::MAX, b"big", true).await.unwrap();
    assert_eq!(s.get_max_prekey_id().await.unwrap(), u32::MAX, "ids are u32 without wrap-around");
    s.remove_prekey(u32::MAX).await.unwrap();
    assert_eq!(s.load_prekey(3).await.unwrap().unwrap(), &[3u8; 4][..]);
    let mut got = s.load_prekeys_batch(&[1, 2, 99]).await.unwrap();
    got.sort_by_key(|(id, _)| *id);
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 2]);

    s.remove_prekey(2).await.unwrap();
    s.mark_prekeys_uploaded(&[1, 2, 3]).await.unwrap();
    let rows = db
        .client()
        .await
        .query("SELECT id, uploaded FROM wa_prekeys WHERE tenant = 't1' ORDER BY id", &[])
        .await
        .unwrap();
    let marks: Vec<(i64, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(marks, vec![(1, true), (3, true), (4, false), (5, false)], "a removed key stays removed");
    assert_eq!(s.get_max_prekey_id().await.unwrap(), 5);
    db.finish().await;
}

#[tokio::test]
async fn app_state_round_trips() {
    let Some(db) = TestDb::create("app_state_round_trips").await else { return };
    let s = PgSessionStore::new(db.pool.clone(), "t1");
    assert_eq!(s.get_latest_sync_key_id().await.unwrap(), None);
    for (id, ts) in [(&b"\x00\x01"[..], 5), (&b"\x00\x02"[..], 6)] {
        let key = AppStateSyncKey { key_data: vec![9; 32], fingerprint: vec![1, 2], timestamp: ts };
        s.set_sync_key(id, key).await.unwrap();
    }
    let key = s.get_sync_key(b"\x00\x01").await.unwrap().unwrap();
    assert_eq!((key.key_data, key.fingerprint, key.timestamp), (vec![9; 32], vec![1, 2], 5));
    assert_eq!(s.get_latest_sync_key_id().await.unwrap().unwrap(), b"\x00\x02");

    assert_eq!(s.get_version("regular").await.unwrap().version, 0);
    let mut state = HashState { version: 42, hash: [7; 128], ..Default::default() };
    state.index_value_map.insert("k".into(), vec![1, 2, 3]);
    s.set_version("regular", state).await.unwrap();
    let back = s.get_version("regular").await.unwrap();
    assert_eq!((back.version, back.hash, back.index_value_map["k"].clone()), (42, [7; 128], vec![1, 2, 3]));

    let mac = |i: u8, v: u8| AppStateMutationMAC { index_mac: vec![i; 32], value_mac: vec![v; 32] };
    s.put_mutation_macs("regular", 3, &[mac(1, 10), mac(2, 20), mac(1, 11)]).await.unwrap();
    s.put_mutation_macs("other", 3, &[mac(1, 99)]).await.unwrap();
    assert_eq!(s.get_mutation_mac("regular", &[1; 32]).await.unwrap().unwrap(), vec![11; 32]);
    let batch = s.get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]]).await.unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[&[2; 32]], vec![20; 32]);
    s.delete_mutation_macs("regular", &[vec![2; 32]]).await.unwrap();
    assert_eq!(s.get_mutation_mac("regular", &[2; 32]).await.unwrap(), None);
    s.clear_mutation_macs("regular").await.unwrap();
    assert_eq!(s.get_mutation_mac("regular", &[1; 32]).await.unwrap(), None);
    assert!(s.get_mutation_mac("other", &[1; 32]).await.unwrap().is_some(), "clear is per collection");
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
    assert!(!s.exists().await.unwrap());
    assert!(s.load().await.unwrap().is_none());
    assert_eq!(s.create().await.unwrap(), 1);
    let created = s.load().await.unwrap().unwrap();
    assert_eq!(s.create().await.unwrap(), 1);
    assert_eq!(
        s.load().await.unwrap().unwrap().registration_id,
        created.registration_id,
        "create keeps a device"
    );
    assert!(s.exists().await.unwrap());
    assert!(!tenant_exists(&db.pool, "t1").await.unwrap(), "an unpaired device is not a paired tenant");

    let mut device = Device::new();
    device.pn = Some("15550001111@s.whatsapp.net".parse().unwrap());
    device.push_name = "pushy".into();
    device.next_pre_key_id = 813;
    s.save(&device).await.unwrap();
    let back = s.load().await.unwrap().unwrap();
    assert_eq!(back.pn, device.pn);
    assert_eq!((back.push_name.as_str(), back.next_pre_key_id), ("pushy", 813));
    assert_eq!(
        back.identity_key.public_key.public_key_bytes(),
        device.identity_key.public_key.public_key_bytes()
    );
    assert!(back.device_props.os.is_some(), "runtime device props restored");
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
    a.create().await.unwrap();
    a.put_identity("x@lid", [1; 32]).await.unwrap();
    a.put_session("x@lid", b"s").await.unwrap();
    a.store_prekey(1, b"k", false).await.unwrap();
    a.put_sender_key("g::x", b"sk").await.unwrap();
    a.set_sync_key(b"k", AppStateSyncKey::default()).await.unwrap();
    a.put_tc_token(
        "x@lid",
        &TcTokenEntry { token: b"t".to_vec(), token_timestamp: 1, sender_timestamp: None },
    )
    .await
    .unwrap();
    a.store_sent_message("c", "m", b"p").await.unwrap();
    a.store_pending_inbound("c", "s", "i", b"m").await.unwrap();
    a.put_msg_secret("c", "s", "m", &[1; 32]).await.unwrap();

    assert!(!b.exists().await.unwrap());
    assert!(b.load_identity("x@lid").await.unwrap().is_none());
    assert!(!b.has_session("x@lid").await.unwrap());
    assert!(!b.has_signal_state_for_user("x").await.unwrap());
    assert!(b.load_prekey(1).await.unwrap().is_none());
    assert_eq!(b.get_max_prekey_id().await.unwrap(), 0);
    assert!(b.get_sender_key("g::x").await.unwrap().is_none());
    assert!(b.get_latest_sync_key_id().await.unwrap().is_none());
    assert!(b.get_all_tc_token_jids().await.unwrap().is_empty());
    assert!(b.take_sent_message("c", "m").await.unwrap().is_none());
    assert!(b.get_pending_inbound("c", "s", "i").await.unwrap().is_none());
    assert!(b.get_msg_secret("c", "s", "m").await.unwrap().is_none());
    assert_eq!(b.delete_expired_sent_messages(i64::MAX).await.unwrap(), 0);
    assert_eq!(b.delete_expired_pending_inbound(i64::MAX).await.unwrap(), 0);
    b.clear_all_sender_key_devices().await.unwrap();
    assert_eq!(delete_tenant(&db.pool, "b").await.unwrap(), 0);

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
