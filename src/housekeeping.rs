//! Periodic pruning of what grows with use and has a retention: delivered
//! events (`delivery.retention_days`; a pull-only tenant's pulled events count
//! as delivered), send idempotency keys (`whatsapp.idempotency_retention`)
//! and stored media and recordings (`media.retention_days`: the file is
//! deleted and its row marked expired, so the API answers 410; the row
//! itself is forgotten 30 days later, the id then answering 404).
//! Pending, held and dead events are never pruned.

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::now_ms;
use crate::clock::now_unix;
use crate::config::Config;
use crate::error::AppResult;
use crate::paths::DataDir;
use crate::store::Store;

/// Longest time between two prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// First prune, a little after start so it does not compete with startup.
const FIRST_PRUNE_AFTER: Duration = Duration::from_secs(30);
/// Shortest time between two prunes, whatever the retentions.
const PRUNE_AT_MOST_EVERY: Duration = Duration::from_millis(100);
/// Rows deleted per statement, so a large backlog never holds the write
/// lock for long.
const PRUNE_BATCH: usize = 2000;
/// Stored files deleted per batch: each is a file system call, and the
/// batch's rows are marked expired in one transaction.
const FILE_BATCH: usize = 200;
/// How long an expired file's row is kept (its URL answering 410 `expired`
/// rather than 404) after the file was deleted.
const FORGET_EXPIRED_AFTER: Duration = Duration::from_secs(30 * 86_400);

/// What to prune and how often.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    pub events: Duration,
    pub idempotency_keys: Duration,
    /// Stored media and recordings.
    pub files: Duration,
}

impl Retention {
    pub fn from_config(config: &Config) -> Retention {
        Retention {
            events: config.delivery.retention(),
            idempotency_keys: config.whatsapp.idempotency_retention,
            files: config.media.retention(),
        }
    }

    /// Hourly, or more often when a retention is short: a row must not
    /// outlive its retention by much more than half of it.
    pub fn period(&self) -> Duration {
        let shortest = self.events.min(self.idempotency_keys).min(self.files);
        PRUNE_EVERY.min(shortest / 2).max(PRUNE_AT_MOST_EVERY)
    }
}

/// Starts the pruning task on its own connection to `store`; it stops when
/// `shutdown` turns true.
pub fn start(
    config: &Config,
    store: &Store,
    data: &DataDir,
    shutdown: watch::Receiver<bool>,
) -> AppResult<tokio::task::JoinHandle<()>> {
    let store = store.separate(false)?;
    Ok(tokio::spawn(prune_loop(store, data.clone(), Retention::from_config(config), shutdown)))
}

async fn prune_loop(store: Store, data: DataDir, retention: Retention, mut shutdown: watch::Receiver<bool>) {
    let period = retention.period();
    let mut wait = FIRST_PRUNE_AFTER.min(period);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = period;
        prune_events(&store, retention.events).await;
        prune_idempotency_keys(&store, retention.idempotency_keys).await;
        prune_files(&store, &data, retention.files).await;
    }
}

fn ms_before_now(age: Duration) -> i64 {
    now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

/// Deletes stored files past their retention, in batches, and marks their
/// rows expired; then forgets rows expired long ago. A file already gone
/// counts as deleted. One that cannot be deleted keeps its row as it is
/// (still served) and is tried again at the next prune.
async fn prune_files(store: &Store, data: &DataDir, retention: Duration) {
    let before = ms_before_now(retention);
    let mut total = 0;
    loop {
        let due = match store.content().due_for_pruning(before, FILE_BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "listing stored files to prune failed; trying at the next prune");
                break;
            }
        };
        let full_batch = due.len() == FILE_BATCH;
        let n = match store.blobs(data).expire(due).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "deleting stored files past retention failed; trying at the next prune");
                break;
            }
        };
        // A full batch of files that all refused deletion would come back
        // as the same batch: leave them to the next prune.
        let stuck = full_batch && n == 0;
        total += n;
        if !full_batch || stuck {
            break;
        }
    }
    if total > 0 {
        tracing::info!(pruned = total, ?retention, "deleted stored media and recordings past retention");
    }
    let long_ago = ms_before_now(FORGET_EXPIRED_AFTER);
    if let Err(e) = store.content().forget_expired_before(long_ago).await {
        tracing::warn!(error = %e, "forgetting long-expired stored files failed; trying at the next prune");
    }
}

async fn prune_events(store: &Store, retention: Duration) {
    let before = ms_before_now(retention);
    let mut total = 0;
    loop {
        match store.outbox().prune_delivered(before, PRUNE_BATCH).await {
            Ok(n) => {
                total += n;
                if n < PRUNE_BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "pruning delivered events failed; trying at the next prune");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(pruned = total, ?retention, "pruned delivered events past retention");
    }
}

async fn prune_idempotency_keys(store: &Store, retention: Duration) {
    let before = now_unix().saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX));
    match store.whatsapp().prune_sends(before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, ?retention, "pruned send idempotency keys past retention"),
        Err(e) => {
            tracing::warn!(error = %e, "pruning send idempotency keys failed; trying at the next prune")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_follows_the_shortest_retention() {
        let day = Duration::from_secs(86_400);
        let r = Retention { events: 7 * day, idempotency_keys: day, files: 7 * day };
        assert_eq!(r.period(), PRUNE_EVERY);
        let r = Retention { events: Duration::from_secs(2), idempotency_keys: day, files: 7 * day };
        assert_eq!(r.period(), Duration::from_secs(1));
        let r = Retention { events: 7 * day, idempotency_keys: Duration::ZERO, files: 7 * day };
        assert_eq!(r.period(), PRUNE_AT_MOST_EVERY);
        let r = Retention { events: 7 * day, idempotency_keys: day, files: Duration::from_secs(4) };
        assert_eq!(r.period(), Duration::from_secs(2));
    }
}
