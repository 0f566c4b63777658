//! Receipts for the tenant's own sent messages (delivered, read, played)
//! become `whatsapp.receipt` events, one per message id and status. The
//! server resends a receipt it thinks was lost; the dedupe key on (chat,
//! message, status) stores it once.

use std::sync::Arc;

use serde_json::json;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::events::Receipt;
use whatsapp_rust::types::presence::ReceiptType;

use crate::store::events::NewEvent;
use crate::store::EventWriter;
use crate::tenants::TenantId;

pub const RECEIPT_EVENT: &str = "whatsapp.receipt";

/// Receipts to one tenant's client.
#[derive(Clone)]
pub struct Receipts {
    pub tenant: TenantId,
    pub events: EventWriter,
}

impl Receipts {
    /// Stores the receipt's events. A failed write is logged: the library
    /// has acknowledged the receipt already, so there is nothing to retry.
    pub async fn record(&self, client: &Arc<Client>, receipt: &Receipt) {
        let own = [client.pn(), client.lid()];
        let events = receipt_events(&self.tenant, receipt, &own);
        if events.is_empty() {
            return;
        }
        match self.events.append_all(events).await {
            Ok(stored) => {
                let new = stored.iter().filter(|a| !a.duplicate).count();
                metrics::counter!("agentlocator_whatsapp_receipts_total").increment(new as u64);
            }
            Err(e) => tracing::error!(tenant = %self.tenant, error = %e, "cannot store a receipt"),
        }
    }
}

/// The status a receipt tells of one of our messages; `None` for receipts
/// about messages others sent us (our own devices' read-self, played-self),
/// retries and protocol receipts.
fn status(kind: &ReceiptType) -> Option<&'static str> {
    match kind {
        ReceiptType::Delivered => Some("delivered"),
        ReceiptType::Read => Some("read"),
        ReceiptType::Played => Some("played"),
        _ => None,
    }
}

/// One event per message id. Receipts our own other devices send (they
/// report on messages sent to us) are skipped.
fn receipt_events(tenant: &TenantId, receipt: &Receipt, own: &[Option<Jid>]) -> Vec<NewEvent> {
    let Some(status) = status(&receipt.r#type) else { return Vec::new() };
    let sender = &receipt.source.sender;
    if own.iter().flatten().any(|me| me.user == sender.user && me.server == sender.server) {
        return Vec::new();
    }
    let chat = receipt.source.chat.to_non_ad_string();
    let at = receipt.timestamp.to_rfc3339();
    receipt
        .message_ids
        .iter()
        .map(|id| NewEvent {
            tenant_id: tenant.as_str().to_string(),
            kind: RECEIPT_EVENT.into(),
            dedupe_key: Some(format!("wa-receipt:{chat}|{id}|{status}")),
            data: json!({"message_id": id.to_string(), "chat": chat, "status": status, "at": at}),
            held: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_rust::types::message::MessageSource;

    fn receipt(from: &str, kind: ReceiptType, ids: &[&str]) -> Receipt {
        let jid: Jid = from.parse().expect("jid");
        Receipt::builder()
            .message_ids(ids.iter().map(|i| i.to_string()).collect())
            .source(MessageSource { chat: jid.clone(), sender: jid, ..Default::default() })
            .timestamp(chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("ts"))
            .r#type(kind)
            .offline(false)
            .build()
    }

    #[test]
    fn a_receipt_becomes_one_event_per_message() {
        let tenant = TenantId::parse("acme").expect("id");
        let own = [Some("15550001111@s.whatsapp.net".parse().expect("own")), None];
        let events = receipt_events(
            &tenant,
            &receipt("15557770001@s.whatsapp.net", ReceiptType::Read, &["A", "B"]),
            &own,
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].kind, RECEIPT_EVENT);
        assert_eq!(
            events[0].data,
            json!({"message_id": "A", "chat": "15557770001@s.whatsapp.net", "status": "read",
                   "at": "2023-11-14T22:13:20+00:00"})
        );
        assert_eq!(events[1].data["message_id"], "B");
        assert_ne!(events[0].dedupe_key, events[1].dedupe_key);
        let delivered = receipt_events(
            &tenant,
            &receipt("15557770001@s.whatsapp.net", ReceiptType::Delivered, &["A"]),
            &own,
        );
        assert_eq!(delivered[0].data["status"], "delivered");
        assert_ne!(delivered[0].dedupe_key, events[0].dedupe_key, "each status of a message is news");
        let played = receipt_events(
            &tenant,
            &receipt("15557770001@s.whatsapp.net", ReceiptType::Played, &["A"]),
            &own,
        );
        assert_eq!(played[0].data["status"], "played");

        // Not about our messages, or not news for a backend.
        for kind in [ReceiptType::ReadSelf, ReceiptType::PlayedSelf, ReceiptType::Retry, ReceiptType::Sender]
        {
            assert!(receipt_events(&tenant, &receipt("15557770001@s.whatsapp.net", kind, &["A"]), &own)
                .is_empty());
        }
        // Our own phone's receipts are about messages sent to us.
        let mine = receipt("15550001111:2@s.whatsapp.net", ReceiptType::Delivered, &["A"]);
        assert!(receipt_events(&tenant, &mine, &own).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_resent_receipt_is_stored_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db.sqlite");
        let store = crate::store::Store::open_sqlite(&path, std::time::Duration::from_secs(5)).expect("open");
        store.tenants().insert_bare_for_tests("acme").await.expect("tenant");
        let writer = EventWriter::start(&store).expect("writer");
        let tenant = TenantId::parse("acme").expect("id");
        let r = receipt("15557770001@s.whatsapp.net", ReceiptType::Delivered, &["A"]);
        let first = writer.append_all(receipt_events(&tenant, &r, &[])).await.expect("first");
        let again = writer.append_all(receipt_events(&tenant, &r, &[])).await.expect("again");
        assert!(!first[0].duplicate);
        assert!(again[0].duplicate, "the resent receipt is the same event");
        assert_eq!(again[0].id, first[0].id);
    }
}
