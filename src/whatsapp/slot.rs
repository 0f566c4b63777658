//! The live side of one tenant's worker, shared between its runs, the HTTP
//! API and the admin socket: the current state and pairing code (a watch, so
//! `tenant pair` and the QR route can follow it), the connected client (for
//! sends), pending pairing requests and operator commands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use whatsapp_rust::Client;

use super::state::WaState;
use crate::store::cluster::Token;

/// How the operator wants to pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairRequest {
    Qr,
    /// Pair code for this phone (+E164).
    Phone(String),
}

/// A code the phone needs, with its expiry (unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pairing {
    Qr { code: String, expires_at_ms: i64, codes_left: u32 },
    PhoneCode { code: String, expires_at_ms: i64 },
}

impl Pairing {
    pub fn qr(code: &str, valid_for: Duration, codes_left: u32) -> Pairing {
        Pairing::Qr { code: code.to_string(), expires_at_ms: expires(valid_for), codes_left }
    }

    pub fn phone_code(code: &str, valid_for: Duration) -> Pairing {
        Pairing::PhoneCode { code: code.to_string(), expires_at_ms: expires(valid_for) }
    }

    pub fn expires_in_s(&self) -> i64 {
        let at = match self {
            Pairing::Qr { expires_at_ms, .. } | Pairing::PhoneCode { expires_at_ms, .. } => *expires_at_ms,
        };
        ((at - crate::clock::now_ms()).max(0) + 999) / 1000
    }
}

fn expires(valid_for: Duration) -> i64 {
    crate::clock::now_ms() + valid_for.as_millis() as i64
}

/// What watchers see.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub state: Option<WaState>,
    pub phone: Option<String>,
    pub reason: String,
    pub pairing: Option<Pairing>,
    /// Bumped at every state change, so a watcher can tell two identical
    /// states apart (e.g. one failed pairing after another).
    pub changes: u64,
}

/// Operator commands a running worker carries out.
#[derive(Debug)]
pub enum Command {
    Logout,
    /// Test-only fault injection: the worker panics.
    Panic,
}

pub struct Slot {
    live: watch::Sender<Live>,
    pair_request: watch::Sender<Option<PairRequest>>,
    client: Mutex<Option<Arc<Client>>>,
    commands: mpsc::UnboundedSender<Command>,
    /// Taken by the run in progress, given back when it ends.
    command_inbox: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
    /// When the next send may go (per-tenant pacing).
    pub(super) next_send: tokio::sync::Mutex<tokio::time::Instant>,
    /// Test-only: fail every start (to show quarantine).
    pub(super) fail_starts: std::sync::atomic::AtomicBool,
    /// On a cluster: the token of the lease the latest run started under,
    /// which its state writes carry.
    lease: Mutex<Option<Token>>,
}

impl Default for Slot {
    fn default() -> Self {
        let (commands, inbox) = mpsc::unbounded_channel();
        Slot {
            live: watch::channel(Live::default()).0,
            pair_request: watch::channel(None).0,
            client: Mutex::new(None),
            commands,
            command_inbox: Mutex::new(Some(inbox)),
            next_send: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            fail_starts: std::sync::atomic::AtomicBool::new(false),
            lease: Mutex::new(None),
        }
    }
}

impl Slot {
    pub fn watch(&self) -> watch::Receiver<Live> {
        self.live.subscribe()
    }

    pub fn state(&self) -> Option<WaState> {
        self.live.borrow().state
    }

    pub(super) fn set_state(&self, state: WaState, reason: &str, phone: Option<Option<String>>) {
        self.live.send_modify(|live| {
            live.state = Some(state);
            live.reason = reason.to_string();
            if let Some(phone) = phone {
                live.phone = phone;
            }
            live.changes += 1;
        });
    }

    /// Remembers the lease a run starts under (`None` without one).
    pub(super) fn set_lease(&self, lease: Option<Token>) {
        if let Ok(mut slot) = self.lease.lock() {
            *slot = lease;
        }
    }

    /// The lease the latest run started under.
    pub(super) fn lease(&self) -> Option<Token> {
        self.lease.lock().ok().and_then(|l| *l)
    }

    pub(super) fn show_pairing(&self, pairing: Pairing) {
        self.live.send_modify(|live| live.pairing = Some(pairing));
    }

    pub(super) fn clear_pairing(&self) {
        self.live.send_if_modified(|live| live.pairing.take().is_some());
    }

    pub fn request_pairing(&self, request: PairRequest) {
        self.pair_request.send_replace(Some(request));
    }

    pub(super) fn pair_requests(&self) -> watch::Receiver<Option<PairRequest>> {
        self.pair_request.subscribe()
    }

    pub(super) fn clear_pair_request(&self) {
        self.pair_request.send_replace(None);
    }

    pub(super) fn set_client(&self, client: Option<Arc<Client>>) {
        if let Ok(mut slot) = self.client.lock() {
            *slot = client;
        }
    }

    /// The client, when a run has one (connected or not).
    pub fn client(&self) -> Option<Arc<Client>> {
        self.client.lock().ok().and_then(|c| c.clone())
    }

    pub fn send_command(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// Whether a run of this worker is in progress in this process (it holds
    /// the command inbox).
    pub(super) fn run_active(&self) -> bool {
        self.command_inbox.lock().map(|inbox| inbox.is_none()).unwrap_or(false)
    }

    /// The command inbox, for the run in progress; given back when the
    /// lease drops, also when the run panics.
    pub(super) fn lease_commands(&self) -> Option<CommandLease<'_>> {
        let inbox = self.command_inbox.lock().ok().and_then(|mut inbox| inbox.take())?;
        Some(CommandLease { slot: self, inbox: Some(inbox) })
    }
}

pub(super) struct CommandLease<'a> {
    slot: &'a Slot,
    inbox: Option<mpsc::UnboundedReceiver<Command>>,
}

impl CommandLease<'_> {
    /// The next command. The slot keeps the sending side, so the inbox
    /// never closes while a run uses it.
    pub(super) async fn recv(&mut self) -> Command {
        match self.inbox.as_mut() {
            Some(inbox) => match inbox.recv().await {
                Some(command) => command,
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }
}

impl Drop for CommandLease<'_> {
    fn drop(&mut self) {
        if let (Some(inbox), Ok(mut slot)) = (self.inbox.take(), self.slot.command_inbox.lock()) {
            *slot = Some(inbox);
        }
    }
}
