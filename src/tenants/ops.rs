//! The tenant operations. `execute` is the single implementation behind both
//! paths: the CLI calls it directly when no daemon runs, the daemon calls it
//! for requests arriving on its admin socket.

use serde::{Deserialize, Serialize};

use super::views::{
    TenantCreated, TenantDetail, TenantRemoved, TenantSigningSecret, TenantToken, TenantView,
};
use super::{TenantId, TenantSettings};
use crate::paths::DataDir;
use crate::secrets::{new_api_token, new_signing_key, signing_secret_text, token_hash};
use crate::store::tenants::{NewCredentials, TenantUpdate};
use crate::store::{Store, StoreError};

/// How many state changes `tenant show` includes.
const SHOWN_STATE_CHANGES: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TenantRequest {
    Add { id: TenantId, settings: TenantSettings },
    List,
    Show { id: TenantId },
    Set { id: TenantId, settings: TenantSettings },
    RotateToken { id: TenantId },
    RotateSigningSecret { id: TenantId, grace_ms: u64 },
    Remove { id: TenantId },
}

impl TenantRequest {
    /// The operation's name, for logs (never the settings: they hold secrets).
    pub fn op(&self) -> &'static str {
        match self {
            TenantRequest::Add { .. } => "add",
            TenantRequest::List => "list",
            TenantRequest::Show { .. } => "show",
            TenantRequest::Set { .. } => "set",
            TenantRequest::RotateToken { .. } => "rotate_token",
            TenantRequest::RotateSigningSecret { .. } => "rotate_signing_secret",
            TenantRequest::Remove { .. } => "remove",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TenantResponse {
    Created(TenantCreated),
    List { tenants: Vec<TenantView> },
    Detail(TenantDetail),
    Updated { tenant: TenantView },
    Token(TenantToken),
    SigningSecret(TenantSigningSecret),
    Removed(TenantRemoved),
}

#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", content = "message", rename_all = "snake_case")]
pub enum TenantError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for TenantError {
    fn from(e: StoreError) -> Self {
        TenantError::Store(e.to_string())
    }
}

fn not_found(id: &TenantId) -> TenantError {
    TenantError::NotFound(format!(
        "tenant `{id}` does not exist; `agentlocator tenant list` shows the tenants there are"
    ))
}

pub async fn execute(
    store: &Store,
    data: &DataDir,
    request: &TenantRequest,
) -> Result<TenantResponse, TenantError> {
    match request {
        TenantRequest::Add { id, settings } => add(store, id, settings).await,
        TenantRequest::List => {
            let tenants = store.tenants().list().await?;
            Ok(TenantResponse::List { tenants: tenants.into_iter().map(Into::into).collect() })
        }
        TenantRequest::Show { id } => {
            let row = store.tenants().get(id.as_str()).await?;
            let changes = store.tenants().recent_state_changes(id.as_str(), SHOWN_STATE_CHANGES).await?;
            let row = row.ok_or_else(|| not_found(id))?;
            Ok(TenantResponse::Detail(TenantDetail {
                tenant: row.into(),
                recent_state_changes: changes.into_iter().map(Into::into).collect(),
            }))
        }
        TenantRequest::Set { id, settings } => set(store, id, settings).await,
        TenantRequest::RotateToken { id } => {
            let token = new_api_token();
            let changed = store.tenants().set_token_hash(id.as_str(), &token_hash(&token)).await?;
            if !changed {
                return Err(not_found(id));
            }
            Ok(TenantResponse::Token(TenantToken { tenant: id.to_string(), token }))
        }
        TenantRequest::RotateSigningSecret { id, grace_ms } => {
            rotate_signing_secret(store, id, *grace_ms).await
        }
        TenantRequest::Remove { id } => remove(store, data, id).await,
    }
}

async fn add(store: &Store, id: &TenantId, settings: &TenantSettings) -> Result<TenantResponse, TenantError> {
    let update = settings.validate().map_err(|e| TenantError::Invalid(e.to_string()))?;
    let name = update.name.clone().unwrap_or_else(|| id.to_string());
    let token = new_api_token();
    let signing_key = new_signing_key();
    let credentials = NewCredentials { token_hash: &token_hash(&token), signing_key: &signing_key };
    // Checked, then inserted: a concurrent add of the same id or number
    // loses on the primary keys and gets a store error instead.
    if store.tenants().exists(id.as_str()).await? {
        return Err(TenantError::Conflict(format!(
            "tenant `{id}` already exists; use `agentlocator tenant set {id} ...` to change it"
        )));
    }
    refuse_taken_numbers(store, id, &update).await?;
    store.tenants().insert(id.as_str(), &name, &credentials, &update).await?;
    let row = store.tenants().get(id.as_str()).await?;
    let row = row.ok_or_else(|| TenantError::Store("tenant vanished right after insert".into()))?;
    let signing_secret = signing_secret_text(&signing_key);
    Ok(TenantResponse::Created(TenantCreated { tenant: row.into(), token, signing_secret }))
}

/// Longest grace a rotation may give the old signing key.
const MAX_SIGNING_GRACE_MS: u64 = 30 * 86_400_000;

/// A new signing key; the old one keeps signing for `grace_ms` (0: it stops at once).
async fn rotate_signing_secret(
    store: &Store,
    id: &TenantId,
    grace_ms: u64,
) -> Result<TenantResponse, TenantError> {
    if grace_ms > MAX_SIGNING_GRACE_MS {
        return Err(TenantError::Invalid(
            "the grace period is at most 30 days; the old secret should not sign for longer".into(),
        ));
    }
    let key = new_signing_key();
    // grace_ms is at most 30 days, so the cast and the sum cannot overflow.
    let until_ms = (grace_ms > 0).then(|| crate::clock::now_ms() + grace_ms as i64);
    let changed = store.tenants().rotate_signing_key(id.as_str(), &key, until_ms).await?;
    if !changed {
        return Err(not_found(id));
    }
    Ok(TenantResponse::SigningSecret(TenantSigningSecret {
        tenant: id.to_string(),
        signing_secret: signing_secret_text(&key),
        previous_valid_until: until_ms.map(|ms| crate::clock::format_secs(ms.div_euclid(1000))),
    }))
}

async fn set(store: &Store, id: &TenantId, settings: &TenantSettings) -> Result<TenantResponse, TenantError> {
    if settings.is_empty() {
        return Err(TenantError::Invalid(
            "nothing to change: give at least one of --name, --webhook-url, --twilio-number, --twilio-auth-token, --voice-twiml".into(),
        ));
    }
    let update = settings.validate().map_err(|e| TenantError::Invalid(e.to_string()))?;
    if !store.tenants().exists(id.as_str()).await? {
        return Err(not_found(id));
    }
    refuse_taken_numbers(store, id, &update).await?;
    store.tenants().update(id.as_str(), &update).await?;
    let row = store.tenants().get(id.as_str()).await?;
    let row = row.ok_or_else(|| not_found(id))?;
    Ok(TenantResponse::Updated { tenant: row.into() })
}

/// A number may belong to one tenant only: Twilio's `To` must name one tenant.
async fn refuse_taken_numbers(
    store: &Store,
    id: &TenantId,
    update: &TenantUpdate,
) -> Result<(), TenantError> {
    for number in update.twilio_numbers.as_deref().unwrap_or_default() {
        if let Some(owner) = store.tenants().number_owner(number).await? {
            if owner != id.as_str() {
                return Err(TenantError::Conflict(format!(
                    "Twilio number {number} already belongs to tenant `{owner}`; remove it there first"
                )));
            }
        }
    }
    Ok(())
}

async fn remove(store: &Store, data: &DataDir, id: &TenantId) -> Result<TenantResponse, TenantError> {
    let removed = store.tenants().delete(id.as_str()).await?;
    if !removed {
        return Err(not_found(id));
    }
    // The WhatsApp session goes with the tenant: on PostgreSQL its rows are
    // not tied to the tenant row, and a tenant added later under the same id
    // must never inherit the removed one's linked device.
    store.sessions(data).wipe(id).await?;
    let dir = data.tenant_dir(id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(TenantError::Store(format!(
                "tenant `{id}` was removed from the database, but {} could not be deleted ({e}); delete it by hand",
                dir.display()
            )))
        }
    }
    Ok(TenantResponse::Removed(TenantRemoved { tenant: id.to_string(), removed: true }))
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for TenantError {}
