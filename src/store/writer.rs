//! Group commit: one writer thread owns a connection and stores events in
//! batches. Every request waits for the commit of the batch it rode in, so an
//! acknowledgement always follows a durable write, yet a burst of concurrent
//! webhooks shares one fsync instead of paying one each.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::batch::recv_batch_blocking;

use super::events::{insert_batch, Appended, NewEvent};
use super::{open_connection, StoreError, StoreResult};

/// Most events in one transaction; bounds the latency one batch adds.
const MAX_BATCH: usize = 1024;
/// Requests waiting for the writer before senders feel back-pressure.
const QUEUE_DEPTH: usize = 8192;

type Reply = oneshot::Sender<Result<Vec<Appended>, String>>;

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct EventWriter {
    requests: mpsc::Sender<(Vec<NewEvent>, Reply)>,
    /// Bumped after every committed batch (delivery wakes up on it).
    committed: tokio::sync::watch::Receiver<u64>,
    commits: Arc<tokio::sync::watch::Sender<u64>>,
}

impl EventWriter {
    /// Starts the writer thread on its own connection to `path`.
    pub fn start(path: &Path, busy_timeout: Duration) -> StoreResult<EventWriter> {
        let mut conn = open_connection(path, busy_timeout)?;
        // FULL: the WAL is fsynced at every commit, so an acknowledged event
        // survives power loss too, not only a crash of this process.
        conn.pragma_update(None, "synchronous", "FULL").map_err(|e| super::sqlite_error(path, e))?;
        // Short waits for the write lock it shares with the delivery recorder.
        conn.busy_handler(Some(super::delivery::short_busy_waits))
            .map_err(|e| super::sqlite_error(path, e))?;
        // Checkpoints run on their own thread: done by the writer (SQLite's
        // default), they land inside some request's commit and show up as
        // that request's tail latency.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|e| super::sqlite_error(path, e))?;
        let checkpointer_alive = start_checkpointer(path, busy_timeout)?;
        let (requests, mut inbox) = mpsc::channel::<(Vec<NewEvent>, Reply)>(QUEUE_DEPTH);
        let (commits, committed) = tokio::sync::watch::channel(0u64);
        let commits = Arc::new(commits);
        let writer_commits = commits.clone();
        let shown_path = path.display().to_string();
        std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || {
                // Dropped when this thread ends, which stops the checkpointer.
                let _checkpointer_alive = checkpointer_alive;
                while let Some(batch) = recv_batch_blocking(&mut inbox, MAX_BATCH, |(events, _)| events.len())
                {
                    commit_batch(&mut conn, batch, &shown_path);
                    writer_commits.send_modify(|n| *n = n.wrapping_add(1));
                }
            })
            .map_err(|e| StoreError::Worker(format!("cannot start the event writer: {e}")))?;
        Ok(EventWriter { requests, committed, commits })
    }

    /// Says that events became deliverable through another connection (a
    /// background job released a held one), so delivery looks at once
    /// rather than at its next poll.
    pub fn announce_released(&self) {
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes after every batch the writer committed: wait on it to see new
    /// events as soon as they are durable.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.committed.clone()
    }

    /// Stores one event; resolves after its batch has committed.
    pub async fn append(&self, event: NewEvent) -> StoreResult<Appended> {
        let mut appended = self.append_all(vec![event]).await?;
        appended.pop().ok_or_else(|| StoreError::Worker("the writer returned no result".into()))
    }

    /// Stores several events in the same transaction (all or none).
    pub async fn append_all(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Appended>> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((events, reply))
            .await
            .map_err(|_| StoreError::Worker("the event writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Worker("the event writer stopped before answering".into()))?
            .map_err(StoreError::Worker)
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

fn commit_batch(conn: &mut rusqlite::Connection, batch: Vec<(Vec<NewEvent>, Reply)>, path: &str) {
    let all: Vec<NewEvent> = batch.iter().flat_map(|(events, _)| events.iter().cloned()).collect();
    match insert_batch(conn, &all) {
        Ok(results) => {
            let mut results = results.into_iter();
            for (events, reply) in batch {
                let mine: Vec<Appended> = results.by_ref().take(events.len()).collect();
                let _ = reply.send(Ok(mine));
            }
        }
        Err(_) if batch.len() > 1 => {
            // One request's events (e.g. for a tenant removed a moment ago)
            // must not fail its neighbours: commit each request on its own.
            for request in batch {
                commit_batch(conn, vec![request], path);
            }
        }
        Err(error) => {
            // Nothing of the request was stored; its waiter hears so and
            // answers its caller with an error (Twilio will retry).
            let message = format!("database {path}: {error}");
            tracing::error!(%message, events = all.len(), "event batch not stored");
            for (_, reply) in batch {
                let _ = reply.send(Err(message.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_are_checkpointed_into_the_database_file_off_the_writer_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let store = Store::open(&path, Duration::from_secs(1)).expect("open");
        store.with_conn(|c| crate::store::tenants::insert_bare_for_tests(c, "t")).expect("tenant");
        let before = std::fs::metadata(&path).expect("meta").len();
        let writer = EventWriter::start(&path, Duration::from_secs(1)).expect("writer");
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
