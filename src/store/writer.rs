//! Group commit: one writer thread stores events in batches. Every request
//! waits for the commit of the batch it rode in, so an acknowledgement always
//! follows a durable write, yet a burst of concurrent webhooks shares one
//! commit (one fsync) instead of paying one each. The loop is the same for
//! both backends; each supplies how a batch is inserted in one transaction.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use crate::batch::recv_batch_blocking;

use super::events::{Appended, BatchInsert, NewEvent};
use super::{Backend, Store, StoreError, StoreResult};

/// Most events in one transaction; bounds the latency one batch adds.
const MAX_BATCH: usize = 1024;
/// Requests waiting for the writer before senders feel back-pressure.
const QUEUE_DEPTH: usize = 8192;

type Reply = oneshot::Sender<Result<Vec<Appended>, String>>;
type Request = (Vec<NewEvent>, Reply);

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct EventWriter {
    requests: mpsc::Sender<Request>,
    /// Bumped after every committed batch (delivery wakes up on it).
    committed: watch::Receiver<u64>,
    commits: Arc<watch::Sender<u64>>,
}

impl EventWriter {
    /// Starts the writer thread on its own connection to `store`.
    pub fn start(store: &Store) -> StoreResult<EventWriter> {
        match &*store.backend {
            Backend::Sqlite(db) => spawn(super::sqlite::writer::BatchWriter::open(db)?),
            Backend::Postgres(pg) => spawn(super::postgres::writer::BatchWriter::new(pg)),
        }
    }

    /// Says that events became deliverable through another connection (a
    /// background job released a held one), so delivery looks at once
    /// rather than at its next poll.
    pub fn announce_released(&self) {
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes after every batch the writer committed: wait on it to see new
    /// events as soon as they are durable.
    pub fn commits(&self) -> watch::Receiver<u64> {
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

fn spawn(mut writer: impl BatchInsert) -> StoreResult<EventWriter> {
    let (requests, mut inbox) = mpsc::channel::<Request>(QUEUE_DEPTH);
    let (commits, committed) = watch::channel(0u64);
    let commits = Arc::new(commits);
    let writer_commits = commits.clone();
    std::thread::Builder::new()
        .name("event-writer".into())
        .spawn(move || {
            while let Some(batch) = recv_batch_blocking(&mut inbox, MAX_BATCH, |(events, _)| events.len()) {
                commit_batch(&mut writer, batch);
                writer_commits.send_modify(|n| *n = n.wrapping_add(1));
            }
        })
        .map_err(|e| StoreError::Worker(format!("cannot start the event writer: {e}")))?;
    Ok(EventWriter { requests, committed, commits })
}

fn commit_batch(writer: &mut impl BatchInsert, batch: Vec<Request>) {
    let all: Vec<NewEvent> = batch.iter().flat_map(|(events, _)| events.iter().cloned()).collect();
    match writer.insert(&all) {
        Ok(results) => {
            let mut results = results.into_iter();
            for (events, reply) in batch {
                let mine: Vec<Appended> = results.by_ref().take(events.len()).collect();
                let _ = reply.send(Ok(mine));
            }
        }
        Err(_) if batch.len() > 1 && !writer.unavailable() => {
            // One request's events (e.g. for a tenant removed a moment ago)
            // must not fail its neighbours: commit each request on its own.
            for request in batch {
                commit_batch(writer, vec![request]);
            }
        }
        Err(message) => {
            // Nothing of the request was stored; its waiter hears so and
            // answers its caller with an error (Twilio will retry).
            tracing::error!(%message, events = all.len(), "event batch not stored");
            for (_, reply) in batch {
                let _ = reply.send(Err(message.clone()));
            }
        }
    }
}
