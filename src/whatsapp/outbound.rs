//! Outbound messages: paced per tenant (sending fast is how WhatsApp accounts
//! get banned) and idempotent with a caller's key (a retry returns the first
//! answer and sends nothing).

use std::time::Duration;

use sha2::{Digest, Sha256};
use whatsapp_rust::prelude::*;

use super::slot::Slot;
use super::state::WaState;
use super::Shared;
use crate::store::whatsapp::{claim_send, finish_send, SendClaim};
use crate::tenants::TenantId;

/// A send may take this long once it is its turn.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

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
    #[error("the send failed: {0}")]
    Failed(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Longest Idempotency-Key accepted.
const MAX_KEY_LEN: usize = 200;
/// Longest text accepted (WhatsApp's own limit is about 65,536 characters).
const MAX_TEXT_CHARS: usize = 65_536;

pub(super) async fn send(
    shared: &Shared,
    slot: &Slot,
    tenant: &TenantId,
    request: SendRequest,
) -> Result<Sent, SendError> {
    let to = recipient(&request.to)?;
    if request.text.is_empty() || request.text.chars().count() > MAX_TEXT_CHARS {
        return Err(SendError::Invalid(format!("`text` must hold 1 to {MAX_TEXT_CHARS} characters")));
    }
    if let Some(key) = &request.idempotency_key {
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(SendError::Invalid(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable characters"
            )));
        }
    }
    let Some(key) = request.idempotency_key.clone() else {
        return deliver(shared, slot, tenant, &to, &request.text).await;
    };
    let hash = hex::encode(Sha256::digest(format!("{}\n{}", to, request.text)));
    let (id, claim_key) = (tenant.as_str().to_string(), key.clone());
    let claim = shared.store.run(move |c| claim_send(c, &id, &claim_key, &hash)).await?;
    match claim {
        SendClaim::AlreadySent { message_id } => return Ok(Sent { message_id, replayed: true }),
        SendClaim::InProgress => return Err(SendError::KeyConflict(
            "a send with this Idempotency-Key is in progress (or was interrupted; its outcome is unknown, \
                 so it is not repeated)"
                .into(),
        )),
        SendClaim::KeyReused => {
            return Err(SendError::KeyConflict(
                "this Idempotency-Key was used for a different message; use a new key".into(),
            ))
        }
        SendClaim::Proceed => {}
    }
    let outcome = deliver(shared, slot, tenant, &to, &request.text).await;
    let (id, finish_key) = (tenant.as_str().to_string(), key);
    let recorded = match &outcome {
        Ok(sent) => sent.message_id.clone(),
        Err(e) => e.to_string(),
    };
    let ok = outcome.is_ok();
    shared
        .store
        .run(move |c| {
            let result = if ok { Ok(recorded.as_str()) } else { Err(recorded.as_str()) };
            finish_send(c, &id, &finish_key, result)
        })
        .await?;
    outcome
}

/// Waits for the tenant's next send slot, then sends.
async fn deliver(
    shared: &Shared,
    slot: &Slot,
    tenant: &TenantId,
    to: &Jid,
    text: &str,
) -> Result<Sent, SendError> {
    let client = connected_client(slot, tenant)?;
    let wait = reserve_turn(slot, shared.settings.send_interval, shared.settings.send_queue_max_wait).await?;
    tokio::time::sleep(wait).await;
    let message = wa::Message { conversation: Some(text.to_string()), ..Default::default() };
    let sent = tokio::time::timeout(SEND_TIMEOUT, client.send_message(to.clone(), message))
        .await
        .map_err(|_| SendError::Failed(format!("no answer from WhatsApp within {SEND_TIMEOUT:?}")))?
        .map_err(|e| SendError::Failed(e.to_string()))?;
    metrics::counter!("agentlocator_whatsapp_messages_out_total").increment(1);
    Ok(Sent { message_id: sent.message_id, replayed: false })
}

fn connected_client(slot: &Slot, tenant: &TenantId) -> Result<std::sync::Arc<Client>, SendError> {
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
fn recipient(to: &str) -> Result<Jid, SendError> {
    let to = to.trim();
    if to.starts_with('+') {
        let phone = crate::tenants::parse_e164(to).map_err(SendError::Invalid)?;
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
