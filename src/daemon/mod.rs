//! `agentlocator serve`: opens the store, starts the supervisor, the HTTP
//! service and the admin socket, then waits for SIGTERM/SIGINT and shuts down
//! in order (stop accepting, let in-flight requests finish, stop workers).

mod lock;
mod signals;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::server::AdminServer;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::health::{Health, LoopWatchdog};
use crate::http::{self, AppState};
use crate::paths::DataDir;
use crate::secrets::{internal_secret, SecretSource};
use crate::store::{EventWriter, Store};
use crate::supervisor::Supervisor;
use crate::whatsapp::WhatsApp;

pub async fn serve(config: Config, data: DataDir) -> AppResult<()> {
    let mut signals = signals::ShutdownSignals::install()?;
    data.ensure()?;
    let _lock = lock::ServeLock::acquire(&data)?;
    let (secret, source) = internal_secret(&config, &data)?;
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
    raise_open_files_limit();
    let store = Store::open(&data.db_path(), config.store.busy_timeout)?;
    let events = EventWriter::start(&data.db_path(), config.store.busy_timeout)?;
    let metrics = install_metrics()?;

    let supervisor =
        Supervisor::start(crate::whatsapp::restart_policy(&config.whatsapp), config.whatsapp.connect_stagger);
    let whatsapp = WhatsApp::new(
        store.clone(),
        events.clone(),
        data.clone(),
        crate::whatsapp::Settings::from_config(&config.whatsapp),
        supervisor.handle(),
    );
    let health = Health {
        store: store.clone(),
        supervisor: supervisor.handle(),
        watchdog: LoopWatchdog::start(),
        check_timeout: config.health.check_timeout,
        wedged_after: config.health.wedged_after,
        started: Instant::now(),
    };
    let config = Arc::new(config);
    let state = AppState {
        config: config.clone(),
        store: store.clone(),
        events,
        health,
        internal_secret: Arc::new(secret),
        metrics,
        whatsapp: whatsapp.clone(),
        data: data.clone(),
    };

    let listen = config.listen_addr()?;
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        AppError::failed(format!(
            "cannot listen on {listen}: {e}; choose another http.listen (AGENTLOCATOR_LISTEN)"
        ))
    })?;
    let local: SocketAddr = listener.local_addr().map_err(|e| AppError::failed(e.to_string()))?;
    // The URLs events carry for stored recordings and media: known only now
    // that the listener is bound (its port may have been 0).
    let urls = crate::content::PublicUrls::new(config.http.public_base_url.as_deref(), local);

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let admin_socket = AdminServer::bind(&data, store.clone(), supervisor.handle(), whatsapp.clone(), local)?;
    let admin_task = tokio::spawn(admin_socket.run(shutdown_rx.clone()));
    let delivery = crate::delivery::Delivery::start(
        &config,
        &data.db_path(),
        state.events.commits(),
        shutdown_rx.clone(),
        config.http.shutdown_grace,
    )?;

    // Retention: delivered events, send idempotency keys and stored files are pruned.
    let housekeeping = crate::housekeeping::start(&config, &data, shutdown_rx.clone())?;

    // Background jobs (recording fetches, WhatsApp media downloads), resumed from the store.
    let mut job_runner = crate::jobs::Runner::new(store.clone(), state.events.clone(), config.jobs.clone());
    job_runner.register(crate::whatsapp::inbound::MESSAGE_EVENT, whatsapp.media_fetch(urls.clone()));
    job_runner.register(
        crate::twilio::RECORDING_EVENT,
        crate::twilio::RecordingFetch::new(store.clone(), data.clone(), config.clone(), urls)?,
    );
    let jobs = job_runner.start();

    warn_without_public_base_url(&config);
    let limits = http::server::Limits::new(&config.http, http::server::open_files_limit());
    let mut http_shutdown = shutdown_rx.clone();
    let http_task = tokio::spawn(http::server::serve(listener, http::router(state), limits, async move {
        let _ = http_shutdown.wait_for(|stop| *stop).await;
    }));
    let tenants = whatsapp.start_all().await.map_err(|e| AppError::failed(e.to_string()))?;
    tracing::info!(tenants, "whatsapp workers starting");
    tracing::info!(addr = %local, data_dir = %data.root().display(), "listening");
    notify_systemd(&[sd_notify::NotifyState::Ready]);

    let signal = signals.wait().await;
    tracing::info!(signal, "shutting down: finishing in-flight requests");
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    let _ = shutdown_tx.send(true);

    let grace = config.http.shutdown_grace;
    match tokio::time::timeout(grace, http_task).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "http server task failed"),
        Err(_) => tracing::warn!(?grace, "in-flight requests did not finish within the grace period"),
    }
    // Started draining with the signal; this only waits for it to finish.
    delivery.stopped(grace + Duration::from_secs(5)).await;
    housekeeping.abort();
    jobs.shutdown().await;
    supervisor.shutdown(grace).await;
    let _ = admin_task.await;
    tracing::info!("stopped");
    Ok(())
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

/// Each connected tenant holds about five descriptors (its WebSocket, its
/// session store's database, WAL and lock files), so the common soft limit of
/// 1024 runs out near 190 tenants. Raise the soft limit to the hard one, as
/// far as the system allows, and say what we got.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            limit.rlim_cur = before;
        }
    }
    let tenants = limit.rlim_cur / 5;
    tracing::info!(
        open_files = limit.rlim_cur,
        raised_from = before,
        "open-files limit (about {tenants} connected tenants)"
    );
    if limit.rlim_cur < 4096 {
        tracing::warn!(
            open_files = limit.rlim_cur,
            "low open-files limit: each connected tenant needs about 5; raise it (systemd: LimitNOFILE=65536)"
        );
    }
}

fn install_metrics() -> AppResult<PrometheusHandle> {
    PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| AppError::failed(format!("cannot install the metrics recorder: {e}")))
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
