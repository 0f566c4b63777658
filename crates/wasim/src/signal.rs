//! Signal side of the simulator: captured prekey bundles, and the simulated
//! contacts (and phones) that encrypt to and decrypt from linked devices.
//!
//! Every phone number the simulator knows is a [`Contact`]: it has a Signal
//! identity and a prekey bundle of its own. A linked account's phone (device 0)
//! is the contact whose identity is the account key that signed the ADV identity.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use async_trait::async_trait;
use buffa::Message as _;
use wacore::iq::prekeys::PreKeyBundleUserNode;
use wacore::protocol::ProtocolNode as _;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, NodeContent};
use wacore_libsignal::protocol::{
    CiphertextMessage, CiphertextMessageType, Direction, GenericSignedPreKey, IdentityChange, IdentityKey,
    IdentityKeyPair, IdentityKeyStore, KeyPair, PreKeyBundle, PreKeyId, PreKeyRecord, PreKeySignalMessage,
    PreKeyStore, ProtocolAddress, PublicKey, SessionRecord, SessionStore, SignalMessage, SignedPreKeyId,
    SignedPreKeyRecord, SignedPreKeyStore, Timestamp, UsePQRatchet, error::Result as SResult,
    message_decrypt, message_encrypt, process_prekey_bundle,
};
use waproto::whatsapp as wa;

use crate::media::{MediaKind, read_media};
use crate::node::{attr, child_bytes};
use crate::phone::now_secs;
use crate::{QueuedMsg, Received, Sim, digits};

/// A device's uploaded key bundle (the `encrypt` set iq).
#[derive(Clone, Debug)]
pub struct UploadedKeys {
    pub registration_id: u32,
    pub identity: [u8; 32],
    pub signed_id: u32,
    pub signed_pub: [u8; 32],
    pub signed_sig: Vec<u8>,
    /// One-time prekeys not yet handed out.
    pub one_time: Vec<(u32, [u8; 32])>,
}

#[derive(Default)]
struct Stores {
    identities: HashMap<ProtocolAddress, IdentityKey>,
    sessions: HashMap<ProtocolAddress, SessionRecord>,
    prekeys: HashMap<PreKeyId, PreKeyRecord>,
    signed: HashMap<SignedPreKeyId, SignedPreKeyRecord>,
}

/// A simulated phone number's Signal state (device 0 only).
pub struct Contact {
    identity: IdentityKeyPair,
    registration_id: u32,
    signed_id: u32,
    signed_kp: KeyPair,
    signed_sig: Vec<u8>,
    next_prekey: u32,
    stores: Stores,
}

pub type SharedContact = Arc<tokio::sync::Mutex<Contact>>;

impl Contact {
    fn new(identity: KeyPair) -> Result<Self> {
        use rand::RngExt as _;
        let identity = IdentityKeyPair::new(IdentityKey::new(identity.public_key), identity.private_key);
        let signed_kp = KeyPair::generate(&mut rand::rng());
        let signed_sig = identity
            .private_key()
            .calculate_signature(&signed_kp.public_key.serialize(), &mut rand::rng())
            .map_err(|e| anyhow!("signed prekey signature: {e}"))?
            .to_vec();
        let mut stores = Stores::default();
        let signed_id = 1u32;
        stores.signed.insert(
            signed_id.into(),
            SignedPreKeyRecord::new(
                signed_id.into(),
                Timestamp::from_epoch_millis(now_secs() * 1000),
                &signed_kp,
                &signed_sig,
            ),
        );
        Ok(Self {
            identity,
            registration_id: rand::rng().random_range(1..16380),
            signed_id,
            signed_kp,
            signed_sig,
            next_prekey: 1,
            stores,
        })
    }

    /// A fresh bundle (with a new one-time prekey) for `jid`, as a fetch answer.
    fn bundle_node(&mut self, jid: Jid) -> Result<Node> {
        let id = self.next_prekey;
        self.next_prekey += 1;
        let kp = KeyPair::generate(&mut rand::rng());
        self.stores.prekeys.insert(id.into(), PreKeyRecord::new(id.into(), &kp));
        let bundle = PreKeyBundle::new(
            self.registration_id,
            0u32.into(),
            Some((id.into(), kp.public_key)),
            self.signed_id.into(),
            self.signed_kp.public_key,
            self.signed_sig.clone(),
            *self.identity.identity_key(),
        )?;
        Ok(PreKeyBundleUserNode::from_bundle(jid, &bundle, None)?.into_node())
    }
}

/// `phone` digits -> its contact, created on first use. A linked account's phone
/// uses the account identity.
pub(crate) fn contact(sim: &Sim, phone: &str) -> Result<SharedContact> {
    let mut st = sim.lock();
    if let Some(c) = st.contacts.get(phone) {
        return Ok(c.clone());
    }
    let identity = match st.accounts.get(phone) {
        Some(acc) => acc.identity.clone(),
        None => KeyPair::generate(&mut rand::rng()),
    };
    let c = Arc::new(tokio::sync::Mutex::new(Contact::new(identity)?));
    st.contacts.insert(phone.to_string(), c.clone());
    Ok(c)
}

// --- the store traits, each over its own map (split borrows, no aliasing) ---

struct Ids<'a> {
    identity: &'a IdentityKeyPair,
    registration_id: u32,
    map: &'a mut HashMap<ProtocolAddress, IdentityKey>,
}
struct Sessions<'a>(&'a mut HashMap<ProtocolAddress, SessionRecord>);
struct PreKeys<'a>(&'a mut HashMap<PreKeyId, PreKeyRecord>);
struct Signed<'a>(&'a mut HashMap<SignedPreKeyId, SignedPreKeyRecord>);

/// Splits a contact into the four stores libsignal wants.
fn split(c: &mut Contact) -> (Ids<'_>, Sessions<'_>, PreKeys<'_>, Signed<'_>) {
    let s = &mut c.stores;
    (
        Ids { identity: &c.identity, registration_id: c.registration_id, map: &mut s.identities },
        Sessions(&mut s.sessions),
        PreKeys(&mut s.prekeys),
        Signed(&mut s.signed),
    )
}

#[async_trait]
impl IdentityKeyStore for Ids<'_> {
    async fn get_identity_key_pair(&self) -> SResult<IdentityKeyPair> {
        Ok(self.identity.clone())
    }
    async fn get_local_registration_id(&self) -> SResult<u32> {
        Ok(self.registration_id)
    }
    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SResult<IdentityChange> {
        let changed = self.map.insert(address.clone(), *identity).is_some_and(|old| old != *identity);
        Ok(IdentityChange::from_changed(changed))
    }
    async fn is_trusted_identity(
        &self,
        _address: &ProtocolAddress,
        _identity: &IdentityKey,
        _direction: Direction,
    ) -> SResult<bool> {
        // Contacts trust on first use and across re-pairs.
        Ok(true)
    }
    async fn get_identity(&self, address: &ProtocolAddress) -> SResult<Option<IdentityKey>> {
        Ok(self.map.get(address).cloned())
    }
}

#[async_trait]
impl SessionStore for Sessions<'_> {
    async fn load_session(&self, address: &ProtocolAddress) -> SResult<Option<SessionRecord>> {
        Ok(self.0.get(address).cloned())
    }
    async fn has_session(&self, address: &ProtocolAddress) -> SResult<bool> {
        Ok(self.0.contains_key(address))
    }
    async fn store_session(&mut self, address: &ProtocolAddress, record: SessionRecord) -> SResult<()> {
        self.0.insert(address.clone(), record);
        Ok(())
    }
}

#[async_trait]
impl PreKeyStore for PreKeys<'_> {
    async fn get_pre_key(&self, id: PreKeyId) -> SResult<PreKeyRecord> {
        self.0.get(&id).cloned().ok_or(wacore_libsignal::protocol::SignalProtocolError::InvalidPreKeyId)
    }
    async fn save_pre_key(&mut self, id: PreKeyId, record: &PreKeyRecord) -> SResult<()> {
        self.0.insert(id, record.clone());
        Ok(())
    }
    async fn remove_pre_key(&mut self, id: PreKeyId) -> SResult<()> {
        self.0.remove(&id);
        Ok(())
    }
}

#[async_trait]
impl SignedPreKeyStore for Signed<'_> {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> SResult<SignedPreKeyRecord> {
        self.0.get(&id).cloned().ok_or(wacore_libsignal::protocol::SignalProtocolError::InvalidSignedPreKeyId)
    }
    async fn save_signed_pre_key(&mut self, id: SignedPreKeyId, record: &SignedPreKeyRecord) -> SResult<()> {
        self.0.insert(id, record.clone());
        Ok(())
    }
}

fn address(phone: &str, device: u16) -> ProtocolAddress {
    ProtocolAddress::new(&format!("{phone}.{device}"), u32::from(device).into())
}

fn padded(msg: &wa::Message) -> Vec<u8> {
    wacore::messages::MessageUtils::pad_message_v2(msg.encode_to_vec())
}

/// Encrypts `msg` from contact `from` to `phone`'s `device`, opening a session
/// from the device's uploaded bundle when needed. Returns (enc type, bytes).
async fn encrypt_to_device(
    sim: &Sim,
    from: &SharedContact,
    phone: &str,
    device: u16,
    plaintext: &[u8],
) -> Result<(&'static str, Vec<u8>)> {
    let mut c = from.lock().await;
    let (mut ids, mut sessions, _, _) = split(&mut c);
    let addr = address(phone, device);
    if !sessions.0.contains_key(&addr) {
        let (k, one_time) = {
            let mut st = sim.lock();
            let dev = st
                .accounts
                .get_mut(phone)
                .and_then(|a| a.devices.get_mut(&device))
                .ok_or_else(|| anyhow!("device {phone}:{device} is not linked"))?;
            let keys = dev
                .prekeys
                .as_mut()
                .ok_or_else(|| anyhow!("device {phone}:{device} has not uploaded prekeys"))?;
            let one_time = keys.one_time.pop();
            (keys.clone(), one_time)
        };
        let pk = |b: &[u8; 32]| PublicKey::from_djb_public_key_bytes(b);
        let bundle = PreKeyBundle::new(
            k.registration_id,
            u32::from(device).into(),
            match one_time {
                Some((id, key)) => Some((id.into(), pk(&key)?)),
                None => None,
            },
            k.signed_id.into(),
            pk(&k.signed_pub)?,
            k.signed_sig.clone(),
            IdentityKey::new(pk(&k.identity)?),
        )?;
        process_prekey_bundle(
            &addr,
            &mut sessions,
            &mut ids,
            &bundle,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
            UsePQRatchet::No,
        )
        .await?;
    }
    let ct = message_encrypt(plaintext, &addr, &mut sessions, &mut ids).await?;
    let typ = match ct.message_type() {
        CiphertextMessageType::PreKey => "pkmsg",
        _ => "msg",
    };
    Ok((typ, ct.serialize().to_vec()))
}

/// Queues `msg` from `contact` (E.164) for every linked device of `to` and
/// delivers it to those online. Returns the message id.
pub(crate) async fn send_from_contact(
    sim: &Sim,
    contact_phone: &str,
    to: &str,
    msg: wa::Message,
) -> Result<String> {
    let from = digits(contact_phone);
    let to = digits(to);
    if from.is_empty() || to.is_empty() {
        return Err(anyhow!("phone numbers need digits"));
    }
    let devices: Vec<u16> = {
        let st = sim.lock();
        let acc = st.accounts.get(&to).ok_or_else(|| anyhow!("+{to} is not a linked phone"))?;
        let mut d: Vec<u16> =
            acc.devices.iter().filter(|(_, d)| d.prekeys.is_some()).map(|(id, _)| *id).collect();
        d.sort_unstable();
        d
    };
    if devices.is_empty() {
        return Err(anyhow!("+{to} has no linked device with uploaded prekeys"));
    }
    let c = contact(sim, &from)?;
    let id = sim.next_msg_id();
    // WhatsApp marks media stanzas `type="media"` with the kind on the <enc>.
    let mediatype = media_attr(&msg);
    let typ = if mediatype.is_some() { "media" } else { "text" };
    let plaintext = padded(&msg);
    for device in devices {
        let (enc_type, bytes) = encrypt_to_device(sim, &c, &to, device, &plaintext).await?;
        let mut enc = NodeBuilder::new("enc").attr("v", "2").attr("type", enc_type);
        if let Some(m) = mediatype {
            enc = enc.attr("mediatype", m);
        }
        let node = NodeBuilder::new("message")
            .attr("from", Jid::pn(from.clone()))
            .attr("id", id.clone())
            .attr("t", now_secs().to_string())
            .attr("type", typ)
            .attr("notify", format!("Contact {from}"))
            .children([enc.bytes(bytes).build()])
            .build();
        let mut st = sim.lock();
        if let Some(dev) = st.accounts.get_mut(&to).and_then(|a| a.devices.get_mut(&device)) {
            dev.queue.push_back(QueuedMsg { id: id.clone(), node });
        }
    }
    sim.kick(&to);
    Ok(id)
}

fn media_attr(msg: &wa::Message) -> Option<&'static str> {
    use MediaKind as K;
    let kind = if msg.image_message.is_set() {
        K::Image
    } else if msg.video_message.is_set() {
        K::Video
    } else if let Some(a) = msg.audio_message.as_option() {
        if a.ptt == Some(true) { K::Voice } else { K::Audio }
    } else if msg.document_message.is_set() {
        K::Document
    } else if msg.sticker_message.is_set() {
        K::Sticker
    } else {
        return None;
    };
    Some(kind.mediatype_attr())
}

/// A message from `phone`'s own primary (device 0) to its `device`, as a peer
/// message (what the client accepts only from its own phone).
async fn from_own_phone(sim: &Sim, phone: &str, device: u16, msg: &wa::Message) -> Result<(String, Node)> {
    let c = contact(sim, phone)?;
    let (enc_type, bytes) = encrypt_to_device(sim, &c, phone, device, &padded(msg)).await?;
    let id = sim.next_msg_id();
    Ok((
        id.clone(),
        NodeBuilder::new("message")
            .attr("from", Jid::pn(phone.to_string()))
            .attr("id", id)
            .attr("t", now_secs().to_string())
            .attr("type", "text")
            .attr("category", "peer")
            .children([NodeBuilder::new("enc").attr("v", "2").attr("type", enc_type).bytes(bytes).build()])
            .build(),
    ))
}

/// The phone's history-sync notification for a freshly linked device (once): an
/// initial bootstrap with an inline, empty history, so the client completes its
/// history sync at once and never needs a download.
pub(crate) async fn history_sync_for(sim: &Sim, phone: &str, device: u16) -> Result<Option<Node>> {
    {
        let mut st = sim.lock();
        let Some(dev) = st.accounts.get_mut(phone).and_then(|a| a.devices.get_mut(&device)) else {
            return Ok(None);
        };
        if dev.history_sent || dev.prekeys.is_none() {
            return Ok(None);
        }
        dev.history_sent = true;
    }
    let history = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
        chunk_order: Some(0),
        progress: Some(100),
        ..Default::default()
    }
    .encode_to_vec();
    let compressed = {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&history)?;
        z.finish()?
    };
    let msg = wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::HISTORY_SYNC_NOTIFICATION),
            history_sync_notification: buffa::MessageField::some(wa::message::HistorySyncNotification {
                file_length: Some(compressed.len() as u64),
                sync_type: Some(wa::message::HistorySyncType::INITIAL_BOOTSTRAP),
                chunk_order: Some(0),
                progress: Some(100),
                initial_hist_bootstrap_inline_payload: Some(compressed),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (_, node) = from_own_phone(sim, phone, device, &msg).await?;
    Ok(Some(node))
}

/// The phone's app-state sync key share for a freshly linked device (once), so
/// the client's post-pairing bootstrap does not wait 10 s for it.
pub(crate) async fn key_share_for(sim: &Sim, phone: &str, device: u16) -> Result<Option<Node>> {
    {
        let st = sim.lock();
        let Some(dev) = st.accounts.get(phone).and_then(|a| a.devices.get(&device)) else {
            return Ok(None);
        };
        if dev.key_shared || dev.prekeys.is_none() {
            return Ok(None);
        }
    }
    let key_id: [u8; 6] = rand::random();
    let msg = wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
            app_state_sync_key_share: buffa::MessageField::some(wa::message::AppStateSyncKeyShare {
                keys: vec![wa::message::AppStateSyncKey {
                    key_id: buffa::MessageField::some(wa::message::AppStateSyncKeyId {
                        key_id: Some(key_id.to_vec()),
                    }),
                    key_data: buffa::MessageField::some(wa::message::AppStateSyncKeyData {
                        key_data: Some(rand::random::<[u8; 32]>().to_vec()),
                        fingerprint: buffa::MessageField::some(wa::message::AppStateSyncKeyFingerprint {
                            raw_id: Some(1),
                            current_index: Some(0),
                            device_indexes: vec![0, u32::from(device)],
                        }),
                        timestamp: Some(now_secs() as i64 * 1000),
                    }),
                }],
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (id, node) = from_own_phone(sim, phone, device, &msg).await?;
    if let Some(dev) = sim.lock().accounts.get_mut(phone).and_then(|a| a.devices.get_mut(&device)) {
        dev.key_shared = true;
    }
    sim.lock().key_share_ids.insert(id);
    Ok(Some(node))
}

// --- iqs -----------------------------------------------------------------------

fn id3(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
}

fn key32(b: Option<&[u8]>) -> Option<[u8; 32]> {
    b.and_then(|b| b.try_into().ok())
}

pub(crate) fn parse_upload(node: &Node) -> Option<UploadedKeys> {
    let registration_id = id3(child_bytes(node, "registration")?);
    let identity = key32(child_bytes(node, "identity"))?;
    let skey = node.get_optional_child("skey")?;
    let signed_id = id3(child_bytes(skey, "id")?);
    let signed_pub = key32(child_bytes(skey, "value"))?;
    let signed_sig = child_bytes(skey, "signature")?.to_vec();
    let one_time = node
        .get_optional_child("list")
        .and_then(|l| l.children())
        .unwrap_or(&[])
        .iter()
        .filter_map(|k| Some((id3(child_bytes(k, "id")?), key32(child_bytes(k, "value"))?)))
        .collect();
    Some(UploadedKeys { registration_id, identity, signed_id, signed_pub, signed_sig, one_time })
}

/// Answers an `xmlns="encrypt"` iq: prekey count, upload, signed-key rotation,
/// bundle fetch.
pub(crate) async fn handle_encrypt_iq(sim: &Sim, who: Option<&(String, u16)>, node: &Node) -> Vec<Node> {
    if let Some(key) = node.get_optional_child("key") {
        return fetch_bundles(sim, key).await;
    }
    let Some((phone, device)) = who else {
        return vec![];
    };
    let mut st = sim.lock();
    let dev = st.accounts.get_mut(phone).and_then(|a| a.devices.get_mut(device));
    if node.get_optional_child("count").is_some() {
        let n = dev.and_then(|d| d.prekeys.as_ref()).map(|k| k.one_time.len()).unwrap_or(0);
        return vec![NodeBuilder::new("count").attr("value", n.to_string()).build()];
    }
    if node.get_optional_child("list").is_some() {
        if let (Some(keys), Some(dev)) = (parse_upload(node), dev) {
            dev.prekeys = Some(keys);
            drop(st);
            sim.bump(|c| c.prekey_uploads += 1);
        }
        return vec![];
    }
    if let Some(rotate) = node.get_optional_child("rotate")
        && let (Some(skey), Some(dev)) = (rotate.get_optional_child("skey"), dev)
        && let Some(k) = dev.prekeys.as_mut()
        && let (Some(id), Some(pk), Some(sig)) =
            (child_bytes(skey, "id"), key32(child_bytes(skey, "value")), child_bytes(skey, "signature"))
    {
        k.signed_id = id3(id);
        k.signed_pub = pk;
        k.signed_sig = sig.to_vec();
    }
    vec![]
}

/// Bundles for the requested `<user jid>`s: simulated phones/contacts (device 0).
async fn fetch_bundles(sim: &Sim, key: &Node) -> Vec<Node> {
    let mut users = Vec::new();
    for u in key.children().unwrap_or(&[]) {
        let Some(jid) = u.attrs.get("jid").and_then(|v| v.to_jid()) else {
            continue;
        };
        let node = if jid.device == 0 {
            match contact(sim, &jid.user) {
                Ok(c) => c.lock().await.bundle_node(jid.clone()).ok(),
                Err(_) => None,
            }
        } else {
            None
        };
        users.push(node.unwrap_or_else(|| {
            NodeBuilder::new("user")
                .attr("jid", jid)
                .children([NodeBuilder::new("error")
                    .attr("code", "404")
                    .attr("text", "item-not-found")
                    .build()])
                .build()
        }));
    }
    vec![NodeBuilder::new("list").children(users).build()]
}

/// Answers a usync query: every user has exactly device 0 (the simulated phone).
pub(crate) fn handle_usync(_sim: &Sim, node: &Node) -> Vec<Node> {
    let Some(usync) = node.get_optional_child("usync") else {
        return vec![];
    };
    let wants_devices =
        usync.get_optional_child("query").and_then(|q| q.get_optional_child("devices")).is_some();
    let users: Vec<Node> = usync
        .get_optional_child("list")
        .and_then(|l| l.children())
        .unwrap_or(&[])
        .iter()
        .filter_map(|u| {
            let jid = u.attrs.get("jid")?.to_jid()?;
            let mut children = Vec::new();
            if wants_devices {
                children.push(
                    NodeBuilder::new("devices")
                        .children([NodeBuilder::new("device-list")
                            .children([NodeBuilder::new("device").attr("id", "0").build()])
                            .build()])
                        .build(),
                );
            }
            Some(NodeBuilder::new("user").attr("jid", jid.to_non_ad()).children(children).build())
        })
        .collect();
    let mut b = NodeBuilder::new("usync");
    for k in ["sid", "mode", "context", "index", "last"] {
        if let Some(v) = attr(usync, k) {
            b = b.attr(static_key(k), v);
        }
    }
    vec![b.children([NodeBuilder::new("list").children(users).build()]).build()]
}

fn static_key(k: &str) -> &'static str {
    match k {
        "sid" => "sid",
        "mode" => "mode",
        "context" => "context",
        "index" => "index",
        _ => "last",
    }
}

/// Decrypts what a linked device sent to a contact and records it (text, or
/// media fetched from the simulator's store and decrypted). Returns the
/// contact (digits) when the message was one for a contact.
pub(crate) async fn record_outbound(sim: &Sim, phone: &str, device: u16, node: &Node) -> Option<String> {
    match record_outbound_inner(sim, phone, device, node).await {
        Ok(contact) => contact,
        Err(e) => {
            log::warn!("wasim: could not read an outbound message from +{phone}: {e:#}");
            None
        }
    }
}

async fn record_outbound_inner(sim: &Sim, phone: &str, device: u16, node: &Node) -> Result<Option<String>> {
    let to = node.attrs.get("to").and_then(|v| v.to_jid()).ok_or_else(|| anyhow!("message without to"))?;
    let id = attr(node, "id").unwrap_or_default();
    let ct = contact_ciphertext(node, &to, &id)?;
    let c = contact(sim, &to.user)?;
    let plain = {
        let mut c = c.lock().await;
        let (mut ids, mut sessions, mut pre, signed) = split(&mut c);
        message_decrypt(
            &ct,
            &address(phone, device),
            &mut sessions,
            &mut ids,
            &mut pre,
            &signed,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
            UsePQRatchet::No,
        )
        .await
        .context("decrypt")?
    };
    let msg = wacore::messages::decode_plaintext(&plain.plaintext, 2)?;
    let msg = wacore::messages::unwrap_device_sent(msg);
    let text = msg
        .conversation
        .clone()
        .or_else(|| msg.extended_text_message.as_option().and_then(|e| e.text.clone()));
    let media = read_media(sim, &msg).await;
    if let Some(err) = media.as_ref().and_then(|m| m.error.as_ref()) {
        log::warn!("wasim: media message {id} from +{phone}: {err}");
    }
    sim.lock().received.push(Received {
        id,
        from: format!("+{phone}"),
        to: format!("+{}", to.user),
        text,
        media,
        at: now_secs(),
    });
    sim.bump(|c| c.received += 1);
    Ok(Some(to.user.to_string()))
}

/// The contact's own copy of message `id`: a direct `<enc>`, or the `<to>`
/// for its device 0.
fn contact_ciphertext(node: &Node, to: &Jid, id: &str) -> Result<CiphertextMessage> {
    let mut encs: Vec<&Node> = node.get_children_by_tag("enc").collect();
    if let Some(parts) = node.get_optional_child("participants") {
        for t in parts.get_children_by_tag("to") {
            let j = t.attrs.get("jid").and_then(|v| v.to_jid());
            if j.as_ref().is_some_and(|j| j.user == to.user && j.device == 0) {
                encs.extend(t.get_children_by_tag("enc"));
            }
        }
    }
    let enc = encs.first().ok_or_else(|| anyhow!("no ciphertext for {} in message {id}", to.user))?;
    let bytes = match &enc.content {
        Some(NodeContent::Bytes(b)) => b.as_slice(),
        _ => return Err(anyhow!("empty <enc>")),
    };
    Ok(match attr(enc, "type").as_deref() {
        Some("pkmsg") => CiphertextMessage::PreKeySignalMessage(PreKeySignalMessage::try_from(bytes)?),
        Some("msg") => CiphertextMessage::SignalMessage(SignalMessage::try_from(bytes)?),
        other => return Err(anyhow!("unsupported enc type {other:?}")),
    })
}
