//! The SQLite side of the group commit: the writer's own connection (fsync
//! at every commit) and the thread that checkpoints the WAL off its path.

use std::path::Path;
use std::time::Duration;

use super::events::insert_batch;
use super::{open_connection, sqlite_error, Db};
use crate::store::events::{Appended, BatchInsert, NewEvent};
use crate::store::{StoreError, StoreResult};

/// The writer thread's connection.
pub struct BatchWriter {
    conn: rusqlite::Connection,
    path: String,
    /// Dropped with the writer, which stops the checkpointer.
    _checkpointer_alive: std::sync::mpsc::Sender<()>,
}

impl BatchWriter {
    pub fn open(db: &Db) -> StoreResult<BatchWriter> {
        let (path, busy_timeout) = (db.path(), db.busy_timeout());
        let conn = open_connection(path, busy_timeout)?;
        // FULL: the WAL is fsynced at every commit, so an acknowledged event
        // survives power loss too, not only a crash of this process.
        conn.pragma_update(None, "synchronous", "FULL").map_err(|e| sqlite_error(path, e))?;
        // Short waits for the write lock it shares with the delivery recorder.
        conn.busy_handler(Some(super::delivery::short_busy_waits)).map_err(|e| sqlite_error(path, e))?;
        // Checkpoints run on their own thread: done by the writer (SQLite's
        // default), they land inside some request's commit and show up as
        // that request's tail latency.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|e| sqlite_error(path, e))?;
        let checkpointer_alive = start_checkpointer(path, busy_timeout)?;
        Ok(BatchWriter { conn, path: path.display().to_string(), _checkpointer_alive: checkpointer_alive })
    }
}

impl BatchInsert for BatchWriter {
    fn insert(&mut self, events: &[NewEvent]) -> Result<Vec<Appended>, String> {
        insert_batch(&mut self.conn, events).map_err(|e| format!("database {}: {e}", self.path))
    }
}

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Starts the thread that checkpoints the WAL (PASSIVE: it never blocks the
/// writer or readers). It runs until the returned sender is dropped.
fn start_checkpointer(path: &Path, busy_timeout: Duration) -> StoreResult<std::sync::mpsc::Sender<()>> {
    let conn = open_connection(path, busy_timeout)?;
    let (alive, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("wal-checkpointer".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(%error, "WAL checkpoint failed; will retry");
                }
            }
        })
        .map_err(|e| StoreError::Worker(format!("cannot start the WAL checkpointer: {e}")))?;
    Ok(alive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_are_checkpointed_into_the_database_file_off_the_writer_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let store = crate::store::Store::open_sqlite(&path, Duration::from_secs(1)).expect("open");
        store.tenants().insert_bare_for_tests("t").await.expect("tenant");
        let before = std::fs::metadata(&path).expect("meta").len();
        let writer = crate::store::EventWriter::start(&store).expect("writer");
        let events: Vec<NewEvent> = (0..400)
            .map(|i| NewEvent {
                tenant_id: "t".into(),
                kind: "twilio.sms".into(),
                dedupe_key: Some(format!("k{i}")),
                data: serde_json::json!({"Body": "x".repeat(1000)}),
                held: false,
            })
            .collect();
        let stored = writer.append_all(events).await.expect("append");
        assert_eq!(stored.len(), 400);
        // The writer never checkpoints (autocheckpoint is off on its
        // connection): only the checkpointer can move the pages into the file.
        let grown = (0..40).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > before + 300_000
        });
        assert!(grown, "the WAL was never checkpointed into {}", path.display());
    }
}
