//! Tenant rows, their Twilio numbers and their WhatsApp state history.

use super::columns::Columns;
use super::{postgres::tenants as postgres, sqlite::tenants as sqlite, Backend, Store, StoreResult};

/// One tenant as stored (the API token only as its hash, never returned here).
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub twilio_auth_token: Option<String>,
    /// The Twilio account the tenant's own auth token belongs to.
    pub twilio_account_sid: Option<String>,
    pub twilio_numbers: Vec<String>,
    pub token_rotated_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub wa_state: String,
    pub wa_phone: Option<String>,
    pub wa_state_since: i64,
    pub wa_reconnects: i64,
    pub wa_last_error: Option<String>,
    /// Unix seconds when a temporary WhatsApp ban ends (state `banned`).
    pub wa_banned_until: Option<i64>,
    /// Whether the tenant has a webhook signing key (never the key here).
    pub signing_key_set: bool,
    /// Until when (unix ms) the key a rotation replaced still signs.
    pub signing_key_previous_until: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct StateChange {
    pub state: String,
    pub reason: String,
    pub at: i64,
}

/// Settings to write; `None` leaves a column as it is. For the optional
/// columns `Some(None)` clears the value.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub webhook_url: Option<Option<String>>,
    pub twilio_auth_token: Option<Option<String>>,
    pub twilio_account_sid: Option<Option<String>>,
    pub twilio_numbers: Option<Vec<String>>,
    /// The TwiML answered to this tenant's voice webhooks (`None` = the default).
    pub voice_twiml: Option<Option<String>>,
}

/// A new tenant's credentials: its API token (as its hash) and its webhook
/// signing key.
pub struct NewCredentials<'a> {
    pub token_hash: &'a str,
    pub signing_key: &'a [u8],
}

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

/// What a Twilio webhook needs to know about the tenant it is addressed to.
#[derive(Debug, Clone)]
pub struct TwilioTenant {
    pub id: String,
    /// The tenant's own auth token; `None` means the global one applies.
    pub auth_token: Option<String>,
    /// The account `auth_token` belongs to (recording fetches need it).
    pub account_sid: Option<String>,
    pub voice_twiml: Option<String>,
}

impl TenantRow {
    /// From the columns id, name, webhook_url, twilio_auth_token,
    /// token_rotated_at, created_at, updated_at, wa_state, wa_phone,
    /// wa_state_since, wa_reconnects, wa_last_error, wa_banned_until,
    /// twilio_account_sid, "has a signing key", signing_key_previous_until;
    /// the numbers are read apart.
    pub(super) fn from_columns<R: Columns>(r: &R) -> Result<TenantRow, R::Error> {
        Ok(TenantRow {
            id: r.col(0)?,
            name: r.col(1)?,
            webhook_url: r.col(2)?,
            twilio_auth_token: r.col(3)?,
            twilio_numbers: Vec::new(),
            token_rotated_at: r.col(4)?,
            created_at: r.col(5)?,
            updated_at: r.col(6)?,
            wa_state: r.col(7)?,
            wa_phone: r.col(8)?,
            wa_state_since: r.col(9)?,
            wa_reconnects: r.col(10)?,
            wa_last_error: r.col(11)?,
            wa_banned_until: r.col(12)?,
            twilio_account_sid: r.col(13)?,
            signing_key_set: r.col(14)?,
            signing_key_previous_until: r.col(15)?,
        })
    }
}

impl TwilioTenant {
    /// From the columns id, twilio_auth_token, voice_twiml, twilio_account_sid.
    pub(super) fn from_columns<R: Columns>(r: &R) -> Result<TwilioTenant, R::Error> {
        Ok(TwilioTenant {
            id: r.col(0)?,
            auth_token: r.col(1)?,
            voice_twiml: r.col(2)?,
            account_sid: r.col(3)?,
        })
    }
}
