//! Periodic pruning of what grows with use and has a retention: delivered
//! events (`delivery.retention_days`; a pull-only tenant's pulled events count
//! as delivered) and send idempotency keys (`whatsapp.idempotency_retention`).
//! Pending, held and dead events are never pruned.

use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Config;
use crate::error::AppResult;
use crate::store::events::now_ms;
use crate::store::{delivery as outbox, now_unix, whatsapp as sends, Store};

/// Longest time between two prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// First prune, a little after start so it does not compete with startup.
const FIRST_PRUNE_AFTER: Duration = Duration::from_secs(30);
/// Shortest time between two prunes, whatever the retentions.
const PRUNE_AT_MOST_EVERY: Duration = Duration::from_millis(100);
/// Rows deleted per statement, so a large backlog never holds the write
/// lock for long.
const PRUNE_BATCH: usize = 2000;

/// What to prune and how often.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    pub events: Duration,
    pub idempotency_keys: Duration,
}

impl Retention {
    pub fn from_config(config: &Config) -> Retention {
        Retention {
            events: config.delivery.retention(),
            idempotency_keys: config.whatsapp.idempotency_retention,
        }
    }

    /// Hourly, or more often when a retention is short: a row must not
    /// outlive its retention by much more than half of it.
    pub fn period(&self) -> Duration {
        let shortest = self.events.min(self.idempotency_keys);
        PRUNE_EVERY.min(shortest / 2).max(PRUNE_AT_MOST_EVERY)
    }
}

/// Starts the pruning task on its own connection to the database at
/// `db_path`; it stops when `shutdown` turns true.
pub fn start(
    config: &Config,
    db_path: &Path,
    shutdown: watch::Receiver<bool>,
) -> AppResult<tokio::task::JoinHandle<()>> {
    let store = Store::open(db_path, Duration::from_millis(config.store.busy_timeout_ms))?;
    Ok(tokio::spawn(prune_loop(store, Retention::from_config(config), shutdown)))
}

async fn prune_loop(store: Store, retention: Retention, mut shutdown: watch::Receiver<bool>) {
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
    }
}

async fn prune_events(store: &Store, retention: Duration) {
    let before = now_ms().saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    let mut total = 0;
    loop {
        match store.run(move |c| outbox::prune_delivered(c, before, PRUNE_BATCH)).await {
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
    match store.run(move |c| sends::prune_sends(c, before)).await {
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
        let r = Retention { events: 7 * day, idempotency_keys: day };
        assert_eq!(r.period(), PRUNE_EVERY);
        let r = Retention { events: Duration::from_secs(2), idempotency_keys: day };
        assert_eq!(r.period(), Duration::from_secs(1));
        let r = Retention { events: 7 * day, idempotency_keys: Duration::ZERO };
        assert_eq!(r.period(), PRUNE_AT_MOST_EVERY);
    }
}
