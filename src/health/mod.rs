//! The checks behind `/livez`, `/readyz`, `/healthz*` and `/version` (their
//! routes are `http::health`; the `check go` client is `cli::check`).

mod watchdog;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use watchdog::LoopWatchdog;

use crate::store::{Store, StoreError};
use crate::supervisor::{SupervisorHandle, SupervisorHealth};

/// Why a health check failed; its text is what `/livez`, `/readyz` and
/// `/healthz/whatsapp` show.
#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    #[error("event loop wedged: no tick for {} ms", .0.as_millis())]
    LoopWedged(Duration),
    #[error("supervisor wedged: no heartbeat for {} ms", .0.as_millis())]
    SupervisorWedged(Duration),
    #[error("supervisor is not running")]
    SupervisorStopped,
    #[error("database cannot be written: {0}")]
    DatabaseUnwritable(StoreError),
    #[error("database probe failed: {0}")]
    ProbeFailed(tokio::task::JoinError),
    #[error("{name} check timed out after {} ms", .limit.as_millis())]
    TimedOut { name: &'static str, limit: Duration },
    #[error("cluster lease loop has not reached the database for {} ms: this node's leases are being given up", .0.as_millis())]
    LeasesStale(Duration),
}

/// Names accepted by `/readyz?exclude=`.
pub const READINESS_CHECKS: &[&str] = &["database", "supervisor", "leases"];

/// Everything the health checks look at.
#[derive(Clone)]
pub struct Health {
    pub store: Store,
    pub supervisor: SupervisorHandle,
    pub watchdog: LoopWatchdog,
    pub check_timeout: Duration,
    pub wedged_after: Duration,
    pub started: Instant,
    /// On a cluster: the lease loop's heartbeat (a round that reached the
    /// database) and the lease TTL.
    pub leases: Option<(std::sync::Arc<crate::heartbeat::Heartbeat>, Duration)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    pub duration_ms: u64,
}

impl Health {
    /// `/livez`: the event loop and the supervisor both make progress.
    pub fn liveness(&self) -> Result<(), Unhealthy> {
        if let Some(silent) = self.watchdog.silent_for(self.wedged_after) {
            return Err(Unhealthy::LoopWedged(silent));
        }
        match self.supervisor.health(self.wedged_after) {
            SupervisorHealth::Wedged(silent) => Err(Unhealthy::SupervisorWedged(silent)),
            // A stopped supervisor is not a wedged process: readiness reports it.
            SupervisorHealth::Running | SupervisorHealth::Stopped => Ok(()),
        }
    }

    /// `/healthz/whatsapp`: the WhatsApp supervisor runs (with or without tenants).
    pub fn supervisor_check(&self) -> Result<String, Unhealthy> {
        match self.supervisor.health(self.wedged_after) {
            SupervisorHealth::Running => Ok("running".into()),
            SupervisorHealth::Stopped => Err(Unhealthy::SupervisorStopped),
            SupervisorHealth::Wedged(silent) => Err(Unhealthy::SupervisorWedged(silent)),
        }
    }

    /// `/readyz`: each check not excluded, each bounded by `check_timeout`.
    pub async fn readiness(&self, exclude: &[String]) -> Vec<CheckOutcome> {
        let mut outcomes = Vec::new();
        if !exclude.iter().any(|e| e == "database") {
            outcomes.push(self.timed("database", self.database_check()).await);
        }
        if !exclude.iter().any(|e| e == "supervisor") {
            let check = async { self.supervisor_check() };
            outcomes.push(self.timed("supervisor", check).await);
        }
        if let Some((beat, ttl)) = &self.leases {
            if !exclude.iter().any(|e| e == "leases") {
                let check = async { lease_check(beat, *ttl) };
                outcomes.push(self.timed("leases", check).await);
            }
        }
        outcomes
    }

    /// Accepting a durable write is what readiness means: every webhook we
    /// acknowledge must be stored first.
    async fn database_check(&self) -> Result<String, Unhealthy> {
        match self.store.probe_write(self.check_timeout).await {
            Ok(()) => Ok("accepts writes".into()),
            Err(e) => Err(Unhealthy::DatabaseUnwritable(e)),
        }
    }

    async fn timed(
        &self,
        name: &'static str,
        check: impl std::future::Future<Output = Result<String, Unhealthy>>,
    ) -> CheckOutcome {
        let started = Instant::now();
        // A little slack over the probe's own lock timeout, so the probe's
        // precise error wins over the generic one when both are due.
        let limit = self.check_timeout + Duration::from_millis(250);
        let result = match tokio::time::timeout(limit, check).await {
            Ok(result) => result,
            Err(_) => Err(Unhealthy::TimedOut { name, limit }),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(detail) => CheckOutcome { name, ok: true, detail, duration_ms },
            Err(failure) => CheckOutcome { name, ok: false, detail: failure.to_string(), duration_ms },
        }
    }
}

/// A node's lease loop must reach the database every third of the TTL; two
/// rounds missed and its leases are being given up, so it is not ready.
fn lease_check(beat: &crate::heartbeat::Heartbeat, ttl: Duration) -> Result<String, Unhealthy> {
    match beat.silent_for(ttl * 2 / 3) {
        None => Ok("renewing".into()),
        Some(silent) => Err(Unhealthy::LeasesStale(silent)),
    }
}

/// Build facts shown by `/version` and `--version`.
pub mod build_info {
    pub const VERSION: &str = env!("CARGO_PKG_VERSION");
    pub const COMMIT: &str = env!("AGENTLOCATOR_COMMIT_HASH");
    pub const BUILD: &str = env!("AGENTLOCATOR_BUILD_NUMBER");

    pub fn build_number() -> u64 {
        BUILD.parse().unwrap_or(0)
    }

    /// Cargo features compiled in.
    pub fn features() -> Vec<&'static str> {
        let mut features = Vec::new();
        if cfg!(feature = "sim") {
            features.push("sim");
        }
        features
    }
}
