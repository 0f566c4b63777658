//! Tenant rows, their Twilio numbers and their WhatsApp state history.

use super::columns::Columns;

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
