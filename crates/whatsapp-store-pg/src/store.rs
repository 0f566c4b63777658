//! [`PgSessionStore`]: one tenant's handle on the shared pool, and the query
//! plumbing every trait implementation goes through.

use std::sync::Arc;

use deadpool_postgres::{Object, Pool};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use wacore::store::error::{Result, StoreError};

/// A statement parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// whatsapp-rust's storage for one tenant, on a shared PostgreSQL pool.
///
/// Cheap to clone (a pool handle and the tenant name). Holds no cache: every
/// call is one statement on a pooled connection, so idle tenants cost nothing
/// and the pool size, not the tenant count, bounds the connections.
#[derive(Clone)]
pub struct PgSessionStore {
    pool: Pool,
    tenant: Arc<String>,
}

impl std::fmt::Debug for PgSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessionStore").field("tenant", &self.tenant).finish_non_exhaustive()
    }
}

impl PgSessionStore {
    /// The store of `tenant` on `pool` (whose schema [`crate::migrate`] set up).
    pub fn new(pool: Pool, tenant: &str) -> Self {
        Self { pool, tenant: Arc::new(tenant.to_string()) }
    }

    /// The tenant this store reads and writes.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(|e| StoreError::Connection(Box::new(e)))
    }

    /// `params` with the tenant in front: every statement's `$1`.
    fn bind<'a>(&'a self, params: &[Param<'a>]) -> Vec<Param<'a>> {
        let mut all: Vec<Param<'a>> = Vec::with_capacity(params.len() + 1);
        all.push(&*self.tenant);
        all.extend_from_slice(params);
        all
    }

    /// Runs `sql` (`$1` = tenant, then `params`); returns the rows affected.
    pub(crate) async fn exec(&self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        client.execute(&stmt, &self.bind(params)).await.map_err(db)
    }

    /// Runs the query `sql` (`$1` = tenant, then `params`).
    pub(crate) async fn rows(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        client.query(&stmt, &self.bind(params)).await.map_err(db)
    }

    /// Runs the query `sql` expecting at most one row.
    pub(crate) async fn row(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        client.query_opt(&stmt, &self.bind(params)).await.map_err(db)
    }

    /// The first column of the single row `sql` returns (EXISTS, COUNT, MAX).
    pub(crate) async fn scalar<T>(&self, sql: &str, params: &[Param<'_>]) -> Result<T>
    where
        T: for<'r> tokio_postgres::types::FromSql<'r>,
    {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        let row = client.query_one(&stmt, &self.bind(params)).await.map_err(db)?;
        row.try_get(0).map_err(db)
    }
}

/// A failed statement, as the storage traits report it.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// A count of deleted rows as the traits' `u32` (saturating: a sweep that
/// removed more than four billion rows still reports "many").
pub(crate) fn count_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A stored BIGINT id back to the `u32` it was written from.
pub(crate) fn id_u32(id: i64) -> Result<u32> {
    u32::try_from(id).map_err(|_| StoreError::Validation(format!("stored id {id} is not a u32")))
}
