//! Each tenant's WhatsApp state (and its history) and the idempotency of sends.

use super::events::NewEvent;
use super::{postgres::whatsapp as postgres, sqlite::whatsapp as sqlite, Store, StoreResult};

/// One state change to record.
#[derive(Debug, Clone)]
pub struct StateUpdate {
    pub state: String,
    pub reason: String,
    /// Set the linked phone (`Some(None)` clears it); `None` leaves it.
    pub phone: Option<Option<String>>,
    /// Set `last_error` (never cleared: it is the last one seen).
    pub error: Option<String>,
    /// Count one more reconnect.
    pub reconnect: bool,
    /// When a ban ends (unix seconds); cleared by any other state.
    pub banned_until: Option<i64>,
}

/// What a send with an Idempotency-Key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendClaim {
    /// First use of the key (or a retry after a failed send): go ahead.
    Proceed,
    /// Already sent: answer this message id again, send nothing.
    AlreadySent { message_id: String },
    /// A send with this key is under way right now (or its process died
    /// mid-send: whether it reached WhatsApp is unknown, so it is not repeated).
    InProgress,
    /// The send with this key ended without knowing whether the message
    /// reached WhatsApp (it timed out mid-send): never repeated blindly.
    OutcomeUnknown,
    /// The key was used for a different request.
    KeyReused,
}

/// How a claimed send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// WhatsApp took it: the message id.
    Sent(String),
    /// Certainly not sent (refused before anything was written): the key may
    /// be used again.
    Failed(String),
    /// It may or may not have reached WhatsApp: the key is never used again.
    Unknown(String),
}

/// The WhatsApp operations of a [`Store`].
pub struct WhatsApp<'a>(&'a Store);

impl Store {
    pub fn whatsapp(&self) -> WhatsApp<'_> {
        WhatsApp(self)
    }
}

impl WhatsApp<'_> {
    /// Records `update` for tenant `id` with its history row and the event that
    /// announces it (built by `announce` from the previous state), in one
    /// transaction: a state change is never stored without its event, nor the
    /// reverse. Returns the previous state, or `None` when the tenant no longer exists.
    pub async fn record_state(
        &self,
        id: &str,
        update: StateUpdate,
        announce: impl FnOnce(&str) -> Option<NewEvent> + Send + 'static,
    ) -> StoreResult<Option<String>> {
        let id = id.to_owned();
        dispatch!(self.0, |c| sqlite::record_state(c, &id, &update, announce), |p| postgres::record_state(
            p, &id, &update, announce
        ))
    }

    /// The tenant's WhatsApp state and linked phone.
    pub async fn current_state(&self, id: &str) -> StoreResult<Option<(String, Option<String>)>> {
        let id = id.to_owned();
        dispatch!(self.0, |c| sqlite::current_state(c, &id), |p| postgres::current_state(p, &id))
    }

    /// Claims a send's Idempotency-Key for a request whose body hashes to `request_sha256`.
    pub async fn claim_send(&self, tenant: &str, key: &str, request_sha256: &str) -> StoreResult<SendClaim> {
        let (tenant, key, hash) = (tenant.to_owned(), key.to_owned(), request_sha256.to_owned());
        dispatch!(self.0, |c| sqlite::claim_send(c, &tenant, &key, &hash), |p| postgres::claim_send(
            p, &tenant, &key, &hash
        ))
    }

    /// Records how a claimed send ended.
    pub async fn finish_send(&self, tenant: &str, key: &str, outcome: SendOutcome) -> StoreResult<()> {
        let (tenant, key) = (tenant.to_owned(), key.to_owned());
        dispatch!(self.0, |c| sqlite::finish_send(c, &tenant, &key, &outcome), |p| postgres::finish_send(
            p, &tenant, &key, &outcome
        ))
    }

    /// Forgets the Idempotency-Keys of sends made before `before` (unix seconds).
    pub async fn prune_sends(&self, before: i64) -> StoreResult<usize> {
        dispatch!(self.0, |c| sqlite::prune_sends(c, before), |p| postgres::prune_sends(p, before))
    }
}
