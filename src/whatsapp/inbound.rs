//! Inbound messages: each becomes a `whatsapp.message` event, durably stored
//! before the client acknowledges it to the server (whatsapp-rust's inbound
//! durability hook). A crash before the commit leaves the message in the
//! server's offline queue for the next connect; a redelivery after the commit
//! hits the dedupe key on (chat, sender, id) and is stored once.

use std::sync::Arc;

use serde_json::{json, Value};
use whatsapp_rust::prelude::*;
use whatsapp_rust::InboundDurabilityHook;

use super::media_in::{MediaFields, Plan, DOWNLOAD_KEY};
use super::media_out::MediaKind;
use crate::store::events::NewEvent;
use crate::store::EventWriter;
use crate::tenants::TenantId;

pub const MESSAGE_EVENT: &str = "whatsapp.message";

/// The durability hook of one tenant's client.
pub struct DurableInbound {
    pub tenant: TenantId,
    pub events: EventWriter,
    /// Media over this size is not downloaded.
    pub media_max_bytes: u64,
}

#[async_trait::async_trait]
impl InboundDurabilityHook for DurableInbound {
    async fn on_messages(&self, _client: Arc<Client>, batch: &[InboundMessage]) -> anyhow::Result<()> {
        let events: Vec<NewEvent> = batch
            .iter()
            .filter(|m| !is_protocol(&m.message))
            .map(|m| message_event(&self.tenant, m, self.media_max_bytes))
            .collect();
        let media_to_fetch = events.iter().any(|e| e.held);
        let count = events.len();
        if count == 0 {
            return Ok(());
        }
        // An error here suppresses the acks: the server keeps the messages
        // and delivers them again at the next connect.
        let stored = self.events.append_all(events).await?;
        let duplicates = stored.iter().filter(|a| a.duplicate).count();
        if media_to_fetch {
            // Its download job was stored with it: start it now, not at the next poll.
            crate::jobs::wake();
        }
        tracing::debug!(tenant = %self.tenant, count, duplicates, "inbound messages stored");
        metrics::counter!("agentlocator_whatsapp_messages_in_total").increment((count - duplicates) as u64);
        Ok(())
    }
}

/// Protocol traffic between the user's own devices (app-state key shares,
/// revokes, ephemeral settings) and bare sender-key distributions carry
/// nothing for a tenant's backend.
fn is_protocol(message: &wa::Message) -> bool {
    let base = message.get_base_message();
    base.protocol_message.as_option().is_some()
        || (base.sender_key_distribution_message.as_option().is_some() && message.text_content().is_none())
}

/// Stanza ids are unique only within a (chat, sender): the key holds all three.
fn dedupe_key(m: &InboundMessage) -> String {
    let source = &m.info.source;
    format!("wa:{}|{}|{}", source.chat, source.sender, m.info.id)
}

/// A WhatsApp user JID's phone as +E164; `None` for ids that are not phone
/// numbers (LIDs, groups).
pub fn phone_of(jid: &Jid) -> Option<String> {
    let user = jid.user.as_str();
    let is_phone_server = jid.server.as_str() == "s.whatsapp.net";
    (is_phone_server && !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{user}"))
}

fn message_event(tenant: &TenantId, m: &InboundMessage, media_max_bytes: u64) -> NewEvent {
    let info = &m.info;
    let mut data = json!({
        "id": info.id.to_string(),
        "chat": info.source.chat.to_string(),
        "sender": info.source.sender.to_string(),
        "from": phone_of(&info.source.sender),
        "push_name": info.push_name,
        "timestamp": info.timestamp.to_rfc3339(),
        "is_group": info.source.is_group,
        "offline": info.is_offline,
    });
    let content = content(&m.message);
    data["type"] = json!(content.kind);
    data["text"] = json!(content.text);
    let mut held = false;
    if let Some((mut media, fields)) = content.media {
        match fields.plan(media_max_bytes) {
            Plan::Download(reference) => {
                media["status"] = json!("pending");
                data[DOWNLOAD_KEY] = json!(reference);
                held = true;
            }
            Plan::Refuse { status, error } => {
                media["status"] = json!(status);
                media["error"] = json!(error);
            }
        }
        data["media"] = media;
    }
    NewEvent {
        tenant_id: tenant.as_str().to_string(),
        kind: MESSAGE_EVENT.into(),
        dedupe_key: Some(dedupe_key(m)),
        data,
        held,
    }
}

/// What a message holds: its type, its text (or caption) and, for media, the
/// public description plus what a download needs.
struct MessageContent<'a> {
    kind: &'static str,
    text: Option<String>,
    media: Option<(Value, MediaFields<'a>)>,
}

/// The description every media event carries (`null` fields are dropped).
fn describe(mimetype: &Option<String>, bytes: Option<u64>, extra: Value) -> Value {
    let mut media = json!({"mimetype": mimetype, "bytes": bytes});
    if let (Some(target), Some(extra)) = (media.as_object_mut(), extra.as_object()) {
        target.extend(extra.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())));
    }
    media
}

macro_rules! media_fields {
    ($kind:expr, $m:expr) => {
        MediaFields {
            kind: $kind,
            direct_path: $m.direct_path.as_deref(),
            media_key: $m.media_key.as_deref(),
            file_sha256: $m.file_sha256.as_deref(),
            file_enc_sha256: $m.file_enc_sha256.as_deref(),
            file_length: $m.file_length,
        }
    };
}

fn content(message: &wa::Message) -> MessageContent<'_> {
    let base = message.get_base_message();
    if let Some(text) = message.text_content() {
        return MessageContent { kind: "text", text: Some(text.to_string()), media: None };
    }
    let media = |kind: &'static str, text: Option<String>, described: Value, fields| MessageContent {
        kind,
        text,
        media: Some((described, fields)),
    };
    if let Some(img) = base.image_message.as_option() {
        let described = describe(&img.mimetype, img.file_length, json!({"caption": img.caption}));
        return media("image", img.caption.clone(), described, media_fields!(MediaKind::Image, img));
    }
    if let Some(video) = base.video_message.as_option() {
        let extra = json!({"caption": video.caption, "duration_s": video.seconds});
        let described = describe(&video.mimetype, video.file_length, extra);
        return media("video", video.caption.clone(), described, media_fields!(MediaKind::Video, video));
    }
    if let Some(audio) = base.audio_message.as_option() {
        let extra = json!({"duration_s": audio.seconds, "voice_note": audio.ptt.unwrap_or(false)});
        let described = describe(&audio.mimetype, audio.file_length, extra);
        return media("audio", None, described, media_fields!(MediaKind::Audio, audio));
    }
    if let Some(doc) = base.document_message.as_option() {
        let extra = json!({"caption": doc.caption, "file_name": doc.file_name});
        let described = describe(&doc.mimetype, doc.file_length, extra);
        return media("document", doc.caption.clone(), described, media_fields!(MediaKind::Document, doc));
    }
    if let Some(sticker) = base.sticker_message.as_option() {
        let described = describe(&sticker.mimetype, sticker.file_length, json!({}));
        return media("sticker", None, described, media_fields!(MediaKind::Sticker, sticker));
    }
    MessageContent { kind: "other", text: None, media: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_come_only_from_phone_jids() {
        let pn: Jid = "15551234567@s.whatsapp.net".parse().expect("pn");
        assert_eq!(phone_of(&pn).as_deref(), Some("+15551234567"));
        let lid: Jid = "123456789@lid".parse().expect("lid");
        assert_eq!(phone_of(&lid), None);
        let group: Jid = "120363000000000000@g.us".parse().expect("group");
        assert_eq!(phone_of(&group), None);
    }

    #[test]
    fn media_is_described_and_its_download_planned() {
        let message = wa::Message {
            image_message: buffa::MessageField::some(wa::message::ImageMessage {
                mimetype: Some("image/png".into()),
                caption: Some("a cat".into()),
                file_length: Some(4321),
                direct_path: Some("/v/t62/abc.enc".into()),
                media_key: Some(vec![1; 32]),
                file_sha256: Some(vec![2; 32]),
                file_enc_sha256: Some(vec![3; 32]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let content = content(&message);
        assert_eq!((content.kind, content.text.as_deref()), ("image", Some("a cat")));
        let (media, fields) = content.media.expect("media");
        assert_eq!(media, json!({"mimetype": "image/png", "bytes": 4321, "caption": "a cat"}));
        assert!(matches!(fields.plan(10_000), Plan::Download(r) if r.kind == MediaKind::Image));
        assert!(matches!(fields.plan(100), Plan::Refuse { status: "too_large", .. }));
        let text = wa::Message { conversation: Some("hi".into()), ..Default::default() };
        let content = super::content(&text);
        assert_eq!(
            (content.kind, content.text.as_deref(), content.media.is_none()),
            ("text", Some("hi"), true)
        );
        assert!(!is_protocol(&text));
        let key_share = wa::Message {
            protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage::default()),
            ..Default::default()
        };
        assert!(is_protocol(&key_share), "protocol traffic is not a tenant's message");
    }
}
