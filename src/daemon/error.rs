//! Why the daemon could not start. Each message says what was wrong and what
//! to do; `From<DaemonError> for AppError` (src/error.rs) maps them all to
//! exit code 1.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::delivery::DeliveryError;
use crate::whatsapp::WhatsAppError;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot install the {name} handler: {source}")]
    Signal { name: &'static str, source: std::io::Error },
    #[error(
        "another `agentlocator serve` is already running on {}; stop it first or use another --data-dir",
        data_dir.display()
    )]
    LockHeld { data_dir: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}; choose another http.listen (AGENTLOCATOR_LISTEN)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    /// The bound listener cannot say its own address.
    #[error("{0}")]
    LocalAddr(std::io::Error),
    #[error("cannot install the metrics recorder: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// The recording fetcher's settings were refused.
    #[error("{0}")]
    Recordings(String),
    /// The tenants' WhatsApp workers could not be listed.
    #[error(transparent)]
    WhatsApp(#[from] WhatsAppError),
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for DaemonError {}
