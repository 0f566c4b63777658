//! Rows of the cluster tables (PostgreSQL only): the nodes sharing the
//! database and the tenants' leases. A lease gives one node the right to run
//! a tenant's WhatsApp client and deliver its events until `expires_at`;
//! its `token` (the fencing token) grows with every new lease, so a write
//! carrying an older one is known stale.

use serde::Serialize;

use super::columns::Columns;

/// One node, as `cluster status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub id: String,
    /// Where the other nodes reach it (`cluster.advertise_url`).
    pub address: String,
    pub version: String,
    /// RFC 3339, the database's clock.
    pub last_heartbeat: String,
    /// Tenants whose live lease it holds.
    pub tenants: i64,
    /// Whether its heartbeat is recent enough (within the lease TTL) for it
    /// to count as alive.
    pub alive: bool,
}

/// The columns [`NodeRow::from_columns`] reads, in order.
pub(super) const NODE_COLUMNS: &str = "n.id, n.address, n.version, \
     to_char(n.last_heartbeat AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
     (SELECT count(*) FROM tenant_leases l WHERE l.owner = n.id AND l.expires_at > now()), \
     n.last_heartbeat > now() - make_interval(secs => $1)";

impl NodeRow {
    pub(super) fn from_columns<R: Columns>(r: &R) -> Result<NodeRow, R::Error> {
        Ok(NodeRow {
            id: r.col(0)?,
            address: r.col(1)?,
            version: r.col(2)?,
            last_heartbeat: r.col(3)?,
            tenants: r.col(4)?,
            alive: r.col(5)?,
        })
    }
}

/// A lease this node holds: the tenant and the fencing token it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub i64);

/// Who holds a tenant's live lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub node: String,
    pub address: String,
    pub token: Token,
}
