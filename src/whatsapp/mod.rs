//! Tenant WhatsApp workers: one whatsapp-rust client per tenant, run by the
//! supervisor (which knows nothing of WhatsApp), each with its own session
//! store, explicit states, durable inbound messages and paced, idempotent
//! sends. [`WhatsApp`] is the module's face: the daemon registers tenants
//! with it, and the HTTP API and the admin socket ask it for status, pairing
//! codes, sends, logouts and restarts.

mod chat;
mod connection;
pub mod inbound;
mod media_http;
mod media_in;
pub mod media_out;
mod outbound;
mod pairing;
pub mod receipts;
mod session;
mod slot;
pub mod state;
mod transport;
pub mod views;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use chat::{Presence, MAX_READ_IDS};
pub use media_in::MediaFetch;
pub use media_out::{MediaError, MediaKind, MediaSend, Staged, StagingFile};
pub use outbound::{SendError, SendRequest, Sent};
pub use pairing::{FirstCodeError, PairingError, PairingUpdate};
pub use slot::{PairRequest, Pairing};
pub use state::WaState;

use slot::{Command, Slot};
use state::Change;

use crate::config::WhatsappConfig;
use crate::ownership::{NotHeld, Ownership};
use crate::paths::DataDir;
use crate::store::cluster::Token;
use crate::store::whatsapp::Recorded;
use crate::store::{EventWriter, Store};
use crate::supervisor::{
    RestartPolicy, SupervisedState, SupervisorHandle, WorkerContext, WorkerFactory, WorkerRun, WorkerStatus,
};
use crate::tenants::TenantId;

/// What every worker needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ws_url: Option<String>,
    pub prekeys: usize,
    pub send_interval: Duration,
    pub send_queue_max_wait: Duration,
    /// How long a send may take once it is its turn.
    pub send_timeout: Duration,
    /// Largest media file taken in either direction.
    pub media_max_bytes: u64,
    /// The HTTP client for media, shared by every tenant's client.
    pub media_http: media_http::MediaHttp,
    /// The WebSocket transport, shared by every tenant's client.
    pub transport: transport::SharedTransport,
}

impl Settings {
    pub fn from_config(config: &WhatsappConfig) -> Settings {
        Settings {
            ws_url: config.ws_url.clone(),
            prekeys: config.prekeys,
            send_interval: config.send_interval,
            send_queue_max_wait: config.send_queue_max_wait,
            send_timeout: config.send_timeout,
            media_max_bytes: config.media_max_bytes,
            media_http: media_http::MediaHttp::new(config.media_max_bytes, config.media_transfer_timeout),
            transport: transport::SharedTransport::new(config.ws_url.as_deref()),
        }
    }
}

/// The supervisor's restart policy for tenant workers, from the configuration.
pub fn restart_policy(config: &WhatsappConfig) -> RestartPolicy {
    RestartPolicy {
        base: config.restart_backoff_base,
        cap: config.restart_backoff_cap,
        max_restarts: config.max_restarts.get(),
        window: config.restart_window,
        ..RestartPolicy::default()
    }
}

pub(crate) struct Shared {
    store: Store,
    events: EventWriter,
    data: DataDir,
    settings: Settings,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// Which tenants this process may run a client for.
    ownership: Ownership,
}

impl Shared {
    fn slot(&self, tenant: &TenantId) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(tenant.as_str().to_string()).or_default().clone()
    }
}

/// The tenant workers of one process (the daemon, or a `tenant pair` that
/// runs without one).
#[derive(Clone)]
pub struct WhatsApp {
    shared: Arc<Shared>,
    supervisor: SupervisorHandle,
}

/// Why an operation on a tenant's WhatsApp could not be done.
#[derive(Debug, thiserror::Error)]
pub enum WhatsAppError {
    /// Another process runs this tenant's client.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// The session files' failures leave the tenant's WhatsApp unavailable.
impl From<session::SessionError> for WhatsAppError {
    fn from(e: session::SessionError) -> Self {
        WhatsAppError::Unavailable(e.to_string())
    }
}

/// Why a test-only worker fault was not injected.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("the worker is not running")]
    NotRunning,
    #[error("unknown worker fault `{0}`; known: panic, fail-starts, heal")]
    Unknown(String),
}

impl WhatsApp {
    pub fn new(
        store: Store,
        events: EventWriter,
        data: DataDir,
        settings: Settings,
        supervisor: SupervisorHandle,
        ownership: Ownership,
    ) -> Self {
        let slots = Mutex::new(HashMap::new());
        let shared = Arc::new(Shared { store, events, data, settings, slots, ownership });
        WhatsApp { shared, supervisor }
    }

    /// The job handler that downloads inbound media (register it for
    /// [`inbound::MESSAGE_EVENT`] jobs).
    pub fn media_fetch(&self, urls: crate::content::PublicUrls) -> MediaFetch {
        MediaFetch::new(self.shared.clone(), urls)
    }

    /// Starts (or keeps) the tenant's worker, when this process runs the
    /// tenant (on a cluster: holds its lease; the lease loop starts it when
    /// it takes the lease).
    pub fn start(&self, tenant: &TenantId) {
        if !self.shared.ownership.owns(tenant.as_str()) {
            tracing::debug!(%tenant, "not this node's tenant: its worker runs where its lease is");
            self.shared.ownership.request_round();
            return;
        }
        let factory = Arc::new(Factory { shared: self.shared.clone(), tenant: tenant.clone() });
        self.supervisor.start_worker(tenant.as_str(), factory);
    }

    /// Whether this process runs `tenant`, waiting up to `limit` for a lease
    /// round it asks for (a tenant just added is taken at the next round).
    pub async fn runs_here(&self, tenant: &TenantId, limit: Duration) -> bool {
        let ownership = &self.shared.ownership;
        if ownership.owns(tenant.as_str()) {
            return true;
        }
        ownership.request_round();
        let mut watch = ownership.clone();
        let waited = tokio::time::timeout(limit, async {
            while !watch.owns(tenant.as_str()) {
                watch.changed().await;
            }
        });
        waited.await.is_ok()
    }

    /// Starts a worker for every tenant in the store this process runs
    /// (staggered by the supervisor).
    pub async fn start_all(&self) -> Result<usize, WhatsAppError> {
        let ids = self.shared.store.tenants().list().await?;
        let mut started = 0;
        for row in ids {
            if !self.shared.ownership.owns(&row.id) {
                continue;
            }
            if let Ok(id) = TenantId::parse(&row.id) {
                self.start(&id);
                started += 1;
            }
        }
        Ok(started)
    }

    /// Stops the tenant's worker and forgets it (the tenant is being removed).
    pub async fn forget(&self, tenant: &TenantId, timeout: Duration) -> bool {
        let stopped = self.supervisor.stop_worker(tenant.as_str(), timeout).await;
        if let Ok(mut slots) = self.shared.slots.lock() {
            slots.remove(tenant.as_str());
        }
        stopped
    }

    /// Restarts the worker, also out of quarantine or after a replacement; a
    /// worker the supervisor no longer knows (stopped) is started afresh.
    pub fn restart(&self, tenant: &TenantId) {
        self.supervisor.restart_worker(tenant.as_str());
        self.start(tenant);
    }

    /// The tenant's client's estimate of its retained heap, when it has one.
    pub async fn memory_estimate(&self, tenant: &TenantId) -> Option<u64> {
        let client = self.shared.slot(tenant).client()?;
        Some(client.memory_report().await.total_estimated_bytes())
    }

    /// What the supervisor says of every worker.
    pub async fn supervised(&self) -> Vec<WorkerStatus> {
        self.supervisor.snapshot(Duration::from_secs(2)).await.unwrap_or_default()
    }

    /// Unlinks the tenant's device. A run of its worker in this process does
    /// it (a connected client tells WhatsApp first), so the session store is
    /// never wiped under a client that uses it; with no run anywhere, the
    /// store is wiped here under the session lock. Answers the state after:
    /// `logged_out`, or `unpaired` when nothing was linked.
    pub async fn logout(&self, tenant: &TenantId) -> Result<WaState, WhatsAppError> {
        let slot = self.shared.slot(tenant);
        if slot.run_active() {
            let mut live = slot.watch();
            slot.send_command(Command::Logout);
            let done = live.wait_for(|l| matches!(l.state, Some(WaState::LoggedOut | WaState::Unpaired)));
            return match tokio::time::timeout(Duration::from_secs(20), done).await {
                Ok(Ok(live)) => Ok(live.state.unwrap_or(WaState::LoggedOut)),
                _ => Err(WhatsAppError::Unavailable("the worker did not confirm the logout in time".into())),
            };
        }
        // On a cluster the tenant's client may be live on another node:
        // wiping its session from here would pull it from under that client.
        if !self.shared.ownership.owns(tenant.as_str()) {
            return Err(WhatsAppError::Unavailable(format!(
                "tenant `{tenant}` runs on another node; log out through that node (the API forwards it)"
            )));
        }
        let files = session::SessionFiles::prepare(&self.shared.data, tenant)?;
        let Some(_lock) = files.lock()? else {
            return Err(WhatsAppError::Busy(format!(
                "another process is using tenant `{tenant}`'s WhatsApp session (a `tenant pair` running \
                 without the daemon?); log out once it has finished"
            )));
        };
        self.shared.store.sessions(&self.shared.data).wipe(tenant).await?;
        let change = Change::to(WaState::LoggedOut, "logged out by the operator; session store wiped")
            .with_phone(None);
        record_change(&self.shared, tenant, &slot, change).await;
        Ok(WaState::LoggedOut)
    }

    /// Sends a message (paced, idempotent with `idempotency_key`).
    pub async fn send(&self, tenant: &TenantId, request: SendRequest) -> Result<Sent, SendError> {
        self.send_parts(tenant, request.into_parts()).await
    }

    /// Sends a staged file as a media message (paced, idempotent like text).
    /// The staged file is removed once the send is over, however it ended.
    pub async fn send_media(&self, tenant: &TenantId, media: MediaSend) -> Result<Sent, SendError> {
        self.send_parts(tenant, media.into_parts()).await
    }

    async fn send_parts(
        &self,
        tenant: &TenantId,
        parts: (String, Option<String>, outbound::Payload),
    ) -> Result<Sent, SendError> {
        let (shared, tenant) = (self.shared.clone(), tenant.clone());
        // Its own task: a caller that gives up (a request timeout) must not
        // cancel a send halfway, leaving its idempotency record unfinished.
        let send = tokio::spawn(async move {
            let slot = shared.slot(&tenant);
            outbound::send(&shared, &slot, &tenant, parts).await
        });
        send.await.map_err(|e| {
            SendError::OutcomeUnknown(format!(
                "the send task failed mid-way ({e}): the message may or may not have reached WhatsApp"
            ))
        })?
    }

    /// A private temp file in the tenant's directory for a file about to be
    /// sent, capped at `whatsapp.media_max_bytes`.
    pub fn stage_media(&self, tenant: &TenantId) -> Result<StagingFile, MediaError> {
        let dir = media_out::staging_dir(&self.shared.data.tenant_dir(tenant));
        StagingFile::create(&dir, self.shared.settings.media_max_bytes)
    }

    /// The largest file a send takes.
    pub fn media_max_bytes(&self) -> u64 {
        self.shared.settings.media_max_bytes
    }

    /// Marks a contact's messages read (`sender`: who sent them, in a group).
    pub async fn mark_read(
        &self,
        tenant: &TenantId,
        chat: &str,
        sender: Option<&str>,
        message_ids: &[String],
    ) -> Result<(), SendError> {
        chat::mark_read(&self.shared.slot(tenant), tenant, chat, sender, message_ids).await
    }

    /// Shows typing / recording / paused to `chat`.
    pub async fn presence(&self, tenant: &TenantId, chat: &str, state: Presence) -> Result<(), SendError> {
        chat::presence(&self.shared.slot(tenant), tenant, chat, state).await
    }

    /// Starts pairing (when unpaired) and follows it: see [`pairing`].
    pub fn pairing(&self, tenant: &TenantId) -> pairing::PairingSession {
        pairing::PairingSession::new(self.shared.clone(), self.shared.slot(tenant), tenant.clone())
    }

    /// Test-only fault injection (the admin socket allows it only when enabled).
    pub fn inject(&self, tenant: &TenantId, fault: &str) -> Result<(), InjectError> {
        let slot = self.shared.slot(tenant);
        match fault {
            "panic" => {
                if slot.send_command(Command::Panic) {
                    Ok(())
                } else {
                    Err(InjectError::NotRunning)
                }
            }
            "fail-starts" => {
                slot.fail_starts.store(true, std::sync::atomic::Ordering::SeqCst);
                self.restart(tenant);
                Ok(())
            }
            "heal" => {
                slot.fail_starts.store(false, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
            other => Err(InjectError::Unknown(other.to_string())),
        }
    }
}

/// Resolves once `stop` says stop (or its sender is gone).
async fn stop_requested(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it before any await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Records a state change (row, history, event) and shows it live. A failed
/// write is logged, not fatal: the live view still tells the truth. On a
/// cluster the write carries the worker's lease token and is refused once
/// the lease moved on (the new owner's states are the true ones).
async fn record_change(shared: &Shared, tenant: &TenantId, slot: &Slot, change: Change) {
    tracing::info!(%tenant, state = %change.state, reason = %change.reason, "whatsapp state");
    metrics::counter!("agentlocator_whatsapp_state_changes_total", "state" => change.state.as_str())
        .increment(1);
    let (state, reason, phone) = (change.state, change.reason.clone(), change.phone.clone());
    let recorded = match lease_of(shared, tenant, slot) {
        Ok(lease) => state::record(&shared.store, tenant, change, lease).await,
        Err(NotHeld) => Ok(Recorded::LeaseLost),
    };
    match recorded {
        Ok(Recorded::Replaced(_) | Recorded::NoTenant) => {}
        Ok(Recorded::LeaseLost) => {
            tracing::debug!(%tenant, %state, "state not recorded: this node lost the tenant's lease");
            // The lease loop then finds the lease gone and stops this worker.
            shared.ownership.request_round();
        }
        Err(e) => tracing::error!(%tenant, error = %e, "cannot record the WhatsApp state change"),
    }
    // After the record: whoever waits on the live state (a logout answering
    // its caller) then finds the database saying the same.
    slot.set_state(state, &reason, phone);
}

/// The lease token a state write for `tenant` carries: none without a
/// cluster; else the one its worker's run started under (so a worker being
/// handed over still records its stop, before its lease is released), or
/// this node's current one for writes outside a run.
fn lease_of(shared: &Shared, tenant: &TenantId, slot: &Slot) -> Result<Option<Token>, NotHeld> {
    match slot.lease() {
        Some(lease) if shared.ownership.is_leased() => Ok(Some(lease)),
        _ => shared.ownership.fence(tenant.as_str()),
    }
}

async fn stored_state(store: &Store, tenant: &TenantId) -> Option<WaState> {
    stored_session(store, tenant).await.map(|(state, _)| state)
}

/// The recorded state and linked phone.
async fn stored_session(store: &Store, tenant: &TenantId) -> Option<(WaState, Option<String>)> {
    let (state, phone) = store.whatsapp().current_state(tenant.as_str()).await.ok().flatten()?;
    let state = serde_json::from_value(serde_json::Value::String(state)).ok()?;
    Some((state, phone))
}

/// Builds one supervised run of a tenant's worker.
struct Factory {
    shared: Arc<Shared>,
    tenant: TenantId,
}

impl WorkerFactory for Factory {
    fn start(&self, _key: &str, context: WorkerContext) -> WorkerRun {
        let shared = self.shared.clone();
        let tenant = self.tenant.clone();
        let slot = shared.slot(&tenant);
        Box::pin(worker::run_catching_panics(shared, tenant, slot, context.stop))
    }

    fn supervised(&self, _key: &str, state: SupervisedState, reason: &str) {
        if state != SupervisedState::Quarantined {
            return; // backoff is already shown as `reconnecting` by the failed run
        }
        let (shared, tenant) = (self.shared.clone(), self.tenant.clone());
        let why = format!(
            "quarantined: restarted too often (last error: {reason}); restart it once the cause is fixed"
        );
        tokio::spawn(async move {
            let slot = shared.slot(&tenant);
            record_change(&shared, &tenant, &slot, Change::to(WaState::Quarantined, why)).await;
        });
    }
}
