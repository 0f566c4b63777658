//! One tenant's WhatsApp session as operators and tenants see it: the status
//! route, `sessions`, and `/healthz/whatsapp?verbose` all show this.

use serde::{Deserialize, Serialize};

use super::WhatsApp;
use crate::store::tenants::TenantRow;
use crate::supervisor::SupervisedState;
use crate::tenants::rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    pub tenant: String,
    pub state: String,
    pub phone: Option<String>,
    pub since: String,
    pub reconnects: i64,
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub banned_until: Option<String>,
    /// What the supervisor says of the worker (absent without a daemon).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub worker: Option<SupervisedState>,
    /// The client's estimate of its own retained heap (absent when it has no
    /// client, or without a daemon).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memory_bytes: Option<u64>,
}

impl SessionView {
    pub fn from_row(row: &TenantRow) -> SessionView {
        SessionView {
            tenant: row.id.clone(),
            state: row.wa_state.clone(),
            phone: row.wa_phone.clone(),
            since: rfc3339(row.wa_state_since),
            reconnects: row.wa_reconnects,
            last_error: row.wa_last_error.clone(),
            banned_until: row.wa_banned_until.filter(|_| row.wa_state == "banned").map(rfc3339),
            worker: None,
            memory_bytes: None,
        }
    }
}

/// Every tenant's session, with the supervisor's view and memory figures
/// when `whatsapp` (a running daemon's) is given.
pub async fn sessions(
    store: &crate::store::Store,
    whatsapp: Option<&WhatsApp>,
) -> crate::store::StoreResult<Vec<SessionView>> {
    let rows = store.run(|c| crate::store::tenants::list(c)).await?;
    let mut views: Vec<SessionView> = rows.iter().map(SessionView::from_row).collect();
    if let Some(whatsapp) = whatsapp {
        let supervised = whatsapp.supervised().await;
        for view in &mut views {
            view.worker = supervised.iter().find(|s| s.key == view.tenant).map(|s| s.state);
            if let Ok(id) = crate::tenants::TenantId::parse(&view.tenant) {
                view.memory_bytes = whatsapp.memory_estimate(&id).await;
            }
        }
    }
    Ok(views)
}
