//! The signals that end `serve`. Handlers are installed before the daemon
//! announces itself (log line, sd_notify READY), so a signal sent the moment
//! it is up is never lost to the default action.

use tokio::signal::unix::{signal, Signal, SignalKind};

use super::DaemonError;

pub struct ShutdownSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignals {
    pub fn install() -> Result<ShutdownSignals, DaemonError> {
        let install = |kind: SignalKind, name: &'static str| {
            signal(kind).map_err(|source| DaemonError::Signal { name, source })
        };
        Ok(ShutdownSignals {
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    /// Resolves with the name of the first SIGTERM or SIGINT received.
    pub async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
