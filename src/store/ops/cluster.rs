//! The cluster operations of a [`Store`]: PostgreSQL only, since only a
//! shared database lets several nodes split the tenants. On SQLite they fail
//! with [`StoreError::NotShared`] (nothing calls them there).

use std::time::Duration;

use crate::store::cluster::{NodeRow, Owner, Token};
use crate::store::postgres::{cluster as postgres, Pg};
use crate::store::{Backend, Store, StoreError, StoreResult};

/// The cluster operations of a [`Store`].
pub struct Cluster<'a>(&'a Store);

impl Store {
    pub fn cluster(&self) -> Cluster<'_> {
        Cluster(self)
    }

    /// Whether several nodes can share this store (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(&*self.backend, Backend::Postgres(_))
    }
}

impl Cluster<'_> {
    fn pg(&self) -> StoreResult<&Pg> {
        match &*self.0.backend {
            Backend::Postgres(pg) => Ok(pg),
            Backend::Sqlite(_) => Err(StoreError::NotShared),
        }
    }

    pub async fn join(&self, id: &str, address: &str, version: &str) -> StoreResult<()> {
        Ok(postgres::join(&self.pg()?.client().await?, id, address, version).await?)
    }

    pub async fn heartbeat(&self, id: &str) -> StoreResult<bool> {
        Ok(postgres::heartbeat(&self.pg()?.client().await?, id).await?)
    }

    pub async fn nodes(&self, ttl: Duration) -> StoreResult<Vec<NodeRow>> {
        Ok(postgres::nodes(&self.pg()?.client().await?, ttl).await?)
    }

    /// Live nodes and tenants.
    pub async fn census(&self, ttl: Duration) -> StoreResult<(i64, i64)> {
        Ok(postgres::census(&self.pg()?.client().await?, ttl).await?)
    }

    pub async fn acquire(&self, node: &str, ttl: Duration, limit: i64) -> StoreResult<Vec<(String, Token)>> {
        Ok(postgres::acquire(&self.pg()?.client().await?, node, ttl, limit).await?)
    }

    /// This node's leases left by its previous run, taken back with new tokens.
    pub async fn reclaim(&self, node: &str, ttl: Duration) -> StoreResult<Vec<(String, Token)>> {
        Ok(postgres::reclaim(&self.pg()?.client().await?, node, ttl).await?)
    }

    pub async fn renew(
        &self,
        node: &str,
        ttl: Duration,
        leases: &[(String, Token)],
    ) -> StoreResult<Vec<String>> {
        Ok(postgres::renew(&self.pg()?.client().await?, node, ttl, leases).await?)
    }

    pub async fn release(&self, node: &str, tenants: &[String]) -> StoreResult<u64> {
        Ok(postgres::release(&self.pg()?.client().await?, node, Some(tenants)).await?)
    }

    pub async fn leave(&self, node: &str) -> StoreResult<()> {
        Ok(postgres::leave(&self.pg()?.client().await?, node).await?)
    }

    pub async fn owner(&self, tenant: &str) -> StoreResult<Option<Owner>> {
        Ok(postgres::owner(&self.pg()?.client().await?, tenant).await?)
    }

    /// `(tenant, node)` for every live lease.
    pub async fn owners(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(postgres::owners(&self.pg()?.client().await?).await?)
    }
}
