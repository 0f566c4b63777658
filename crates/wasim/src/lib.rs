//! `wasim`: a simulated WhatsApp Web server for tests, benchmarks and demos.
//!
//! The unmodified whatsapp-rust client pairs with it (QR + simulated phone), logs
//! in, receives Signal-encrypted messages from simulated contacts and sends to
//! them. Two ways in: [`SimTransportFactory`] (in-process channels) and
//! [`server::serve`] (WebSocket `/ws/chat` plus an admin HTTP API).
//!
//! Everything lives in memory; a [`Sim`] is cheap to clone (an `Arc`).
//!
//! Layout: this root holds [`Sim`], the state every module works on, and its
//! public methods. Below it the modules depend one way only, each on those
//! after it: `server` (HTTP and WebSocket) → `conn` (one client connection) →
//! `signal` (contacts' encryption, key iqs) → `media` (the CDN) → the leaves
//! `transport`, `node` (stanza accessors), `phone` and `noise`.

mod conn;
pub mod media;
mod node;
pub mod noise;
pub mod phone;
pub mod server;
pub mod signal;
mod transport;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use wacore_binary::Node;
use wacore_libsignal::protocol::KeyPair;

pub use media::{MediaFault, MediaKind, MediaSpec, MediaStats, ReceivedMedia};
pub use transport::SimTransportFactory;

use conn::ConnCmd;
use transport::Outbound;

/// A fault injected into a phone's live connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Close the socket without a word.
    Drop,
    /// `<stream:error code="515"/>`: "restart required".
    Restart515,
    /// `<stream:error code="503"/>`: service unavailable.
    Unavailable503,
    /// `<stream:error code="401"/>` and the device is unlinked.
    Logout,
    /// The account is temporarily banned: live sockets drop, logins get
    /// `<failure reason="402" expire=...>` until the ban expires.
    Ban,
    /// `<stream:error><conflict type="replaced"/></stream:error>`.
    Replaced,
    /// The server goes silent: the socket stays open but nothing the client
    /// sends is read or answered any more (a send then never completes).
    Stall,
}

impl FaultKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "drop" => Self::Drop,
            "restart515" => Self::Restart515,
            "unavailable503" => Self::Unavailable503,
            "logout" => Self::Logout,
            "ban" => Self::Ban,
            "replaced" => Self::Replaced,
            "stall" => Self::Stall,
            _ => return None,
        })
    }
}

/// A message a linked device sent to a contact, as the simulator decrypted it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub id: String,
    /// The sending (linked) phone, E.164.
    pub from: String,
    /// The contact, E.164.
    pub to: String,
    pub text: Option<String>,
    /// Set for a media message: what the simulator downloaded and decrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<ReceivedMedia>,
    /// Unix seconds.
    pub at: u64,
}

/// A read (or played) receipt a linked device sent (`client.mark_as_read`).
#[derive(Debug, Clone, Serialize)]
pub struct ReadReceipt {
    /// The linked phone, E.164.
    pub from: String,
    /// The chat: `+E164` for a phone-number chat, the JID otherwise.
    pub chat: String,
    pub ids: Vec<String>,
    /// `read`, `read-self`, `played` or `played-self`, as the client sent it.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub at: u64,
}

/// A chat state (typing indicator) a linked device sent.
#[derive(Debug, Clone, Serialize)]
pub struct ChatState {
    /// The linked phone, E.164.
    pub from: String,
    /// `+E164` for a phone-number chat, the JID otherwise.
    pub to: String,
    /// `composing`, `recording` or `paused`.
    pub state: String,
    /// Unix seconds.
    pub at: u64,
}

/// A receipt a contact's phone sends to a linked phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// Delivered (no `type` attribute).
    Delivered,
    Read,
    Played,
}

impl ReceiptKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "delivered" | "delivery" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            _ => return None,
        })
    }
}

/// One live connection, as `GET /admin/connections` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionInfo {
    pub id: u64,
    pub phone: Option<String>,
    pub device: Option<u16>,
    /// `handshake`, `pairing`, `connected` or `active` (after the client left passive mode).
    pub state: String,
    /// Unix seconds.
    pub since: u64,
}

/// An image a contact sends: the client sees an `ImageMessage` with this metadata.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ImageSpec {
    pub mimetype: Option<String>,
    pub caption: Option<String>,
    /// Size in bytes (no media is hosted; the metadata is what the client sees).
    pub bytes: Option<u64>,
}

/// Things a test can wait for (`GET /admin/counters`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// Incremented for each live connection a newer login of the same device
    /// replaced: two clients were running one device at once.
    pub replaced_logins: u64,
    /// Incremented whenever a device completes `pair-device-sign`.
    pub paired: u64,
    /// Incremented on every `<success>` sent.
    pub logins: u64,
    /// Incremented whenever a prekey bundle is uploaded.
    pub prekey_uploads: u64,
    /// Incremented whenever a tenant message to a contact is recorded.
    pub received: u64,
    /// Incremented whenever a queued inbound message is written to a client.
    pub delivered: u64,
    /// Incremented whenever a queued inbound message is acked by a client.
    pub acked: u64,
    /// Incremented when a client acknowledges (receipts) the phone's app-state key share.
    pub key_shares_received: u64,
    /// Incremented when a client receipts (`hist_sync`) the phone's history-sync notification.
    pub history_syncs_received: u64,
    /// Incremented whenever a contact's receipt (delivered, read, played) is written to a client.
    pub receipts_sent: u64,
    /// Incremented whenever a device's read/played receipt is recorded.
    pub reads: u64,
    /// Incremented whenever a device's chat state is recorded.
    pub chat_states: u64,
}

pub(crate) struct QueuedMsg {
    pub id: String,
    pub node: Node,
}

/// What the server knows of one linked (companion) device.
pub(crate) struct Device {
    pub noise_pub: [u8; 32],
    #[allow(dead_code)] // kept for ADV device-identity answers
    pub identity_pub: [u8; 32],
    pub prekeys: Option<signal::UploadedKeys>,
    /// Inbound messages not yet acked by the device: WhatsApp's offline queue.
    pub queue: VecDeque<QueuedMsg>,
    /// The phone has shared the app-state key with this device.
    pub key_shared: bool,
    /// The phone has sent this device its (initial) history-sync notification.
    pub history_sent: bool,
}

/// One phone number (an account). Its device 0 is the simulated phone.
pub(crate) struct Account {
    pub lid: String,
    /// The phone's identity key: signs ADV identities and is its Signal identity.
    pub identity: KeyPair,
    pub devices: HashMap<u16, Device>,
    pub next_device: u16,
    pub banned_until: Option<u64>,
}

pub(crate) struct ConnEntry {
    pub cmd: mpsc::UnboundedSender<ConnCmd>,
    pub phone: Option<String>,
    pub device: Option<u16>,
    pub state: &'static str,
    pub since: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub next_conn: u64,
    pub conns: HashMap<u64, ConnEntry>,
    /// Pairing ref -> connection that advertised it.
    pub refs: HashMap<String, u64>,
    /// Accounts by phone digits (no `+`).
    pub accounts: HashMap<String, Account>,
    pub next_lid: u64,
    pub received: Vec<Received>,
    pub contacts: HashMap<String, signal::SharedContact>,
    /// Pair-code flows waiting for the phone: phone digits -> (connection,
    /// wrapped companion ephemeral key, pairing ref).
    pub pair_codes: HashMap<String, (u64, Vec<u8>, Vec<u8>)>,
    pub msg_counter: u64,
    /// Ids of key-share messages not yet receipted.
    pub key_share_ids: std::collections::HashSet<String>,
    pub reads: Vec<ReadReceipt>,
    pub chat_states: Vec<ChatState>,
}

pub(crate) struct Inner {
    pub server: noise::ServerIdentity,
    pub state: Mutex<State>,
    /// Media blobs live under their own lock: uploads and downloads never wait
    /// on the signalling state.
    pub media: Mutex<media::MediaState>,
    pub counters: watch::Sender<Counters>,
    /// Delay added to every frame the server sends (microseconds; 0 = none).
    pub latency_us: AtomicU64,
}

/// The simulated network. Clone freely.
#[derive(Clone)]
pub struct Sim(pub(crate) Arc<Inner>);

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

/// `+15551234567` or `15551234567` -> `15551234567`.
pub fn digits(phone: &str) -> String {
    phone.chars().filter(|c| c.is_ascii_digit()).collect()
}

impl Sim {
    pub fn new() -> Self {
        let (counters, _) = watch::channel(Counters::default());
        Sim(Arc::new(Inner {
            server: noise::ServerIdentity::generate(),
            state: Mutex::new(State { next_lid: 100_000_000_000_001, ..Default::default() }),
            media: Mutex::new(media::MediaState::new()),
            counters,
            latency_us: AtomicU64::new(0),
        }))
    }

    /// This simulator, with every frame it sends delayed by `latency` (a slow
    /// network). Applies to connections accepted from now on.
    pub fn with_latency(self, latency: Duration) -> Self {
        self.set_latency(latency);
        self
    }

    /// Sets the per-frame delay for connections accepted from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.0.latency_us.store(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.0.latency_us.load(Ordering::Relaxed))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn bump(&self, f: impl FnOnce(&mut Counters)) {
        self.0.counters.send_modify(f);
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.0.counters.borrow().clone()
    }

    /// Waits until `pred(counters)` holds or `timeout` passes.
    pub async fn wait_for(
        &self,
        timeout: std::time::Duration,
        pred: impl Fn(&Counters) -> bool,
    ) -> Result<Counters> {
        let mut rx = self.0.counters.subscribe();
        let res = tokio::time::timeout(timeout, async {
            loop {
                {
                    let c = rx.borrow_and_update();
                    if pred(&c) {
                        return c.clone();
                    }
                }
                if rx.changed().await.is_err() {
                    return rx.borrow().clone();
                }
            }
        })
        .await;
        res.map_err(|_| anyhow!("timed out waiting for the simulator"))
    }

    /// Starts serving one client connection: bytes from the client arrive on
    /// `inbound` (its end means the client hung up), replies go to `outbound`.
    pub(crate) fn accept(
        &self,
        inbound: mpsc::UnboundedReceiver<Bytes>,
        outbound: mpsc::UnboundedSender<Outbound>,
    ) {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let id = {
            let mut st = self.lock();
            st.next_conn += 1;
            let id = st.next_conn;
            st.conns.insert(
                id,
                ConnEntry {
                    cmd: cmd_tx,
                    phone: None,
                    device: None,
                    state: "handshake",
                    since: phone::now_secs(),
                },
            );
            id
        };
        let outbound = delayed(outbound, self.latency());
        let sim = self.clone();
        tokio::spawn(async move {
            conn::run(sim.clone(), id, inbound, outbound, cmd_rx).await;
            let mut st = sim.lock();
            st.conns.remove(&id);
            st.refs.retain(|_, c| *c != id);
            st.pair_codes.retain(|_, (c, _, _)| *c != id);
        });
    }

    /// A simulated phone (`phone`, E.164; a fresh number when `None`) scans `qr`
    /// and links the device showing it. Returns the phone number (E.164).
    /// Fails when no connection shows that QR's ref.
    pub fn scan(&self, qr: &str, phone: Option<&str>) -> Result<String> {
        let qr = phone::parse_qr(qr)?;
        let mut st = self.lock();
        let conn_id =
            *st.refs.get(&qr.pairing_ref).ok_or_else(|| anyhow!("no connection shows that QR code"))?;
        let phone = match phone {
            Some(p) => digits(p),
            None => (0u64..)
                .map(|n| format!("1555{:07}", (st.next_conn * 7919 + n) % 10_000_000))
                .find(|p| !st.accounts.contains_key(p))
                .expect("a free number"),
        };
        if phone.is_empty() {
            return Err(anyhow!("phone number has no digits"));
        }
        let account = ensure_account(&mut st, &phone);
        let device_id = account.next_device;
        account.next_device += 1;
        let identity = phone::device_identity_hmac(
            &account.identity,
            &qr.identity_pub,
            &qr.adv_secret,
            u32::from(device_id),
            u32::from(device_id),
        )?;
        let lid = account.lid.clone();
        let cmd = st
            .conns
            .get(&conn_id)
            .map(|c| c.cmd.clone())
            .ok_or_else(|| anyhow!("that connection is gone"))?;
        drop(st);
        cmd.send(ConnCmd::PairSuccess(conn::PairOffer {
            phone: phone.clone(),
            lid,
            device: device_id,
            noise_pub: qr.noise_pub,
            identity_pub: qr.identity_pub,
            device_identity: identity,
        }))
        .map_err(|_| anyhow!("that connection is gone"))?;
        Ok(format!("+{phone}"))
    }

    /// The phone `phone` enters pair `code` (as the client showed it; a dash is
    /// ignored). Fails when no connection asked to pair that phone by code.
    pub async fn pair_code(&self, phone: &str, code: &str) -> Result<String> {
        let phone = digits(phone);
        let code: String = code.chars().filter(|c| *c != '-').collect();
        let (conn_id, wrapped, pairing_ref) = self
            .lock()
            .pair_codes
            .get(&phone)
            .cloned()
            .ok_or_else(|| anyhow!("no connection is pairing +{phone} by code"))?;
        // PBKDF2 with 2^17 rounds: off the async threads.
        let (companion_eph, wrapped_primary, primary_eph) =
            tokio::task::spawn_blocking(move || -> Result<_> {
                use wacore::pair_code::PairCodeUtils;
                let companion_eph = PairCodeUtils::decrypt_primary_ephemeral_pub(&wrapped, &code)
                    .map_err(|e| anyhow!("{e}"))?;
                let primary_eph = KeyPair::generate(&mut rand::rng());
                let pub_bytes: [u8; 32] =
                    primary_eph.public_key.public_key_bytes().try_into().expect("32 bytes");
                let wrapped_primary = PairCodeUtils::encrypt_ephemeral_pub(&pub_bytes, &code);
                Ok((companion_eph, wrapped_primary, primary_eph))
            })
            .await??;
        let mut st = self.lock();
        let account = ensure_account(&mut st, &phone);
        let primary_identity = account.identity.public_key.public_key_bytes().to_vec();
        let cmd = st
            .conns
            .get(&conn_id)
            .map(|c| c.cmd.clone())
            .ok_or_else(|| anyhow!("that connection is gone"))?;
        st.pair_codes.remove(&phone);
        drop(st);
        cmd.send(ConnCmd::PrimaryHello(conn::CodeFlow {
            phone: phone.clone(),
            primary_ephemeral: primary_eph,
            companion_ephemeral_pub: companion_eph,
            wrapped_primary: wrapped_primary.to_vec(),
            primary_identity,
            pairing_ref,
        }))
        .map_err(|_| anyhow!("that connection is gone"))?;
        Ok(format!("+{phone}"))
    }

    /// Injects a fault into every live connection of `phone`. Returns how many
    /// connections it reached (a ban also affects future logins).
    pub fn fault(&self, phone: &str, kind: FaultKind, expire_s: Option<u64>) -> usize {
        let phone = digits(phone);
        let mut st = self.lock();
        match kind {
            FaultKind::Ban => {
                if let Some(acc) = st.accounts.get_mut(&phone) {
                    acc.banned_until = Some(phone::now_secs() + expire_s.unwrap_or(3600));
                }
            }
            FaultKind::Logout => {
                // The devices are unlinked; the phone (device 0) stays.
                if let Some(acc) = st.accounts.get_mut(&phone) {
                    acc.devices.clear();
                }
            }
            _ => {}
        }
        let targets: Vec<_> = st
            .conns
            .values()
            .filter(|c| c.phone.as_deref() == Some(phone.as_str()))
            .map(|c| c.cmd.clone())
            .collect();
        drop(st);
        targets.iter().filter(|t| t.send(ConnCmd::Fault(kind)).is_ok()).count()
    }

    /// Lifts a temporary ban early.
    pub fn unban(&self, phone: &str) {
        if let Some(acc) = self.lock().accounts.get_mut(&digits(phone)) {
            acc.banned_until = None;
        }
    }

    /// Live connections.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let st = self.lock();
        let mut v: Vec<_> = st
            .conns
            .iter()
            .map(|(id, c)| ConnectionInfo {
                id: *id,
                phone: c.phone.as_ref().map(|p| format!("+{p}")),
                device: c.device,
                state: c.state.to_string(),
                since: c.since,
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// What linked devices sent to `contact` (all contacts when `None`).
    pub fn received(&self, contact: Option<&str>) -> Vec<Received> {
        let want = contact.map(|c| format!("+{}", digits(c)));
        self.lock().received.iter().filter(|r| want.as_ref().is_none_or(|w| &r.to == w)).cloned().collect()
    }

    /// Number of inbound messages still queued (unacked) for `phone`'s devices.
    pub fn queued(&self, phone: &str) -> usize {
        self.lock()
            .accounts
            .get(&digits(phone))
            .map(|a| a.devices.values().map(|d| d.queue.len()).sum())
            .unwrap_or(0)
    }

    /// Tells every live connection of `phone` to deliver what is queued for it.
    pub(crate) fn kick(&self, phone: &str) {
        let st = self.lock();
        for c in st.conns.values() {
            if c.phone.as_deref() == Some(phone) {
                let _ = c.cmd.send(ConnCmd::Flush);
            }
        }
    }

    pub(crate) fn next_msg_id(&self) -> String {
        let mut st = self.lock();
        st.msg_counter += 1;
        format!("3EB0{:016X}", st.msg_counter ^ 0x5A5A_0000_0000)
    }

    /// Sends a text message from `contact` to every linked device of `to`
    /// (Signal-encrypted per device). Returns the message id.
    pub async fn send_text(&self, contact: &str, to: &str, text: &str) -> Result<String> {
        let msg = waproto::whatsapp::Message { conversation: Some(text.to_string()), ..Default::default() };
        signal::send_from_contact(self, contact, to, msg).await
    }

    /// Sends media from `contact` to every linked device of `to`: the file is
    /// encrypted with a fresh media key, stored on the media host, and the
    /// message carries its url, direct path, key and hashes. Returns the message id.
    pub async fn send_media(&self, contact: &str, to: &str, spec: &MediaSpec) -> Result<String> {
        let msg = self.host_media_message(spec).await?;
        signal::send_from_contact(self, contact, to, msg).await
    }

    /// Sends a receipt from `contact`'s phone to every live connection of the linked
    /// phone `to`, for `ids` (messages the device sent to `contact`). Returns how
    /// many connections it reached (receipts are not queued for offline devices).
    pub fn send_receipt(&self, contact: &str, to: &str, ids: &[String], kind: ReceiptKind) -> usize {
        let Some((first, rest)) = ids.split_first() else {
            return 0;
        };
        let mut b = wacore_binary::builder::NodeBuilder::new("receipt")
            .attr("from", wacore_binary::Jid::pn(digits(contact)))
            .attr("id", first.clone())
            .attr("t", phone::now_secs().to_string());
        match kind {
            ReceiptKind::Delivered => {}
            ReceiptKind::Read => b = b.attr("type", "read"),
            ReceiptKind::Played => b = b.attr("type", "played"),
        }
        if !rest.is_empty() {
            b = b.children([wacore_binary::builder::NodeBuilder::new("list")
                .children(rest.iter().map(|id| {
                    wacore_binary::builder::NodeBuilder::new("item").attr("id", id.clone()).build()
                }))
                .build()]);
        }
        self.push_to_phone(&digits(to), None, b.build())
    }

    /// Writes `node` to the logged-in connections of `phone` (only connection
    /// `only` when given). Returns how many it reached.
    pub(crate) fn push_to_phone(&self, phone: &str, only: Option<u64>, node: Node) -> usize {
        let targets: Vec<_> = self
            .lock()
            .conns
            .iter()
            .filter(|(id, c)| {
                c.phone.as_deref() == Some(phone) && c.device.is_some() && only.is_none_or(|o| o == **id)
            })
            .map(|(_, c)| c.cmd.clone())
            .collect();
        let n = targets.iter().filter(|t| t.send(ConnCmd::Push(node.clone())).is_ok()).count();
        if n > 0 {
            self.bump(|c| c.receipts_sent += n as u64);
        }
        n
    }

    /// Read/played receipts linked devices sent (of linked phone `phone`, or all).
    pub fn reads(&self, phone: Option<&str>) -> Vec<ReadReceipt> {
        let want = phone.map(|p| format!("+{}", digits(p)));
        self.lock().reads.iter().filter(|r| want.as_ref().is_none_or(|w| &r.from == w)).cloned().collect()
    }

    /// Chat states linked devices sent (of linked phone `phone`, or all).
    pub fn chat_states(&self, phone: Option<&str>) -> Vec<ChatState> {
        let want = phone.map(|p| format!("+{}", digits(p)));
        self.lock()
            .chat_states
            .iter()
            .filter(|r| want.as_ref().is_none_or(|w| &r.from == w))
            .cloned()
            .collect()
    }

    /// Sends an image message (metadata only, no hosted media) from `contact` to `to`.
    pub async fn send_image(&self, contact: &str, to: &str, image: &ImageSpec) -> Result<String> {
        let msg = waproto::whatsapp::Message {
            image_message: buffa::MessageField::some(waproto::whatsapp::message::ImageMessage {
                mimetype: Some(image.mimetype.clone().unwrap_or_else(|| "image/jpeg".into())),
                caption: image.caption.clone(),
                file_length: Some(image.bytes.unwrap_or(1024)),
                url: Some("https://mmg.whatsapp.net/v/t62.7118-24/sim".into()),
                direct_path: Some("/v/t62.7118-24/sim".into()),
                media_key: Some(vec![7u8; 32]),
                file_sha256: Some(vec![1u8; 32]),
                file_enc_sha256: Some(vec![2u8; 32]),
                width: Some(640),
                height: Some(480),
                ..Default::default()
            }),
            ..Default::default()
        };
        signal::send_from_contact(self, contact, to, msg).await
    }
}

/// `out`, or a channel in front of it that holds every item back by `latency`
/// (order kept; the delay is per connection, not per runtime).
fn delayed(out: mpsc::UnboundedSender<Outbound>, latency: Duration) -> mpsc::UnboundedSender<Outbound> {
    if latency.is_zero() {
        return out;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Outbound>();
    let (stamped_tx, mut stamped_rx) = mpsc::unbounded_channel::<(tokio::time::Instant, Outbound)>();
    // Stamp on arrival, release at stamp + latency: frames sent together stay
    // together instead of queueing one latency behind another.
    tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            if stamped_tx.send((tokio::time::Instant::now(), item)).is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Some((at, item)) = stamped_rx.recv().await {
            tokio::time::sleep_until(at + latency).await;
            if out.send(item).is_err() {
                return;
            }
        }
    });
    tx
}

pub(crate) fn ensure_account<'a>(st: &'a mut State, phone: &str) -> &'a mut Account {
    if !st.accounts.contains_key(phone) {
        let lid = st.next_lid.to_string();
        st.next_lid += 1;
        st.accounts.insert(
            phone.to_string(),
            Account {
                lid,
                identity: KeyPair::generate(&mut rand::rng()),
                devices: HashMap::new(),
                next_device: 1,
                banned_until: None,
            },
        );
    }
    st.accounts.get_mut(phone).expect("just inserted")
}
