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

/// A session as `agentlocator sessions` lists it: with the node running the
/// tenant's WhatsApp client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListedSession {
    #[serde(flatten)]
    pub view: SessionView,
    /// The node holding the tenant's live lease; `None` when no node holds
    /// one, or on SQLite (one daemon, no leases). Always present in JSON
    /// (`null`), so a consumer need not tell "none" from "not reported".
    #[serde(default)]
    pub node: Option<String>,
}

/// [`sessions`], each with the node holding its tenant's lease.
pub async fn listed(
    store: &crate::store::Store,
    whatsapp: Option<&WhatsApp>,
) -> crate::store::StoreResult<Vec<ListedSession>> {
    let views = sessions(store, whatsapp).await?;
    let owners: std::collections::HashMap<String, String> = if store.is_shared() {
        store.cluster().owners().await?.into_iter().collect()
    } else {
        std::collections::HashMap::new()
    };
    Ok(views
        .into_iter()
        .map(|view| ListedSession { node: owners.get(&view.tenant).cloned(), view })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_session_always_names_its_node_and_reads_back() {
        let view = SessionView {
            tenant: "alpha".into(),
            whatsapp: WhatsappView {
                state: "connected".into(),
                phone: None,
                since: "2026-11-28T02:40:00Z".into(),
                reconnects: 0,
                last_error: None,
                banned_until: None,
            },
            worker: Some(SupervisedState::Running),
            memory_bytes: Some(10),
        };
        let none = serde_json::to_value(ListedSession { view: view.clone(), node: None }).expect("encode");
        assert_eq!(none["node"], serde_json::Value::Null);
        assert_eq!(none["state"], "connected");
        let held = ListedSession { view, node: Some("node-a".into()) };
        let back: ListedSession =
            serde_json::from_value(serde_json::to_value(&held).expect("encode")).expect("decode");
        assert_eq!(
            (back.node.as_deref(), back.view.worker, back.view.memory_bytes),
            (Some("node-a"), Some(SupervisedState::Running), Some(10))
        );
    }
}
