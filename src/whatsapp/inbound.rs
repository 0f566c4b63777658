//! Inbound messages: each becomes a `whatsapp.message` event, durably stored
//! before the client acknowledges it to the server (whatsapp-rust's inbound
//! durability hook). A crash before the commit leaves the message in the
//! server's offline queue for the next connect; a redelivery after the commit
//! hits the dedupe key on (chat, sender, id) and is stored once.

use std::sync::Arc;

use serde_json::{json, Value};
use whatsapp_rust::prelude::*;
use whatsapp_rust::InboundDurabilityHook;

use crate::store::events::NewEvent;
use crate::store::EventWriter;
use crate::tenants::TenantId;

pub const MESSAGE_EVENT: &str = "whatsapp.message";

/// The durability hook of one tenant's client.
pub struct DurableInbound {
    pub tenant: TenantId,
    pub events: EventWriter,
}

#[async_trait::async_trait]
impl InboundDurabilityHook for DurableInbound {
    async fn on_messages(&self, _client: Arc<Client>, batch: &[InboundMessage]) -> anyhow::Result<()> {
        let events: Vec<NewEvent> = batch
            .iter()
            .filter(|m| !is_protocol(&m.message))
            .map(|m| message_event(&self.tenant, m))
            .collect();
        let count = events.len();
        if count == 0 {
            return Ok(());
        }
        // An error here suppresses the acks: the server keeps the messages
        // and delivers them again at the next connect.
        let stored = self.events.append_all(events).await?;
        let duplicates = stored.iter().filter(|a| a.duplicate).count();
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

fn message_event(tenant: &TenantId, m: &InboundMessage) -> NewEvent {
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
    let (kind, text, media) = content(&m.message);
    data["type"] = json!(kind);
    data["text"] = json!(text);
    if let Some(media) = media {
        data["media"] = media;
    }
    NewEvent {
        tenant_id: tenant.as_str().to_string(),
        kind: MESSAGE_EVENT.into(),
        dedupe_key: Some(dedupe_key(m)),
        data,
        held: false,
    }
}

/// The message's type, its text (or caption) and, for media, its metadata.
/// Media bytes are not downloaded: the event says what arrived.
fn content(message: &wa::Message) -> (&'static str, Option<String>, Option<Value>) {
    let base = message.get_base_message();
    if let Some(text) = message.text_content() {
        return ("text", Some(text.to_string()), None);
    }
    if let Some(img) = base.image_message.as_option() {
        let media = json!({"mimetype": img.mimetype, "size": img.file_length, "caption": img.caption});
        return ("image", img.caption.clone(), Some(media));
    }
    if let Some(video) = base.video_message.as_option() {
        let media = json!({"mimetype": video.mimetype, "size": video.file_length, "caption": video.caption,
            "seconds": video.seconds});
        return ("video", video.caption.clone(), Some(media));
    }
    if let Some(audio) = base.audio_message.as_option() {
        let media = json!({"mimetype": audio.mimetype, "size": audio.file_length, "seconds": audio.seconds,
            "voice_note": audio.ptt});
        return ("audio", None, Some(media));
    }
    if let Some(doc) = base.document_message.as_option() {
        let media = json!({"mimetype": doc.mimetype, "size": doc.file_length, "caption": doc.caption,
            "file_name": doc.file_name});
        return ("document", doc.caption.clone(), Some(media));
    }
    if let Some(sticker) = base.sticker_message.as_option() {
        let media = json!({"mimetype": sticker.mimetype, "size": sticker.file_length});
        return ("sticker", None, Some(media));
    }
    ("other", None, None)
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
    fn media_becomes_metadata() {
        let message = wa::Message {
            image_message: buffa::MessageField::some(wa::message::ImageMessage {
                mimetype: Some("image/png".into()),
                caption: Some("a cat".into()),
                file_length: Some(4321),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (kind, text, media) = content(&message);
        assert_eq!(kind, "image");
        assert_eq!(text.as_deref(), Some("a cat"));
        let media = media.expect("metadata");
        assert_eq!(media["mimetype"], "image/png");
        assert_eq!(media["size"], 4321);
        let text = wa::Message { conversation: Some("hi".into()), ..Default::default() };
        assert_eq!(content(&text), ("text", Some("hi".into()), None));
        assert!(!is_protocol(&text));
        let key_share = wa::Message {
            protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage::default()),
            ..Default::default()
        };
        assert!(is_protocol(&key_share), "protocol traffic is not a tenant's message");
    }
}
