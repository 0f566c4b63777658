//! The event outbox: every event a tenant's backend must receive, stored
//! before anything is acknowledged, and kept until delivered (then pruned
//! after the retention period) or dead (kept until replayed).

use super::columns::{json_text, Columns};

use serde::{Deserialize, Serialize};

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant_id: String,
    /// An event type, e.g. `twilio.voice` (README: "Events delivered to your backend").
    pub kind: String,
    /// Same key for the same tenant = the same event (a redelivery): stored once.
    pub dedupe_key: Option<String>,
    pub data: serde_json::Value,
    /// Held events wait for a background job before they are delivered.
    pub held: bool,
}

/// The outcome of storing one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub id: String,
    pub seq: i64,
    /// The dedupe key was known: nothing new was stored; `id` is the first event's.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Held,
    Pending,
    Delivered,
    Dead,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Held => "held",
            EventStatus::Pending => "pending",
            EventStatus::Delivered => "delivered",
            EventStatus::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub dedupe_key: Option<String>,
    pub data: serde_json::Value,
    pub created_at_ms: i64,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// A new public event id: `evt_` and a ULID (time-ordered, unguessable).
pub fn new_event_id() -> String {
    format!("evt_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Filters for [`list`]; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub tenant_id: Option<String>,
    pub status: Option<EventStatus>,
    /// Only events after this sequence number (a pull cursor).
    pub after_seq: Option<i64>,
    pub limit: usize,
}

/// The columns [`EventRow::from_columns`] reads, in order (both dialects).
pub(super) const EVENT_COLUMNS: &str =
    "seq, id, tenant_id, type, dedupe_key, data, created_at_ms, status, attempts,
    next_attempt_at_ms, delivered_at_ms, last_error";

impl EventRow {
    pub(super) fn from_columns<R: Columns>(r: &R) -> Result<EventRow, R::Error> {
        Ok(EventRow {
            seq: r.col(0)?,
            id: r.col(1)?,
            tenant_id: r.col(2)?,
            kind: r.col(3)?,
            dedupe_key: r.col(4)?,
            data: json_text(r.col(5)?),
            created_at_ms: r.col(6)?,
            status: r.col(7)?,
            attempts: r.col(8)?,
            next_attempt_at_ms: r.col(9)?,
            delivered_at_ms: r.col(10)?,
            last_error: r.col(11)?,
        })
    }
}

/// Stores one batch of events in one transaction, all or none; the error is
/// the message the waiting callers receive.
pub(super) trait BatchInsert: Send + 'static {
    fn insert(&mut self, events: &[NewEvent]) -> Result<Vec<Appended>, String>;

    /// Whether the last failed insert failed for want of the database (down,
    /// restarting) rather than because of something in the batch. Then each
    /// request would fail the same way, one connection attempt after another.
    fn unavailable(&self) -> bool {
        false
    }
}
