//! One supervised run of a tenant's worker: hold the tenant's session lock,
//! then loop: wait for a pairing request while unpaired, connect, and act on
//! how the connection ended (wipe after a logout, sit out a ban, park after a
//! replacement, fail for the supervisor to retry).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{mpsc, watch};
use whatsapp_rust::bot::Bot;

use super::connection::{self, Outcome, RunContext};
use super::session::{SessionError, SessionFiles};
use super::slot::{Command, CommandLease, PairRequest, Slot};
use super::state::{Change, WaState};
use super::Shared;
use crate::supervisor::{panic_message, WorkerExit};
use crate::tenants::TenantId;

/// The channel a client's events arrive on.
type EventsFromClient = mpsc::UnboundedReceiver<Arc<whatsapp_rust::types::events::Event>>;

/// [`run`], with a panic turned into a failure recorded like any other
/// (`reconnecting`, the panic as its last error) before the supervisor
/// restarts the worker. Uncaught, it would leave what the dead run last
/// recorded (`connected`) standing through the backoff, and the slot would
/// still offer the client being shut down to senders.
pub async fn run_catching_panics(
    shared: Arc<Shared>,
    tenant: TenantId,
    slot: Arc<Slot>,
    stop: watch::Receiver<bool>,
) -> WorkerExit {
    // Unwind safety: the run's own state is dropped with it; what outlives it
    // (the slot, the store) is changed only under locks held for a few
    // statements that do not panic, so nothing is left half-updated.
    let guarded = AssertUnwindSafe(run(shared.clone(), tenant.clone(), slot.clone(), stop));
    match guarded.catch_unwind().await {
        Ok(exit) => exit,
        Err(payload) => {
            slot.set_client(None);
            slot.clear_pairing();
            let why = format!("panicked: {}", panic_message(&*payload));
            fail(&shared, &tenant, &slot, why).await
        }
    }
}

/// Runs until stopped, parked or failed.
pub async fn run(
    shared: Arc<Shared>,
    tenant: TenantId,
    slot: Arc<Slot>,
    mut stop: watch::Receiver<bool>,
) -> WorkerExit {
    // The lease this run works under: its state writes carry it.
    slot.set_lease(shared.ownership.token(tenant.as_str()));
    if slot.fail_starts.load(std::sync::atomic::Ordering::SeqCst) {
        return fail(&shared, &tenant, &slot, "injected fault: the worker fails at start".into()).await;
    }
    let files = match SessionFiles::prepare(&shared.data, &tenant) {
        Ok(files) => files,
        Err(e) => return fail(&shared, &tenant, &slot, e.to_string()).await,
    };
    let _lock = match wait_for_session_lock(&tenant, &files, &mut stop).await {
        Ok(Some(lock)) => lock,
        Ok(None) => return WorkerExit::Stopped,
        Err(e) => return fail(&shared, &tenant, &slot, e.to_string()).await,
    };
    let Some(mut commands) = slot.lease_commands() else {
        return WorkerExit::Failed("another run of this worker still holds its command inbox".into());
    };
    // Boxed, so the steps before it (a few KiB of futures) are not kept for
    // the worker's life; see `run_locked`.
    Box::pin(run_locked(&shared, &tenant, &slot, &mut stop, &mut commands)).await
}

/// How often a worker checks whether another process let go of the session.
const LOCK_RETRY: Duration = Duration::from_secs(1);

/// Takes the tenant's session lock, waiting while another process (a
/// `tenant pair` run without the daemon) holds it: that is not a failure to
/// back off from or be quarantined for. `Ok(None)` when stopped meanwhile.
async fn wait_for_session_lock(
    tenant: &TenantId,
    files: &SessionFiles,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<crate::paths::FileLock>, SessionError> {
    let mut told = false;
    loop {
        if let Some(lock) = files.lock()? {
            return Ok(Some(lock));
        }
        if !told {
            tracing::info!(%tenant, "another process is using this tenant's WhatsApp session; waiting for it");
            told = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(LOCK_RETRY) => {}
            _ = super::stop_requested(stop) => return Ok(None),
        }
    }
}

async fn fail(shared: &Shared, tenant: &TenantId, slot: &Slot, why: String) -> WorkerExit {
    let change = Change::to(WaState::Reconnecting, format!("worker failed: {why}")).with_error(why.clone());
    // Boxed: a state write's future is a few KiB, and `run` awaits this
    // inline, which would size its whole future (kept for the worker's life).
    Box::pin(super::record_change(shared, tenant, slot, change)).await;
    WorkerExit::Failed(why)
}

async fn run_locked(
    shared: &Shared,
    tenant: &TenantId,
    slot: &Slot,
    stop: &mut watch::Receiver<bool>,
    commands: &mut CommandLease<'_>,
) -> WorkerExit {
    let context = RunContext { tenant, slot, shared };
    let locked = Locked { shared, tenant, slot };
    // Each step is boxed: the compiler lays an async fn's awaited futures
    // side by side rather than over each other, so inline these three (and
    // `fail` in `run`) made every worker's future 16 KiB for as long as it
    // runs; boxed, only the step in progress is allocated (`drive`'s, about
    // 1 KiB, for a connection's life).
    loop {
        let (bot, from_client, pair) = match Box::pin(locked.prepare_run(stop, commands)).await {
            Ok(run) => run,
            Err(exit) => return exit,
        };
        let outcome =
            Box::pin(connection::drive(&context, bot, pair.as_ref(), from_client, stop, commands)).await;
        if let Some(exit) = Box::pin(locked.after_run(outcome, stop, commands)).await {
            return exit;
        }
    }
}

/// What each run of a worker holding the session lock works with.
struct Locked<'a> {
    shared: &'a Shared,
    tenant: &'a TenantId,
    slot: &'a Slot,
}

impl Locked<'_> {
    /// A client for the next run, with the channel its events arrive on and
    /// the pairing it starts (none for a linked device); records the state
    /// the run starts in.
    async fn prepare_run(
        &self,
        stop: &mut watch::Receiver<bool>,
        commands: &mut CommandLease<'_>,
    ) -> Result<(Bot, EventsFromClient, Option<PairRequest>), WorkerExit> {
        let Locked { shared, tenant, slot, .. } = *self;
        // A session store is opened once: when it holds a linked device, the
        // client built on it is the one that connects. Checked before
        // anything creates the file: after a logout the store stays gone
        // until a pairing needs a new one.
        let stored = shared.store.sessions(&shared.data).exists(tenant).await;
        let stored = match stored {
            Ok(stored) => stored,
            Err(e) => return Err(fail(shared, tenant, slot, e.to_string()).await),
        };
        let linked = if stored {
            match build_client(shared, tenant, slot, None).await? {
                (bot, from_client) if bot.client().pn().is_some() => Some((bot, from_client)),
                _ => None,
            }
        } else {
            None
        };
        let pair = if linked.is_some() {
            None
        } else {
            match wait_for_pairing_request(shared, tenant, slot, stop, commands).await {
                Some(request) => Some(request),
                // Unpaired stays true while stopped: nothing to record.
                None => return Err(WorkerExit::Stopped),
            }
        };
        let (state, reason) = match &pair {
            None => (WaState::Connecting, "connecting"),
            Some(PairRequest::Qr) => (WaState::Pairing, "pairing by QR code"),
            Some(PairRequest::Phone(_)) => (WaState::Pairing, "pairing by phone number code"),
        };
        super::record_change(shared, tenant, slot, Change::to(state, reason)).await;
        let (bot, from_client) = match linked {
            Some(client) => client,
            None => build_client(shared, tenant, slot, pair.as_ref()).await?,
        };
        Ok((bot, from_client, pair))
    }

    /// Acts on how a run ended; `Some` when the worker ends with it, `None`
    /// to run again.
    async fn after_run(
        &self,
        outcome: Outcome,
        stop: &mut watch::Receiver<bool>,
        commands: &mut CommandLease<'_>,
    ) -> Option<WorkerExit> {
        let Locked { shared, tenant, slot, .. } = *self;
        match outcome {
            Outcome::Stopped => Some(stopped(shared, tenant, slot).await),
            Outcome::PairingEnded(reason) => {
                slot.clear_pair_request();
                super::record_change(shared, tenant, slot, Change::to(WaState::Unpaired, reason)).await;
                None
            }
            Outcome::LoggedOut(reason) => wipe_logged_out(shared, tenant, slot, &reason).await.err(),
            Outcome::Banned { expire, reason } => {
                record_ban(shared, tenant, slot, expire, reason).await;
                // Reconnecting during a ban only prolongs it; an operator may
                // still log the device out meanwhile.
                match sit_out_ban(expire, stop, commands).await {
                    BanEnd::Expired => None,
                    BanEnd::Stopped => Some(stopped(shared, tenant, slot).await),
                    BanEnd::LogoutRequested => {
                        let reason = "logged out by the operator during a ban";
                        wipe_logged_out(shared, tenant, slot, reason).await.err()
                    }
                }
            }
            Outcome::Replaced => Some(replaced(shared, tenant, slot).await),
            Outcome::Failed(why) => Some(fail(shared, tenant, slot, why).await),
        }
    }
}

async fn record_ban(shared: &Shared, tenant: &TenantId, slot: &Slot, expire: Duration, reason: String) {
    let seconds = i64::try_from(expire.as_secs()).unwrap_or(i64::MAX);
    let mut change = Change::to(WaState::Banned, reason.clone()).with_error(reason);
    change.banned_until = Some(crate::clock::now_unix().saturating_add(seconds));
    super::record_change(shared, tenant, slot, change).await;
    tracing::warn!(%tenant, ?expire, "temporarily banned; reconnecting after the ban expires");
}

/// Another client took the device over: park, and say how to recover.
async fn replaced(shared: &Shared, tenant: &TenantId, slot: &Slot) -> WorkerExit {
    let why = "replaced: another client connected this WhatsApp device; not reconnecting (the two would \
               replace each other forever). Stop the other client, then restart this tenant \
               (POST /api/whatsapp/{tenant}/restart)";
    tracing::error!(%tenant, "{why}");
    let change = Change::to(WaState::Replaced, why).with_error("stream replaced by another client");
    super::record_change(shared, tenant, slot, change).await;
    WorkerExit::Parked(why.into())
}

/// Wipes the session store of an unlinked device and records `logged_out`.
async fn wipe_logged_out(
    shared: &Shared,
    tenant: &TenantId,
    slot: &Slot,
    reason: &str,
) -> Result<(), WorkerExit> {
    if let Err(e) = shared.store.sessions(&shared.data).wipe(tenant).await {
        return Err(fail(shared, tenant, slot, e.to_string()).await);
    }
    let change = Change::to(WaState::LoggedOut, format!("{reason}; session store wiped")).with_phone(None);
    super::record_change(shared, tenant, slot, change).await;
    Ok(())
}

enum BanEnd {
    Expired,
    Stopped,
    LogoutRequested,
}

async fn sit_out_ban(
    expire: Duration,
    stop: &mut watch::Receiver<bool>,
    commands: &mut CommandLease<'_>,
) -> BanEnd {
    tokio::select! {
        _ = tokio::time::sleep(expire) => BanEnd::Expired,
        _ = super::stop_requested(stop) => BanEnd::Stopped,
        command = commands.recv() => match command {
            Command::Logout => BanEnd::LogoutRequested,
            Command::Panic => panic!("injected fault: worker panic"),
        },
    }
}

/// Builds the tenant's client on its session store (created 0600 if
/// missing), with the channel its events arrive on.
async fn build_client(
    shared: &Shared,
    tenant: &TenantId,
    slot: &Slot,
    pair: Option<&PairRequest>,
) -> Result<(Bot, EventsFromClient), WorkerExit> {
    let built = async {
        let lease = shared.ownership.token(tenant.as_str());
        let backend = shared.store.sessions(&shared.data).open(tenant, lease).await?;
        let (to_us, from_client) = mpsc::unbounded_channel();
        let bot = connection::build(&shared.settings, tenant, backend, &shared.events, pair, to_us).await?;
        Ok::<_, StartError>((bot, from_client))
    };
    match built.await {
        Ok(client) => Ok(client),
        Err(e) => Err(fail(shared, tenant, slot, e.to_string()).await),
    }
}

/// Why a client could not be started on the session store.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Build(#[from] connection::BuildError),
}

/// Waits, unconnected, until someone asks for pairing. `None` when stopped.
async fn wait_for_pairing_request(
    shared: &Shared,
    tenant: &TenantId,
    slot: &Slot,
    stop: &mut watch::Receiver<bool>,
    commands: &mut CommandLease<'_>,
) -> Option<PairRequest> {
    let mut requests = slot.pair_requests();
    if requests.borrow().is_none() && !matches!(slot.state(), Some(WaState::Unpaired | WaState::LoggedOut)) {
        let reason = "no linked device; waiting for pairing";
        match super::stored_state(&shared.store, tenant).await {
            // Already recorded (e.g. a never-paired tenant at start-up): no
            // news for the backend. `logged_out` says more than `unpaired`.
            Some(state @ (WaState::Unpaired | WaState::LoggedOut)) => {
                slot.set_state(state, reason, Some(None))
            }
            _ => {
                let change = Change::to(WaState::Unpaired, reason).with_phone(None);
                super::record_change(shared, tenant, slot, change).await;
            }
        }
    }
    loop {
        if let Some(request) = requests.borrow_and_update().clone() {
            return Some(request);
        }
        tokio::select! {
            _ = super::stop_requested(stop) => return None,
            changed = requests.changed() => if changed.is_err() { return None },
            command = commands.recv() => match command {
                // Nothing linked, nothing to unlink.
                Command::Logout => {}
                Command::Panic => panic!("injected fault: worker panic"),
            },
        }
    }
}

async fn stopped(shared: &Shared, tenant: &TenantId, slot: &Slot) -> WorkerExit {
    let change = Change::to(WaState::Stopped, "stopped");
    // Bounded: a shutdown must not hang on a busy database.
    let _ = tokio::time::timeout(Duration::from_secs(5), super::record_change(shared, tenant, slot, change))
        .await;
    WorkerExit::Stopped
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

    // The futures below live as long as a tenant's worker, one per tenant, so
    // their size is memory per tenant: whatever they await inline adds to it
    // for good (see `run_locked`). These bounds catch a large future creeping
    // back in.

    fn run_future_size<F: Future>(
        _: fn(Arc<Shared>, TenantId, Arc<Slot>, watch::Receiver<bool>) -> F,
    ) -> usize {
        std::mem::size_of::<F>()
    }

    /// `connection::drive`'s signature, at one lifetime.
    type Drive<'a, F> = fn(
        &'a RunContext<'a>,
        Bot,
        Option<&'a PairRequest>,
        EventsFromClient,
        &'a mut watch::Receiver<bool>,
        &'a mut CommandLease<'a>,
    ) -> F;

    fn drive_future_size<F: Future>(_: Drive<'_, F>) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn a_workers_futures_stay_small() {
        let run = run_future_size(run_catching_panics);
        assert!(run <= 1024, "worker::run_catching_panics's future is {run} bytes");
        let drive = drive_future_size(connection::drive);
        assert!(drive <= 2048, "connection::drive's future is {drive} bytes");
    }
}
