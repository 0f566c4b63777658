//! Fencing: refusing writes from a node that no longer holds the tenant.
//!
//! On a cluster a tenant's client runs only on the node holding its lease, and
//! every lease carries a fencing token that grows with each new lease. A node
//! paused past its lease's expiry (GC, SIGSTOP, a partition) can wake up and
//! try to write old Signal state over what the new owner wrote since. With a
//! [`Fence`] set ([`crate::PgSessionStore::with_fence`]) every write runs in a
//! transaction that first runs the fence's check with this node's token; when
//! the check finds no row the write is rolled back and reported as
//! [`LeaseLost`]. The crate knows nothing of the lease table: the check is the
//! caller's SQL.

use std::sync::Arc;

use tokio_postgres::{GenericClient, Statement};
use wacore::store::error::StoreError;

/// The lease check every write of a fenced store must pass.
///
/// `check` is a query taking `$1` = the tenant (text) and `$2` = `token`
/// (bigint), returning a row when this node may still write for the tenant.
/// It runs in the write's own transaction, before the write, so a row lock it
/// takes (`FOR SHARE`) holds until the write commits: a node taking the lease
/// over (updating the row) waits for the write, and a write behind the
/// takeover sees the new token and is refused. For example:
///
/// ```sql
/// SELECT 1 FROM tenant_leases
/// WHERE tenant_id = $1 AND token = $2 AND expires_at > now() FOR SHARE
/// ```
#[derive(Debug, Clone)]
pub struct Fence {
    /// The check query (`$1` = tenant, `$2` = token; a row = may write).
    pub check: Arc<str>,
    /// The fencing token of the lease this node holds.
    pub token: i64,
}

impl Fence {
    /// A fence running `check` with `token`.
    pub fn new(check: impl Into<Arc<str>>, token: i64) -> Self {
        Self { check: check.into(), token }
    }

    /// Whether the check (prepared as `stmt`) still lets `tenant` write; run
    /// on the write's transaction.
    pub(crate) async fn holds<C>(
        &self,
        client: &C,
        stmt: &Statement,
        tenant: &str,
    ) -> Result<bool, tokio_postgres::Error>
    where
        C: GenericClient + Sync,
    {
        Ok(client.query_opt(stmt, &[&tenant, &self.token]).await?.is_some())
    }

    /// The refusal when the check found no row.
    pub(crate) fn lost(&self, tenant: &str) -> LeaseLost {
        LeaseLost { tenant: tenant.to_string(), token: self.token }
    }
}

/// A write refused because this node's lease on the tenant is gone (expired,
/// or taken over with a newer fencing token). Nothing was written.
///
/// The storage traits report it as `StoreError::Database` with this as its
/// source; [`is_lease_lost`] recognises it anywhere in an error's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lease lost: fencing token {token} for tenant {tenant:?} is stale; write refused")]
pub struct LeaseLost {
    /// The tenant whose write was refused.
    pub tenant: String,
    /// The stale token the write carried.
    pub token: i64,
}

impl From<LeaseLost> for StoreError {
    fn from(e: LeaseLost) -> Self {
        StoreError::Database(Box::new(e))
    }
}

/// Whether `err`, or any error in its source chain, is a [`LeaseLost`]: how
/// a caller tells "another node owns this tenant now, stop" from a failed
/// statement.
pub fn is_lease_lost(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut layer = Some(err);
    while let Some(e) = layer {
        if e.is::<LeaseLost>() {
            return true;
        }
        layer = e.source();
    }
    false
}
