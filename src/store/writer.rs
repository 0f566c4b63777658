//! Group commit: one writer thread owns a connection and stores events in
//! batches. Every request waits for the commit of the batch it rode in, so an
//! acknowledgement always follows a durable write, yet a burst of concurrent
//! webhooks shares one fsync instead of paying one each.

use std::path::Path;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

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
        let (requests, mut inbox) = mpsc::channel::<(Vec<NewEvent>, Reply)>(QUEUE_DEPTH);
        let (commits, committed) = tokio::sync::watch::channel(0u64);
        let shown_path = path.display().to_string();
        std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || {
                while let Some(first) = inbox.blocking_recv() {
                    let mut batch = vec![first];
                    let mut events = batch[0].0.len();
                    while events < MAX_BATCH {
                        match inbox.try_recv() {
                            Ok(next) => {
                                events += next.0.len();
                                batch.push(next);
                            }
                            Err(_) => break,
                        }
                    }
                    commit_batch(&mut conn, batch, &shown_path);
                    commits.send_modify(|n| *n = n.wrapping_add(1));
                }
            })
            .map_err(|e| StoreError::Worker(format!("cannot start the event writer: {e}")))?;
        Ok(EventWriter { requests, committed })
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
