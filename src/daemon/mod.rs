//! `agentlocator serve`: opens the store, starts the supervisor, the HTTP
//! service and the admin socket, then waits for SIGTERM/SIGINT and shuts down
//! in order (stop accepting, let in-flight requests finish, stop workers).
//!
//! [`serve`] is the command: it installs the signal handlers, takes the data
//! directory's lock, binds the configured address and calls [`run`]. `run`
//! is the daemon itself, on a listener already bound and until a shutdown
//! future resolves, so tests can run it in-process (as mini-redis's
//! `server::run(listener, shutdown)`).

mod error;
mod lock;
mod open_files;
mod signals;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::peers::Peers;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::content::PublicUrls;
use crate::delivery::Delivery;
use crate::error::AppResult;
use crate::health::{Health, LoopWatchdog};
use crate::heartbeat::Heartbeat;
use crate::http::{self, AppState};
use crate::jobs::RunnerHandle;
use crate::ownership::{Ownership, OwnershipWriter};
use crate::paths::DataDir;
use crate::secrets::{internal_secret, SecretSource};
use crate::store::{EventWriter, Store};
use crate::supervisor::Supervisor;
use crate::whatsapp::WhatsApp;

pub use error::DaemonError;
pub use lock::ServeLock;

/// The `serve` command: signal handlers first (see `signals`), then the data
/// directory's lock (a second daemon is told it is one), then the configured
/// address; runs until SIGTERM or SIGINT.
pub async fn serve(config: Config, data: DataDir) -> AppResult<()> {
    let mut signals = signals::ShutdownSignals::install()?;
    let lock = ServeLock::acquire(data)?;
    let listen = config.listen_addr()?;
    let listener =
        TcpListener::bind(listen).await.map_err(|source| DaemonError::Bind { addr: listen, source })?;
    run(config, lock, listener, async move { signals.wait().await }).await
}

/// The daemon on `listener`, with the data directory `lock` holds, until
/// `shutdown` resolves (with the name of what asked, e.g. "SIGTERM"); then
/// it stops in order and returns.
pub async fn run(
    config: Config,
    lock: ServeLock,
    listener: TcpListener,
    shutdown: impl Future<Output = &'static str>,
) -> AppResult<()> {
    let data = lock.data().clone();
    let core = Core::open(config, &data).await?;
    let local: SocketAddr = listener.local_addr().map_err(DaemonError::LocalAddr)?;
    let running = Running::start(core, &data, listener, local).await?;
    tracing::info!(addr = %local, data_dir = %data.root().display(), "listening");
    notify_systemd(&[sd_notify::NotifyState::Ready]);

    let signal = shutdown.await;
    crate::heap_profile::finish();
    tracing::info!(signal, "shutting down: finishing in-flight requests");
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    running.stop().await;
    tracing::info!("stopped");
    drop(lock);
    Ok(())
}

/// What every component shares, opened before anything listens: the store
/// and its event writer, the metrics recorder, the supervisor and the
/// WhatsApp workers' owner (none started yet).
struct Core {
    config: Arc<Config>,
    state: AppState,
    supervisor: Supervisor,
    /// On a cluster: what the lease loop publishes the held tenants through.
    leases: Option<OwnershipWriter>,
}

impl Core {
    async fn open(config: Config, data: &DataDir) -> AppResult<Core> {
        let secret = load_internal_secret(&config, data)?;
        open_files::raise_limit();
        let metrics = install_metrics()?;
        let Assembled { state, supervisor, leases } = assemble(config, data, secret, metrics).await?;
        Ok(Core { config: state.config.clone(), state, supervisor, leases })
    }
}

/// What [`assemble`] builds.
pub struct Assembled {
    pub state: AppState,
    pub supervisor: Supervisor,
    /// On the PostgreSQL store, where the lease loop publishes the tenants
    /// this node holds (the workers and delivery run only those).
    pub leases: Option<OwnershipWriter>,
}

/// The state every handler shares, assembled from its parts: the store and
/// its event writer, the supervisor (started, with no workers yet), the
/// WhatsApp workers' owner and the health checks. What is process-wide (the
/// internal secret's file, the metrics recorder) is passed in, so tests can
/// assemble the same state in-process beside others.
pub async fn assemble(
    config: Config,
    data: &DataDir,
    internal_secret: String,
    metrics: PrometheusHandle,
) -> AppResult<Assembled> {
    let store = Store::open(&config.store, data).await?;
    let events = EventWriter::start(&store)?;
    // On a shared database this daemon is a node: it runs the tenants it
    // leases, none until its lease loop takes some.
    let (ownership, leases) = if store.is_shared() {
        let (ownership, writer) = Ownership::leased();
        (ownership, Some(writer))
    } else {
        (Ownership::everything(), None)
    };
    let lease_heartbeat = leases.as_ref().map(|_| Arc::new(Heartbeat::new()));
    let supervisor =
        Supervisor::start(crate::whatsapp::restart_policy(&config.whatsapp), config.whatsapp.connect_stagger);
    let whatsapp = WhatsApp::new(
        store.clone(),
        events.clone(),
        data.clone(),
        crate::whatsapp::Settings::from_config(&config.whatsapp),
        supervisor.handle(),
        ownership.clone(),
    );
    let health = Health {
        store: store.clone(),
        supervisor: supervisor.handle(),
        watchdog: LoopWatchdog::start(),
        check_timeout: config.health.check_timeout,
        wedged_after: config.health.wedged_after,
        started: Instant::now(),
        leases: lease_heartbeat.map(|beat| (beat, config.cluster.lease_ttl)),
    };
    let state = AppState {
        config: Arc::new(config),
        store,
        events,
        health,
        internal_secret: Arc::new(internal_secret),
        metrics,
        whatsapp,
        data: data.clone(),
        node: None,
        ownership,
    };
    Ok(Assembled { state, supervisor, leases })
}

/// The started components, each with its way to stop; [`Running::stop`]
/// stops them in the one order that drains each before what it feeds.
struct Running {
    grace: Duration,
    shutdown: watch::Sender<bool>,
    admin: JoinHandle<()>,
    delivery: Delivery,
    housekeeping: JoinHandle<()>,
    jobs: RunnerHandle,
    http: JoinHandle<()>,
    supervisor: Supervisor,
    cluster: Option<Cluster>,
    upkeep: JoinHandle<()>,
}

impl Running {
    /// Starts, in this order: the admin socket, delivery, housekeeping, the
    /// background jobs, the HTTP server, then every tenant's WhatsApp worker.
    async fn start(
        core: Core,
        data: &DataDir,
        listener: TcpListener,
        local: SocketAddr,
    ) -> AppResult<Running> {
        let Core { config, mut state, supervisor, leases } = core;
        let grace = config.http.shutdown_grace;
        // The URLs events carry for stored recordings and media: known only
        // now that the listener is bound (its port may have been 0).
        let urls = PublicUrls::new(config.http.public_base_url.as_deref(), local);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let whatsapp = state.whatsapp.clone();
        let cluster = leases.map(|writer| start_cluster(&config, &mut state, writer, local, &shutdown_rx));
        let peers = state.node.clone().map(|node| Peers::new(node, state.internal_secret.clone()));
        let admin_socket = crate::admin::server::AdminServer::bind(
            data,
            state.store.clone(),
            supervisor.handle(),
            whatsapp.clone(),
            local,
            peers,
        )?;
        let admin = tokio::spawn(admin_socket.run(shutdown_rx.clone()));
        let delivery = Delivery::start(
            &config,
            &state.store,
            state.events.commits(),
            state.ownership.clone(),
            shutdown_rx.clone(),
            grace,
        )
        .map_err(DaemonError::from)?;
        // Retention: delivered events, send idempotency keys and stored files are pruned.
        let housekeeping = crate::housekeeping::start(&config, &state.store, data, shutdown_rx.clone())?;
        let jobs = start_jobs(&config, &state, data, urls)?;
        let upkeep = crate::upkeep::start(state.metrics.clone(), shutdown_rx.clone());
        let http = start_http(&config, listener, state, shutdown_rx);
        let tenants = whatsapp.start_all().await.map_err(DaemonError::from)?;
        tracing::info!(tenants, "whatsapp workers starting");
        Ok(Running {
            grace,
            shutdown,
            admin,
            delivery,
            housekeeping,
            jobs,
            http,
            supervisor,
            cluster,
            upkeep,
        })
    }

    /// Stops accepting and lets in-flight requests finish (within the
    /// grace period), waits for delivery's drain (begun with the shutdown),
    /// then stops housekeeping, the jobs, the workers and the admin socket.
    async fn stop(self) {
        let grace = self.grace;
        let _ = self.shutdown.send(true);
        match tokio::time::timeout(grace, self.http).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "http server task failed"),
            Err(_) => tracing::warn!(?grace, "in-flight requests did not finish within the grace period"),
        }
        // Started draining with the shutdown; this only waits for it to finish.
        self.delivery.stopped(grace + Duration::from_secs(5)).await;
        self.housekeeping.abort();
        self.jobs.shutdown().await;
        // The lease loop began with the shutdown: it stops this node's
        // workers and releases their leases, so other nodes take over at once.
        if let Some(cluster) = self.cluster {
            cluster.stopped().await;
        }
        self.supervisor.shutdown(grace).await;
        let _ = self.admin.await;
        // Ended with the shutdown signal; only waited for here.
        let _ = self.upkeep.await;
    }
}

/// This node's lease loop (cluster mode): it names the node in `state` and
/// takes tenants' leases for their workers.
fn start_cluster(
    config: &Config,
    state: &mut AppState,
    writer: OwnershipWriter,
    local: SocketAddr,
    shutdown: &watch::Receiver<bool>,
) -> Cluster {
    let node = crate::cluster::identity(&config.cluster, local);
    state.node = Some(Arc::new(node.clone()));
    let heartbeat = state.health.leases.as_ref().map(|(beat, _)| beat.clone()).unwrap_or_default();
    Cluster::start(
        &state.store,
        node,
        &config.cluster,
        state.whatsapp.clone(),
        writer,
        heartbeat,
        shutdown.clone(),
    )
}

/// Background jobs (recording fetches, WhatsApp media downloads), resumed from the store.
fn start_jobs(
    config: &Arc<Config>,
    state: &AppState,
    data: &DataDir,
    urls: PublicUrls,
) -> AppResult<RunnerHandle> {
    let mut runner = crate::jobs::Runner::new(state.store.clone(), state.events.clone(), config.jobs.clone());
    runner.register(crate::whatsapp::inbound::MESSAGE_EVENT, state.whatsapp.media_fetch(urls.clone()));
    let recordings =
        crate::twilio::RecordingFetch::new(state.store.clone(), data.clone(), config.clone(), urls)
            .map_err(|e| DaemonError::Recordings(e.to_string()))?;
    runner.register(crate::twilio::RECORDING_EVENT, recordings);
    Ok(runner.start())
}

/// The HTTP server on its own task, until `shutdown` turns true.
fn start_http(
    config: &Config,
    listener: TcpListener,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    warn_without_public_base_url(config);
    let limits = http::server::Limits::new(&config.http, http::server::open_files_limit());
    tokio::spawn(http::server::serve(listener, http::router(state), limits, async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    }))
}

/// The secret internal callers present, and where it came from (logged).
fn load_internal_secret(config: &Config, data: &DataDir) -> AppResult<String> {
    let (secret, source) = internal_secret(config, data)?;
    match source {
        SecretSource::Configured => tracing::info!("internal secret: from the configuration"),
        SecretSource::StoredFile => {
            tracing::info!(path = %data.secret_path().display(), "internal secret: kept in file")
        }
        SecretSource::GeneratedNow => tracing::warn!(
            path = %data.secret_path().display(),
            "internal secret: none configured, generated one and stored it (mode 0600); set INTERNAL_SECRET to choose your own"
        ),
    }
    Ok(secret)
}

/// Without a public base URL, Twilio's signatures are checked against a URL
/// rebuilt from each request's `Host` (and `X-Forwarded-Proto`), which only
/// matches what Twilio signed when nothing between us rewrites them; and the
/// URLs of stored media and recordings in events name the listening address.
fn warn_without_public_base_url(config: &Config) {
    if config.http.public_base_url.is_none() {
        tracing::warn!(
            "http.public_base_url (PUBLIC_BASE_URL) is not set: Twilio webhook signatures are checked against a URL rebuilt from each request's Host header, and the media and recording URLs in events name the listening address; set it to the public URL Twilio and the tenants' backends reach in production"
        );
    }
}

fn install_metrics() -> Result<PrometheusHandle, DaemonError> {
    Ok(PrometheusBuilder::new().install_recorder()?)
}

/// Tells systemd about our state when run as a `Type=notify` unit; a no-op
/// elsewhere (no NOTIFY_SOCKET).
fn notify_systemd(state: &[sd_notify::NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(state) {
            tracing::warn!(error = %e, "sd_notify failed");
        }
    }
}
