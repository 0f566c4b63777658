//! The whatsapp operations of a [`Store`], each on whichever backend it has.

use crate::store::cluster::Token;
use crate::store::events::NewEvent;
use crate::store::postgres::whatsapp as postgres;
use crate::store::sqlite::whatsapp as sqlite;
use crate::store::whatsapp::{Recorded, SendClaim, SendOutcome, StateUpdate};
use crate::store::{Store, StoreResult};

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
    /// reverse. `lease`: the token of the lease a cluster node's worker runs
    /// the tenant under; on PostgreSQL the change is recorded only while the
    /// tenant's live lease carries it ([`Recorded::LeaseLost`] otherwise, in
    /// the same transaction). `None` (a lone daemon, and always on SQLite,
    /// which serves one daemon) records unconditionally.
    pub async fn record_state(
        &self,
        id: &str,
        update: StateUpdate,
        lease: Option<Token>,
        announce: impl FnOnce(&str) -> Option<NewEvent> + Send + 'static,
    ) -> StoreResult<Recorded> {
        let id = id.to_owned();
        dispatch!(self.0, |c| sqlite::record_state(c, &id, &update, announce), |p| postgres::record_state(
            p, &id, &update, lease, announce
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
