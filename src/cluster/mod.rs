//! Several nodes on one PostgreSQL store. Each `serve` on PostgreSQL is a
//! node: it names itself ([`identity`]), and its lease loop (`lease_loop`)
//! decides which tenants it runs, telling the WhatsApp workers and delivery
//! through `ownership`. On SQLite there is no cluster: one daemon runs
//! every tenant.

mod balance;
mod lease_loop;
pub mod peers;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{valid_node_id, ClusterConfig};
use crate::heartbeat::Heartbeat;
use crate::ownership::{NodeIdentity, OwnershipWriter};
use crate::store::Store;
use crate::whatsapp::WhatsApp;

pub use lease_loop::LeaseLoop;

/// This node's identity: `cluster.node_id`, else the host name and a random
/// suffix (a restarted node is a new node: its old leases simply expire or
/// were released); `cluster.advertise_url`, else the address it listens on.
pub fn identity(config: &ClusterConfig, listening: SocketAddr) -> NodeIdentity {
    let id = config.node_id.clone().unwrap_or_else(default_node_id);
    let address = match &config.advertise_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            if listening.ip().is_unspecified() {
                tracing::warn!(
                    %listening,
                    "cluster.advertise_url is unset and the daemon listens on all addresses: other nodes are told a loopback address; set cluster.advertise_url"
                );
            }
            crate::content::PublicUrls::new(None, listening).base().to_string()
        }
    };
    NodeIdentity { id, address }
}

/// The host name (only the characters a node id may hold) and six random
/// hex digits.
fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut host: String =
        host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).take(50).collect();
    if host.is_empty() {
        host.push_str("node");
    }
    let id = format!("{host}-{:06x}", rand::random::<u32>() & 0xff_ffff);
    debug_assert!(valid_node_id(&id));
    id
}

/// The running lease loop.
pub struct Cluster {
    task: JoinHandle<()>,
}

impl Cluster {
    /// Starts the lease loop of `node`; it stops (releasing its leases) when
    /// `shutdown` turns true. `heartbeat` beats after each round that reached
    /// the database.
    pub fn start(
        store: &Store,
        node: NodeIdentity,
        config: &ClusterConfig,
        whatsapp: WhatsApp,
        ownership: OwnershipWriter,
        heartbeat: Arc<Heartbeat>,
        shutdown: watch::Receiver<bool>,
    ) -> Cluster {
        tracing::info!(node = %node.id, address = %node.address, lease_ttl = ?config.lease_ttl, "cluster: node starting");
        let lease_loop =
            LeaseLoop { store: store.clone(), node, ttl: config.lease_ttl, whatsapp, ownership, heartbeat };
        Cluster { task: tokio::spawn(lease_loop.run(shutdown)) }
    }

    /// Waits for the loop to stop its workers and release its leases.
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "cluster: the lease loop failed");
        }
    }
}
