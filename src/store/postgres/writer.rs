//! The PostgreSQL side of the group commit: the writer thread stores each
//! batch with one multi-row insert in one transaction, on a pooled connection.

use deadpool_postgres::Pool;

use super::{events::insert_batch, Pg, PgError};
use crate::store::events::{Appended, BatchInsert, NewEvent};

/// Longest wait for one batch's commit. A server that vanished without
/// closing its connections (a network partition) would otherwise hold the
/// writer, and every webhook queued behind it, for as long as TCP takes to
/// notice. A commit cut short may still have happened; the caller hears an
/// error, Twilio sends the webhook again and its dedupe key makes that a
/// duplicate, never a second event.
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct BatchWriter {
    pool: Pool,
    /// The runtime the pool's connections live on; the writer thread waits
    /// on it for each commit.
    runtime: tokio::runtime::Handle,
    /// Whether the last failure was the server's absence (see `BatchInsert::unavailable`).
    unavailable: bool,
}

impl BatchWriter {
    /// Must be called on the runtime the pool was made on.
    pub fn new(pg: &Pg) -> BatchWriter {
        BatchWriter {
            pool: pg.pool().clone(),
            runtime: tokio::runtime::Handle::current(),
            unavailable: false,
        }
    }
}

impl BatchInsert for BatchWriter {
    fn insert(&mut self, events: &[NewEvent]) -> Result<Vec<Appended>, String> {
        let pool = &self.pool;
        let write = async {
            let mut client = pool.get().await?;
            insert_batch(&mut client, events).await
        };
        let result = self.runtime.block_on(async {
            tokio::time::timeout(COMMIT_TIMEOUT, write)
                .await
                .map_err(|_| PgError::Timeout { what: "an event batch commit", after: COMMIT_TIMEOUT })?
        });
        result.map_err(|e: PgError| {
            self.unavailable = e.is_unavailable();
            e.to_string()
        })
    }

    fn unavailable(&self) -> bool {
        self.unavailable
    }
}
