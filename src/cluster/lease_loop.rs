//! The lease loop: every third of `cluster.lease_ttl` this node proves it is
//! alive, renews the leases it holds, takes unowned and expired tenants up to
//! its fair share or hands some over, starts and stops the tenants' WhatsApp
//! workers to match, and publishes the held set (`ownership`) that delivery
//! and the workers consult.
//!
//! Safety does not depend on the database answering: each lease's local
//! deadline is the moment its last successful renewal was *sent* plus the
//! TTL (the database computed the expiry later than that, on its clock), and
//! a lease whose deadline is within a third of the TTL is given up locally,
//! its worker stopped, whatever the database says. So a node cut off from
//! PostgreSQL stops its clients before another node can take them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::balance::{fair_share, next_move, Move};
use crate::heartbeat::Heartbeat;
use crate::ids::TenantId;
use crate::ownership::{Held, NodeIdentity, OwnershipWriter};
use crate::store::cluster::Token;
use crate::store::{Store, StoreResult};
use crate::whatsapp::WhatsApp;

/// The least time between a round and a requested one.
const REQUESTED_ROUND_GAP: Duration = Duration::from_millis(250);

/// A lease this node holds.
#[derive(Debug, Clone, Copy)]
struct Lease {
    token: Token,
    /// The earliest the database may consider it expired.
    expires_no_sooner_than: Instant,
}

pub struct LeaseLoop {
    pub store: Store,
    pub node: NodeIdentity,
    pub ttl: Duration,
    pub whatsapp: WhatsApp,
    pub ownership: OwnershipWriter,
    /// Beats after each round that reached the database (`/readyz`).
    pub heartbeat: Arc<Heartbeat>,
}

/// The loop's state between rounds.
struct Round {
    config: LeaseLoop,
    held: HashMap<String, Lease>,
}

impl LeaseLoop {
    /// Runs until `shutdown` turns true; then stops every held tenant's
    /// worker and releases its leases, so the other nodes take over at once.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let period = self.ttl / 3;
        let mut round = Round { config: self, held: HashMap::new() };
        round.reclaim().await;
        loop {
            round.once().await;
            let wait = round.until_next(period);
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = tokio::time::sleep(wait) => {}
                // A requested round waits out a short gap: calls for a tenant
                // no node holds (which any caller can repeat) cannot keep the
                // loop querying the database back to back.
                _ = async {
                    tokio::time::sleep(REQUESTED_ROUND_GAP).await;
                    round.config.ownership.round_requested().await;
                } => {}
            }
        }
        round.leave().await;
    }
}

impl Round {
    /// Longest a database call may take: a hung call must not keep the loop
    /// from giving up leases in time.
    fn call_limit(&self) -> Duration {
        self.config.ttl / 3
    }

    /// How long to sleep: the period, or less when a lease must be given up
    /// before then.
    fn until_next(&self, period: Duration) -> Duration {
        let margin = self.config.ttl / 3;
        let earliest = self.held.values().map(|l| l.expires_no_sooner_than - margin).min();
        match earliest {
            Some(at) => {
                period.min(at.saturating_duration_since(Instant::now())).max(Duration::from_millis(50))
            }
            None => period,
        }
    }

    async fn once(&mut self) {
        let reached = self.beat().await;
        let renewed = self.renew().await;
        self.give_up_expiring().await;
        if reached && renewed {
            if let Err(e) = self.balance().await {
                tracing::warn!(error = %e, "cluster: balancing the tenants failed; trying at the next round");
            } else {
                self.config.heartbeat.beat();
            }
        }
        self.publish();
    }

    /// Takes back what a previous run under this node id still holds.
    async fn reclaim(&mut self) {
        let LeaseLoop { store, node, ttl, .. } = &self.config;
        let sent = Instant::now();
        let cluster = store.cluster();
        let reclaimed = self.bounded("reclaiming leases", cluster.reclaim(&node.id, *ttl)).await;
        for (tenant, token) in reclaimed.unwrap_or_default() {
            self.take(tenant, Lease { token, expires_no_sooner_than: sent + self.config.ttl });
        }
    }

    /// Proves this node alive (joining again if its row was removed).
    async fn beat(&mut self) -> bool {
        let LeaseLoop { store, node, .. } = &self.config;
        let beat = async {
            if !store.cluster().heartbeat(&node.id).await? {
                store.cluster().join(&node.id, &node.address, crate::health::build_info::VERSION).await?;
            }
            StoreResult::Ok(())
        };
        self.bounded("heartbeat", beat).await.is_some()
    }

    /// Renews every held lease; stops the tenants whose lease is gone.
    async fn renew(&mut self) -> bool {
        if self.held.is_empty() {
            return true;
        }
        let sent = Instant::now();
        let leases: Vec<(String, Token)> = self.held.iter().map(|(t, l)| (t.clone(), l.token)).collect();
        let LeaseLoop { store, node, ttl, .. } = &self.config;
        let cluster = store.cluster();
        let Some(renewed) = self.bounded("lease renewal", cluster.renew(&node.id, *ttl, &leases)).await
        else {
            return false;
        };
        let lost: Vec<String> = self.held.keys().filter(|t| !renewed.contains(t)).cloned().collect();
        for tenant in &renewed {
            if let Some(lease) = self.held.get_mut(tenant) {
                lease.expires_no_sooner_than = sent + self.config.ttl;
            }
        }
        for tenant in &lost {
            tracing::warn!(tenant = %tenant, "cluster: lease lost (expired, taken over or tenant removed)");
            metrics::counter!("agentlocator_cluster_leases_lost_total").increment(1);
        }
        self.stop(&lost).await;
        true
    }

    /// Stops the tenants whose lease could expire within a third of the TTL
    /// without a renewal having been confirmed: the database was not reached.
    async fn give_up_expiring(&mut self) {
        let margin = self.config.ttl / 3;
        let now = Instant::now();
        let expiring: Vec<String> = self
            .held
            .iter()
            .filter(|(_, l)| l.expires_no_sooner_than.saturating_duration_since(now) <= margin)
            .map(|(t, _)| t.clone())
            .collect();
        for tenant in &expiring {
            tracing::warn!(tenant = %tenant, "cluster: cannot renew the lease in time; stopping the tenant's client");
            metrics::counter!("agentlocator_cluster_leases_lost_total").increment(1);
        }
        self.stop(&expiring).await;
    }

    /// Takes tenants up to the fair share, or hands a few over.
    async fn balance(&mut self) -> StoreResult<()> {
        let LeaseLoop { store, node, ttl, .. } = &self.config;
        let census = self.bounded("census", store.cluster().census(*ttl)).await;
        let Some((live, tenants)) = census else { return Ok(()) };
        match next_move(self.held.len() as i64, fair_share(tenants, live)) {
            Move::Take(n) => {
                let sent = Instant::now();
                let taken =
                    self.bounded("lease acquisition", store.cluster().acquire(&node.id, *ttl, n)).await;
                for (tenant, token) in taken.unwrap_or_default() {
                    self.take(tenant, Lease { token, expires_no_sooner_than: sent + self.config.ttl });
                }
            }
            Move::HandOver(n) => self.hand_over(n as usize).await?,
            Move::Stay => {}
        }
        Ok(())
    }

    fn take(&mut self, tenant: String, lease: Lease) {
        metrics::counter!("agentlocator_cluster_leases_taken_total").increment(1);
        tracing::info!(tenant = %tenant, token = lease.token.0, "cluster: lease taken");
        let id = TenantId::parse(&tenant);
        self.held.insert(tenant, lease);
        // The worker checks ownership when it starts: publish first.
        self.publish();
        if let Ok(id) = id {
            self.config.whatsapp.start(&id);
        }
    }

    /// Stops `n` tenants' workers, then releases their leases: the next
    /// owner's client connects only after ours is gone.
    async fn hand_over(&mut self, n: usize) -> StoreResult<()> {
        let mut chosen: Vec<String> = self.held.keys().cloned().collect();
        chosen.sort();
        chosen.truncate(n);
        self.stop(&chosen).await;
        metrics::counter!("agentlocator_cluster_leases_handed_over_total").increment(chosen.len() as u64);
        let LeaseLoop { store, node, .. } = &self.config;
        store.cluster().release(&node.id, &chosen).await?;
        tracing::info!(tenants = ?chosen, "cluster: handed tenants over to balance the nodes");
        Ok(())
    }

    /// Forgets the leases (ownership first, so nothing new starts) and
    /// stops the workers, all at once: a node cut off from the database
    /// must stop every client well within the margin.
    async fn stop(&mut self, tenants: &[String]) {
        if tenants.is_empty() {
            return;
        }
        for tenant in tenants {
            self.held.remove(tenant);
        }
        self.publish();
        let limit = self.config.ttl / 6;
        let whatsapp = &self.config.whatsapp;
        let ids: Vec<TenantId> = tenants.iter().filter_map(|t| TenantId::parse(t).ok()).collect();
        futures_util::future::join_all(ids.iter().map(|id| whatsapp.forget(id, limit))).await;
    }

    fn publish(&self) {
        let held: Held = self.held.iter().map(|(t, l)| (t.clone(), l.token)).collect();
        self.config.ownership.publish(held);
    }

    /// Graceful shutdown: every worker stopped, then the leases released
    /// and the node's row removed.
    async fn leave(mut self) {
        let tenants: Vec<String> = self.held.keys().cloned().collect();
        self.stop(&tenants).await;
        let LeaseLoop { store, node, .. } = &self.config;
        match self.bounded("leaving the cluster", store.cluster().leave(&node.id)).await {
            Some(()) => tracing::info!(released = tenants.len(), "cluster: leases released"),
            None => tracing::warn!("cluster: could not release the leases; they expire by themselves"),
        }
    }

    /// `call`'s result, or `None` (logged) when it failed or outlived the limit.
    async fn bounded<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = StoreResult<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(self.call_limit(), call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cluster: {what} failed");
                None
            }
            Err(_) => {
                tracing::warn!(limit = ?self.call_limit(), "cluster: {what} did not answer in time");
                None
            }
        }
    }
}
