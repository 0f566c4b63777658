//! ProtocolStore and MsgSecretStore on both backends, with the same
//! assertions (`protocol_behaviour`): on the shared SQLite file (a temporary
//! directory, always run) and on PostgreSQL (skipped when
//! `AGENTLOCATOR_TEST_DATABASE_URL` is unset). Also: `SqliteSessionStore` is
//! a whole whatsapp-rust `Backend`.

mod common;
mod protocol_behaviour;

use std::sync::Arc;

use common::TestDb;
use wacore::store::traits::Backend;
use whatsapp_sessions::{PgSessionStore, SqliteSessions};

/// A fresh shared session file in its own temporary directory (kept alive
/// by the returned guard).
async fn sqlite() -> (tempfile::TempDir, SqliteSessions) {
    let dir = tempfile::tempdir().unwrap();
    let sessions = SqliteSessions::open(&dir.path().join("sessions.db")).await.unwrap();
    (dir, sessions)
}

/// One test per backend for each single-store case.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (_dir, db) = super::sqlite().await;
                    super::protocol_behaviour::$case(&db.tenant("t1")).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = super::TestDb::create(stringify!($case)).await else { return };
                    super::protocol_behaviour::$case(&super::PgSessionStore::new(db.pool.clone(), "t1")).await;
                    db.finish().await;
                }
            )*
        }
    };
}

on_both!(
    protocol_state_round_trips,
    base_keys_device_lists_groups_and_sent_messages_round_trip,
    tc_tokens_follow_newer_wins_and_advance_only,
    expiry_sweeps_delete_only_what_expired,
    msg_secrets_merge_deadlines_and_parent_times,
    pending_inbound_buffer,
);

#[tokio::test]
async fn sqlite_protocol_rows_stay_with_their_tenant() {
    let (_dir, db) = sqlite().await;
    protocol_behaviour::protocol_rows_stay_with_their_tenant(&db.tenant("a"), &db.tenant("b")).await;
}

#[tokio::test]
async fn postgres_protocol_rows_stay_with_their_tenant() {
    let Some(db) = TestDb::create("postgres_protocol_rows_stay_with_their_tenant").await else { return };
    let (a, b) = (PgSessionStore::new(db.pool.clone(), "a"), PgSessionStore::new(db.pool.clone(), "b"));
    protocol_behaviour::protocol_rows_stay_with_their_tenant(&a, &b).await;
    db.finish().await;
}

/// The client takes the store as `Arc<dyn Backend>`: this only compiles
/// when every storage trait is implemented.
#[tokio::test]
async fn the_sqlite_store_is_a_whole_backend() {
    let (_dir, db) = sqlite().await;
    let backend: Arc<dyn Backend> = Arc::new(db.tenant("t1"));
    assert_eq!(backend.create().await.unwrap(), 1);
    backend.store_pending_inbound("c", "s", "i", b"m").await.unwrap();
    assert_eq!(backend.get_pending_inbound("c", "s", "i").await.unwrap().unwrap(), b"m");
}

/// A batch far larger than any statement's parameter limit is still one
/// transaction of row-by-row upserts.
#[tokio::test]
async fn large_batches_are_written_whole() {
    let (_dir, db) = sqlite().await;
    let s = db.tenant("t1");
    let ids: Vec<String> = (0..5_000).map(|i| format!("m{i}")).collect();
    let rows: Vec<wacore::store::traits::PendingInboundRow<'_>> = ids
        .iter()
        .map(|id| wacore::store::traits::PendingInboundRow { chat: "c", sender: "s", id, message: b"x" })
        .collect();
    use wacore::store::traits::ProtocolStore;
    s.store_pending_inbound_batch(&rows).await.unwrap();
    assert_eq!(s.delete_expired_pending_inbound(i64::MAX).await.unwrap(), 5_000);
}
