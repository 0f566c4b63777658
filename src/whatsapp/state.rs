//! A tenant worker's explicit states, and how a change is recorded: the
//! tenant row and its history (what `sessions` and `tenant show` read) and a
//! `whatsapp.connection` event for the tenant's backend, in one transaction.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::cluster::Token;
use crate::store::events::NewEvent;
use crate::store::whatsapp::{Recorded, StateUpdate};
use crate::store::{Store, StoreResult};
use crate::tenants::TenantId;

/// The type of the event that announces a state change.
pub const CONNECTION_EVENT: &str = "whatsapp.connection";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaState {
    /// No linked device; waits for a pairing request.
    Unpaired,
    /// Showing QR codes or a pair code; waits for the phone.
    Pairing,
    Connecting,
    Connected,
    /// Lost the connection; the client reconnects by itself.
    Reconnecting,
    /// Unlinked (from the phone, by WhatsApp or by an operator): the session
    /// store was wiped; waits for a new pairing.
    LoggedOut,
    /// Temporarily banned: waits for the ban's expiry before connecting.
    Banned,
    /// Another client took over this device: parked until an operator acts.
    Replaced,
    /// Restarted too often: parked until an operator restarts it.
    Quarantined,
    Stopped,
}

impl WaState {
    pub fn as_str(self) -> &'static str {
        match self {
            WaState::Unpaired => "unpaired",
            WaState::Pairing => "pairing",
            WaState::Connecting => "connecting",
            WaState::Connected => "connected",
            WaState::Reconnecting => "reconnecting",
            WaState::LoggedOut => "logged_out",
            WaState::Banned => "banned",
            WaState::Replaced => "replaced",
            WaState::Quarantined => "quarantined",
            WaState::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for WaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change {
    pub state: WaState,
    pub reason: String,
    /// The linked phone (+E164) when it is known or changes; `Some(None)` clears it.
    pub phone: Option<Option<String>>,
    pub error: Option<String>,
    pub reconnect: bool,
    /// Unix seconds when a ban ends.
    pub banned_until: Option<i64>,
}

impl Change {
    pub fn to(state: WaState, reason: impl Into<String>) -> Change {
        Change {
            state,
            reason: reason.into(),
            phone: None,
            error: None,
            reconnect: false,
            banned_until: None,
        }
    }

    pub fn with_phone(mut self, phone: Option<String>) -> Change {
        self.phone = Some(phone);
        self
    }

    pub fn with_error(mut self, error: impl Into<String>) -> Change {
        self.error = Some(error.into());
        self
    }
}

/// Stores `change` and its announcing event; with `lease` (a cluster
/// node's worker) only while the tenant's lease still carries that token.
pub async fn record(
    store: &Store,
    tenant: &TenantId,
    change: Change,
    lease: Option<Token>,
) -> StoreResult<Recorded> {
    let id = tenant.as_str().to_string();
    let update = StateUpdate {
        state: change.state.as_str().to_string(),
        reason: change.reason.clone(),
        phone: change.phone.clone(),
        error: change.error.clone(),
        reconnect: change.reconnect,
        banned_until: change.banned_until,
    };
    let announce = move |previous: &str| {
        let mut data = json!({
            "state": change.state.as_str(),
            "previous": previous,
            "reason": change.reason,
        });
        if let Some(Some(phone)) = &change.phone {
            data["phone"] = json!(phone);
        }
        if let Some(error) = &change.error {
            data["error"] = json!(error);
        }
        if let Some(until) = change.banned_until {
            data["banned_until"] = json!(crate::clock::format_secs(until));
        }
        Some(NewEvent { tenant_id: id, kind: CONNECTION_EVENT.into(), dedupe_key: None, data, held: false })
    };
    store.whatsapp().record_state(tenant.as_str(), update, lease, announce).await
}
