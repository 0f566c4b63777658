//! Which tenants this process runs: every tenant for a lone daemon (the
//! embedded SQLite store, or PostgreSQL without other nodes in mind), or,
//! on a cluster, the tenants whose lease this node holds (the lease loop in
//! `cluster` keeps the set). The WhatsApp workers and delivery consult it;
//! they never see leases themselves.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::store::cluster::Token;

/// This node among the nodes sharing the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// `cluster.node_id`.
    pub id: String,
    /// Where the other nodes reach it (`cluster.advertise_url`, no trailing slash).
    pub address: String,
}

/// The tenants this node holds, each with its lease's fencing token.
pub type Held = HashMap<String, Token>;

/// A cheap, cloneable view of what this process runs.
#[derive(Clone)]
pub struct Ownership {
    /// `None`: every tenant (no cluster).
    held: Option<watch::Receiver<Arc<Held>>>,
    /// Rings the lease loop for a round now (a tenant was added here).
    nudge: Arc<Notify>,
}

/// This node does not hold the tenant's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotHeld;

/// The lease loop's side: publishes the held set.
pub struct OwnershipWriter {
    sender: watch::Sender<Arc<Held>>,
    nudge: Arc<Notify>,
}

impl Ownership {
    /// Every tenant, always: a lone daemon.
    pub fn everything() -> Ownership {
        Ownership { held: None, nudge: Arc::new(Notify::new()) }
    }

    /// The tenants a lease loop publishes (none until it does).
    pub fn leased() -> (Ownership, OwnershipWriter) {
        let (sender, receiver) = watch::channel(Arc::new(Held::new()));
        let nudge = Arc::new(Notify::new());
        (Ownership { held: Some(receiver), nudge: nudge.clone() }, OwnershipWriter { sender, nudge })
    }

    /// Whether this process runs `tenant` now.
    pub fn owns(&self, tenant: &str) -> bool {
        match &self.held {
            None => true,
            Some(held) => held.borrow().contains_key(tenant),
        }
    }

    /// The fencing token of this node's lease of `tenant`; `None` without a
    /// cluster or without the lease.
    pub fn token(&self, tenant: &str) -> Option<Token> {
        self.held.as_ref().and_then(|held| held.borrow().get(tenant).copied())
    }

    /// The lease token a write for `tenant` must carry: `Ok(None)` without
    /// a cluster (nothing to fence), `Ok(Some(token))` while this node holds
    /// the tenant's lease, [`NotHeld`] when it does not (then the write must
    /// not happen: another node may run the tenant).
    pub fn fence(&self, tenant: &str) -> Result<Option<Token>, NotHeld> {
        match &self.held {
            None => Ok(None),
            Some(held) => held.borrow().get(tenant).copied().map(Some).ok_or(NotHeld),
        }
    }

    /// Asks the lease loop for a round now rather than at its next period:
    /// a tenant this node does not hold should run somewhere soon (it was
    /// just added, or an operator asked for it). A no-op without a cluster.
    pub fn request_round(&self) {
        if self.held.is_some() {
            self.nudge.notify_one();
        }
    }

    /// Whether this process runs only the tenants it leases.
    pub fn is_leased(&self) -> bool {
        self.held.is_some()
    }

    /// Resolves when the held set changes (never without a cluster, or once
    /// the lease loop is gone).
    pub async fn changed(&mut self) {
        let alive = match &mut self.held {
            Some(held) => held.changed().await.is_ok(),
            None => false,
        };
        if !alive {
            std::future::pending::<()>().await;
        }
    }
}

impl OwnershipWriter {
    /// Publishes the tenants held now.
    pub fn publish(&self, held: Held) {
        self.sender.send_replace(Arc::new(held));
    }

    /// Resolves when a round was requested ([`Ownership::request_round`]).
    pub async fn round_requested(&self) {
        self.nudge.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lone_daemon_owns_everything_and_a_node_only_what_it_leases() {
        let lone = Ownership::everything();
        assert!(lone.owns("acme") && lone.token("acme").is_none() && !lone.is_leased());
        assert_eq!(lone.fence("acme"), Ok(None), "nothing to fence");

        let (mut node, writer) = Ownership::leased();
        assert!(!node.owns("acme"), "nothing before the first lease");
        writer.publish(Held::from([("acme".to_string(), Token(7))]));
        tokio::time::timeout(std::time::Duration::from_secs(1), node.changed()).await.expect("told");
        assert!(node.owns("acme") && !node.owns("other"));
        assert_eq!(node.token("acme"), Some(Token(7)));
        assert_eq!((node.fence("acme"), node.fence("other")), (Ok(Some(Token(7))), Err(NotHeld)));
    }
}
