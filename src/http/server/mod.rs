//! The HTTP/1.1 server: an accept loop over hyper with the connection limits
//! `axum::serve` lacks.
//!
//! - A request whose head has not fully arrived `header_read_timeout` after
//!   its first byte is closed (slowloris), and a connection with no request in
//!   flight is closed after `idle_timeout`. hyper 1.x has one timer for both
//!   (`header_read_timeout` starts when the connection starts waiting for a
//!   request, so it also ends idle keep-alive connections), which cannot give
//!   a short header limit and a longer idle one; and hyper-util's HTTP/1+2
//!   auto builder runs no timer at all while it reads the first bytes to pick
//!   the protocol. So hyper's timer is off and [`connection`] keeps both clocks.
//! - At most `max_connections` are open. Over the cap the connection idle the
//!   longest is closed to make room (an idle flood cannot starve `/healthz` or
//!   the webhooks); when every connection has a request in flight, the new one
//!   is closed at once rather than left queued.
//! - Out of file descriptors, `accept` fails with the connection still queued,
//!   so the listener stays readable: the loop frees a descriptor (closing the
//!   longest-idle connection) and pauses briefly instead of spinning.
//! - Shutdown stops accepting, then lets every connection finish its request
//!   (hyper-util's `GracefulShutdown`); the caller bounds the wait.
//!
//! HTTP/1.1 only: Twilio and health checkers speak it, and cleartext HTTP/2
//! would need its own idle and stream limits.

mod activity;
mod connection;
mod registry;

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::config::HttpConfig;
use registry::Registry;

/// After an accept failure other than a vanished peer (out of descriptors,
/// memory), how long the loop waits before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How often at most an accept failure is logged at warn level.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(10);

/// The limits every connection gets.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// The configured limits, with the connection cap lowered to half the
    /// process's open-files limit when that is smaller: the other half stays
    /// for the tenants' WhatsApp sessions (about 5 descriptors each) and the
    /// databases, so a connection flood cannot take their descriptors.
    pub fn new(http: &HttpConfig, open_files: Option<u64>) -> Limits {
        let fd_share = open_files.map(|n| usize::try_from(n / 2).unwrap_or(usize::MAX)).unwrap_or(usize::MAX);
        let max_connections = http.max_connections.get().min(fd_share).max(1);
        if max_connections < http.max_connections.get() {
            tracing::warn!(
                max_connections,
                configured = http.max_connections.get(),
                open_files,
                "http.max_connections lowered to half the open-files limit; raise the limit (systemd: LimitNOFILE) to allow more"
            );
        }
        Limits {
            header_read_timeout: http.header_read_timeout,
            idle_timeout: http.idle_timeout,
            max_connections,
        }
    }
}

/// The process's soft limit on open files, if it can be read.
pub fn open_files_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _hard)| soft)
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Registry::new(limits.max_connections);
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    // Off: `connection` keeps the header and idle clocks (see above).
    builder.header_read_timeout(None);
    let mut accept_errors = AcceptErrors::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, _)) => match registry.admit().await {
                Some(slot) => connection::spawn(stream, router.clone(), &builder, limits, slot, &graceful),
                None => {
                    metrics::counter!("agentlocator_http_connections_closed_total", "reason" => "over_capacity")
                        .increment(1);
                    drop(stream);
                }
            },
            Err(error) => accept_errors.handle(error, &registry).await,
        }
    }
    // New connections are refused from here on.
    drop(listener);
    graceful.shutdown().await;
}

/// What the accept loop does when `accept` fails.
#[derive(Default)]
struct AcceptErrors {
    last_warned: Option<Instant>,
}

impl AcceptErrors {
    async fn handle(&mut self, error: io::Error, registry: &Registry) {
        // The peer gave up before we accepted: nothing is wrong with us.
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
        ) {
            tracing::debug!(%error, "accept: peer went away");
            return;
        }
        // Out of descriptors (or memory): the connection stays queued and the
        // listener readable, so accepting again at once would spin.
        let freed = registry.evict_one();
        if self.last_warned.is_none_or(|at| at.elapsed() >= ACCEPT_WARN_EVERY) {
            self.last_warned = Some(Instant::now());
            tracing::warn!(%error, freed_idle_connection = freed, "cannot accept HTTP connections; pausing briefly");
        }
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
}
