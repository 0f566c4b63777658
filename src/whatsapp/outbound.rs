//! Outbound messages: paced per tenant (sending fast is how WhatsApp accounts
//! get banned) and idempotent with a caller's key (a retry returns the first
//! answer and sends nothing).

use std::time::Duration;

use sha2::{Digest, Sha256};
use whatsapp_rust::prelude::*;

use super::media_out::{self, MediaSend};
use super::slot::Slot;
use super::state::WaState;
use super::Shared;
use crate::store::whatsapp::{SendClaim, SendOutcome};
use crate::tenants::TenantId;

#[derive(Debug, Clone)]
pub struct SendRequest {
    /// `+E164` or a JID.
    pub to: String,
    pub text: String,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message_id: String,
    /// True when this answers a retry: nothing was sent this time.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotConnected(String),
    #[error("sending too fast for this tenant's pace; retry in {0:?}")]
    RateLimited(Duration),
    #[error("{0}")]
    KeyConflict(String),
    /// Certainly not sent: the same Idempotency-Key may be used again.
    #[error("the send failed: {0}")]
    Failed(String),
    /// This send may or may not have reached WhatsApp (it timed out or broke
    /// mid-way).
    #[error("{0}")]
    OutcomeUnknown(String),
    /// An earlier send with this Idempotency-Key ended that way.
    #[error("{0}")]
    PreviousOutcomeUnknown(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Longest Idempotency-Key accepted.
const MAX_KEY_LEN: usize = 200;
/// Longest text accepted (WhatsApp's own limit is about 65,536 characters).
const MAX_TEXT_CHARS: usize = 65_536;

/// What a send carries.
pub(super) enum Payload {
    Text(String),
    Media(MediaSend),
}

impl SendRequest {
    pub(super) fn into_parts(self) -> (String, Option<String>, Payload) {
        (self.to, self.idempotency_key, Payload::Text(self.text))
    }
}

impl MediaSend {
    pub(super) fn into_parts(mut self) -> (String, Option<String>, Payload) {
        (std::mem::take(&mut self.to), self.idempotency_key.take(), Payload::Media(self))
    }
}

pub(super) async fn send(
    shared: &Shared,
    slot: &Slot,
    tenant: &TenantId,
    (to, idempotency_key, payload): (String, Option<String>, Payload),
) -> Result<Sent, SendError> {
    let to = recipient(&to)?;
    if let Payload::Text(text) = &payload {
        if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
            return Err(SendError::Invalid(format!("`text` must hold 1 to {MAX_TEXT_CHARS} characters")));
        }
    }
    if let Some(key) = &idempotency_key {
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(SendError::Invalid(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable characters"
            )));
        }
    }
    let Some(key) = idempotency_key else {
        return deliver(shared, slot, tenant, &to, &payload).await;
    };
    // Before a key is recorded: a send that cannot happen leaves no row.
    connected_client(slot, tenant)?;
    let hash = match &payload {
        // Unchanged since text was the only kind: keys recorded before still match.
        Payload::Text(text) => hex::encode(Sha256::digest(format!("{}\n{}", to, text))),
        Payload::Media(media) => media_out::fingerprint(&to, media),
    };
    if let Some(replay) = claim(shared, tenant, &key, hash).await? {
        return Ok(replay);
    }
    let outcome = deliver(shared, slot, tenant, &to, &payload).await;
    let recorded = match &outcome {
        Ok(sent) => SendOutcome::Sent(sent.message_id.clone()),
        Err(e @ SendError::OutcomeUnknown(_)) => SendOutcome::Unknown(e.to_string()),
        Err(e) => SendOutcome::Failed(e.to_string()),
    };
    shared.store.whatsapp().finish_send(tenant.as_str(), &key, recorded).await?;
    outcome
}

/// Claims the Idempotency-Key: `Ok(None)` to go ahead and send, `Ok(Some)`
/// with the first answer when it was sent already, an error when the key
/// must not be sent with.
async fn claim(
    shared: &Shared,
    tenant: &TenantId,
    key: &str,
    hash: String,
) -> Result<Option<Sent>, SendError> {
    let claim = shared.store.whatsapp().claim_send(tenant.as_str(), key, &hash).await?;
    match claim {
        SendClaim::Proceed => Ok(None),
        SendClaim::AlreadySent { message_id } => Ok(Some(Sent { message_id, replayed: true })),
        SendClaim::InProgress => Err(SendError::KeyConflict(
            "a send with this Idempotency-Key is in progress (or was interrupted; its outcome is unknown, \
             so it is not repeated)"
                .into(),
        )),
        SendClaim::OutcomeUnknown => Err(SendError::PreviousOutcomeUnknown(
            "the send with this Idempotency-Key ended without knowing whether the message reached \
             WhatsApp (it may or may not have); it is not repeated: check with the recipient, then \
             send again with a new key if needed"
                .into(),
        )),
        SendClaim::KeyReused => Err(SendError::KeyConflict(
            "this Idempotency-Key was used for a different message; use a new key".into(),
        )),
    }
}

/// Waits for the tenant's next send slot, then sends. Media is uploaded
/// first: an upload can take long, and must not hold the slot meanwhile.
async fn deliver(
    shared: &Shared,
    slot: &Slot,
    tenant: &TenantId,
    to: &Jid,
    payload: &Payload,
) -> Result<Sent, SendError> {
    let client = connected_client(slot, tenant)?;
    let message = match payload {
        Payload::Text(text) => wa::Message { conversation: Some(text.to_string()), ..Default::default() },
        Payload::Media(media) => media_out::upload(&client, media).await.map_err(|e| {
            // Nothing was sent: the key may be used again. The media host's
            // URLs carry its auth token in the query: never shown.
            let why = media_out::redact_queries(&format!("{e:#}"));
            tracing::warn!(%tenant, kind = media.kind.as_str(), error = %why, "media upload failed");
            SendError::Failed(format!("the media upload failed: {why}"))
        })?,
    };
    let wait = reserve_turn(slot, shared.settings.send_interval, shared.settings.send_queue_max_wait).await?;
    tokio::time::sleep(wait).await;
    let limit = shared.settings.send_timeout;
    let sent = tokio::time::timeout(limit, client.send_message(to.clone(), message))
        .await
        .map_err(|_| {
            SendError::OutcomeUnknown(format!(
                "the send did not finish within {limit:?}: the message may or may not have reached \
                 WhatsApp; check with the recipient before sending it again"
            ))
        })?
        .map_err(classify)?;
    metrics::counter!("agentlocator_whatsapp_messages_out_total").increment(1);
    if let Payload::Media(media) = payload {
        metrics::counter!("agentlocator_whatsapp_media_out_total", "kind" => media.kind.as_str())
            .increment(1);
    }
    Ok(Sent { message_id: sent.message_id, replayed: false })
}

/// Errors whatsapp-rust raises before the message is written (no identity,
/// a bad request, a failed lookup of the recipient's devices) certainly
/// mean "not sent"; anything else (a broken connection, an internal error)
/// may have struck after the message left.
fn classify(error: whatsapp_rust::send::SendError) -> SendError {
    use whatsapp_rust::send::SendError as Wa;
    match error {
        e @ (Wa::NotLoggedIn | Wa::InvalidRequest(_) | Wa::Iq(_)) => SendError::Failed(e.to_string()),
        e => SendError::OutcomeUnknown(format!(
            "the send broke off ({e}): the message may or may not have reached WhatsApp; check with the \
             recipient before sending it again"
        )),
    }
}

pub(super) fn connected_client(slot: &Slot, tenant: &TenantId) -> Result<std::sync::Arc<Client>, SendError> {
    let state = slot.state();
    match (state, slot.client()) {
        (Some(WaState::Connected), Some(client)) => Ok(client),
        _ => Err(SendError::NotConnected(format!(
            "tenant `{tenant}` is not connected to WhatsApp (state {}); see GET /api/whatsapp/{tenant}/status",
            state.map_or("unknown", WaState::as_str)
        ))),
    }
}

/// Books the tenant's next send slot: `interval` after the previous one.
/// Refuses when the queue ahead is longer than `max_wait`.
async fn reserve_turn(slot: &Slot, interval: Duration, max_wait: Duration) -> Result<Duration, SendError> {
    let mut next = slot.next_send.lock().await;
    let now = tokio::time::Instant::now();
    let turn = (*next).max(now);
    let wait = turn - now;
    if wait > max_wait {
        return Err(SendError::RateLimited(wait - max_wait));
    }
    *next = turn + interval;
    Ok(wait)
}

/// `+E164` becomes a phone JID; anything else must parse as a JID.
pub(super) fn recipient(to: &str) -> Result<Jid, SendError> {
    let to = to.trim();
    if to.starts_with('+') {
        let phone = crate::tenants::parse_e164(to).map_err(|e| SendError::Invalid(e.to_string()))?;
        return format!("{}@s.whatsapp.net", phone.trim_start_matches('+'))
            .parse()
            .map_err(|e| SendError::Invalid(format!("`to`: {e}")));
    }
    if to.contains('@') {
        return to.parse().map_err(|e| SendError::Invalid(format!("`to`: `{to}` is not a JID ({e})")));
    }
    Err(SendError::Invalid("`to` must be a +E164 phone number or a WhatsApp JID".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients() {
        assert_eq!(recipient("+15551234567").expect("e164").to_string(), "15551234567@s.whatsapp.net");
        assert_eq!(recipient("15551234567@s.whatsapp.net").expect("jid").user.as_str(), "15551234567");
        assert!(matches!(recipient("15551234567"), Err(SendError::Invalid(_))));
        assert!(matches!(recipient("+1-555"), Err(SendError::Invalid(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn sends_are_paced_and_a_long_queue_is_refused() {
        let slot = Slot::default();
        let interval = Duration::from_secs(1);
        let max = Duration::from_millis(2500);
        let waits: Vec<Duration> = [
            reserve_turn(&slot, interval, max).await.expect("1"),
            reserve_turn(&slot, interval, max).await.expect("2"),
            reserve_turn(&slot, interval, max).await.expect("3"),
        ]
        .to_vec();
        assert_eq!(waits, [Duration::ZERO, interval, 2 * interval]);
        assert!(matches!(reserve_turn(&slot, interval, max).await, Err(SendError::RateLimited(_))));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(
            reserve_turn(&slot, interval, max).await.expect("after the queue drained"),
            Duration::ZERO
        );
    }
}
