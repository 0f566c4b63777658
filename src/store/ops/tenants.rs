//! The tenants operations of a [`Store`], each on whichever backend it has.

use crate::store::postgres::tenants as postgres;
use crate::store::sqlite::tenants as sqlite;
use crate::store::tenants::{NewCredentials, StateChange, TenantRow, TenantUpdate, TwilioTenant};
use crate::store::{Backend, Store, StoreResult};

/// The tenant operations of a [`Store`].
pub struct Tenants<'a>(&'a Store);

impl Store {
    pub fn tenants(&self) -> Tenants<'_> {
        Tenants(self)
    }
}

impl Tenants<'_> {
    pub async fn exists(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        dispatch!(self.0, |c| sqlite::exists(c, &id), |p| postgres::exists(p, &id))
    }

    /// The tenant a Twilio number belongs to.
    pub async fn number_owner(&self, number: &str) -> StoreResult<Option<String>> {
        let number = number.to_owned();
        dispatch!(self.0, |c| sqlite::number_owner(c, &number), |p| postgres::number_owner(p, &number))
    }

    /// Creates the tenant with `update`'s settings (its numbers included).
    pub async fn insert(
        &self,
        id: &str,
        name: &str,
        credentials: &NewCredentials<'_>,
        update: &TenantUpdate,
    ) -> StoreResult<()> {
        let (id, name, update) = (id.to_owned(), name.to_owned(), update.clone());
        let (token_hash, signing_key) = (credentials.token_hash.to_owned(), credentials.signing_key.to_vec());
        let credentials = NewCredentials { token_hash: &token_hash, signing_key: &signing_key };
        match &*self.0.backend {
            Backend::Sqlite(db) => {
                db.run(move |c| {
                    let credentials = NewCredentials { token_hash: &token_hash, signing_key: &signing_key };
                    sqlite::insert(c, &id, &name, &credentials, &update)
                })
                .await
            }
            Backend::Postgres(pg) => {
                Ok(postgres::insert(&mut pg.client().await?, &id, &name, &credentials, &update).await?)
            }
        }
    }

    /// Applies `update`; false when the tenant does not exist.
    pub async fn update(&self, id: &str, update: &TenantUpdate) -> StoreResult<bool> {
        let (id, update) = (id.to_owned(), update.clone());
        dispatch!(self.0, |c| sqlite::update(c, &id, &update), |p| postgres::update(p, &id, &update))
    }

    pub async fn get(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        let id = id.to_owned();
        dispatch!(self.0, |c| sqlite::get(c, &id), |p| postgres::get(p, &id))
    }

    /// Every tenant, by id.
    pub async fn list(&self) -> StoreResult<Vec<TenantRow>> {
        dispatch!(self.0, |c| sqlite::list(c), |p| postgres::list(p))
    }

    /// The tenant whose API token hashes to `hash`, with the stored hash (the
    /// caller compares the two in constant time).
    pub async fn by_token_hash(&self, hash: &str) -> StoreResult<Option<(String, String)>> {
        let hash = hash.to_owned();
        dispatch!(self.0, |c| sqlite::by_token_hash(c, &hash), |p| postgres::by_token_hash(p, &hash))
    }

    /// Replaces the token hash; false when the tenant does not exist.
    pub async fn set_token_hash(&self, id: &str, hash: &str) -> StoreResult<bool> {
        let (id, hash) = (id.to_owned(), hash.to_owned());
        dispatch!(self.0, |c| sqlite::set_token_hash(c, &id, &hash), |p| postgres::set_token_hash(
            p, &id, &hash
        ))
    }

    /// A new signing key; the old one signs until `previous_until_ms` (or
    /// stops at once when `None`). False when the tenant does not exist.
    pub async fn rotate_signing_key(
        &self,
        id: &str,
        key: &[u8],
        previous_until_ms: Option<i64>,
    ) -> StoreResult<bool> {
        let (id, key) = (id.to_owned(), key.to_vec());
        dispatch!(self.0, |c| sqlite::rotate_signing_key(c, &id, &key, previous_until_ms), |p| {
            postgres::rotate_signing_key(p, &id, &key, previous_until_ms)
        })
    }

    /// Deletes the tenant and everything that references it; false when absent.
    pub async fn delete(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        dispatch!(self.0, |c| sqlite::delete(c, &id), |p| postgres::delete(p, &id))
    }

    /// The newest `limit` state changes, oldest first.
    pub async fn recent_state_changes(&self, id: &str, limit: usize) -> StoreResult<Vec<StateChange>> {
        let id = id.to_owned();
        dispatch!(
            self.0,
            |c| sqlite::recent_state_changes(c, &id, limit),
            |p| postgres::recent_state_changes(p, &id, limit)
        )
    }

    /// Test support: a bare tenant row, for tests that need events to reference one.
    #[cfg(test)]
    pub(crate) async fn insert_bare_for_tests(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        match &*self.0.backend {
            Backend::Sqlite(db) => db.run(move |c| sqlite::insert_bare_for_tests(c, &id)).await,
            Backend::Postgres(_) => unreachable!("unit tests use the SQLite store"),
        }
    }

    /// The Twilio view of tenant `id`. On the webhook's hot path: SQLite
    /// answers it inline on the thread's own reader connection.
    pub async fn twilio_tenant_by_id(&self, id: &str) -> StoreResult<Option<TwilioTenant>> {
        match &*self.0.backend {
            Backend::Sqlite(db) => db.read_local(|c| sqlite::twilio_tenant_by_id(c, id)),
            Backend::Postgres(pg) => Ok(postgres::twilio_tenant_by_id(&pg.client().await?, id).await?),
        }
    }

    /// The Twilio view of the tenant a number belongs to (hot path, as above).
    pub async fn twilio_tenant_by_number(&self, number: &str) -> StoreResult<Option<TwilioTenant>> {
        match &*self.0.backend {
            Backend::Sqlite(db) => db.read_local(|c| sqlite::twilio_tenant_by_number(c, number)),
            Backend::Postgres(pg) => {
                Ok(postgres::twilio_tenant_by_number(&pg.client().await?, number).await?)
            }
        }
    }
}
