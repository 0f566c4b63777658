//! The trait-level behaviour both backends are held to: each function drives
//! one store through a storage trait only, so the PostgreSQL tests
//! (`tests/store.rs`) and the SQLite ones (`tests/sqlite_store.rs`) run the
//! very same assertions. Checks of rows behind a store's back stay in each
//! backend's own tests.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::traits::{AppStateSyncKey, AppSyncStore, DeviceStore, SignalStore};
use wacore::store::Device;

pub fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

/// Identities, sessions, signed prekeys and sender keys: round trips, the
/// last occurrence in a batch winning, the per-user prefix scan.
pub async fn signal_state_round_trips(s: &dyn SignalStore) {
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
}

/// The per-user scan matches addresses literally: LIKE's wildcards in a user
/// match only themselves, and case matters (PostgreSQL's LIKE is
/// case-sensitive, so SQLite's must be too).
pub async fn user_scan_is_literal(s: &dyn SignalStore) {
    s.put_session("a_b@lid", b"s").await.unwrap();
    s.put_identity("x%y:1@lid", [1; 32]).await.unwrap();
    s.put_session("Up@lid", b"s").await.unwrap();
    assert!(s.has_signal_state_for_user("a_b").await.unwrap());
    assert!(!s.has_signal_state_for_user("a_").await.unwrap());
    assert!(!s.has_signal_state_for_user("aXb").await.unwrap(), "_ is not a wildcard");
    assert!(s.has_signal_state_for_user("x%y").await.unwrap());
    assert!(!s.has_signal_state_for_user("x%").await.unwrap(), "% is not a wildcard");
    assert!(s.has_signal_state_for_user("Up").await.unwrap());
    assert!(!s.has_signal_state_for_user("up").await.unwrap(), "case-sensitive");
}

/// Prekeys up to the upload marks: u32 ids without wrap-around, batch loads
/// of the ids present. Leaves ids 1, 3, 4, 5 stored and 1, 3 marked
/// uploaded (1..=5 stored unmarked, 2 removed, then 1, 2, 3 marked) for the
/// caller to check the rows.
pub async fn prekeys_round_trip(s: &dyn SignalStore) {
    assert_eq!(s.get_max_prekey_id().await.unwrap(), 0);
    let keys: Vec<(u32, Bytes)> = (1..=5).map(|i| (i, Bytes::from(vec![i as u8; 4]))).collect();
    s.store_prekeys_batch(&keys, false).await.unwrap();
    s.store_prekey(u32::MAX, b"big", true).await.unwrap();
    assert_eq!(s.get_max_prekey_id().await.unwrap(), u32::MAX, "ids are u32 without wrap-around");
    s.remove_prekey(u32::MAX).await.unwrap();
    assert_eq!(s.load_prekey(3).await.unwrap().unwrap(), &[3u8; 4][..]);
    let mut got = s.load_prekeys_batch(&[1, 2, 99, 2]).await.unwrap();
    got.sort_by_key(|(id, _)| *id);
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 2], "each id once");

    s.remove_prekey(2).await.unwrap();
    s.mark_prekeys_uploaded(&[1, 2, 3]).await.unwrap();
    assert!(s.load_prekey(2).await.unwrap().is_none(), "marking never brings a key back");
    assert_eq!(s.get_max_prekey_id().await.unwrap(), 5);
}

/// The prekey marks [`prekeys_round_trip`] leaves, as `(id, uploaded)`.
pub const PREKEY_MARKS: &[(i64, bool)] = &[(1, true), (3, true), (4, false), (5, false)];

/// Sync keys, collection versions and mutation MACs.
pub async fn app_state_round_trips(s: &dyn AppSyncStore) {
    assert_eq!(s.get_latest_sync_key_id().await.unwrap(), None);
    for (id, ts) in [(&b"\x00\x01"[..], 5), (&b"\x00\x02"[..], 6)] {
        let key = AppStateSyncKey { key_data: vec![9; 32], fingerprint: vec![1, 2], timestamp: ts };
        s.set_sync_key(id, key).await.unwrap();
    }
    let key = s.get_sync_key(b"\x00\x01").await.unwrap().unwrap();
    assert_eq!((key.key_data, key.fingerprint, key.timestamp), (vec![9; 32], vec![1, 2], 5));
    assert_eq!(s.get_latest_sync_key_id().await.unwrap().unwrap(), b"\x00\x02");
    assert!(s.get_sync_key(b"\x00\x03").await.unwrap().is_none());

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
    let batch = s.get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32], [1; 32]]).await.unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!((&batch[&[1; 32]], &batch[&[2; 32]]), (&vec![11; 32], &vec![20; 32]));
    s.delete_mutation_macs("regular", &[vec![2; 32]]).await.unwrap();
    assert_eq!(s.get_mutation_mac("regular", &[2; 32]).await.unwrap(), None);
    s.clear_mutation_macs("regular").await.unwrap();
    assert_eq!(s.get_mutation_mac("regular", &[1; 32]).await.unwrap(), None);
    assert!(s.get_mutation_mac("other", &[1; 32]).await.unwrap().is_some(), "clear is per collection");
}

/// `create` on an empty store, twice: one unpaired device, kept.
pub async fn device_created_once(s: &dyn DeviceStore) {
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
    assert!(created.pn.is_none());
}

/// Saves a paired device and loads it back whole, runtime props restored.
pub async fn device_saved_and_loaded(s: &dyn DeviceStore) {
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
    let report = s.resource_report().await;
    assert_eq!(report.memory_bytes, Some(0), "no memory held per tenant");
}

/// Gives a tenant a row in each table of the three traits here.
pub async fn fill_tenant<S: SignalStore + DeviceStore + AppSyncStore>(a: &S) {
    a.create().await.unwrap();
    a.put_identity("x@lid", [1; 32]).await.unwrap();
    a.put_session("x@lid", b"s").await.unwrap();
    a.store_prekey(1, b"k", false).await.unwrap();
    a.store_signed_prekey(1, b"spk").await.unwrap();
    a.put_sender_key("g::x", b"sk").await.unwrap();
    a.set_sync_key(b"k", AppStateSyncKey::default()).await.unwrap();
    a.set_version("regular", HashState { version: 3, ..Default::default() }).await.unwrap();
    let mac = AppStateMutationMAC { index_mac: vec![1; 32], value_mac: vec![2; 32] };
    a.put_mutation_macs("regular", 3, &[mac]).await.unwrap();
}

/// Whether `b` sees none of what [`fill_tenant`] gave another tenant; its
/// sweeps are run too, and must leave the other tenant's rows alone.
pub async fn sees_nothing<S: SignalStore + DeviceStore + AppSyncStore>(b: &S) {
    assert!(!b.exists().await.unwrap());
    assert!(b.load_identity("x@lid").await.unwrap().is_none());
    assert!(!b.has_session("x@lid").await.unwrap());
    assert!(!b.has_signal_state_for_user("x").await.unwrap());
    assert!(b.load_prekey(1).await.unwrap().is_none());
    assert!(b.load_prekeys_batch(&[1]).await.unwrap().is_empty());
    assert_eq!(b.get_max_prekey_id().await.unwrap(), 0);
    assert!(b.load_all_signed_prekeys().await.unwrap().is_empty());
    assert!(b.get_sender_key("g::x").await.unwrap().is_none());
    assert!(b.get_latest_sync_key_id().await.unwrap().is_none());
    assert_eq!(b.get_version("regular").await.unwrap().version, 0);
    assert!(b.get_mutation_mac("regular", &[1; 32]).await.unwrap().is_none());
    b.clear_mutation_macs("regular").await.unwrap();
    b.mark_prekeys_uploaded(&[1]).await.unwrap();
}

/// Whether `a` still has what [`fill_tenant`] gave it.
pub async fn still_filled<S: SignalStore + DeviceStore + AppSyncStore>(a: &S) {
    assert!(a.exists().await.unwrap());
    assert!(a.has_session("x@lid").await.unwrap());
    assert!(a.get_mutation_mac("regular", &[1; 32]).await.unwrap().is_some(), "b's clear left a's MACs");
    assert_eq!(a.get_version("regular").await.unwrap().version, 3);
}
