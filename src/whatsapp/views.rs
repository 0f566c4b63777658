//! One tenant's WhatsApp session as operators and tenants see it: the status
//! route, `sessions`, and `/healthz/whatsapp?verbose` all show this.

use serde::{Deserialize, Serialize};

use super::WhatsApp;
use crate::store::tenants::TenantRow;
use crate::supervisor::SupervisedState;
use crate::tenants::WhatsappView;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    pub tenant: String,
    #[serde(flatten)]
    pub whatsapp: WhatsappView,
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
            whatsapp: WhatsappView::from_row(row),
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
    let rows = store.tenants().list().await?;
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
