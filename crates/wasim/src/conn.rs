//! One client connection: Noise handshake, then the stanza loop.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::consts::WA_CONN_HEADER;
use wacore_binary::{Jid, Node};
use wacore_noise::framing::FrameDecoder;

use crate::node::{attr, child_bytes};
use crate::noise::{Transport, XxResponder};
use crate::transport::Outbound;
use crate::{Device, FaultKind, Sim, phone::now_secs};

pub(crate) const SERVER: &str = "s.whatsapp.net";

/// How long after the server's ack a contact's phone reports "delivered".
const DELIVERY_RECEIPT_DELAY: Duration = Duration::from_millis(150);

/// A pair-success the simulated phone wants delivered on this connection.
pub(crate) struct PairOffer {
    pub phone: String,
    pub lid: String,
    pub device: u16,
    pub noise_pub: [u8; 32],
    pub identity_pub: [u8; 32],
    pub device_identity: Vec<u8>,
}

/// A pair-code flow after the phone entered the code (stage 2 pending).
pub(crate) struct CodeFlow {
    pub phone: String,
    pub primary_ephemeral: wacore_libsignal::protocol::KeyPair,
    pub companion_ephemeral_pub: [u8; 32],
    pub wrapped_primary: Vec<u8>,
    pub primary_identity: Vec<u8>,
    pub pairing_ref: Vec<u8>,
}

pub(crate) enum ConnCmd {
    PairSuccess(PairOffer),
    /// The phone entered the pair code: send `primary_hello`.
    PrimaryHello(CodeFlow),
    Fault(FaultKind),
    /// Deliver queued inbound messages (when the device is active).
    Flush,
    /// Write this stanza (e.g. a contact's receipt) if logged in.
    Push(Node),
}

/// A failure of the client's side of the protocol (handshake, framing,
/// decryption): logged at `warn`, unlike a client that simply hangs up.
#[derive(Debug)]
struct ProtocolFailure(String);

impl std::fmt::Display for ProtocolFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolFailure {}

fn protocol_failure(what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(ProtocolFailure(format!("{what}: {e}")))
}

enum Phase {
    Hello,
    Finish(Box<XxResponder>),
    Open,
}

struct Conn {
    sim: Sim,
    id: u64,
    out: mpsc::UnboundedSender<Outbound>,
    phase: Phase,
    header_stripped: bool,
    raw: BytesMut,
    decoder: FrameDecoder,
    transport: Option<Transport>,
    /// Logged-in device, once `<success>` went out.
    who: Option<(String, u16)>,
    /// The client left passive mode: inbound messages may flow.
    active: bool,
    /// Message ids already delivered on this connection.
    sent_ids: HashSet<String>,
    pending_pair: Option<(String, PairOffer)>,
    code_flow: Option<CodeFlow>,
    /// The companion's Noise static key (what a pair-code flow links).
    client_static: [u8; 32],
    iq_counter: u64,
    /// Set when the server is ending this connection.
    closing: Option<Closing>,
    /// The `stall` fault: what the client sends is dropped unread.
    stalled: bool,
}

/// How the server ends a connection after its last stanza.
#[derive(Clone, Copy)]
enum Closing {
    /// Close at once.
    Now,
    /// The client closes itself on this stream error; give it a moment, then close.
    AwaitClient,
}

pub(crate) async fn run(
    sim: Sim,
    id: u64,
    mut inbound: mpsc::UnboundedReceiver<Bytes>,
    out: mpsc::UnboundedSender<Outbound>,
    mut cmds: mpsc::UnboundedReceiver<ConnCmd>,
) {
    let mut c = Conn {
        sim,
        id,
        out,
        phase: Phase::Hello,
        header_stripped: false,
        raw: BytesMut::new(),
        decoder: FrameDecoder::new(),
        transport: None,
        who: None,
        active: false,
        sent_ids: HashSet::new(),
        pending_pair: None,
        code_flow: None,
        client_static: [0; 32],
        iq_counter: 0,
        closing: None,
        stalled: false,
    };
    let res = c.main(&mut inbound, &mut cmds).await;
    if let Err(e) = &res {
        if e.downcast_ref::<ProtocolFailure>().is_some() {
            log::warn!("wasim conn {id}: {e:#}");
        } else {
            log::debug!("wasim conn {id}: {e:#}");
        }
    }
    if let Some(Closing::AwaitClient) = c.closing {
        // The client disconnects by itself on 515/401/conflict; wait for that so
        // it has read the stream error before it sees the socket end.
        let _ =
            tokio::time::timeout(Duration::from_secs(2), async { while inbound.recv().await.is_some() {} })
                .await;
    }
    let _ = c.out.send(Outbound::Close);
}

impl Conn {
    async fn main(
        &mut self,
        inbound: &mut mpsc::UnboundedReceiver<Bytes>,
        cmds: &mut mpsc::UnboundedReceiver<ConnCmd>,
    ) -> Result<()> {
        loop {
            while let Some(frame) = self.decoder.decode_frame() {
                self.on_frame(&frame).await?;
                if self.closing.is_some() {
                    return Ok(());
                }
            }
            tokio::select! {
                b = inbound.recv() => match b {
                    Some(_) if self.stalled => {}
                    Some(b) => self.feed(&b)?,
                    None => return Ok(()),
                },
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => {
                        self.on_cmd(cmd)?;
                        if self.closing.is_some() {
                            return Ok(());
                        }
                    }
                    None => return Ok(()),
                },
            }
        }
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        if self.header_stripped {
            self.decoder.feed(data);
            return Ok(());
        }
        self.raw.extend_from_slice(data);
        if self.raw.len() < 4 {
            return Ok(());
        }
        if self.raw[..4] != WA_CONN_HEADER {
            // "ED" edge-routing pre-intros are never requested by this server.
            return Err(protocol_failure(
                "handshake failed",
                format!("unexpected connection header {:02x?}", &self.raw[..4]),
            ));
        }
        self.header_stripped = true;
        let rest = self.raw.split_off(4);
        self.decoder.feed(&rest);
        Ok(())
    }

    fn send_raw(&self, bytes: Vec<u8>) {
        let _ = self.out.send(Outbound::Data(Bytes::from(bytes)));
    }

    pub(crate) fn send(&mut self, node: &Node) -> Result<()> {
        let plain = wacore_binary::marshal::marshal(node)?;
        let t = self.transport.as_mut().ok_or_else(|| anyhow!("not connected"))?;
        let frame = t.seal(&plain)?;
        self.send_raw(frame);
        Ok(())
    }

    async fn on_frame(&mut self, frame: &[u8]) -> Result<()> {
        match std::mem::replace(&mut self.phase, Phase::Open) {
            Phase::Hello => {
                let (resp, hello) = XxResponder::respond(frame, &self.sim.0.server)
                    .map_err(|e| protocol_failure("handshake failed: bad client hello", format!("{e:#}")))?;
                self.send_raw(wacore_noise::framing::encode_frame(&hello, None)?);
                self.phase = Phase::Finish(Box::new(resp));
                Ok(())
            }
            Phase::Finish(resp) => {
                let fin = resp
                    .finish(frame)
                    .map_err(|e| protocol_failure("handshake failed: bad client finish", format!("{e:#}")))?;
                self.client_static = fin.client_static;
                self.transport = Some(Transport::new(fin.write, fin.read));
                self.on_client_payload(fin.client_static, &fin.payload)
            }
            Phase::Open => {
                let plain = self
                    .transport
                    .as_mut()
                    .ok_or_else(|| anyhow!("no transport"))?
                    .open(frame)
                    .map_err(|e| protocol_failure("frame decrypt failed", format!("{e:#}")))?;
                let data = wacore_binary::util::unpack(&plain)
                    .map_err(|e| protocol_failure("frame unpack failed", format!("{e:#}")))?;
                let node = wacore_binary::marshal::unmarshal_ref(&data)
                    .map_err(|e| protocol_failure("stanza decode failed", format!("{e:#}")))?
                    .to_owned();
                self.on_node(node).await
            }
        }
    }

    fn set_state(&self, state: &'static str) {
        if let Some(e) = self.sim.lock().conns.get_mut(&self.id) {
            e.state = state;
        }
    }

    fn on_client_payload(
        &mut self,
        client_static: [u8; 32],
        payload: &waproto::whatsapp::ClientPayload,
    ) -> Result<()> {
        let Some(username) = payload.username else {
            return self.start_registration();
        };
        let phone = username.to_string();
        let device = payload.device.unwrap_or(0) as u16;
        let now = now_secs();
        match self.login_verdict(&phone, device, client_static, now) {
            Err(refusal) => self.refuse_login(refusal),
            Ok(lid) => self.accept_login(phone, device, lid, now),
        }
    }

    /// The account's LID when `phone`'s `device` with this Noise key may log
    /// in; else the `<failure>` reason and, for a ban, the seconds it has left.
    fn login_verdict(
        &self,
        phone: &str,
        device: u16,
        client_static: [u8; 32],
        now: u64,
    ) -> std::result::Result<String, (&'static str, Option<u64>)> {
        let st = self.sim.lock();
        match st.accounts.get(phone) {
            None => Err(("401", None)),
            Some(acc) => match acc.banned_until {
                Some(until) if until > now => Err(("402", Some(until - now))),
                _ => match acc.devices.get(&device) {
                    Some(d) if d.noise_pub == client_static => Ok(acc.lid.clone()),
                    _ => Err(("401", None)),
                },
            },
        }
    }

    fn refuse_login(&mut self, (reason, expire): (&'static str, Option<u64>)) -> Result<()> {
        let mut b = NodeBuilder::new("failure").attr("reason", reason).attr("location", "sim");
        if let Some(expire) = expire {
            // `code` is required for the client to report TemporaryBan.
            b = b.attr("code", "101").attr("expire", expire.to_string());
        }
        self.send(&b.build())?;
        self.closing = Some(Closing::Now);
        Ok(())
    }

    fn accept_login(&mut self, phone: String, device: u16, lid: String, now: u64) -> Result<()> {
        // One socket per device: a newer login replaces the older one.
        let replaced = self.claim_device(&phone, device);
        if !replaced.is_empty() {
            self.sim.bump(|c| c.replaced_logins += replaced.len() as u64);
        }
        for r in replaced {
            let _ = r.send(ConnCmd::Fault(FaultKind::Replaced));
        }
        self.who = Some((phone, device));
        let success = NodeBuilder::new("success")
            .attr("t", now.to_string())
            .attr("props", "1")
            .attr("location", "sim")
            .attr("lid", Jid::lid_device(lid, device))
            .build();
        self.send(&success)?;
        self.sim.bump(|c| c.logins += 1);
        Ok(())
    }

    /// Marks this connection as `phone`'s `device`; returns the command
    /// channels of the other connections logged in as that device.
    fn claim_device(&self, phone: &str, device: u16) -> Vec<mpsc::UnboundedSender<ConnCmd>> {
        let mut st = self.sim.lock();
        let others = st
            .conns
            .iter()
            .filter(|(id, c)| {
                **id != self.id && c.phone.as_deref() == Some(phone) && c.device == Some(device)
            })
            .map(|(_, c)| c.cmd.clone())
            .collect();
        if let Some(e) = st.conns.get_mut(&self.id) {
            e.phone = Some(phone.to_string());
            e.device = Some(device);
            e.state = "connected";
        }
        others
    }

    fn start_registration(&mut self) -> Result<()> {
        use rand::RngExt as _;
        let mut refs = Vec::with_capacity(6);
        {
            let mut st = self.sim.lock();
            for _ in 0..6 {
                let r: u64 = rand::rng().random();
                let pairing_ref = format!("2@sim{:x}{:016x}", self.id, r);
                st.refs.insert(pairing_ref.clone(), self.id);
                refs.push(pairing_ref);
            }
            if let Some(e) = st.conns.get_mut(&self.id) {
                e.state = "pairing";
            }
        }
        let iq = NodeBuilder::new("iq")
            .attr("from", SERVER)
            .attr("type", "set")
            .attr("id", self.next_iq_id())
            .attr("xmlns", "md")
            .children([NodeBuilder::new("pair-device")
                .children(refs.into_iter().map(|r| NodeBuilder::new("ref").bytes(r.into_bytes()).build()))
                .build()])
            .build();
        self.send(&iq)
    }

    fn next_iq_id(&mut self) -> String {
        self.iq_counter += 1;
        format!("sim-{}-{}", self.id, self.iq_counter)
    }

    fn on_cmd(&mut self, cmd: ConnCmd) -> Result<()> {
        match cmd {
            ConnCmd::PairSuccess(offer) => self.offer_pair_success(offer),
            ConnCmd::PrimaryHello(flow) => self.send_primary_hello(flow),
            ConnCmd::Fault(kind) => self.fault(kind),
            ConnCmd::Flush => self.flush_queue(),
            ConnCmd::Push(node) => {
                if self.who.is_some() {
                    self.send(&node)?;
                }
                Ok(())
            }
        }
    }

    /// The phone linked this companion: `<pair-success>`, then wait for its answer.
    fn offer_pair_success(&mut self, offer: PairOffer) -> Result<()> {
        let id = self.next_iq_id();
        let iq = NodeBuilder::new("iq")
            .attr("from", SERVER)
            .attr("type", "set")
            .attr("id", id.clone())
            .attr("xmlns", "md")
            .children([NodeBuilder::new("pair-success")
                .children([
                    NodeBuilder::new("device-identity").bytes(offer.device_identity.clone()).build(),
                    NodeBuilder::new("platform").attr("name", "smba").build(),
                    // A business name becomes the device's push name, so later
                    // logins skip the "push name from app state" bootstrap.
                    NodeBuilder::new("biz").attr("name", format!("Sim {}", offer.phone)).build(),
                    NodeBuilder::new("device")
                        .attr("jid", Jid::pn_device(offer.phone.clone(), offer.device))
                        .attr("lid", Jid::lid_device(offer.lid.clone(), offer.device))
                        .build(),
                ])
                .build()])
            .build();
        self.send(&iq)?;
        self.pending_pair = Some((id, offer));
        Ok(())
    }

    /// The phone entered the pair code: stage `primary_hello` of the code flow.
    fn send_primary_hello(&mut self, flow: CodeFlow) -> Result<()> {
        let id = self.next_iq_id();
        let node = NodeBuilder::new("notification")
            .attr("from", SERVER)
            .attr("id", id)
            .attr("t", now_secs().to_string())
            .attr("type", "link_code_companion_reg")
            .children([NodeBuilder::new("link_code_companion_reg")
                .attr("stage", "primary_hello")
                .children([
                    NodeBuilder::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                        .bytes(flow.wrapped_primary.clone())
                        .build(),
                    NodeBuilder::new("primary_identity_pub").bytes(flow.primary_identity.clone()).build(),
                    NodeBuilder::new("link_code_pairing_ref").bytes(flow.pairing_ref.clone()).build(),
                ])
                .build()])
            .build();
        self.send(&node)?;
        self.code_flow = Some(flow);
        Ok(())
    }

    fn fault(&mut self, kind: FaultKind) -> Result<()> {
        let stream_error =
            |code: &str| NodeBuilder::new("stream:error").attr("code", code.to_string()).build();
        match kind {
            FaultKind::Drop | FaultKind::Ban => {
                self.closing = Some(Closing::Now);
            }
            FaultKind::Restart515 => {
                self.send(&stream_error("515"))?;
                self.closing = Some(Closing::AwaitClient);
            }
            FaultKind::Unavailable503 => {
                self.send(&stream_error("503"))?;
                self.closing = Some(Closing::Now);
            }
            FaultKind::Logout => {
                self.send(&stream_error("401"))?;
                self.closing = Some(Closing::AwaitClient);
            }
            FaultKind::Stall => self.stalled = true,
            FaultKind::Replaced => {
                let node = NodeBuilder::new("stream:error")
                    .children([NodeBuilder::new("conflict").attr("type", "replaced").build()])
                    .build();
                self.send(&node)?;
                self.closing = Some(Closing::AwaitClient);
            }
        }
        Ok(())
    }

    async fn on_node(&mut self, node: Node) -> Result<()> {
        log::debug!("wasim conn {} <- {}", self.id, wacore::xml::DisplayableNode(&node));
        match node.tag.as_ref() {
            "iq" => self.on_iq(node).await,
            "receipt" => {
                // A delivery receipt is what takes a message off the offline queue
                // (a "retry" receipt means the client could not decrypt it).
                let typ = attr(&node, "type");
                if typ.as_deref() != Some("retry")
                    && let Some(id) = attr(&node, "id")
                {
                    if self.sim.lock().key_share_ids.remove(&id) {
                        self.sim.bump(|c| c.key_shares_received += 1);
                    }
                    self.dequeue(&id);
                }
                match typ.as_deref() {
                    Some("hist_sync") => self.sim.bump(|c| c.history_syncs_received += 1),
                    Some(t @ ("read" | "read-self" | "played" | "played-self")) => self.record_read(&node, t),
                    _ => {}
                }
                let mut b = NodeBuilder::new("ack")
                    .attr("class", "receipt")
                    .attr("id", attr(&node, "id").unwrap_or_default());
                if let Some(to) = attr(&node, "to") {
                    b = b.attr("from", to);
                }
                if let Some(t) = attr(&node, "type") {
                    b = b.attr("type", t);
                }
                self.send(&b.build())
            }
            "message" => self.on_client_message(node).await,
            // Typing indicators: WhatsApp relays them and answers nothing.
            "chatstate" => {
                self.record_chat_state(&node);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn record_read(&mut self, node: &Node, typ: &str) {
        let Some((phone, _)) = &self.who else {
            return;
        };
        let mut ids: Vec<String> = attr(node, "id").into_iter().collect();
        if let Some(list) = node.get_optional_child("list") {
            ids.extend(list.get_children_by_tag("item").filter_map(|i| attr(i, "id")));
        }
        let read = crate::ReadReceipt {
            from: format!("+{phone}"),
            chat: chat_name(node.attrs.get("to").and_then(|v| v.to_jid()), attr(node, "to")),
            ids,
            kind: typ.to_string(),
            at: now_secs(),
        };
        self.sim.lock().reads.push(read);
        self.sim.bump(|c| c.reads += 1);
    }

    fn record_chat_state(&mut self, node: &Node) {
        let Some((phone, _)) = &self.who else {
            return;
        };
        let Some(child) = node.children().and_then(|c| c.first()) else {
            return;
        };
        let state = match (child.tag.as_ref(), attr(child, "media").as_deref()) {
            ("composing", Some("audio")) => "recording",
            ("composing", _) => "composing",
            ("paused", _) => "paused",
            _ => return,
        };
        let cs = crate::ChatState {
            from: format!("+{phone}"),
            to: chat_name(node.attrs.get("to").and_then(|v| v.to_jid()), attr(node, "to")),
            state: state.to_string(),
            at: now_secs(),
        };
        self.sim.lock().chat_states.push(cs);
        self.sim.bump(|c| c.chat_states += 1);
    }

    fn dequeue(&mut self, id: &str) {
        let Some((phone, device)) = self.who.clone() else {
            return;
        };
        let removed = {
            let mut st = self.sim.lock();
            st.accounts.get_mut(&phone).and_then(|a| a.devices.get_mut(&device)).is_some_and(|d| {
                let before = d.queue.len();
                d.queue.retain(|m| m.id != id);
                before != d.queue.len()
            })
        };
        if removed {
            self.sim.bump(|c| c.acked += 1);
        }
    }

    fn reply(&mut self, req: &Node, children: Vec<Node>) -> Result<()> {
        let mut b = NodeBuilder::new("iq")
            .attr("from", attr(req, "to").unwrap_or_else(|| SERVER.to_string()))
            .attr("type", "result")
            .attr("id", attr(req, "id").unwrap_or_default());
        if !children.is_empty() {
            b = b.children(children);
        }
        self.send(&b.build())
    }

    async fn on_iq(&mut self, node: Node) -> Result<()> {
        let typ = attr(&node, "type").unwrap_or_default();
        if typ == "result" || typ == "error" {
            return self.on_iq_response(node, &typ);
        }
        let xmlns = attr(&node, "xmlns").unwrap_or_default();
        let first = node.children().and_then(|c| c.first()).map(|c| c.tag.to_string()).unwrap_or_default();
        match (xmlns.as_str(), first.as_str()) {
            ("passive", "active") => {
                self.reply(&node, vec![])?;
                self.active = true;
                self.set_state("active");
                self.on_active().await
            }
            ("encrypt", _) => self.on_encrypt_iq(&node).await,
            ("w:sync:app:state", _) => self.reply(&node, vec![empty_app_state(&node)]),
            ("md", "link_code_companion_reg") => self.on_link_code(node),
            ("w:m", "media_conn") => self.reply(&node, vec![crate::media::media_conn_node(&self.sim)]),
            // A/B props: none, but a well-formed answer.
            ("abt", _) => self.reply(
                &node,
                vec![NodeBuilder::new("props").attr("protocol", "1").attr("hash", "sim").build()],
            ),
            ("privacy", "privacy") if typ == "get" => self.reply(
                &node,
                vec![
                    NodeBuilder::new("privacy")
                        .children([NodeBuilder::new("category")
                            .attr("name", "readreceipts")
                            .attr("value", "all")
                            .build()])
                        .build(),
                ],
            ),
            ("usync", _) => {
                let answer = crate::signal::handle_usync(&self.sim, &node);
                self.reply(&node, answer)
            }
            _ => self.reply(&node, vec![]),
        }
    }

    async fn on_encrypt_iq(&mut self, node: &Node) -> Result<()> {
        let answer = crate::signal::handle_encrypt_iq(&self.sim, self.who.as_ref(), node).await;
        self.reply(node, answer)?;
        // The prekey upload races the client's "active" iq; whichever comes
        // second triggers the phone's key share.
        if self.active
            && let Some((phone, device)) = self.who.clone()
            && let Some(share) = crate::signal::key_share_for(&self.sim, &phone, device).await?
        {
            self.send(&share)?;
            self.send_history_sync(&phone, device).await?;
        }
        Ok(())
    }

    /// Pairing by phone number: `companion_hello` registers the flow (the phone
    /// enters the code via `Sim::pair_code`), `companion_finish` completes it.
    fn on_link_code(&mut self, node: Node) -> Result<()> {
        let reg = node
            .get_optional_child("link_code_companion_reg")
            .ok_or_else(|| anyhow!("no link_code_companion_reg"))?;
        match attr(reg, "stage").as_deref() {
            Some("companion_hello") => self.on_companion_hello(&node, reg),
            Some("companion_finish") => {
                let Some(flow) = self.code_flow.take() else {
                    return self.reply(&node, vec![]);
                };
                let wrapped =
                    child_bytes(reg, "link_code_pairing_wrapped_key_bundle").unwrap_or_default().to_vec();
                self.reply(&node, vec![])?;
                match self.code_pair_offer(&flow, &wrapped)? {
                    Some(offer) => self.on_cmd(ConnCmd::PairSuccess(offer)),
                    None => Ok(()),
                }
            }
            _ => self.reply(&node, vec![]),
        }
    }

    /// Registers the code flow for the phone `Sim::pair_code` names.
    fn on_companion_hello(&mut self, node: &Node, reg: &Node) -> Result<()> {
        let phone = attr(reg, "jid")
            .map(|j| crate::digits(j.split('@').next().unwrap_or_default()))
            .unwrap_or_default();
        let wrapped = child_bytes(reg, "link_code_pairing_wrapped_companion_ephemeral_pub")
            .unwrap_or_default()
            .to_vec();
        let pairing_ref = format!("2@code{}x{}", self.id, self.iq_counter).into_bytes();
        self.sim.lock().pair_codes.insert(phone, (self.id, wrapped, pairing_ref.clone()));
        self.reply(
            node,
            vec![
                NodeBuilder::new("link_code_companion_reg")
                    .children([NodeBuilder::new("link_code_pairing_ref").bytes(pairing_ref).build()])
                    .build(),
            ],
        )
    }

    /// Opens the companion's key bundle and links a new device for it; `None`
    /// (logged) when the bundle does not open.
    fn code_pair_offer(&self, flow: &CodeFlow, wrapped: &[u8]) -> Result<Option<PairOffer>> {
        let mut st = self.sim.lock();
        let account = crate::ensure_account(&mut st, &flow.phone);
        let opened = crate::phone::open_key_bundle(
            &flow.primary_ephemeral,
            &flow.companion_ephemeral_pub,
            &account.identity,
            wrapped,
        );
        let (companion_identity, adv) = match opened {
            Ok(x) => x,
            Err(e) => {
                log::info!("wasim conn {}: pair code failed: {e:#}", self.id);
                return Ok(None);
            }
        };
        let device = account.next_device;
        account.next_device += 1;
        Ok(Some(PairOffer {
            phone: flow.phone.clone(),
            lid: account.lid.clone(),
            device,
            noise_pub: self.client_static,
            identity_pub: companion_identity,
            device_identity: crate::phone::device_identity_hmac(
                &account.identity,
                &companion_identity,
                &adv,
                u32::from(device),
                u32::from(device),
            )?,
        }))
    }

    fn on_iq_response(&mut self, node: Node, typ: &str) -> Result<()> {
        let id = attr(&node, "id").unwrap_or_default();
        let Some((pid, _)) = &self.pending_pair else {
            return Ok(());
        };
        if *pid != id {
            return Ok(());
        }
        let (_, offer) = self.pending_pair.take().expect("checked");
        if typ != "result" || node.get_optional_child("pair-device-sign").is_none() {
            // The companion refused the pair-success (e.g. hmac-mismatch).
            log::info!("wasim conn {}: pairing refused by the client", self.id);
            return Ok(());
        }
        {
            let mut st = self.sim.lock();
            let acc = crate::ensure_account(&mut st, &offer.phone);
            acc.devices.insert(
                offer.device,
                Device {
                    noise_pub: offer.noise_pub,
                    identity_pub: offer.identity_pub,
                    prekeys: None,
                    queue: Default::default(),
                    key_shared: false,
                    history_sent: false,
                },
            );
            st.refs.retain(|_, c| *c != self.id);
        }
        self.sim.bump(|c| c.paired += 1);
        // Pairing done: the server asks the client to reconnect and log in.
        self.send(&NodeBuilder::new("stream:error").attr("code", "515").build())?;
        self.closing = Some(Closing::AwaitClient);
        Ok(())
    }

    async fn on_active(&mut self) -> Result<()> {
        let Some((phone, device)) = self.who.clone() else {
            return Ok(());
        };
        // The phone shares the app-state sync key with a fresh device once.
        if let Some(node) = crate::signal::key_share_for(&self.sim, &phone, device).await? {
            self.send(&node)?;
            self.send_history_sync(&phone, device).await?;
        }
        let n = self.flush_queue_count()?;
        self.send(
            &NodeBuilder::new("ib")
                .children([NodeBuilder::new("offline").attr("count", n.to_string()).build()])
                .build(),
        )
        .context("offline marker")
    }

    /// After the key share, a freshly linked device gets the phone's history
    /// sync notification, as a real phone sends one right after linking.
    async fn send_history_sync(&mut self, phone: &str, device: u16) -> Result<()> {
        if let Some(node) = crate::signal::history_sync_for(&self.sim, phone, device).await? {
            self.send(&node)?;
        }
        Ok(())
    }

    fn flush_queue(&mut self) -> Result<()> {
        if self.active {
            self.flush_queue_count()?;
        }
        Ok(())
    }

    /// Sends every queued message not yet sent on this connection; returns how many.
    fn flush_queue_count(&mut self) -> Result<usize> {
        let Some((phone, device)) = self.who.clone() else {
            return Ok(0);
        };
        let nodes: Vec<(String, Node)> = {
            let st = self.sim.lock();
            st.accounts
                .get(&phone)
                .and_then(|a| a.devices.get(&device))
                .map(|d| {
                    d.queue
                        .iter()
                        .filter(|m| !self.sent_ids.contains(&m.id))
                        .map(|m| (m.id.clone(), m.node.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let n = nodes.len();
        for (id, node) in nodes {
            self.send(&node)?;
            self.sent_ids.insert(id);
            self.sim.bump(|c| c.delivered += 1);
        }
        Ok(n)
    }

    async fn on_client_message(&mut self, node: Node) -> Result<()> {
        let id = attr(&node, "id").unwrap_or_default();
        let to = attr(&node, "to").unwrap_or_default();
        let mut contact = None;
        if let Some((phone, device)) = self.who.clone() {
            contact = crate::signal::record_outbound(&self.sim, &phone, device, &node).await;
        }
        let ack = NodeBuilder::new("ack")
            .attr("class", "message")
            .attr("id", id.clone())
            .attr("from", to)
            .attr("t", now_secs().to_string())
            .build();
        self.send(&ack)?;
        // The contact's phone got it: its delivery receipt follows shortly, as
        // on the real network (a receipt without `type` means delivered).
        if let (Some(contact), Some((phone, _))) = (contact, self.who.clone())
            && contact != phone
        {
            let sim = self.sim.clone();
            let conn = self.id;
            tokio::spawn(async move {
                tokio::time::sleep(DELIVERY_RECEIPT_DELAY).await;
                let node = NodeBuilder::new("receipt")
                    .attr("from", Jid::pn(contact))
                    .attr("id", id)
                    .attr("t", now_secs().to_string())
                    .build();
                sim.push_to_phone(&phone, Some(conn), node);
            });
        }
        Ok(())
    }
}

/// The app-state answer: every requested collection exists and is empty.
fn empty_app_state(node: &Node) -> Node {
    let cols: Vec<Node> = node
        .get_optional_child("sync")
        .and_then(|s| s.children())
        .unwrap_or(&[])
        .iter()
        .filter(|c| c.tag == "collection")
        .map(|c| NodeBuilder::new("collection").attr("name", attr(c, "name").unwrap_or_default()).build())
        .collect();
    NodeBuilder::new("sync").children(cols).build()
}

/// `+E164` for a phone-number JID, the JID as written otherwise.
fn chat_name(jid: Option<Jid>, raw: Option<String>) -> String {
    match jid {
        Some(j) if j.server == wacore_binary::Server::Pn => format!("+{}", j.user),
        Some(j) => j.to_string(),
        None => raw.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captures `log` records (this is the only test in the crate that installs a logger).
    struct Capture;
    static LOGGED: std::sync::Mutex<Vec<(log::Level, String)>> = std::sync::Mutex::new(Vec::new());
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            LOGGED.lock().unwrap_or_else(|p| p.into_inner()).push((r.level(), r.args().to_string()));
        }
        fn flush(&self) {}
    }

    #[tokio::test]
    async fn a_bad_client_hello_is_logged_at_warn_and_the_connection_closed() {
        let _ = log::set_logger(&Capture);
        log::set_max_level(log::LevelFilter::Debug);
        let sim = Sim::new();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        sim.accept(in_rx, out_tx);
        let frame = wacore_noise::framing::encode_frame(b"not a handshake message", Some(&WA_CONN_HEADER))
            .expect("frame");
        in_tx.send(Bytes::from(frame)).expect("conn alive");
        let first = tokio::time::timeout(Duration::from_secs(5), out_rx.recv()).await;
        assert!(
            matches!(first, Ok(Some(Outbound::Close) | None)),
            "the server answers a bad hello by closing, nothing else"
        );
        let logged = LOGGED.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(
            logged.iter().any(|(lvl, m)| *lvl == log::Level::Warn && m.contains("bad client hello")),
            "{logged:?}"
        );
    }
}
