//! [`PgSessionStore`]: one tenant's handle on the shared pool, and the query
//! plumbing every trait implementation goes through.

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::{Object, Pool};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row, Statement};
use wacore::store::error::{Result, StoreError};

use crate::error::Error;
use crate::fence::Fence;

/// A statement parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// whatsapp-rust's storage for one tenant, on a shared PostgreSQL pool.
///
/// Cheap to clone (a pool handle and the tenant name). Holds no cache: every
/// call is one statement on a pooled connection, so idle tenants cost nothing
/// and the pool size, not the tenant count, bounds the connections.
///
/// Reads are always one statement. Writes are one statement too, unless a
/// [`Fence`] is set ([`PgSessionStore::with_fence`]): then each write is a
/// transaction that checks the lease first (see [`crate::fence`]).
#[derive(Clone)]
pub struct PgSessionStore {
    pool: Pool,
    tenant: Arc<String>,
    fence: Option<Fence>,
}

impl std::fmt::Debug for PgSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessionStore")
            .field("tenant", &self.tenant)
            .field("fence", &self.fence)
            .finish_non_exhaustive()
    }
}

impl PgSessionStore {
    /// The store of `tenant` on `pool` (whose schema [`crate::migrate`] set up).
    pub fn new(pool: Pool, tenant: &str) -> Self {
        Self { pool, tenant: Arc::new(tenant.to_string()), fence: None }
    }

    /// This store with every write fenced: run only while `fence`'s check
    /// finds a row for this tenant and the fence's token, refused with
    /// [`crate::LeaseLost`] (as `StoreError::Database`) otherwise.
    pub fn with_fence(self, fence: Fence) -> Self {
        Self { fence: Some(fence), ..self }
    }

    /// The fence writes go through, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// Deletes every row of this tenant in one transaction (what
    /// [`crate::delete_tenant`] does), behind the fence when one is set;
    /// returns how many rows went.
    pub async fn wipe(&self) -> std::result::Result<u64, Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(fence) = &self.fence {
            let check = tx.prepare_cached(&fence.check).await?;
            if !fence.holds(&*tx, &check, &self.tenant).await? {
                return Err(fence.lost(&self.tenant).into());
            }
        }
        let deleted = crate::schema::delete_rows(&tx, &self.tenant).await?;
        tx.commit().await?;
        Ok(deleted)
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

    /// Runs the write `sql` (`$1` = tenant, then `params`); returns the rows
    /// affected.
    pub(crate) async fn exec(&self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        self.write(sql, params).await
    }

    /// Runs the write `sql` returning at most one row (`DELETE .. RETURNING`).
    pub(crate) async fn write_returning(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        self.write(sql, params).await
    }

    /// Every write: one statement without a fence; with one, a transaction
    /// of the check, then the write, then the commit.
    async fn write<T: Outcome>(&self, sql: &str, params: &[Param<'_>]) -> Result<T> {
        let mut client = self.client().await?;
        let params = self.bind(params);
        let Some(fence) = &self.fence else {
            let stmt = client.prepare_cached(sql).await.map_err(db)?;
            return T::run(&**client, &stmt, &params).await.map_err(db);
        };
        // Both statements are cached per connection, so after a connection's
        // first write this costs no round trip; the first time they go
        // together (tokio-postgres pipelines concurrent requests).
        let (check, stmt) =
            tokio::try_join!(client.prepare_cached(&fence.check), client.prepare_cached(sql)).map_err(db)?;
        let tx = client.transaction().await.map_err(db)?;
        // The check and the write are pipelined: the server runs them in
        // order, so the write runs after the check took its lock (or waited
        // for a takeover to commit). When the check found no row, dropping the
        // transaction rolls the write back, so it is never seen by anyone.
        let (holds, written) =
            tokio::join!(fence.holds(&*tx, &check, &self.tenant), T::run(&*tx, &stmt, &params));
        if !holds.map_err(db)? {
            return Err(fence.lost(&self.tenant).into());
        }
        let out = written.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(out)
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

/// What a write statement gives back, and how it is run to get it.
trait Outcome: Sized + Send {
    fn run<'a, C: GenericClient + Sync>(
        client: &'a C,
        stmt: &'a Statement,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = std::result::Result<Self, tokio_postgres::Error>> + Send + 'a;
}

/// The rows affected.
impl Outcome for u64 {
    fn run<'a, C: GenericClient + Sync>(
        client: &'a C,
        stmt: &'a Statement,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = std::result::Result<Self, tokio_postgres::Error>> + Send + 'a {
        client.execute(stmt, params)
    }
}

/// The row a `RETURNING` write gave back, if any.
impl Outcome for Option<Row> {
    fn run<'a, C: GenericClient + Sync>(
        client: &'a C,
        stmt: &'a Statement,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = std::result::Result<Self, tokio_postgres::Error>> + Send + 'a {
        client.query_opt(stmt, params)
    }
}

/// A failed statement, as the storage traits report it.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}
