//! One run of a tenant's whatsapp-rust client: build it on the tenant's
//! session store, spawn it, and follow its events until something ends the
//! run (a stop, a logout, a ban, a replacement, expired pairing, a failure).
//! The library reconnects by itself after drops; only what it cannot or must
//! not retry ends up here as an [`Outcome`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use whatsapp_rust::prelude::*;

use super::inbound::{phone_of, DurableInbound};
use super::state::{Change, WaState};
use super::{Command, PairRequest, Pairing, Settings, Slot};
use crate::store::{EventWriter, Store};
use crate::tenants::TenantId;

/// The version the simulated network accepts; against WhatsApp itself the
/// client fetches the current one.
const SIM_CLIENT_VERSION: (u32, u32, u32) = (2, 3000, 1_023_456_789);

/// How long a graceful disconnect may take before the client is aborted.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

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

/// What a run needs from its surroundings.
pub struct RunContext<'a> {
    pub tenant: &'a TenantId,
    pub slot: &'a Slot,
    pub store: &'a Store,
}

/// Builds the client on `db` (whatsapp-rust's SQLite store).
pub async fn build(
    settings: &Settings,
    tenant: &TenantId,
    db: &str,
    events: &EventWriter,
    pair: Option<&PairRequest>,
    to_us: mpsc::UnboundedSender<Arc<Event>>,
) -> Result<Bot, String> {
    let backend =
        SqliteStore::new(db).await.map_err(|e| format!("cannot open the session store {db}: {e}"))?;
    let mut transport = whatsapp_rust::transport::TokioWebSocketTransportFactory::new();
    if let Some(url) = &settings.ws_url {
        transport = transport.with_url(url);
    }
    let mut builder = Bot::builder()
        .with_backend(backend)
        .with_transport_factory(transport)
        .skip_history_sync()
        .with_wanted_pre_key_count(settings.prekeys)
        .with_inbound_durability_hook(DurableInbound { tenant: tenant.clone(), events: events.clone() })
        .on_event(move |event, _client| {
            let to_us = to_us.clone();
            async move {
                // Inbound messages reach us through the durability hook.
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
    builder.build().await.map_err(|e| format!("cannot build the WhatsApp client: {e}"))
}

/// Whether the session store at `db` holds a linked device. Builds a client
/// without starting it (nothing connects).
pub async fn is_paired(
    settings: &Settings,
    tenant: &TenantId,
    db: &str,
    events: &EventWriter,
) -> Result<bool, String> {
    let (tx, _rx) = mpsc::unbounded_channel();
    let bot = build(settings, tenant, db, events, None, tx).await?;
    Ok(bot.client().pn().is_some())
}

/// Runs `bot` until the run ends; keeps the slot's live view and the stored
/// state current on the way.
pub async fn drive(
    context: &RunContext<'_>,
    bot: Bot,
    mut from_client: mpsc::UnboundedReceiver<Arc<Event>>,
    stop: &mut watch::Receiver<bool>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Outcome {
    let client = bot.client();
    let mut handle = bot.spawn();
    context.slot.set_client(Some(client.clone()));
    let mut run =
        Run { context, client: client.clone(), qr_codes_seen: 0, last_error: None, connected_once: false };
    let outcome = loop {
        tokio::select! {
            _ = super::stop_requested(stop) => break Outcome::Stopped,
            _ = &mut handle => {
                let why = run.last_error.clone().unwrap_or_else(|| "the connection loop ended".into());
                break Outcome::Failed(why);
            }
            command = commands.recv() => match command {
                Some(Command::Logout) => {
                    tracing::info!(tenant = %context.tenant, "logging out at the operator's request");
                    // Dispatches LoggedOut, which ends this run below.
                    client.logout().await;
                }
                Some(Command::Panic) => panic!("injected fault: worker panic"),
                None => {}
            },
            event = from_client.recv() => match event {
                Some(event) => if let Some(outcome) = run.on_event(&event).await { break outcome },
                None => break Outcome::Failed("the client's event stream ended".into()),
            },
        }
    };
    context.slot.set_client(None);
    context.slot.clear_pairing();
    if tokio::time::timeout(SHUTDOWN_TIMEOUT, handle.shutdown()).await.is_err() {
        tracing::warn!(tenant = %context.tenant, "the client did not disconnect in time; aborted");
    }
    outcome
}

struct Run<'a> {
    context: &'a RunContext<'a>,
    client: Arc<Client>,
    qr_codes_seen: u32,
    last_error: Option<String>,
    connected_once: bool,
}

impl Run<'_> {
    async fn on_event(&mut self, event: &Event) -> Option<Outcome> {
        let slot = self.context.slot;
        match event {
            Event::PairingQrCode(qr) => {
                self.qr_codes_seen += 1;
                let codes_left = QR_CODES_PER_ATTEMPT.saturating_sub(self.qr_codes_seen);
                slot.show_pairing(Pairing::qr(&qr.code, qr.timeout, codes_left));
            }
            Event::PairingCode(code) => slot.show_pairing(Pairing::phone_code(&code.code, code.timeout)),
            Event::PairSuccess(success) => {
                tracing::info!(tenant = %self.context.tenant, phone = ?phone_of(&success.id), "paired");
            }
            Event::PairError(e) => {
                return Some(Outcome::PairingEnded(format!("pairing failed: {}", e.error)))
            }
            Event::PairingQrCodesExhausted(_) => {
                return Some(Outcome::PairingEnded("pairing expired: no QR code was scanned in time".into()))
            }
            Event::PairingCodeError(e) => {
                return Some(Outcome::PairingEnded(format!("the pair code was refused: {}", e.error)))
            }
            Event::Connected(_) => {
                let phone = self.client.pn().as_ref().and_then(phone_of);
                slot.clear_pairing();
                slot.clear_pair_request();
                let reason = if self.connected_once { "reconnected" } else { "logged in" };
                self.connected_once = true;
                self.record(Change::to(WaState::Connected, reason).with_phone(phone)).await;
            }
            Event::Disconnected(d) if !d.reason.is_clean_shutdown() => {
                if slot.state() == Some(WaState::Connected) {
                    let why = format!("connection lost: {:?}", d.reason);
                    let mut change = Change::to(WaState::Reconnecting, why.clone()).with_error(why);
                    change.reconnect = true;
                    self.record(change).await;
                }
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

    async fn record(&self, change: Change) {
        super::record_change(self.context.store, self.context.tenant, self.context.slot, change).await;
    }
}
