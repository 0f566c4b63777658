//! The ProtocolStore and MsgSecretStore behaviour both backends are held to:
//! each function drives stores through the traits only, so
//! `tests/sqlite_protocol.rs` runs the very same assertions on PostgreSQL
//! and on the shared SQLite file.
#![allow(dead_code)]

use std::sync::Arc;

use wacore::store::traits::{
    Backend, DeviceInfo, DeviceListRecord, LidPnMappingEntry, MsgSecretEntry, MsgSecretStore,
    PendingInboundKey, PendingInboundRow, ProtocolStore, TcTokenEntry,
};

fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

/// Sender-key distribution marks and LID mappings.
pub async fn protocol_state_round_trips(s: &dyn ProtocolStore) {
    s.set_sender_key_status("g@g.us", &[("a:1@lid", true), ("b:2@lid", false), ("a:1@lid", false)])
        .await
        .unwrap();
    s.set_sender_key_status("h@g.us", &[("a:1@lid", true)]).await.unwrap();
    let mut devs = s.get_sender_key_devices("g@g.us").await.unwrap();
    devs.sort();
    assert_eq!(devs, vec![("a:1@lid".into(), false), ("b:2@lid".into(), false)], "last in a batch wins");
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
    assert_eq!(s.get_pn_mapping("555").await.unwrap().unwrap().lid, "101", "the latest LID of a number");
    assert!(s.get_pn_mapping("557").await.unwrap().is_none());
    assert_eq!(s.get_all_lid_mappings().await.unwrap().len(), 2);
}

/// Base keys, device lists, group metadata, sent messages.
pub async fn base_keys_device_lists_groups_and_sent_messages_round_trip(s: &dyn ProtocolStore) {
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
    s.update_device_list(DeviceListRecord { phash: None, raw_id: None, ..record("u2", 2) }).await.unwrap();
    let got = s.get_devices("u2").await.unwrap().unwrap();
    assert_eq!((got.devices.len(), got.phash, got.raw_id), (2, None, None), "absent fields stay absent");
    s.delete_devices("u1").await.unwrap();
    assert!(s.get_devices("u1").await.unwrap().is_none());

    s.put_group_metadata("g@g.us", b"info").await.unwrap();
    s.put_group_metadata("g@g.us", b"info2").await.unwrap();
    assert_eq!(s.get_group_metadata("g@g.us").await.unwrap().unwrap(), b"info2");
    s.delete_group_metadata("g@g.us").await.unwrap();
    assert!(s.get_group_metadata("g@g.us").await.unwrap().is_none());

    s.store_sent_message("c@s.whatsapp.net", "m1", b"payload").await.unwrap();
    s.store_sent_message("c@s.whatsapp.net", "m1", b"payload2").await.unwrap();
    assert_eq!(s.take_sent_message("c@s.whatsapp.net", "m1").await.unwrap().unwrap(), b"payload2");
    assert!(s.take_sent_message("c@s.whatsapp.net", "m1").await.unwrap().is_none(), "taken once");
}

/// Received tokens are newer-wins, the sender bucket advance-only, and
/// neither writer drops the other's field.
pub async fn tc_tokens_follow_newer_wins_and_advance_only(s: &dyn ProtocolStore) {
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
        (got.token.as_slice(), got.token_timestamp, got.sender_timestamp),
        (&b"new"[..], 100, Some(50)),
        "keeps the sender bucket"
    );

    s.touch_tc_token_sender_timestamp("b@lid", 60).await.unwrap();
    let got = s.get_tc_token("b@lid").await.unwrap().unwrap();
    assert!(got.token.is_empty(), "a placeholder");
    assert_eq!((got.token_timestamp, got.sender_timestamp), (60, Some(60)));
    s.store_received_tc_token("b@lid", b"first", 10).await.unwrap();
    let got = s.get_tc_token("b@lid").await.unwrap().unwrap();
    assert_eq!(
        (got.token.as_slice(), got.sender_timestamp),
        (&b"first"[..], Some(60)),
        "a placeholder never blocks"
    );

    s.store_received_tc_token("c@lid", b"fresh", 5).await.unwrap();
    let got = s.get_tc_token("c@lid").await.unwrap().unwrap();
    assert_eq!(
        (got.token.as_slice(), got.sender_timestamp),
        (&b"fresh"[..], None),
        "a new row has no sender bucket"
    );
    s.touch_tc_token_sender_timestamp("c@lid", 7).await.unwrap();
    assert_eq!(
        s.get_tc_token("c@lid").await.unwrap().unwrap().sender_timestamp,
        Some(7),
        "a NULL bucket advances"
    );

    let mut jids = s.get_all_tc_token_jids().await.unwrap();
    jids.sort();
    assert_eq!(jids, vec!["a@lid", "b@lid", "c@lid"]);
    s.delete_tc_token("b@lid").await.unwrap();
    assert!(s.get_tc_token("b@lid").await.unwrap().is_none());
}

/// tc tokens, sent messages, message secrets and the pending-inbound buffer
/// each lose only what expired.
pub async fn expiry_sweeps_delete_only_what_expired(s: &dyn Backend) {
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
}

/// Re-persisting a secret keeps the later deadline ("0 = never" wins) and
/// the later parent time, across batches and inside one.
pub async fn msg_secrets_merge_deadlines_and_parent_times(s: &dyn MsgSecretStore) {
    let e = |secret: u8, expires_at: i64, message_ts: i64| MsgSecretEntry {
        chat: arc("g@g.us"),
        sender: arc("a@lid"),
        msg_id: arc("M"),
        secret: [secret; 32],
        expires_at,
        message_ts,
    };
    assert_eq!(s.put_msg_secrets(Vec::new()).await.unwrap(), 0);
    s.put_msg_secrets(vec![e(1, 100, 7)]).await.unwrap();
    s.put_msg_secrets(vec![e(2, 50, 0)]).await.unwrap();
    assert_eq!(s.get_msg_secret_with_ts("g@g.us", "a@lid", "M").await.unwrap().unwrap(), (vec![2; 32], 7));
    assert_eq!(s.delete_expired_msg_secrets(99).await.unwrap(), 0, "the later deadline (100) was kept");
    // Repeats inside one batch merge the same way, and count once.
    assert_eq!(s.put_msg_secrets(vec![e(3, 0, 8), e(4, 200, 1)]).await.unwrap(), 1);
    assert_eq!(s.get_msg_secret_with_ts("g@g.us", "a@lid", "M").await.unwrap().unwrap(), (vec![4; 32], 8));
    assert_eq!(s.delete_expired_msg_secrets(i64::MAX).await.unwrap(), 0, "0 = never wins");
    s.put_msg_secret("g@g.us", "b@lid", "M", &[5; 32]).await.unwrap();
    assert_eq!(s.get_msg_secret("g@g.us", "b@lid", "M").await.unwrap().unwrap(), vec![5; 32]);
    assert!(s.get_msg_secret("g@g.us", "c@lid", "M").await.unwrap().is_none());
}

/// The pending-inbound buffer, keyed by chat, sender and id.
pub async fn pending_inbound_buffer(s: &dyn ProtocolStore) {
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
}

/// What tenant `a` writes through these traits, `b` (another tenant of the
/// same database) neither sees nor sweeps nor clears.
pub async fn protocol_rows_stay_with_their_tenant(a: &dyn Backend, b: &dyn Backend) {
    a.set_sender_key_status("g@g.us", &[("x:1@lid", true)]).await.unwrap();
    let lid = LidPnMappingEntry {
        lid: "100".into(),
        phone_number: "555".into(),
        created_at: 1,
        updated_at: 1,
        learning_source: "usync".into(),
    };
    a.put_lid_mapping(&lid).await.unwrap();
    a.save_base_key("x@lid", "m", b"k").await.unwrap();
    let record =
        DeviceListRecord { user: "u".into(), devices: Vec::new(), timestamp: 1, phash: None, raw_id: None };
    a.update_device_list(record).await.unwrap();
    a.put_group_metadata("g@g.us", b"i").await.unwrap();
    let token = TcTokenEntry { token: b"t".to_vec(), token_timestamp: 1, sender_timestamp: None };
    a.put_tc_token("x@lid", &token).await.unwrap();
    a.store_sent_message("c", "m", b"p").await.unwrap();
    a.store_pending_inbound("c", "s", "i", b"m").await.unwrap();
    a.put_msg_secret("c", "s", "m", &[1; 32]).await.unwrap();

    assert!(b.get_sender_key_devices("g@g.us").await.unwrap().is_empty());
    assert!(b.get_lid_mapping("100").await.unwrap().is_none());
    assert!(b.get_pn_mapping("555").await.unwrap().is_none());
    assert!(b.get_all_lid_mappings().await.unwrap().is_empty());
    assert!(!b.has_same_base_key("x@lid", "m", b"k").await.unwrap());
    assert!(b.get_devices("u").await.unwrap().is_none());
    assert!(b.get_group_metadata("g@g.us").await.unwrap().is_none());
    assert!(b.get_all_tc_token_jids().await.unwrap().is_empty());
    assert!(b.take_sent_message("c", "m").await.unwrap().is_none());
    assert!(b.get_pending_inbound("c", "s", "i").await.unwrap().is_none());
    assert!(b.get_msg_secret("c", "s", "m").await.unwrap().is_none());
    assert_eq!(b.delete_expired_tc_tokens(i64::MAX, i64::MAX).await.unwrap(), 0);
    assert_eq!(b.delete_expired_sent_messages(i64::MAX).await.unwrap(), 0);
    assert_eq!(b.delete_expired_pending_inbound(i64::MAX).await.unwrap(), 0);
    b.clear_all_sender_key_devices().await.unwrap();
    b.delete_sender_key_device_rows(&["x:1@lid"]).await.unwrap();

    assert_eq!(a.get_sender_key_devices("g@g.us").await.unwrap().len(), 1, "a's rows survive b's clears");
    assert!(a.get_lid_mapping("100").await.unwrap().is_some());
    assert!(a.get_all_tc_token_jids().await.unwrap().len() == 1);
    assert!(a.take_sent_message("c", "m").await.unwrap().is_some(), "a's rows survive b's sweeps");
    assert!(a.get_pending_inbound("c", "s", "i").await.unwrap().is_some());
    assert!(a.get_msg_secret("c", "s", "m").await.unwrap().is_some());
}
