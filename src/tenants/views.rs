//! What tenant operations return: the same structs are printed by the CLI
//! (text or `--json`) whether the daemon or the database answered.

use serde::{Deserialize, Serialize};

use crate::clock::format_secs;
use crate::store::tenants::{StateChange, TenantRow};

/// A tenant's WhatsApp session as last recorded (also the core of the
/// status route and of `sessions`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhatsappView {
    pub state: String,
    pub phone: Option<String>,
    pub since: String,
    pub reconnects: i64,
    pub last_error: Option<String>,
    /// While banned: when the ban ends.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub banned_until: Option<String>,
}

impl WhatsappView {
    pub fn from_row(row: &TenantRow) -> WhatsappView {
        WhatsappView {
            state: row.wa_state.clone(),
            phone: row.wa_phone.clone(),
            since: format_secs(row.wa_state_since),
            reconnects: row.wa_reconnects,
            last_error: row.wa_last_error.clone(),
            banned_until: row.wa_banned_until.filter(|_| row.wa_state == "banned").map(format_secs),
        }
    }
}

/// A tenant with its secrets redacted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub twilio_numbers: Vec<String>,
    /// Whether the tenant has its own Twilio auth token (never its value).
    pub twilio_auth_token_set: bool,
    /// The account of the tenant's own auth token (a SID is not a secret).
    pub twilio_account_sid: Option<String>,
    pub whatsapp: WhatsappView,
    pub created_at: String,
    pub updated_at: String,
    pub token_rotated_at: String,
    /// Whether the tenant has a webhook signing secret (never its value).
    pub signing_secret_set: bool,
    /// While a rotation's grace lasts: until when the previous secret still signs.
    pub previous_signing_secret_valid_until: Option<String>,
}

impl From<TenantRow> for TenantView {
    fn from(row: TenantRow) -> Self {
        TenantView {
            whatsapp: WhatsappView::from_row(&row),
            id: row.id,
            name: row.name,
            webhook_url: row.webhook_url,
            twilio_numbers: row.twilio_numbers,
            twilio_auth_token_set: row.twilio_auth_token.is_some(),
            twilio_account_sid: row.twilio_account_sid,
            created_at: format_secs(row.created_at),
            updated_at: format_secs(row.updated_at),
            token_rotated_at: format_secs(row.token_rotated_at),
            signing_secret_set: row.signing_key_set,
            previous_signing_secret_valid_until: row
                .signing_key_previous_until
                .filter(|until| *until > crate::clock::now_ms())
                .map(|ms| format_secs(ms.div_euclid(1000))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateChangeView {
    pub state: String,
    pub reason: String,
    pub at: String,
}

impl From<StateChange> for StateChangeView {
    fn from(c: StateChange) -> Self {
        StateChangeView { state: c.state, reason: c.reason, at: format_secs(c.at) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantDetail {
    pub tenant: TenantView,
    pub recent_state_changes: Vec<StateChangeView>,
}

/// The answer to `tenant add`: the only time the token and the signing
/// secret are ever shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantCreated {
    pub tenant: TenantView,
    pub token: String,
    /// `whsec_` + base64 of the key that signs this tenant's deliveries.
    pub signing_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantToken {
    pub tenant: String,
    pub token: String,
}

/// The answer to a signing secret rotation: the new secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantSigningSecret {
    pub tenant: String,
    pub signing_secret: String,
    /// Until when the replaced secret still signs (`None`: it stopped at once).
    pub previous_valid_until: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantRemoved {
    pub tenant: String,
    pub removed: bool,
}
