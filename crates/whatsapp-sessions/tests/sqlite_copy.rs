//! `copy_tenant_to_pg` value by value: a tenant written through every
//! storage trait on the shared SQLite file reads back the same through
//! `PgSessionStore` (flags become BOOLEAN, NULLs stay NULL, u32 ids keep
//! their range), and only that tenant moves. Skipped when
//! `AGENTLOCATOR_TEST_DATABASE_URL` is unset.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::TestDb;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::traits::*;
use wacore::store::Device;
use whatsapp_sessions::{copy_tenant_to_pg, tenant_exists, PgSessionStore, SqliteSessions};

/// One or two rows in every table, through the traits.
async fn fill(s: &dyn Backend) {
    let mut device = Device::new();
    device.pn = Some("15550001111@s.whatsapp.net".parse().unwrap());
    device.push_name = "copied".into();
    s.save(&device).await.unwrap();
    s.put_identity("a@lid", [7; 32]).await.unwrap();
    s.put_session("a@lid", b"session").await.unwrap();
    s.store_prekey(u32::MAX, b"max", true).await.unwrap();
    s.store_prekey(1, b"one", false).await.unwrap();
    // More rows than one PostgreSQL INSERT carries.
    let many: Vec<(u32, Bytes)> = (2..=1201).map(|i| (i, Bytes::from_static(b"many"))).collect();
    s.store_prekeys_batch(&many, true).await.unwrap();
    s.store_signed_prekey(3, b"spk").await.unwrap();
    s.put_sender_key("g@g.us::a", b"sk").await.unwrap();
    let key = AppStateSyncKey { key_data: vec![1; 32], fingerprint: vec![2], timestamp: 9 };
    s.set_sync_key(b"\x00\x01", key).await.unwrap();
    s.set_version("regular", HashState { version: 4, ..Default::default() }).await.unwrap();
    let mac = AppStateMutationMAC { index_mac: vec![3; 32], value_mac: vec![4; 32] };
    s.put_mutation_macs("regular", 4, &[mac]).await.unwrap();
    s.save_base_key("a@lid", "m", b"base").await.unwrap();
    let devices = vec![DeviceInfo::new(0, None), DeviceInfo::new(2, Some(1))];
    let record = DeviceListRecord { user: "u".into(), devices, timestamp: 5, phash: None, raw_id: Some(8) };
    s.update_device_list(record).await.unwrap();
    s.put_group_metadata("g@g.us", b"meta").await.unwrap();
    let lid = LidPnMappingEntry {
        lid: "100".into(),
        phone_number: "555".into(),
        created_at: 1,
        updated_at: 2,
        learning_source: "usync".into(),
    };
    s.put_lid_mapping(&lid).await.unwrap();
    s.set_sender_key_status("g@g.us", &[("a:1@lid", true), ("b:1@lid", false)]).await.unwrap();
    let token = TcTokenEntry { token: b"tok".to_vec(), token_timestamp: 11, sender_timestamp: None };
    s.put_tc_token("a@lid", &token).await.unwrap();
    s.touch_tc_token_sender_timestamp("b@lid", 12).await.unwrap();
    s.store_sent_message("c", "m", b"payload").await.unwrap();
    s.store_pending_inbound("c", "s", "i", b"pending").await.unwrap();
    s.put_msg_secret("c", "s", "m", &[6; 32]).await.unwrap();
}

/// What [`fill`] wrote, read back through `s`.
async fn check(s: &dyn Backend) {
    let device = s.load().await.unwrap().unwrap();
    assert_eq!((device.pn.unwrap().user.as_str(), device.push_name.as_str()), ("15550001111", "copied"));
    assert_eq!(s.load_identity("a@lid").await.unwrap(), Some([7; 32]));
    assert_eq!(s.get_session("a@lid").await.unwrap().unwrap(), &b"session"[..]);
    assert_eq!(s.get_max_prekey_id().await.unwrap(), u32::MAX);
    assert_eq!(s.load_prekeys_batch(&[1]).await.unwrap(), vec![(1, Bytes::from_static(b"one"))]);
    assert_eq!(s.load_prekey(1201).await.unwrap().unwrap(), &b"many"[..]);
    assert_eq!(s.load_all_signed_prekeys().await.unwrap(), vec![(3, b"spk".to_vec())]);
    assert_eq!(s.get_sender_key("g@g.us::a").await.unwrap().unwrap(), b"sk");
    assert_eq!(s.get_sync_key(b"\x00\x01").await.unwrap().unwrap().timestamp, 9);
    assert_eq!(s.get_version("regular").await.unwrap().version, 4);
    assert_eq!(s.get_mutation_mac("regular", &[3; 32]).await.unwrap().unwrap(), vec![4; 32]);
    assert!(s.has_same_base_key("a@lid", "m", b"base").await.unwrap());
    let record = s.get_devices("u").await.unwrap().unwrap();
    assert_eq!((record.devices.len(), record.phash, record.raw_id), (2, None, Some(8)));
    assert_eq!(s.get_group_metadata("g@g.us").await.unwrap().unwrap(), b"meta");
    let lid = s.get_pn_mapping("555").await.unwrap().unwrap();
    assert_eq!((lid.lid.as_str(), lid.created_at, lid.updated_at), ("100", 1, 2));
    let mut marks = s.get_sender_key_devices("g@g.us").await.unwrap();
    marks.sort();
    assert_eq!(marks, vec![("a:1@lid".into(), true), ("b:1@lid".into(), false)]);
    let token = s.get_tc_token("a@lid").await.unwrap().unwrap();
    assert_eq!((token.token.as_slice(), token.sender_timestamp), (&b"tok"[..], None));
    let placeholder = s.get_tc_token("b@lid").await.unwrap().unwrap();
    assert_eq!((placeholder.token.is_empty(), placeholder.sender_timestamp), (true, Some(12)));
    assert_eq!(s.get_pending_inbound("c", "s", "i").await.unwrap().unwrap(), b"pending");
    assert_eq!(s.get_msg_secret("c", "s", "m").await.unwrap().unwrap(), vec![6; 32]);
    assert_eq!(s.take_sent_message("c", "m").await.unwrap().unwrap(), b"payload");
}

#[tokio::test]
async fn every_table_copies_value_for_value() {
    let Some(db) = TestDb::create("every_table_copies_value_for_value").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let sessions = SqliteSessions::open(&dir.path().join("sessions.db")).await.unwrap();
    fill(&sessions.tenant("t")).await;
    sessions.tenant("other").create().await.unwrap();

    let counts = copy_tenant_to_pg(&sessions, &db.pool, "t").await.unwrap();
    assert!(counts.paired);
    assert_eq!(counts.rows.len(), 18, "every table: {counts:?}");
    assert!(counts.rows.values().all(|n| *n >= 1), "every table has a row: {counts:?}");
    assert_eq!((counts.get("wa_prekeys"), counts.get("wa_tc_tokens")), (1202, 2));
    let pg: Arc<dyn Backend> = Arc::new(PgSessionStore::new(db.pool.clone(), "t"));
    check(&*pg).await;
    check(&sessions.tenant("t")).await;
    assert!(tenant_exists(&db.pool, "t").await.unwrap());
    assert!(!PgSessionStore::new(db.pool.clone(), "other").exists().await.unwrap(), "only t moved");

    let empty = copy_tenant_to_pg(&sessions, &db.pool, "nobody").await.unwrap();
    assert!(!empty.paired && empty.rows.values().all(|n| *n == 0), "{empty:?}");
    db.finish().await;
}
