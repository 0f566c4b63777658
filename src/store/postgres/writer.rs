//! The PostgreSQL side of the group commit: the writer thread stores each
//! batch with one multi-row insert in one transaction, on a pooled connection.

use deadpool_postgres::Pool;

use super::{events::insert_batch, Pg, PgError};
use crate::store::events::{Appended, NewEvent};
use crate::store::writer::BatchInsert;

pub struct BatchWriter {
    pool: Pool,
    /// The runtime the pool's connections live on; the writer thread waits
    /// on it for each commit.
    runtime: tokio::runtime::Handle,
}

impl BatchWriter {
    /// Must be called on the runtime the pool was made on.
    pub fn new(pg: &Pg) -> BatchWriter {
        BatchWriter { pool: pg.pool().clone(), runtime: tokio::runtime::Handle::current() }
    }
}

impl BatchInsert for BatchWriter {
    fn insert(&mut self, events: &[NewEvent]) -> Result<Vec<Appended>, String> {
        let pool = &self.pool;
        self.runtime
            .block_on(async {
                let mut client = pool.get().await?;
                insert_batch(&mut client, events).await
            })
            .map_err(|e: PgError| e.to_string())
    }
}
