//! The checks behind `/livez`, `/readyz`, `/healthz*` and `/version`, and the
//! `check go` client that runs the four GO checks against a deployment.

pub mod go;
pub mod routes;
mod watchdog;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use watchdog::LoopWatchdog;

use crate::store::Store;
use crate::supervisor::{SupervisorHandle, SupervisorHealth};

/// Names accepted by `/readyz?exclude=`.
pub const READINESS_CHECKS: &[&str] = &["database", "supervisor"];

/// Everything the health checks look at.
#[derive(Clone)]
pub struct Health {
    pub store: Store,
    pub supervisor: SupervisorHandle,
    pub watchdog: LoopWatchdog,
    pub check_timeout: Duration,
    pub wedged_after: Duration,
    pub started: Instant,
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
    pub fn liveness(&self) -> Result<(), String> {
        if let Some(silent) = self.watchdog.silent_for(self.wedged_after) {
            return Err(format!("event loop wedged: no tick for {} ms", silent.as_millis()));
        }
        match self.supervisor.health(self.wedged_after) {
            SupervisorHealth::Wedged(silent) => {
                Err(format!("supervisor wedged: no heartbeat for {} ms", silent.as_millis()))
            }
            // A stopped supervisor is not a wedged process: readiness reports it.
            SupervisorHealth::Running | SupervisorHealth::Stopped => Ok(()),
        }
    }

    /// `/healthz/whatsapp`: the WhatsApp supervisor runs (with or without tenants).
    pub fn supervisor_check(&self) -> Result<String, String> {
        match self.supervisor.health(self.wedged_after) {
            SupervisorHealth::Running => Ok("running".into()),
            SupervisorHealth::Stopped => Err("supervisor is not running".into()),
            SupervisorHealth::Wedged(silent) => {
                Err(format!("supervisor wedged: no heartbeat for {} ms", silent.as_millis()))
            }
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
        outcomes
    }

    /// Accepting a durable write is what readiness means: every webhook we
    /// acknowledge must be stored first.
    async fn database_check(&self) -> Result<String, String> {
        let store = self.store.clone();
        let timeout = self.check_timeout;
        let probe = tokio::task::spawn_blocking(move || store.probe_write(timeout));
        match probe.await {
            Ok(Ok(())) => Ok("accepts writes".into()),
            Ok(Err(e)) => Err(format!("database cannot be written: {e}")),
            Err(e) => Err(format!("database probe failed: {e}")),
        }
    }

    async fn timed(
        &self,
        name: &'static str,
        check: impl std::future::Future<Output = Result<String, String>>,
    ) -> CheckOutcome {
        let started = Instant::now();
        // A little slack over the probe's own lock timeout, so the probe's
        // precise error wins over the generic one when both are due.
        let limit = self.check_timeout + Duration::from_millis(250);
        let result = match tokio::time::timeout(limit, check).await {
            Ok(result) => result,
            Err(_) => Err(format!("{name} check timed out after {} ms", limit.as_millis())),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(detail) => CheckOutcome { name, ok: true, detail, duration_ms },
            Err(detail) => CheckOutcome { name, ok: false, detail, duration_ms },
        }
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
