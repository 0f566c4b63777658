//! One run of a tenant's whatsapp-rust client: build it on the tenant's
//! session store, spawn it, and follow its events until something ends the
//! run (a stop, a logout, a ban, a replacement, expired pairing, a failure).
//! The library reconnects by itself after drops; only what it cannot or must
//! not retry ends up here as an [`Outcome`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::events::EventKind;

use super::inbound::{phone_of, DurableInbound};
use super::receipts::Receipts;
use super::slot::CommandLease;
use super::state::{Change, WaState};
use super::{Command, PairRequest, Pairing, Settings, Slot};
use crate::store::EventWriter;
use crate::tenants::TenantId;
use whatsapp_rust::traits::Backend as SessionBackend;

/// The version the simulated network accepts; against WhatsApp itself the
/// client fetches the current one.
const SIM_CLIENT_VERSION: (u32, u32, u32) = (2, 3000, 1_023_456_789);

/// Idle per-chat lanes a client keeps. whatsapp-rust gives each chat a lane
/// (a task that decrypts its messages in order; its future alone is about
/// 31 KB, 13 KiB of it resident) and by default keeps up to 5000 per client,
/// with no idle expiry: a tenant that heard from thousands of contacts would
/// hold tens of MiB for them, and even eight idle lanes are 100 KiB a tenant
/// in steady traffic. A lane with a message queued or in progress is never
/// evicted (the library's eviction guard), so order within a chat holds and
/// chats still decrypt side by side however many are busy: the cap bounds
/// only the idle lanes kept. An evicted lane is made again, one task spawn,
/// at that chat's next message: microseconds against a decryption and a
/// durable write.
const CHAT_LANES: u64 = 1;

/// How long a graceful disconnect may take before the client is aborted.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for events still on their way once the client's loop ended.
const LATE_EVENT_WAIT: Duration = Duration::from_millis(300);

/// A pairing attempt with no code from WhatsApp by then ends.
const FIRST_CODE_DEADLINE: Duration = Duration::from_secs(60);

/// How long past a QR code's own expiry to wait for the next one.
const QR_GRACE: Duration = Duration::from_secs(30);

/// WhatsApp sends six QR references per pairing attempt.
const QR_CODES_PER_ATTEMPT: u32 = 6;

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    Stopped,
    /// Pairing ended without a linked device (expired, refused, failed).
    PairingEnded(String),
    /// The device was unlinked; the session store must be wiped.
    LoggedOut(String),
    /// Temporarily banned for `expire`.
    Banned {
        expire: Duration,
        reason: String,
    },
    /// Another client connected this device.
    Replaced,
    /// Anything else the library gave up on; the supervisor retries.
    Failed(String),
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the WhatsApp client: {0}")]
    Build(#[from] whatsapp_rust::bot::BotBuilderError),
}

/// What a run needs from its surroundings.
pub struct RunContext<'a> {
    pub tenant: &'a TenantId,
    pub slot: &'a Slot,
    pub shared: &'a super::Shared,
}

/// Builds the client on `backend`, the tenant's session store.
pub async fn build(
    settings: &Settings,
    tenant: &TenantId,
    backend: Arc<dyn SessionBackend>,
    events: &EventWriter,
    pair: Option<&PairRequest>,
    to_us: mpsc::UnboundedSender<Arc<Event>>,
) -> Result<Bot, BuildError> {
    let mut builder = Bot::builder()
        .with_backend_arc(backend)
        .with_transport_factory(settings.transport.clone())
        .with_http_client(settings.media_http.clone())
        .skip_history_sync()
        .with_wanted_pre_key_count(settings.prekeys)
        .with_cache_config(whatsapp_rust::CacheConfig {
            chat_lanes_capacity: CHAT_LANES,
            ..Default::default()
        })
        .with_inbound_durability_hook(DurableInbound {
            tenant: tenant.clone(),
            events: events.clone(),
            media_max_bytes: settings.media_max_bytes,
        })
        .on_event_for(&[EventKind::Receipt], {
            let receipts = Receipts { tenant: tenant.clone(), events: events.clone() };
            move |event, client| {
                let receipts = receipts.clone();
                async move {
                    if let Event::Receipt(receipt) = &*event {
                        receipts.record(&client, receipt).await;
                    }
                }
            }
        })
        .on_event(move |event, _client| {
            let to_us = to_us.clone();
            async move {
                // Inbound messages reach us through the durability hook,
                // receipts through their own handler above.
                if !matches!(*event, Event::Messages(_) | Event::Receipt(_) | Event::ServerAck(_)) {
                    let _ = to_us.send(event);
                }
            }
        });
    if settings.ws_url.is_some() {
        builder = builder.with_version(SIM_CLIENT_VERSION);
    }
    if let Some(PairRequest::Phone(phone)) = pair {
        builder = builder.with_pair_code(whatsapp_rust::pair_code::PairCodeOptions {
            phone_number: phone.trim_start_matches('+').to_string(),
            ..Default::default()
        });
    }
    Ok(builder.build().await?)
}

/// Runs `bot` until the run ends; keeps the slot's live view and the stored
/// state current on the way.
pub async fn drive(
    context: &RunContext<'_>,
    bot: Bot,
    pair: Option<&PairRequest>,
    mut from_client: mpsc::UnboundedReceiver<Arc<Event>>,
    stop: &mut watch::Receiver<bool>,
    commands: &mut CommandLease<'_>,
) -> Outcome {
    let client = bot.client();
    let mut handle = BotGuard(Some(bot.spawn()));
    context.slot.set_client(Some(client.clone()));
    let mut run = Run {
        context,
        client: client.clone(),
        by_phone: matches!(pair, Some(PairRequest::Phone(_))),
        qr_codes_seen: 0,
        last_error: None,
        connected_once: false,
        // A pairing that never gets a code (WhatsApp unreachable) must not
        // sit in `pairing` for ever, retrying in the background.
        pairing_deadline: pair.map(|_| tokio::time::Instant::now() + FIRST_CODE_DEADLINE),
        codes_seen: false,
    };
    // What the loop awaits besides its `select!` is boxed: inline, those
    // futures (a state write, a logout) would size this future, which lives
    // as long as the connection, at several KiB per tenant.
    let outcome = loop {
        let pairing_deadline = run.pairing_deadline;
        tokio::select! {
            // Events first: a terminal event (LoggedOut, ...) arrives just
            // before the client's loop ends, and must decide the outcome.
            biased;
            event = from_client.recv() => match event {
                Some(event) => if let Some(outcome) = Box::pin(run.on_event(&event)).await { break outcome },
                None => break Outcome::Failed("the client's event stream ended".into()),
            },
            _ = super::stop_requested(stop) => break Outcome::Stopped,
            _ = until(pairing_deadline) => break run.pairing_expired(),
            _ = handle.ended() => break Box::pin(run.after_loop_ended(&mut from_client)).await,
            command = commands.recv() => match command {
                Command::Logout => {
                    tracing::info!(tenant = %context.tenant, "logging out at the operator's request");
                    // Dispatches LoggedOut, which ends this run below.
                    Box::pin(client.logout()).await;
                }
                Command::Panic => panic!("injected fault: worker panic"),
            },
        }
    };
    context.slot.set_client(None);
    context.slot.clear_pairing();
    Box::pin(handle.shutdown(context.tenant)).await;
    outcome
}

/// Resolves at `deadline`; never without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Owns the running client. Dropped without [`BotGuard::shutdown`] (our run
/// panicked), it still disconnects gracefully in the background: aborting
/// would skip flushing the session's Signal state, and messages encrypted
/// for the lost state could not be decrypted after the restart.
struct BotGuard(Option<BotHandle>);

impl BotGuard {
    async fn ended(&mut self) {
        match self.0.as_mut() {
            Some(handle) => handle.await,
            None => std::future::pending().await,
        }
    }

    async fn shutdown(mut self, tenant: &TenantId) {
        if let Some(handle) = self.0.take() {
            if tokio::time::timeout(SHUTDOWN_TIMEOUT, handle.shutdown()).await.is_err() {
                tracing::warn!(%tenant, "the client did not disconnect in time; aborted");
            }
        }
    }
}

impl Drop for BotGuard {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, handle.shutdown()).await;
                });
            }
        }
    }
}

struct Run<'a> {
    context: &'a RunContext<'a>,
    client: Arc<Client>,
    /// Pairing by phone-number code: the QR codes the server also sends are
    /// not shown, and the code's expiry ends the attempt.
    by_phone: bool,
    /// When this pairing attempt gives up (none once connected).
    pairing_deadline: Option<tokio::time::Instant>,
    codes_seen: bool,
    qr_codes_seen: u32,
    last_error: Option<String>,
    connected_once: bool,
}

impl Run<'_> {
    async fn on_event(&mut self, event: &Event) -> Option<Outcome> {
        match event {
            Event::PairingQrCode(_)
            | Event::PairingCode(_)
            | Event::PairSuccess(_)
            | Event::PairError(_)
            | Event::PairingQrCodesExhausted(_)
            | Event::PairingCodeError(_) => return self.on_pairing_event(event),
            Event::Connected(_) => self.on_connected().await,
            // Only a drop of a live connection is news: the library's own
            // reconnect attempts after it would only repeat it.
            Event::Disconnected(d) if self.context.slot.state() == Some(WaState::Connected) => {
                let why = format!("connection lost: {:?}", d.reason);
                let mut change = Change::to(WaState::Reconnecting, why.clone());
                if !d.reason.is_clean_shutdown() {
                    change = change.with_error(why);
                }
                self.record(change).await;
            }
            Event::LoggedOut(lo) => {
                return Some(Outcome::LoggedOut(format!("logged out: {:?}", lo.reason)));
            }
            Event::StreamReplaced(_) => return Some(Outcome::Replaced),
            Event::TemporaryBan(ban) => {
                let reason = format!("temporarily banned ({:?})", ban.code);
                // A ban too long for a std Duration is treated as the longest one.
                let expire = ban.expire.to_std().unwrap_or(Duration::MAX);
                return Some(Outcome::Banned { expire, reason });
            }
            Event::ConnectFailure(f) => {
                let why = format!(
                    "connect failure {:?}{}",
                    f.reason,
                    f.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                );
                tracing::warn!(tenant = %self.context.tenant, reason = %why, "connect failure");
                self.last_error = Some(why);
            }
            Event::ClientOutdated(_) => {
                self.last_error = Some("WhatsApp refused this client version as outdated".into());
            }
            Event::StreamError(e) => {
                self.last_error = Some(format!("stream error {}", e.code));
            }
            _ => {}
        }
        None
    }

    /// Codes to show, and the ends of a pairing attempt.
    fn on_pairing_event(&mut self, event: &Event) -> Option<Outcome> {
        match event {
            Event::PairingQrCode(qr) if !self.by_phone => {
                self.qr_codes_seen += 1;
                let codes_left = QR_CODES_PER_ATTEMPT.saturating_sub(self.qr_codes_seen);
                // Codes-exhausted normally ends the attempt first; this only
                // catches a connection lost mid-pairing that never comes back.
                self.show(Pairing::qr(&qr.code, qr.timeout, codes_left), qr.timeout + QR_GRACE);
            }
            Event::PairingCode(code) => {
                self.show(Pairing::phone_code(&code.code, code.timeout), code.timeout)
            }
            Event::PairSuccess(success) => {
                tracing::info!(tenant = %self.context.tenant, phone = ?phone_of(&success.id), "paired");
            }
            Event::PairError(e) => {
                return Some(Outcome::PairingEnded(format!("pairing failed: {}", e.error)))
            }
            Event::PairingQrCodesExhausted(_) if !self.by_phone => {
                return Some(Outcome::PairingEnded("pairing expired: no QR code was scanned in time".into()))
            }
            Event::PairingCodeError(e) => {
                return Some(Outcome::PairingEnded(format!("the pair code was refused: {}", e.error)))
            }
            _ => {}
        }
        None
    }

    /// Logged in (again): the pairing, if any, is done.
    async fn on_connected(&mut self) {
        let slot = self.context.slot;
        self.pairing_deadline = None;
        let phone = self.client.pn().as_ref().and_then(phone_of);
        slot.clear_pairing();
        slot.clear_pair_request();
        // Counted here, on the way back: whether the drop before it looked
        // clean (a server restart) or not, it was a reconnect.
        let mut change = Change::to(WaState::Connected, "logged in").with_phone(phone);
        if self.connected_once {
            change.reason = "reconnected".into();
            change.reconnect = true;
        }
        self.connected_once = true;
        self.record(change).await;
    }

    /// The pairing attempt's deadline passed.
    fn pairing_expired(&self) -> Outcome {
        Outcome::PairingEnded(if self.codes_seen {
            "pairing expired: the code was not used in time".into()
        } else {
            format!(
                "no pairing code from WhatsApp within {}s: is it reachable from here? (see the daemon's log)",
                FIRST_CODE_DEADLINE.as_secs()
            )
        })
    }

    /// The client's loop ended: events dispatched as it ended may still be on
    /// their way (the event bus delivers from its own tasks) and decide the
    /// outcome; else the last error does.
    async fn after_loop_ended(&mut self, from_client: &mut mpsc::UnboundedReceiver<Arc<Event>>) -> Outcome {
        while let Ok(Some(event)) = tokio::time::timeout(LATE_EVENT_WAIT, from_client.recv()).await {
            if let Some(outcome) = self.on_event(&event).await {
                return outcome;
            }
        }
        let why = self.last_error.clone().unwrap_or_else(|| "the connection loop ended".into());
        Outcome::Failed(why)
    }

    fn show(&mut self, pairing: Pairing, valid_for: Duration) {
        self.codes_seen = true;
        self.pairing_deadline = Some(tokio::time::Instant::now() + valid_for);
        self.context.slot.show_pairing(pairing);
    }

    async fn record(&self, change: Change) {
        super::record_change(self.context.shared, self.context.tenant, self.context.slot, change).await;
    }
}
