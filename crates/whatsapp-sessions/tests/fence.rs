//! Fenced writes: a store whose lease is gone (expired, or taken over with a
//! newer token) writes nothing and says so; reads and unfenced stores are
//! unaffected; a takeover in progress makes a fenced write wait for it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::TestDb;
use wacore::store::traits::*;
use whatsapp_sessions::{is_lease_lost, Error, Fence, PgSessionStore};

/// The daemon's check, on this test's stand-in for its lease table.
const CHECK: &str =
    "SELECT 1 FROM leases WHERE tenant_id = $1 AND token = $2 AND expires_at > now() FOR SHARE";

/// A fresh database with a `leases` table where `tenant` holds token 5 for
/// an hour.
async fn with_lease(test: &str, tenant: &str) -> Option<TestDb> {
    let db = TestDb::create(test).await?;
    let c = db.client().await;
    c.batch_execute("CREATE TABLE leases (tenant_id TEXT PRIMARY KEY, token BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)")
        .await
        .unwrap();
    c.execute("INSERT INTO leases VALUES ($1, 5, now() + interval '1 hour')", &[&tenant]).await.unwrap();
    Some(db)
}

fn fenced(db: &TestDb, tenant: &str, token: i64) -> PgSessionStore {
    PgSessionStore::new(db.pool.clone(), tenant).with_fence(Fence::new(CHECK, token))
}

async fn set_lease(db: &TestDb, sql: &str) {
    db.client().await.batch_execute(sql).await.unwrap();
}

/// `r` failed because the lease is lost, and says so.
fn assert_lease_lost<T: std::fmt::Debug>(r: wacore::store::error::Result<T>, what: &str) {
    let err = r.expect_err(what);
    assert!(is_lease_lost(&err), "{what}: {err:?}");
    let source = std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default();
    assert!(source.contains("lease lost") && source.contains("stale"), "{what}: {source}");
}

fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

#[tokio::test]
async fn writes_go_through_while_the_lease_holds_and_are_refused_after_a_takeover() {
    let Some(db) = with_lease("fence_takeover", "t1").await else { return };
    let s = fenced(&db, "t1", 5);
    s.put_session("a@lid", b"mine").await.unwrap();
    s.put_identity("a@lid", [1; 32]).await.unwrap();
    s.put_sessions_batch(&[(arc("b@lid"), Bytes::from_static(b"b1"))]).await.unwrap();
    s.store_sent_message("c", "m", b"p").await.unwrap();
    assert_eq!(s.get_session("a@lid").await.unwrap().unwrap(), &b"mine"[..]);

    set_lease(&db, "UPDATE leases SET token = 6").await;
    assert_lease_lost(s.put_session("a@lid", b"stale").await, "put_session");
    assert_lease_lost(s.put_identity("a@lid", [9; 32]).await, "put_identity");
    let batch = [(arc("a@lid"), Bytes::from_static(b"x")), (arc("n@lid"), Bytes::from_static(b"y"))];
    assert_lease_lost(s.put_sessions_batch(&batch).await, "put_sessions_batch");
    assert_lease_lost(s.delete_session("b@lid").await, "delete_session");
    assert_lease_lost(s.take_sent_message("c", "m").await, "take_sent_message");
    assert_lease_lost(s.store_prekeys_batch(&[(1, Bytes::from_static(b"k"))], false).await, "prekeys");

    // Nothing of the refused writes is there; reads still work.
    assert_eq!(s.get_session("a@lid").await.unwrap().unwrap(), &b"mine"[..]);
    assert_eq!(s.load_identity("a@lid").await.unwrap(), Some([1; 32]));
    assert!(!s.has_session("n@lid").await.unwrap());
    assert!(s.has_session("b@lid").await.unwrap());
    assert!(s.load_prekey(1).await.unwrap().is_none());

    // The new owner writes; so does an unfenced store, whatever the leases say.
    let owner = fenced(&db, "t1", 6);
    assert_eq!(owner.take_sent_message("c", "m").await.unwrap().unwrap(), b"p", "still there to take");
    owner.put_session("a@lid", b"theirs").await.unwrap();
    PgSessionStore::new(db.pool.clone(), "t1").put_session("z@lid", b"free").await.unwrap();
    assert_eq!(s.get_session("a@lid").await.unwrap().unwrap(), &b"theirs"[..]);
    assert!(s.has_session("z@lid").await.unwrap());
    db.finish().await;
}

#[tokio::test]
async fn an_expired_or_missing_lease_refuses_writes() {
    let Some(db) = with_lease("fence_expired", "t1").await else { return };
    let s = fenced(&db, "t1", 5);
    s.set_version("regular", Default::default()).await.unwrap();
    set_lease(&db, "UPDATE leases SET expires_at = now() - interval '1 second'").await;
    assert_lease_lost(s.put_session("a@lid", b"late").await, "expired lease");
    set_lease(&db, "DELETE FROM leases").await;
    assert_lease_lost(s.save(&wacore::store::Device::new()).await, "no lease row");
    assert_lease_lost(s.create().await, "create");
    assert!(!s.has_session("a@lid").await.unwrap());
    assert!(!s.exists().await.unwrap());
    db.finish().await;
}

#[tokio::test]
async fn wipe_is_fenced_too() {
    let Some(db) = with_lease("fence_wipe", "t1").await else { return };
    let s = fenced(&db, "t1", 5);
    s.put_session("a@lid", b"s").await.unwrap();
    s.put_identity("a@lid", [1; 32]).await.unwrap();
    set_lease(&db, "UPDATE leases SET token = 6").await;
    let err = s.wipe().await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost(_)) && is_lease_lost(&err), "{err:?}");
    assert!(err.to_string().contains("lease lost"), "{err}");
    assert!(s.has_session("a@lid").await.unwrap(), "nothing wiped");
    assert_eq!(fenced(&db, "t1", 6).wipe().await.unwrap(), 2, "the owner wipes");
    assert!(!s.has_session("a@lid").await.unwrap());
    db.finish().await;
}

/// A refused write leaves its pooled connection clean: the next (unfenced)
/// write on that same connection commits.
#[tokio::test]
async fn a_refused_write_leaves_no_open_transaction_behind() {
    let Some(db) = with_lease("fence_clean_connection", "t1").await else { return };
    let one = db.pool_of(1);
    let stale = PgSessionStore::new(one.clone(), "t1").with_fence(Fence::new(CHECK, 4));
    assert_lease_lost(stale.put_session("a@lid", b"stale").await, "stale token");
    PgSessionStore::new(one.clone(), "t1").put_session("a@lid", b"free").await.unwrap();
    let seen = PgSessionStore::new(db.pool.clone(), "t1").get_session("a@lid").await.unwrap();
    assert_eq!(seen.unwrap(), &b"free"[..], "committed, seen from another connection");
    one.close();
    db.finish().await;
}

/// A takeover in progress (the lease row locked by another transaction)
/// holds a fenced write back until it ends; the write then sees its outcome.
#[tokio::test]
async fn a_fenced_write_waits_for_a_takeover_in_progress() {
    let Some(db) = with_lease("fence_concurrent", "t1").await else { return };
    for (end, refused) in [("ROLLBACK", false), ("UPDATE leases SET token = 6; COMMIT", true)] {
        let other = db.pool_of(1);
        let taker = other.get().await.unwrap();
        taker.batch_execute("BEGIN; SELECT * FROM leases FOR UPDATE").await.unwrap();
        let s = fenced(&db, "t1", 5);
        let write = tokio::spawn(async move { s.put_session("a@lid", end.as_bytes()).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!write.is_finished(), "the write waits for the lease row");
        taker.batch_execute(end).await.unwrap();
        let result = tokio::time::timeout(common::STEP, write).await.unwrap().unwrap();
        let stored = PgSessionStore::new(db.pool.clone(), "t1").get_session("a@lid").await.unwrap();
        if refused {
            assert_lease_lost(result, "write behind a takeover");
            assert_ne!(stored.as_deref(), Some(end.as_bytes()));
        } else {
            result.unwrap();
            assert_eq!(stored.as_deref(), Some(end.as_bytes()));
        }
        drop(taker);
        other.close();
    }
    db.finish().await;
}
